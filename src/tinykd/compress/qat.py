"""Quantization-aware training with fake-quant ops the TFLite converter understands (Keras 3).

tensorflow-model-optimization only wraps tf_keras (Keras 2) models, so QAT is done here:
`quantize_model` rebuilds a float model with
- Conv2D / Dense fused with a following BatchNormalization and ReLU/ReLU6 into
  one `FoldedQuantLayer`: BN folded into kernel and bias (statistics frozen, as the deployed
  model has them folded), the folded kernel fake-quantized symmetric per output channel with a
  narrow int8 range (scale = max|w| / 127, exactly what the converter stores; Dense per tensor), bias added in float
  (the converter makes it int32);
- `ActQuant` after every op that produces a new activation range: per-tensor asymmetric int8
  fake quantization (`tf.quantization.fake_quant_with_min_max_vars`) with min/max calibrated on
  training images and then tracked by an exponential moving average while training;
- a fixed [0, 1] input quantizer (the pipeline feeds images / 255: scale 1/255, zero point -128).
Depthwise convolutions are not handled (their per-channel axis is not the kernel's last axis
and the converter rejects a reshaped quantized constant); quantize_model names such layers.
Pass-through ops (max pooling, flatten, reshape, dropout) keep their input's quantization, as
in the int8 model. The converter (quantize.convert_int8, unchanged) reads the fake-quant ranges.
"""
from __future__ import annotations

import numpy as np

from .graph import GraphError, Step, consumers, only_consumer, rebuild

PASS_THROUGH = ("MaxPooling2D", "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "ZeroPadding2D")
# Ops whose int8 output gets its own scale: an activation quantizer follows them. (No softmax: the
# int8 kernel needs a fixed output scale of 1/256, and tinykd's models end in logits.)
REQUANTIZE = ("GlobalAveragePooling2D", "AveragePooling2D", "Add", "Concatenate", "ReLU", "Activation")
WEIGHTED = ("Conv2D", "Dense")


def _keras():
    import keras

    return keras


def _activation_name(layer) -> str | None:
    """'linear', 'relu' or 'relu6' for an activation the int8 kernels fuse; None otherwise."""
    kind = type(layer).__name__
    if kind == "ReLU":
        cfg = layer.get_config()
        if cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
            return None
        mv = cfg.get("max_value")
        return "relu" if mv is None else ("relu6" if float(mv) == 6.0 else None)
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    return name if name in ("linear", "relu", "relu6") else None


def _make_classes():
    import keras
    import tensorflow as tf

    class ActQuant(keras.layers.Layer):
        """Per-tensor int8 fake quantization of an activation (asymmetric, 256 levels)."""

        def __init__(self, momentum: float = 0.99, fixed_range=None, **kwargs):
            super().__init__(**kwargs)
            self.momentum = float(momentum)
            self.fixed_range = None if fixed_range is None else (float(fixed_range[0]), float(fixed_range[1]))
            self.calibrating = False

        def build(self, input_shape):
            lo, hi = self.fixed_range or (0.0, 0.0)
            self.range_min = self.add_weight(name="range_min", shape=(), initializer=keras.initializers.Constant(lo),
                                             trainable=False)
            self.range_max = self.add_weight(name="range_max", shape=(), initializer=keras.initializers.Constant(hi),
                                             trainable=False)

        def call(self, x, training=False):
            if self.fixed_range is None:
                # Ranges always include 0 so that zero is exactly representable (as TFLite requires).
                bmin = tf.minimum(tf.reduce_min(x), 0.0)
                bmax = tf.maximum(tf.reduce_max(x), 0.0)
                if self.calibrating:
                    # Float pass: later layers see unquantized inputs, as in PTQ calibration.
                    self.range_min.assign(tf.minimum(self.range_min, bmin))
                    self.range_max.assign(tf.maximum(self.range_max, bmax))
                    return x
                if training:
                    m = self.momentum
                    self.range_min.assign(m * self.range_min + (1.0 - m) * bmin)
                    self.range_max.assign(m * self.range_max + (1.0 - m) * bmax)
            return tf.quantization.fake_quant_with_min_max_vars(x, self.range_min, self.range_max,
                                                                num_bits=8, narrow_range=False)

        def get_config(self):
            return {**super().get_config(), "momentum": self.momentum, "fixed_range": self.fixed_range}

    class FoldedQuantLayer(keras.layers.Layer):
        """Conv2D / Dense with folded batch norm, fused activation and
        per-output-channel int8 fake-quantized weights."""

        def __init__(self, kind: str, layer_config: dict, activation: str = "linear", bn_epsilon=None,
                     has_bn_scale: bool = True, has_bn_center: bool = True, **kwargs):
            super().__init__(**kwargs)
            self.kind = kind
            self.layer_config = dict(layer_config)
            self.act = activation
            self.bn_epsilon = None if bn_epsilon is None else float(bn_epsilon)
            self.has_bn_scale = has_bn_scale
            self.has_bn_center = has_bn_center
            self.mask = None  # optional pruning mask (PP-QAT): pruned weights stay exactly zero

        def build(self, input_shape):
            cfg = self.layer_config
            cin = int(input_shape[-1])
            if self.kind == "Dense":
                kshape, channels = (cin, int(cfg["units"])), int(cfg["units"])
            else:
                kh, kw = cfg["kernel_size"]
                kshape, channels = (kh, kw, cin, int(cfg["filters"])), int(cfg["filters"])
            self.channels = channels
            self.kernel = self.add_weight(name="kernel", shape=kshape, initializer="glorot_uniform")
            self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")
            if self.bn_epsilon is not None:
                self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones",
                                             trainable=self.has_bn_scale)
                self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros",
                                            trainable=self.has_bn_center)
                self.moving_mean = self.add_weight(name="moving_mean", shape=(channels,), initializer="zeros",
                                                   trainable=False)
                self.moving_variance = self.add_weight(name="moving_variance", shape=(channels,),
                                                       initializer="ones", trainable=False)

        def folded(self):
            """Kernel and bias with the batch norm folded in (float; what the converter quantizes)."""
            k = tf.convert_to_tensor(self.kernel)
            if self.mask is not None:
                k = k * self.mask
            b = tf.convert_to_tensor(self.bias)
            if self.bn_epsilon is not None:
                scale = self.gamma * tf.math.rsqrt(self.moving_variance + self.bn_epsilon)
                b = self.beta + (b - self.moving_mean) * scale
                k = k * scale
            return k, b

        def quantized_kernel(self, k):
            # Conv2D: per output channel, which is the kernel's last axis; no reshape around the
            # op (the converter rejects a reshaped quantized constant). Dense: per tensor, since
            # the converter transposes the kernel to [out, in] and cannot move a per-channel axis.
            if self.kind == "Dense":
                m = tf.maximum(tf.reduce_max(tf.abs(k)), 1e-8)
                return tf.quantization.fake_quant_with_min_max_vars(k, -m, m, num_bits=8, narrow_range=True)
            m = tf.maximum(tf.reduce_max(tf.abs(k), axis=[0, 1, 2]), 1e-8)
            return tf.quantization.fake_quant_with_min_max_vars_per_channel(k, -m, m, num_bits=8,
                                                                            narrow_range=True)

        def call(self, x, training=False):
            k, b = self.folded()
            kq = self.quantized_kernel(k)
            cfg = self.layer_config
            if self.kind == "Dense":
                y = tf.matmul(x, kq)
            else:
                s = cfg["strides"]
                d = cfg.get("dilation_rate", (1, 1))
                pad = cfg["padding"].upper()
                y = tf.nn.conv2d(x, kq, strides=[1, s[0], s[1], 1], padding=pad, dilations=list(d))
            y = tf.nn.bias_add(y, b)
            if self.act == "relu":
                y = tf.nn.relu(y)
            elif self.act == "relu6":
                y = tf.nn.relu6(y)
            return y

        def get_config(self):
            return {**super().get_config(), "kind": self.kind, "layer_config": self.layer_config,
                    "activation": self.act, "bn_epsilon": self.bn_epsilon,
                    "has_bn_scale": self.has_bn_scale, "has_bn_center": self.has_bn_center}

    return ActQuant, FoldedQuantLayer


_CLASSES = None


def classes():
    """(ActQuant, FoldedQuantLayer), defined once Keras/TF are imported."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _make_classes()
    return _CLASSES


def _check_conv_config(layer) -> None:
    cfg = layer.get_config()
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise GraphError(f"layer {layer.name!r}: only channels_last is supported by QAT")
    if type(layer).__name__ == "Conv2D" and int(cfg.get("groups", 1)) != 1:
        raise GraphError(f"layer {layer.name!r}: grouped convolutions are not supported by QAT")


def quantize_model(model, momentum: float = 0.99, masks: dict | None = None,
                   input_range: tuple[float, float] = (0.0, 1.0)):
    """A fake-quantized copy of `model` with its weights (BN folded at run time, stats frozen).

    `input_range` is the fixed range of the input quantizer: what the model's inputs span
    (pixels / 255: (0, 1); see tinykd.data.scaling.InputScaling.value_range).

    `masks` ({layer name: 0/1 kernel mask}) keeps pruned weights at zero during QAT (PP-QAT);
    the FoldedQuantLayer keeps the source layer's name, so masks carry over by name.
    """
    ActQuant, Folded = classes()
    walk_cons = consumers(model)

    def make(st: Step, args, kwargs, tmap):
        layer = st.layer
        kind = type(layer).__name__
        if kind in WEIGHTED:
            _check_conv_config(layer)
            bn = None
            tail = st.outputs[0]
            fused_tensors = [tail]
            nxt = only_consumer(walk_cons, tail, model)
            if kind != "Dense" and nxt is not None and type(nxt.layer).__name__ == "BatchNormalization":
                bn, tail = nxt.layer, nxt.outputs[0]
                fused_tensors.append(tail)
                nxt = only_consumer(walk_cons, tail, model)
            act = _activation_name(layer)
            if act is None:
                raise GraphError(f"layer {layer.name!r}: activation {layer.get_config().get('activation')!r} "
                                 "is not supported by QAT (allowed: linear, relu, relu6)")
            if act == "linear" and nxt is not None and type(nxt.layer).__name__ in ("ReLU", "Activation") \
                    and _activation_name(nxt.layer) in ("relu", "relu6"):
                act, tail = _activation_name(nxt.layer), nxt.outputs[0]
                fused_tensors.append(tail)
            cfg = layer.get_config()
            fused = Folded(kind, cfg, activation=act, name=layer.name,
                           bn_epsilon=None if bn is None else bn.epsilon,
                           has_bn_scale=bool(bn is None or bn.scale), has_bn_center=bool(bn is None or bn.center))
            y = fused(args[0])
            kernel = np.asarray(layer.kernel)
            bias = np.asarray(layer.bias) if getattr(layer, "bias", None) is not None else \
                np.zeros(fused.channels, np.float32)
            weights = [kernel, bias]
            if bn is not None:
                n = fused.channels
                gamma = np.asarray(bn.gamma) if bn.scale else np.ones(n, np.float32)
                beta = np.asarray(bn.beta) if bn.center else np.zeros(n, np.float32)
                weights += [gamma, beta, np.asarray(bn.moving_mean), np.asarray(bn.moving_variance)]
            fused.set_weights(weights)
            if masks and layer.name in masks:
                fused.mask = np.asarray(masks[layer.name], np.float32)
            out = ActQuant(momentum, name=f"{layer.name}_aq")(y)
            return {id(t): out for t in fused_tensors}
        if kind == "BatchNormalization":
            raise GraphError(f"layer {layer.name!r}: batch norm not directly after a Conv2D "
                             "cannot be folded for QAT")
        if kind in PASS_THROUGH:
            return None
        if kind in REQUANTIZE:
            if kind in ("ReLU", "Activation") and _activation_name(layer) is None:
                raise GraphError(f"layer {layer.name!r}: activation not supported by QAT "
                                 "(allowed: linear, relu, relu6)")
            clone = type(layer).from_config(layer.get_config())
            y = clone(*args, **kwargs)
            return {id(st.outputs[0]): ActQuant(momentum, name=f"{layer.name}_aq")(y)}
        raise GraphError(f"layer {layer.name!r} ({kind}) is not supported by QAT; supported: "
                         + ", ".join(WEIGHTED + ("BatchNormalization",) + PASS_THROUGH + REQUANTIZE))

    # Input quantizer: the images' whole range as the model takes them (uint8 / 255 by default).
    lo, hi = (float(v) for v in input_range)
    return rebuild(model, make, name=f"{model.name}_qat",
                   prologue=lambda x: ActQuant(fixed_range=(lo, hi), name="input_aq")(x))


def act_quantizers(model) -> list:
    ActQuant, _ = classes()
    return [layer for layer in model.layers if isinstance(layer, ActQuant)]


def folded_layers(model) -> list:
    _, Folded = classes()
    return [layer for layer in model.layers if isinstance(layer, Folded)]


def calibrate(model, x_float: np.ndarray, batch_size: int = 128) -> None:
    """Set every activation range to the min/max seen on `x_float` (what PTQ calibration does)."""
    quantizers = [q for q in act_quantizers(model) if q.fixed_range is None]
    for q in quantizers:
        q.range_min.assign(0.0)
        q.range_max.assign(0.0)
        q.calibrating = True
    try:
        for i in range(0, len(x_float), batch_size):
            model(x_float[i:i + batch_size], training=False)
    finally:
        for q in quantizers:
            q.calibrating = False
