# Shared helpers for the rules files. dvc.smk appends every stage's outputs to ALL_TARGETS (`all`).
import glob
import os

from snakemake.exceptions import WorkflowError

ALL_TARGETS = []
DATA = ["data/train.npz", "data/val.npz", "data/test.npz", "data/dataset.json"]


def code(*paths):
    """Files a job depends on: files as given, folders expanded to every file under them
    (byte-code caches excluded), matching a folder dependency in dvc.yaml."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(f for f in glob.glob(f"{path}/**/*", recursive=True)
                            if os.path.isfile(f) and "__pycache__" not in f and not f.endswith(".pyc"))
        else:
            files.append(path)
    return files


def param_values(*keys):
    """{key_with_underscores: value} for dotted params.yaml keys; as rule params they trigger reruns."""
    from tinykd import dotted

    out = {}
    for key in keys:
        try:
            out[key.replace(".", "__")] = dotted.get(config, key)
        except KeyError:
            raise WorkflowError(f"params key {key} is not in params.yaml") from None
    return out
