"""Course presets: presets/<name>.yaml are partial params.yaml files (only the keys that differ).

Use one as a DVC experiment (`tinykd preset run NAME` = `dvc exp run -n NAME -S key=value ...`),
print that command (`tinykd preset show NAME`), or write it into params.yaml (`tinykd preset apply
NAME`, comments kept). Every preset is validated against the params schema before use. The
commands themselves are in cli.py.
"""
from __future__ import annotations

from pathlib import Path

from ..dotted import assign, cli_value, flatten, merge
from ..errors import ParamError, TinykdError

PRESET_DIR = Path("presets")


def preset_dir(root: Path | None = None) -> Path:
    """presets/ of the project in `root` (default: the current folder), else of this checkout."""
    checkout = Path(__file__).resolve().parents[3] / PRESET_DIR
    for cand in ([Path(root) / PRESET_DIR] if root else []) + [PRESET_DIR, checkout]:
        if cand.is_dir():
            return cand
    raise TinykdError(f"no {PRESET_DIR}/ folder here or in the tinykd checkout")


def names(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in preset_dir(root).glob("*.yaml"))


def path_of(name: str, root: Path | None = None) -> Path:
    path = preset_dir(root) / f"{name}.yaml"
    if not path.is_file():
        raise ParamError("preset", name, "one of " + ", ".join(names(root)))
    return path


def load(name: str, root: Path | None = None) -> dict:
    from ..params import read_yaml

    data = read_yaml(path_of(name, root), f"preset {name} file") or {}
    if not isinstance(data, dict):
        raise ParamError(f"preset {name}", data, "a mapping of params.yaml sections")
    return data


def description(name: str, root: Path | None = None) -> str:
    lines = []
    for line in path_of(name, root).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    return " ".join(lines)


def merged_params(name: str, params_path: Path = Path("params.yaml"), root: Path | None = None) -> dict:
    """params.yaml with the preset applied, validated (ParamError names a bad key of the preset)."""
    from .. import params as P

    base = P.read_yaml(params_path) if Path(params_path).is_file() else {}
    merged = merge(base or {}, load(name, root))
    schema = P.load_schema(P.find_schema(params_path))
    try:
        return P.validate(merged, schema)
    except ParamError as exc:
        raise ParamError(f"{exc.key} (preset {name})", exc.value, exc.allowed) from None


def set_args(name: str, root: Path | None = None, skip_prefixes=("sweep.",)) -> list[str]:
    out = []
    for key, value in flatten(load(name, root)):
        if not key.startswith(tuple(skip_prefixes)):
            out += ["-S", f"{key}={cli_value(value)}"]
    return out


def exp_command(name: str, queue: bool = False, targets=(), root: Path | None = None) -> list[str]:
    return ["dvc", "exp", "run", "-n", name, *(["--queue"] if queue else []),
            *set_args(name, root, skip_prefixes=()), *targets]


def apply(name: str, params_path: Path = Path("params.yaml"), root: Path | None = None) -> list[str]:
    """Write the preset's values into params.yaml in place, keeping its comments; returns the changed keys."""
    from ruamel.yaml import YAML

    from ..atomic import write_text

    merged_params(name, params_path, root)  # validate first: a bad preset changes nothing
    ry = YAML()
    ry.preserve_quotes = True
    with open(params_path, encoding="utf-8") as fh:
        doc = ry.load(fh)
    changed = [key for key, value in flatten(load(name, root)) if assign(doc, key, value)]
    import io

    buf = io.StringIO()
    ry.dump(doc, buf)
    write_text(params_path, buf.getvalue())
    return changed
