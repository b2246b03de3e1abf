"""Student architectures: small enough for the board (int8 weights in flash, activations in SRAM)."""
from __future__ import annotations


def _conv_bn_relu(x, filters, name, kernel=3, strides=1):
    from keras import layers

    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def cnn_small(input_shape, num_classes):
    """~43k params on 32x32x3; largest activation pair is input + first conv (3 KB + 16 KB int8)."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    x = _conv_bn_relu(x, 16, "c1")
    x = layers.MaxPooling2D(2, name="p1")(x)
    x = _conv_bn_relu(x, 32, "c2")
    x = _conv_bn_relu(x, 32, "c3")
    x = layers.MaxPooling2D(2, name="p2")(x)
    x = _conv_bn_relu(x, 64, "c4")
    x = layers.MaxPooling2D(2, name="p3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="drop")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="cnn_small")


def tiny_cnn(input_shape, num_classes):
    """Two 8-channel convs: trains in seconds; for tests and smoke runs, not for accuracy."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(2, name="p1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="tiny_cnn")


def resnet8(input_shape, num_classes):
    """MLPerf Tiny image-classification ResNet-8 (78,666 params for 32x32x3, 10 classes)."""
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(1e-4)

    def conv(x, filters, kernel, strides, name):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same",
                             kernel_initializer="he_normal", kernel_regularizer=reg, name=name)(x)

    x = inputs = keras.Input(input_shape, name="image")
    x = conv(x, 16, 3, 1, "stem_conv")
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    for i, (filters, strides) in enumerate(((16, 1), (32, 2), (64, 2))):
        n = f"stack{i + 1}"
        y = conv(x, filters, 3, strides, f"{n}_conv1")
        y = layers.BatchNormalization(name=f"{n}_bn1")(y)
        y = layers.Activation("relu", name=f"{n}_relu1")(y)
        y = conv(y, filters, 3, 1, f"{n}_conv2")
        y = layers.BatchNormalization(name=f"{n}_bn2")(y)
        if strides != 1:
            x = conv(x, filters, 1, strides, f"{n}_shortcut")
        x = layers.Add(name=f"{n}_add")([x, y])
        x = layers.Activation("relu", name=f"{n}_relu2")(x)
    pool = int(x.shape[1])
    x = layers.AveragePooling2D(pool_size=pool, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="resnet8")
