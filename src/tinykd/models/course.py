"""The course's MNIST models, so its exercise can be reproduced with the pipeline."""
from __future__ import annotations


def ex6(input_shape, num_classes):
    """Exercise 6 student: Conv2D(12, 3x3) -> MaxPool(2) -> Flatten -> Dense (20,410 params on 28x28x1)."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(12, 3, activation="relu", name="conv")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="ex6")


def mnist_cnn_teacher(input_shape, num_classes):
    """Conv32-Pool-Conv64-Pool-Dense128 with dropout."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.5, name="drop1")(x)
    x = layers.Dense(128, activation="relu", name="fc")(x)
    x = layers.Dropout(0.5, name="drop2")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="mnist_cnn_teacher")


def mlp_784(input_shape, num_classes):
    """Fully connected student 784-784-10 (the input is flattened first)."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(784, activation="relu", name="fc")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, x, name="mlp_784")
