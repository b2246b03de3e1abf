"""Models saved by Keras 2 (tf_keras, the API TF 2.13 shipped), the way the course's teacher.h5
and knowledge_distilled_model_final.h5 were: Sequential, input_shape on the first layer, softmax
in the last Dense, 28x28x1 inputs. Written in a subprocess: tf_keras and Keras 3 do not share one."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

_SCRIPT = textwrap.dedent("""
    import json
    import sys
    import numpy as np
    import tf_keras as k2
    spec = json.loads(sys.argv[1])
    k2.utils.set_random_seed(spec["seed"])
    layers = [k2.layers.Conv2D(spec["filters"], 3, activation="relu", input_shape=(28, 28, 1)),
              k2.layers.MaxPooling2D(2), k2.layers.Flatten()]
    if spec["dropout"]:
        layers.append(k2.layers.Dropout(spec["dropout"]))
    layers.append(k2.layers.Dense(spec["classes"], activation="softmax"))
    m = k2.Sequential(layers, **({"name": spec["name"]} if spec["name"] else {}))
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=spec["metrics"])
    m.save(spec["path"])
    if spec["reference"]:
        x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
        np.savez(spec["reference"], x=x, p=m.predict(x, verbose=0))
""")


def write_model(path: Path, env: dict, *, classes: int = 10, filters: int = 8, dropout: float = 0.0, seed: int = 0,
                name: str | None = None, metrics: list[str] | None = None, reference: Path | None = None) -> Path:
    """Save an untrained Keras 2 conv-pool-dense model as .h5 at `path` (checked to say Keras 2);
    with `reference`, also an .npz of four random inputs `x` and the model's outputs `p`."""
    spec = {"path": str(path), "classes": classes, "filters": filters, "dropout": dropout, "seed": seed,
            "name": name, "metrics": metrics, "reference": str(reference) if reference else None}
    subprocess.run([sys.executable, "-c", _SCRIPT, json.dumps(spec)], check=True, env=env, capture_output=True,
                   timeout=300)
    import h5py

    with h5py.File(path) as f:
        assert f.attrs["keras_version"].startswith("2."), f.attrs["keras_version"]
    return Path(path)
