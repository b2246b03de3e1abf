"""Teacher architectures (large; trained on the host only)."""
from __future__ import annotations


def vgg(input_shape, num_classes):
    """VGG-style: 3 blocks of 2 convs (64/128/256) with batch norm and dropout (~1.15 M parameters)."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    for i, (filters, drop) in enumerate(((64, 0.2), (128, 0.3), (256, 0.4))):
        for j in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}_{j + 1}")(x)
            x = layers.BatchNormalization(name=f"bn{i + 1}_{j + 1}")(x)
            x = layers.ReLU(name=f"relu{i + 1}_{j + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        x = layers.Dropout(drop, name=f"drop{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="vgg")


def resnet9(input_shape, num_classes, width: int = 24):
    """ResNet-9 after Page's DAWNBench network (prep conv, three pooled stages, two residual
    blocks), at `width`/64 of its channels: 24-48-96-192, ~0.93 M parameters.

    Built for short schedules: batch norm with momentum 0.9 (Keras' 0.99 lags behind a
    one-cycle learning rate over ~20 epochs), L2 2.5e-4 on every kernel (weight decay 5e-4 in
    the PyTorch convention), and logits scaled by 1/8 so a large SGD step does not blow them up.
    Its measured accuracy is in results/ (the reference run), not here.
    """
    import keras
    from keras import layers, regularizers

    reg = regularizers.l2(2.5e-4)

    def cbr(x, filters, name):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    def residual(x, filters, name):
        y = cbr(x, filters, f"{name}a")
        y = cbr(y, filters, f"{name}b")
        return layers.Add(name=f"{name}_add")([x, y])

    w = int(width)
    x = inputs = keras.Input(input_shape, name="image")
    x = cbr(x, w, "prep")
    x = cbr(x, 2 * w, "layer1")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = residual(x, 2 * w, "res1")
    x = cbr(x, 4 * w, "layer2")
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = cbr(x, 8 * w, "layer3")
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = residual(x, 8 * w, "res3")
    x = layers.GlobalMaxPooling2D(name="gmp")(x)
    x = layers.Dense(num_classes, kernel_regularizer=reg, name="dense")(x)
    x = layers.Rescaling(0.125, name="logits")(x)
    return keras.Model(inputs, x, name="resnet9")
