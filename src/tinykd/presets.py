"""Course presets: presets/<name>.yaml are partial params.yaml files (only the keys that differ).

Use one as a DVC experiment (`tinykd preset run NAME` = `dvc exp run -n NAME -S key=value ...`),
print that command (`tinykd preset show NAME`), or write it into params.yaml (`tinykd preset apply
NAME`, comments kept). Every preset is validated against the params schema before use.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

from .dotted import assign, cli_value, flatten, merge
from .errors import ParamError, TinykdError

PRESET_DIR = Path("presets")


def preset_dir(root: Path | None = None) -> Path:
    """presets/ of the project in `root` (default: the current folder), else of this checkout."""
    checkout = Path(__file__).resolve().parents[2] / PRESET_DIR
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
    from .params import read_yaml

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
    from . import params as P

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

    from .atomic import write_text

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


def _cmd_list(args) -> int:
    for n in names(args.root):
        print(f"{n:14s} {description(n, args.root)}")
    return 0


def _cmd_show(args) -> int:
    merged_params(args.name, Path(args.params), args.root)
    cmd = exp_command(args.name, queue=args.queue, targets=args.target or (), root=args.root)
    print(" ".join(a if a.startswith("-") or "=" not in a else f"'{a}'" for a in cmd))
    return 0


def _cmd_apply(args) -> int:
    changed = apply(args.name, Path(args.params), args.root)
    print(f"preset {args.name}: {len(changed)} key(s) changed in {args.params}"
          + (": " + ", ".join(changed) if changed else ""))
    return 0


def _cmd_run(args) -> int:
    merged_params(args.name, Path(args.params), args.root)
    cmd = exp_command(args.name, queue=args.queue, targets=args.target or (), root=args.root)
    print(" ".join(cmd))
    try:
        from .dvc_cli import dvc_binary

        rc = subprocess.call([dvc_binary(), *cmd[1:]])
    except FileNotFoundError:
        raise TinykdError("dvc is not on PATH: activate the venv (.venv/bin)") from None
    report = report_path()
    if rc == 0 and not args.queue and not args.target and report and report.is_file():
        print(f"preset {args.name}: report in {report.resolve()}")
    return rc


def report_path(dvc_yaml: Path = Path("dvc.yaml")) -> Path | None:
    """reports/report.md: the report stage's output folder, as dvc.yaml names it."""
    from .params import read_yaml

    if not dvc_yaml.is_file():
        return None
    outs = ((read_yaml(dvc_yaml, "dvc.yaml") or {}).get("stages", {}).get("report", {}) or {}).get("outs") or []
    return dvc_yaml.parent / str(outs[0]) / "report.md" if outs else None


def add_parser(sub) -> None:
    p = sub.add_parser("preset",
                       help="course presets (presets/*.yaml): list, show, apply to params.yaml, run as an experiment")
    p.add_argument("--root", default=None, help="project folder holding presets/ (default: current folder)")
    ps = p.add_subparsers(dest="preset_command", required=True)
    ps.add_parser("list", help="the presets and what they reproduce").set_defaults(func=_cmd_list)
    for name, func, hlp in (("show", _cmd_show, "print the `dvc exp run -S ...` command of a preset"),
                            ("run", _cmd_run, "run the preset as a DVC experiment"),
                            ("apply", _cmd_apply, "write the preset's values into params.yaml (comments kept)")):
        q = ps.add_parser(name, help=hlp)
        q.add_argument("name")
        q.add_argument("--params", default="params.yaml")
        if name != "apply":
            q.add_argument("--queue", action="store_true", help="queue instead of running now")
            q.add_argument("--target", action="append", help="stage(s) to reproduce (default: all)")
        q.set_defaults(func=func)
