"""Walking and rebuilding a Keras 3 functional model layer by layer.

QAT swaps Conv/Dense(+BatchNorm+ReLU) for fake-quantized fused layers and structured pruning
rebuilds layers with fewer channels; both need the same walk over the layer graph, which
Keras 3 does not offer as an API (`clone_model` maps one layer to one layer, no fusion).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import TinykdError


class GraphError(TinykdError):
    """The model's structure is outside what the compression methods handle."""


@dataclass
class Step:
    layer: Any
    node: Any

    @property
    def inputs(self) -> list:
        return list(self.node.input_tensors)

    @property
    def outputs(self) -> list:
        return list(self.node.output_tensors)


def steps(model) -> list[Step]:
    """The model's layers in topological order with their (single) call, input layers excluded."""
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "operations") or not model.inputs:
        raise GraphError(f"{getattr(model, 'name', model)!s}: a functional Keras model is required")
    out = []
    for layer in model.operations:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        nodes = [n for n in layer._inbound_nodes if n.operation is layer]
        if isinstance(layer, keras.Model):
            raise GraphError(f"layer {layer.name!r} is a nested model; flatten it first")
        if len(nodes) != 1:
            raise GraphError(f"layer {layer.name!r} is called {len(nodes)} times; shared layers are not supported")
        out.append(Step(layer, nodes[0]))
    return out


def consumers(model, walk: list[Step] | None = None) -> dict[int, list[Step]]:
    """id(tensor) -> the steps that read it (model outputs are not counted)."""
    result: dict[int, list[Step]] = {}
    for st in walk if walk is not None else steps(model):
        for t in st.inputs:
            result.setdefault(id(t), []).append(st)
    return result


def only_consumer(cons: dict, tensor, model) -> Step | None:
    """The single step reading `tensor`, or None if it has several readers or is a model output."""
    readers = cons.get(id(tensor), [])
    if len(readers) != 1 or any(tensor is o for o in model.outputs):
        return None
    return readers[0]


def clone_layer(layer, **config_changes):
    """A fresh layer from `layer`'s config (weights are not copied)."""
    config = layer.get_config()
    config.update(config_changes)
    return type(layer).from_config(config)


def rebuild(model, make: Callable[[Step, list, dict, dict], dict | None], name: str | None = None,
            prologue: Callable | None = None):
    """A new functional model built by calling `make(step, args, kwargs, tensor_map)` for every step.

    `make` returns {id(old tensor): new tensor} for the outputs it produced (it may map outputs of
    later steps it fused; those steps are then skipped), or None to clone the layer with its weights.
    `prologue(input)` maps each new input before the first layer sees it (e.g. an input quantizer).
    """
    import keras

    walk = steps(model)
    tmap: dict[int, Any] = {}
    new_inputs = []
    for t in model.inputs:
        layer = t._keras_history[0]
        x = keras.Input(tuple(t.shape[1:]), batch_size=t.shape[0], name=layer.name, dtype=t.dtype)
        new_inputs.append(x)
        tmap[id(t)] = prologue(x) if prologue is not None else x
    for st in walk:
        if all(id(o) in tmap for o in st.outputs):
            continue
        args, kwargs = st.node.arguments.fill_in(tmap)
        produced = make(st, args, kwargs, tmap)
        if produced is None:
            layer = clone_layer(st.layer)
            result = layer(*args, **kwargs)
            weights = st.layer.get_weights()
            if weights:
                layer.set_weights(weights)
            results = result if isinstance(result, (list, tuple)) else [result]
            produced = {id(o): r for o, r in zip(st.outputs, results)}
        tmap.update(produced)
    outputs = [tmap[id(t)] for t in model.outputs]
    return keras.Model(new_inputs, outputs if len(outputs) > 1 else outputs[0], name=name or model.name)
