"""Magnitude pruning with masks, unstructured (single weights) or structured (whole output
channels, which are then physically removed so the exported model is smaller).

Masks are held by a Keras callback: recomputed when the schedule says so, and multiplied into
the weights before every training batch and after it (so the optimizer cannot revive a pruned
weight for the next forward pass). Per layer, exactly round(sparsity x size) weights
(unstructured) or round(sparsity x channels) channels (structured) are zero — the smallest by
|w| (ties broken by position), or by the L2 norm of the channel's filter times the |scale| of
the batch norm that follows it. Structured masks also zero the channel's bias and the gamma/beta
of batch norms on its path, so a removed channel contributes exactly 0 to the next layer.
"""
from __future__ import annotations

import numpy as np

from ..errors import ParamError
from .graph import GraphError, Step, clone_layer, consumers, only_consumer, rebuild, steps
from .schedules import Schedule

METHODS = ("unstructured", "structured")
PRUNABLE = ("Conv2D", "Dense")
# Ops that keep channel c in channel c (so a removed channel can be dropped through them).
CHANNELWISE = ("BatchNormalization", "ReLU", "Activation", "MaxPooling2D", "AveragePooling2D", "Dropout",
               "SpatialDropout2D", "ZeroPadding2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten")


def _kind(layer) -> str:
    return type(layer).__name__


def unstructured_mask(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask zeroing the round(sparsity * size) smallest |w| (stable order on ties)."""
    flat = np.abs(kernel).reshape(-1)
    k = int(round(float(sparsity) * flat.size))
    mask = np.ones(flat.size, np.float32)
    if k > 0:
        mask[np.argsort(flat, kind="stable")[:k]] = 0.0
    return mask.reshape(kernel.shape)


def channel_scores(kernel: np.ndarray, bn_scale: np.ndarray | None = None) -> np.ndarray:
    """Importance of each output channel: L2 norm of its weights, times |BN scale| if one follows."""
    score = np.sqrt((kernel.reshape(-1, kernel.shape[-1]).astype(np.float64) ** 2).sum(axis=0))
    return score * np.abs(bn_scale) if bn_scale is not None else score


def channel_keep(scores: np.ndarray, sparsity: float) -> np.ndarray:
    """Sorted indices of the channels kept: all but the round(sparsity * n) weakest; at least one."""
    n = len(scores)
    drop = min(int(round(float(sparsity) * n)), n - 1)
    order = np.argsort(scores, kind="stable")
    return np.sort(order[drop:])


class StructurePlan:
    """Which layers' output channels can be removed and which batch norms sit on each path."""

    def __init__(self, model):
        self.model = model
        walk = steps(model)
        cons = consumers(model, walk)
        self.prunable: dict[str, list] = {}   # layer name -> batch norm layers on its channel path
        self.skipped: dict[str, str] = {}
        for st in walk:
            if _kind(st.layer) not in PRUNABLE:
                continue
            why, bns = self._path(st, cons)
            if why is None:
                self.prunable[st.layer.name] = bns
            else:
                self.skipped[st.layer.name] = why

    def _path(self, st: Step, cons) -> tuple[str | None, list]:
        """(None, batch norms) if the channels of `st` flow through channel-wise ops into exactly
        one Conv2D/Dense; else (reason, [])."""
        bns, flattened = [], False
        t = st.outputs[0]
        while True:
            nxt = only_consumer(cons, t, self.model)
            if nxt is None:
                return ("feeds the model output or several layers (e.g. a residual add)"
                        if cons.get(id(t)) or any(t is o for o in self.model.outputs) else "unused output"), []
            kind = _kind(nxt.layer)
            if kind in PRUNABLE:
                if flattened and kind != "Dense":
                    return f"flattened channels feed {kind}", []
                return None, bns
            if kind not in CHANNELWISE:
                return f"its channels pass through {kind} ({nxt.layer.name})", []
            zero_keeping = ("relu", "relu6", "linear")
            if kind == "Activation" and getattr(nxt.layer.activation, "__name__", "") not in zero_keeping:
                return f"activation {nxt.layer.activation.__name__} does not keep zero at zero", []
            if kind == "BatchNormalization":
                bns.append(nxt.layer)
            if kind == "Flatten":
                flattened = True
            t = nxt.outputs[0]


class Pruner:
    """Masks for one model; `update(sparsity)` recomputes them, `apply()` zeroes the weights."""

    def __init__(self, model, method: str):
        if method not in METHODS:
            raise ParamError("prune.method", method, "one of " + ", ".join(repr(m) for m in METHODS))
        self.model, self.method = model, method
        self.layers = [layer for layer in model.layers if _kind(layer) in PRUNABLE]
        if method == "structured":
            self.plan = StructurePlan(model)
            self.layers = [layer for layer in self.layers if layer.name in self.plan.prunable]
            if not self.layers:
                raise GraphError(f"{model.name}: no layer can lose output channels ("
                                 + "; ".join(f"{k}: {v}" for k, v in sorted(self.plan.skipped.items())) + ")")
        self.masks: dict[str, np.ndarray] = {}       # layer name -> kernel mask
        self.keep: dict[str, np.ndarray] = {}        # structured: layer name -> kept channel indices

    def update(self, sparsity: float) -> None:
        for layer in self.layers:
            kernel = np.asarray(layer.kernel)
            if self.method == "unstructured":
                self.masks[layer.name] = unstructured_mask(kernel, sparsity)
            else:
                bns = self.plan.prunable[layer.name]
                bn_scale = None
                if bns and bns[0].scale:
                    bn = bns[0]
                    bn_scale = np.asarray(bn.gamma) / np.sqrt(np.asarray(bn.moving_variance) + bn.epsilon)
                keep = channel_keep(channel_scores(kernel, bn_scale), sparsity)
                self.keep[layer.name] = keep
                cmask = np.zeros(kernel.shape[-1], np.float32)
                cmask[keep] = 1.0
                self.masks[layer.name] = np.broadcast_to(cmask, kernel.shape).astype(np.float32)

    def apply(self) -> None:
        for layer in self.layers:
            mask = self.masks.get(layer.name)
            if mask is None:
                continue
            layer.kernel.assign(np.asarray(layer.kernel) * mask)
            if self.method == "structured":
                cmask = mask.reshape(-1, mask.shape[-1])[0]
                if getattr(layer, "bias", None) is not None:
                    layer.bias.assign(np.asarray(layer.bias) * cmask)
                for bn in self.plan.prunable[layer.name]:
                    if bn.scale:
                        bn.gamma.assign(np.asarray(bn.gamma) * cmask)
                    if bn.center:
                        bn.beta.assign(np.asarray(bn.beta) * cmask)

    def kernel_sparsity(self) -> float:
        """Fraction of zero weights over the pruned layers' kernels, counted in the weights."""
        zeros = sum(int((np.asarray(layer.kernel) == 0).sum()) for layer in self.layers)
        total = sum(int(np.prod(layer.kernel.shape)) for layer in self.layers)
        return zeros / total if total else 0.0


def make_callback(pruner: Pruner, schedule: Schedule):
    """A Keras callback driving `pruner` by `schedule` (step = optimizer steps since the start)."""
    import keras

    class PruningCallback(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.step = 0
            self.history: list[tuple[int, float]] = []

        def on_train_batch_begin(self, batch, logs=None):
            if schedule.should_update(self.step):
                s = schedule.sparsity(self.step)
                pruner.update(s)
                self.history.append((self.step, s))
            pruner.apply()

        def on_train_batch_end(self, batch, logs=None):
            pruner.apply()
            self.step += 1

    return PruningCallback()


def remove_channels(model, keep: dict[str, np.ndarray]):
    """A smaller model without the output channels that `keep` leaves out (structured pruning).

    Weights are sliced on the producer's output axis, on the batch norms along the path and on the
    consumer's input axis (for Flatten -> Dense, every spatial position of a removed channel).
    """
    kept_of: dict[int, np.ndarray | None] = {}   # id(old tensor) -> kept indices of its last axis

    def make(st: Step, args, kwargs, tmap):
        layer, kind = st.layer, _kind(st.layer)
        in_keep = kept_of.get(id(st.inputs[0])) if st.inputs else None
        out_keep = None
        if kind in PRUNABLE:
            out_keep = keep.get(layer.name)
            changes = {}
            if out_keep is not None:
                changes = {"filters": len(out_keep)} if kind == "Conv2D" else {"units": len(out_keep)}
            new = clone_layer(layer, **changes)
            y = new(*args, **kwargs)
            weights = []
            for w in layer.get_weights():
                w = np.asarray(w)
                if w.ndim > 1 and in_keep is not None:
                    w = np.take(w, in_keep, axis=w.ndim - 2)
                if out_keep is not None:
                    w = np.take(w, out_keep, axis=w.ndim - 1)
                weights.append(w)
            new.set_weights(weights)
        elif kind in CHANNELWISE:
            new = clone_layer(layer)
            y = new(*args, **kwargs)
            weights = [np.asarray(w) for w in layer.get_weights()]
            if weights:
                if in_keep is not None:
                    weights = [np.take(w, in_keep, axis=-1) for w in weights]
                new.set_weights(weights)
            out_keep = in_keep
            if kind == "Flatten" and in_keep is not None:
                h, w_, c = (int(d) for d in st.inputs[0].shape[1:])
                out_keep = (np.arange(h * w_)[:, None] * c + in_keep[None, :]).reshape(-1)
        else:
            if in_keep is not None:
                raise GraphError(f"layer {layer.name!r} ({kind}) reads pruned channels it cannot slice")
            return None
        kept_of[id(st.outputs[0])] = out_keep
        return {id(st.outputs[0]): y}

    return rebuild(model, make, name=model.name)

