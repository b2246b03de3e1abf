"""Every supported operator, built as a tiny Keras model, converted to int8, exported to C,
compiled for the host and compared byte for byte with the TFLite Micro interpreter.

Shapes and options are drawn from a seeded generator around fixed anchors so that strides
1 and 2, SAME and VALID, channel counts that are not multiples of 4, depth multipliers
above 1, and per-tensor and per-channel weights are always covered."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from support import export_harness as H

H.quiet_tf()
keras = pytest.importorskip("keras")
RNG = np.random.default_rng(20261121)
SAMPLES = 24


def _odd(lo, hi):
    return int(RNG.integers(lo, hi + 1))


def _conv_cases():
    cases = []
    for stride, padding, per_channel, act, kernel, dil in [
        (1, "same", True, "relu", 3, 1), (2, "same", True, "relu6", 3, 1), (2, "valid", False, None, 3, 1),
        (1, "valid", True, None, 1, 1), (2, "same", False, "relu", 5, 1), (1, "same", False, None, 3, 1),
        (2, "valid", True, "relu", 2, 1),
    ]:
        h, w = _odd(7, 12), _odd(7, 12)
        cin, cout = int(RNG.choice([1, 3, 5, 6, 7])), int(RNG.choice([3, 5, 7, 9, 10]))
        cases.append(dict(h=h, w=w, cin=cin, cout=cout, stride=stride, padding=padding, per_channel=per_channel,
                          act=act, kernel=kernel, dilation=dil, bias=bool(RNG.integers(0, 4) > 0)))
    return cases


def _dw_cases():
    cases = []
    for stride, padding, per_channel, act, dm, kernel in [
        (1, "same", True, "relu", 1, 3), (2, "valid", True, None, 2, 3), (2, "same", False, "relu6", 3, 3),
        (1, "same", True, None, 1, 5), (1, "valid", False, "relu", 2, 2),
    ]:
        cases.append(dict(h=_odd(6, 11), w=_odd(6, 11), c=int(RNG.choice([3, 5, 6, 7])), stride=stride,
                          padding=padding, per_channel=per_channel, act=act, dm=dm, kernel=kernel))
    return cases


def _model_conv(p):
    inp = keras.Input((p["h"], p["w"], p["cin"]))
    x = keras.layers.Conv2D(p["cout"], p["kernel"], strides=p["stride"], padding=p["padding"],
                            dilation_rate=p["dilation"], activation=p["act"], use_bias=p["bias"])(inp)
    return keras.Model(inp, x)


def _model_dw(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    x = keras.layers.DepthwiseConv2D(p["kernel"], strides=p["stride"], padding=p["padding"],
                                     depth_multiplier=p["dm"], activation=p["act"])(inp)
    return keras.Model(inp, x)


def _model_dense(p):
    inp = keras.Input((p["d"],))
    x = keras.layers.Dense(p["units"], activation=p["act"], use_bias=p["bias"])(inp)
    return keras.Model(inp, x)


def _model_pool(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    layer = keras.layers.MaxPooling2D if p["kind"] == "max" else keras.layers.AveragePooling2D
    # a conv in front gives the pool a non-trivial input quantization
    x = keras.layers.Conv2D(p["c"], 1)(inp)
    x = layer(p["size"], strides=p["stride"], padding=p["padding"])(x)
    return keras.Model(inp, x)


def _model_mean(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    x = keras.layers.Conv2D(p["c"], 3, padding="same")(inp)
    if p["how"] == "gap":
        x = keras.layers.GlobalAveragePooling2D()(x)
    elif p["how"] == "gap_keepdims":
        x = keras.layers.GlobalAveragePooling2D(keepdims=True)(x)
    else:
        x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(x)
    return keras.Model(inp, x)


def _model_add(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    a = keras.layers.Conv2D(p["c"], 3, padding="same")(inp)
    b = keras.layers.Conv2D(p["c"], 1)(inp) if p["two_convs"] else inp
    x = keras.layers.Add()([a, b])
    if p["relu"]:
        x = keras.layers.ReLU()(x)
    return keras.Model(inp, x)


def _model_softmax(p):
    if p["rank"] == 2:
        inp = keras.Input((p["d"],))
        x = keras.layers.Dense(p["units"])(inp)
    else:
        inp = keras.Input((p["h"], p["w"], 3))
        x = keras.layers.Conv2D(p["units"], 1)(inp)
    return keras.Model(inp, keras.layers.Softmax()(x))


def _model_pad(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    x = keras.layers.Conv2D(p["c"], 1)(inp)
    x = keras.layers.ZeroPadding2D(p["pad"])(x)
    # a pool cannot absorb zero padding (it would change the max), so PAD stays an operator
    x = keras.layers.MaxPooling2D(2)(x)
    return keras.Model(inp, x)


def _model_reshape(p):
    inp = keras.Input((p["h"], p["w"], p["c"]))
    x = keras.layers.Conv2D(5, 3, strides=2, activation="relu")(inp)
    if p["how"] == "flatten":
        x = keras.layers.Flatten()(x)
    else:  # explicit target shape (a -1 there makes TF emit REDUCE_PROD, which TFLM lacks)
        oh, ow = (p["h"] - 3) // 2 + 1, (p["w"] - 3) // 2 + 1
        x = keras.layers.Reshape((oh * ow * 5,))(x)
    x = keras.layers.Dense(7)(x)
    return keras.Model(inp, x)


CASES = []
for i, p in enumerate(_conv_cases()):
    CASES.append((f"conv2d-{i}-s{p['stride']}-{p['padding']}-k{p['kernel']}-{p['cin']}to{p['cout']}-"
                  f"{'pc' if p['per_channel'] else 'pt'}-{p['act']}-d{p['dilation']}", _model_conv, p, "CONV_2D"))
for i, p in enumerate(_dw_cases()):
    CASES.append((f"depthwise-{i}-s{p['stride']}-{p['padding']}-k{p['kernel']}-c{p['c']}-dm{p['dm']}-"
                  f"{'pc' if p['per_channel'] else 'pt'}-{p['act']}", _model_dw, p, "DEPTHWISE_CONV_2D"))
_DENSE = [(False, None, True), (True, "relu", True), (False, "relu6", False), (True, None, True)]
for i, (pc, act, bias) in enumerate(_DENSE):
    p = dict(d=_odd(5, 40), units=_odd(3, 13), act=act, bias=bias, per_channel=True, dense_per_channel=pc)
    CASES.append((f"dense-{i}-{p['d']}to{p['units']}-{'pc' if pc else 'pt'}-{act}-bias{int(bias)}", _model_dense, p,
                  "FULLY_CONNECTED"))
for kind in ("max", "avg"):
    for i, (size, stride, padding) in enumerate([(2, 2, "valid"), (3, 2, "same"), (2, 1, "same"), (3, 1, "valid")]):
        p = dict(kind=kind, h=_odd(5, 10), w=_odd(5, 10), c=int(RNG.choice([3, 5, 7])), size=size, stride=stride,
                 padding=padding)
        CASES.append((f"{kind}pool-{i}-{size}x{size}-s{stride}-{padding}-{p['h']}x{p['w']}x{p['c']}", _model_pool, p,
                      "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"))
for how in ("gap", "gap_keepdims", "channels"):
    p = dict(how=how, h=_odd(3, 9), w=_odd(3, 9), c=int(RNG.choice([3, 5, 6, 10])))
    CASES.append((f"mean-{how}-{p['h']}x{p['w']}x{p['c']}", _model_mean, p, "MEAN"))
for i, (two, relu) in enumerate([(True, False), (False, True), (True, True)]):
    p = dict(h=_odd(4, 9), w=_odd(4, 9), c=int(RNG.choice([3, 5, 6])), two_convs=two, relu=relu)
    CASES.append((f"add-{i}-{'convs' if two else 'identity'}-{'relu' if relu else 'none'}", _model_add, p, "ADD"))
for i, (rank, units) in enumerate([(2, 10), (2, 3), (4, 6)]):
    p = dict(rank=rank, d=_odd(4, 30), units=units, h=_odd(2, 5), w=_odd(2, 5))
    CASES.append((f"softmax-{i}-rank{rank}-{units}", _model_softmax, p, "SOFTMAX"))
for i, pad in enumerate([1, ((1, 2), (0, 3))]):
    p = dict(h=_odd(5, 9), w=_odd(5, 9), c=int(RNG.choice([3, 5])), pad=pad)
    CASES.append((f"pad-{i}", _model_pad, p, "PAD"))
for how in ("flatten", "reshape"):
    p = dict(how=how, h=_odd(7, 11), w=_odd(7, 11), c=3)
    CASES.append((f"reshape-{how}", _model_reshape, p, "RESHAPE"))


@pytest.mark.parametrize("name,builder,p,expected_op", CASES, ids=[c[0] for c in CASES])
def test_operator_matches_tflite_micro(name, builder, p, expected_op, nn_lib, tmp_path):
    from tinykd.export.reader import read_tflite

    keras.utils.set_random_seed(zlib.crc32(name.encode()))
    model = builder(p)
    # weights away from Keras' init so biases and scales are non-trivial
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype(np.float32))
    in_shape = model.input_shape[1:]
    calib = rng.uniform(-1, 1, size=(16, *in_shape)).astype(np.float32)
    blob = H.convert(model, calib, per_channel=p.get("per_channel", True),
                     dense_per_channel=p.get("dense_per_channel", False))

    graph = read_tflite(blob)
    ops = [op.name for op in graph.ops]
    assert expected_op in ops, f"converter emitted {ops}, expected {expected_op}"
    weighted = [op for op in graph.ops if op.name == expected_op and op.name in
                ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    if weighted:  # the converter honoured the requested weight quantization
        f = graph.tensors[weighted[0].inputs[1]]
        want_pc = p.get("dense_per_channel", False) if expected_op == "FULLY_CONNECTED" else p.get("per_channel", True)
        assert f.per_channel == want_pc or f.scale.size == 1 == f.shape[f.quant_dim], (name, f.scale.size)

    inputs = H.random_inputs(blob, SAMPLES, seed=zlib.crc32(name.encode()) + 1)
    _compare_all_variants(name, blob, inputs, nn_lib, tmp_path)


def _compare_all_variants(name, blob, inputs, nn_lib, tmp_path):
    """Reference kernels always; the best variants too when they differ (optimized kernels
    must be exactly as bit-exact as the reference)."""
    chosen = {}
    for variants in ("reference", "auto"):
        bad, info = H.compare_with_tflm(blob, tmp_path / variants, nn_lib, inputs, variants=variants)
        for line in bad:
            print(name, variants, line)
        assert not bad, f"{name} ({variants} kernels): {len(bad)} mismatching bytes"
        chosen[variants] = [layer["kernel"] for layer in info["layers"]]
    return chosen


def _with_requantize(blob: bytes, scale_factor: float, zero_point: int) -> bytes:
    """Append an int8 -> int8 QUANTIZE (a change of scale and zero point) to a model's
    output, editing the flatbuffer with TensorFlow's generated schema object API: the
    converter only inserts this operator in situations tinykd cannot otherwise build."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as S

    model = S.ModelT.InitFromObj(S.Model.GetRootAs(blob, 0))
    sub = model.subgraphs[0]
    old_out = sub.outputs[0]
    src = sub.tensors[old_out]
    t = S.TensorT()
    t.shape = list(src.shape)
    t.type = src.type
    t.name = b"requantized"
    t.buffer = 0
    q = S.QuantizationParametersT()
    q.scale = [float(src.quantization.scale[0]) * scale_factor]
    q.zeroPoint = [zero_point]
    t.quantization = q
    sub.tensors.append(t)
    code = S.OperatorCodeT()
    code.builtinCode = S.BuiltinOperator.QUANTIZE
    code.deprecatedBuiltinCode = S.BuiltinOperator.QUANTIZE
    code.version = 2
    model.operatorCodes.append(code)
    op = S.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs = [old_out]
    op.outputs = [len(sub.tensors) - 1]
    sub.operators.append(op)
    sub.outputs = [len(sub.tensors) - 1]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.parametrize("factor,zp", [(1.7, 5), (0.37, -20), (4.0, 100)])
def test_requantize_matches_tflite_micro(factor, zp, nn_lib, tmp_path):
    keras.utils.set_random_seed(11)
    inp = keras.Input((6, 5, 3))
    model = keras.Model(inp, keras.layers.Conv2D(7, 3, padding="same")(inp))
    calib = np.random.default_rng(2).uniform(-1, 1, (8, 6, 5, 3)).astype(np.float32)
    blob = _with_requantize(H.convert(model, calib), factor, zp)
    from tinykd.export.reader import read_tflite

    assert [op.name for op in read_tflite(blob).ops][-1] == "QUANTIZE"
    bad, info = H.compare_with_tflm(blob, tmp_path, nn_lib, H.random_inputs(blob, SAMPLES, seed=4))
    for line in bad:
        print(line)
    assert not bad
    assert info["layers"][-1]["kernel"] == "tk_requantize_s8"


def test_float_io_model_exports_its_int8_core(nn_lib, tmp_path):
    """A model converted with float input/output has QUANTIZE/DEQUANTIZE at its boundary;
    the export drops them (the C contract is int8 in and out) and says so in model.json.
    TFLite Micro, fed the dequantized input, must agree after requantizing its output."""
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    inp = keras.Input((7, 7, 3))
    x = keras.layers.Conv2D(5, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(4)(x))
    calib = np.random.default_rng(3).uniform(-1, 1, (8, 7, 7, 3)).astype(np.float32)

    def rep():
        for c in calib:
            yield [c[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    blob = bytes(conv.convert())
    from tinykd.export.reader import read_tflite

    names = [op.name for op in read_tflite(blob).ops]
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE", names

    exe, info = H.export_and_build(blob, tmp_path, nn_lib)
    assert len(info["notes"]) == 2
    q_in, q_out = info["input"], info["output"]
    xs = np.random.default_rng(8).integers(-128, 128, (SAMPLES, 7, 7, 3), dtype=np.int8)
    got = H.run_exe(exe, xs, (4,))
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(blob)
    ref = []
    for x in xs:
        xf = ((x.astype(np.float32) - np.float32(q_in["zero_point"])) * np.float32(q_in["scale"]))[None]
        interp.set_input(xf.astype(np.float32), 0)
        interp.invoke()
        f = np.asarray(interp.get_output(0), dtype=np.float32).reshape(-1)
        ref.append(np.clip(np.round(f / np.float32(q_out["scale"])) + q_out["zero_point"], -128, 127).astype(np.int8))
    bad = H.mismatches(got, np.stack(ref))
    for line in bad:
        print(line)
    assert not bad
