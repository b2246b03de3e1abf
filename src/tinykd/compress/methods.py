"""The compression methods as one entry point: a trained float model in, an int8 .tflite and
its metrics out. Every method ends in quantize.convert_int8 (the converter path of the quantize
stage), so the engine exports its output unchanged.

- ptq: the model as it is, post-training quantized (the reference point).
- qat: fake-quant fine-tuning (qat.py), converted with the learned ranges.
- prune_unstructured / prune_structured: magnitude pruning fine-tuning (prune.py) on the
  schedule in params (schedules.py), then PTQ; structured removes the pruned channels first.
- ppqat: pruning (params prune.method) followed by QAT that keeps the pruned weights at zero.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParamError
from . import prune as P
from . import qat as Q
from .schedules import from_params

METHODS = ("ptq", "qat", "prune_unstructured", "prune_structured", "ppqat")


def copy_model(model):
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def finetune(model, data: dict, *, epochs: int, batch_size: int, learning_rate: float, seed: int,
             probabilities: bool = False, callbacks=(), verbose: int = 2, scaling=None):
    """Cross-entropy fine-tuning on data["train"] with the pipeline's input pipeline and optimizer."""
    import keras

    from .. import train

    x, y = data["train"]
    steps = int(np.ceil(len(x) / batch_size))
    model.compile(optimizer=train.optimizer(learning_rate, epochs, steps),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probabilities),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    ds = train.make_dataset(x, y, batch_size, shuffle=True, augment=False, seed=seed, scaling=scaling)
    val = data.get("val")
    val_ds = (train.make_dataset(*val, 512, shuffle=False, augment=False, seed=seed, scaling=scaling)
              if val and len(val[0]) else None)
    return model.fit(ds, validation_data=val_ds, epochs=epochs, callbacks=list(callbacks), verbose=verbose)


def steps_per_epoch(data: dict, batch_size: int) -> int:
    return int(np.ceil(len(data["train"][0]) / batch_size))


def _prune(model, data, method: str, p: dict, probabilities: bool, verbose: int, scaling=None):
    """(pruned float model to deploy, pruner, schedule history)."""
    cp, pp = p["compress"], p["prune"]
    work = copy_model(model)
    pruner = P.Pruner(work, method)
    total = pp["epochs"] * steps_per_epoch(data, cp["batch_size"])
    schedule = from_params(pp).resolve(total)
    cb = P.make_callback(pruner, schedule)
    finetune(work, data, epochs=pp["epochs"], batch_size=cp["batch_size"], learning_rate=pp["learning_rate"],
             seed=p["seed"], probabilities=probabilities, callbacks=[cb], verbose=verbose, scaling=scaling)
    pruner.apply()
    info = {"prune_method": method, "schedule": schedule.kind, "target_sparsity": schedule.target_sparsity,
            "begin_step": schedule.begin_step, "end_step": schedule.end_step, "frequency": schedule.frequency,
            "mask_updates": len(cb.history), "kernel_sparsity_masked": pruner.kernel_sparsity()}
    if method == "structured":
        small = P.remove_channels(work, pruner.keep)
        info["channels"] = {name: [int(work.get_layer(name).kernel.shape[-1]), int(len(k))]
                            for name, k in sorted(pruner.keep.items())}
        info["structured_skipped"] = dict(sorted(pruner.plan.skipped.items()))
        return small, pruner, info
    return work, pruner, info


def _qat(model, data, p: dict, calib_float: np.ndarray, probabilities: bool, verbose: int, masks=None,
         scaling=None):
    from ..data.scaling import resolve

    cp = p["compress"]
    q = Q.quantize_model(model, momentum=cp["ema_momentum"], masks=masks, input_range=resolve(scaling).value_range())
    Q.calibrate(q, calib_float)
    finetune(q, data, epochs=cp["qat_epochs"], batch_size=cp["batch_size"], learning_rate=cp["qat_learning_rate"],
             seed=p["seed"], probabilities=probabilities, verbose=verbose, scaling=scaling)
    return q


def run(method: str, model, data: dict, p: dict, calib: np.ndarray, *, probabilities: bool = False,
        verbose: int = 2, scaling=None) -> dict:
    """{"blob", "float_model" (evaluated in float / fake-quant), "deployed" (the float model whose
    architecture ships), "info"} for one method."""
    from ..data.scaling import resolve
    from ..quantize import convert_int8

    if method not in METHODS:
        raise ParamError("compress method", method, "one of " + ", ".join(METHODS))
    calib_float = resolve(scaling).numpy(calib)
    info: dict = {}
    if method == "ptq":
        float_model = deployed = model
    elif method == "qat":
        deployed = model
        float_model = _qat(model, data, p, calib_float, probabilities, verbose, scaling=scaling)
    elif method in ("prune_unstructured", "prune_structured"):
        float_model, pruner, info = _prune(model, data, method.split("_", 1)[1], p, probabilities, verbose, scaling)
        deployed = float_model
    else:  # ppqat
        pruned, pruner, info = _prune(model, data, p["prune"]["method"], p, probabilities, verbose, scaling)
        masks = pruner.masks if p["prune"]["method"] == "unstructured" else None
        deployed = pruned
        float_model = _qat(pruned, data, p, calib_float, probabilities, verbose, masks=masks, scaling=scaling)
    blob = convert_int8(float_model, calib, scaling)
    return {"blob": blob, "float_model": float_model, "deployed": deployed, "info": info}
