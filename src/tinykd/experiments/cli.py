"""`tinykd sweep ...` (queue the points of a sweep as DVC experiments, collect their table and
figures, derive a Snakemake point's params) and `tinykd preset ...` (list, show, apply, run)."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import TinykdError
from . import dvc_command, presets
from .collect import exp_show, rows_from_exp_show, rows_from_point_dirs
from .derive import derive_params
from .points import Point, course_points, eskd_points, grid_points, parse_numbers, sweep_defaults
from .queue import DEFAULT_TARGETS, queue, start, wait

# -- tinykd sweep ----------------------------------------------------------------------------



def _metric_and_repo(ap) -> None:
    """The options `sweep queue` and `sweep collect` share: what to plot, and which repository."""
    ap.add_argument("--metric", default="student_accuracy", help="metric plotted against T")
    ap.add_argument("--repo", default=".", help="the DVC repository (default: current folder)")

def _points(args) -> list[Point]:
    defaults = sweep_defaults(Path(args.repo) / "params.yaml")
    if args.preset:
        defaults = {**defaults, **(presets.load(args.preset, Path(args.repo)).get("sweep") or {})}
    if args.kind == "grid":
        temps = parse_numbers(args.temperatures, "--temperatures") if args.temperatures else defaults["temperatures"]
        alphas = parse_numbers(args.alphas, "--alphas") if args.alphas else defaults["alphas"]
        return grid_points(temps, alphas, prefix=args.prefix or "grid")
    if args.kind == "course":
        return course_points(prefix=args.prefix or "course")
    epochs = [int(v) for v in parse_numbers(args.teacher_epochs, "--teacher-epochs")] if args.teacher_epochs \
        else defaults["teacher_epochs"]
    return eskd_points(epochs, prefix=args.prefix or "eskd")


def _collect(args) -> int:
    from ..report import sweep as sweep_report

    cwd = Path(args.repo)
    if args.from_dirs:
        rows = rows_from_point_dirs(Path(args.from_dirs), args.teacher_metrics, args.baseline_metrics)
    else:
        rows = rows_from_exp_show(exp_show(cwd), prefix=args.prefix, device=args.device)
    if not rows:
        raise TinykdError("sweep: no finished experiments to collect"
                          + (f" named {args.prefix}*" if args.prefix else "")
                          + " (queue some with `tinykd sweep queue`, then `dvc queue start`)")
    written = sweep_report.write_all(rows, Path(args.out), metric=args.metric)
    print(sweep_report.markdown_table(rows))
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_queue(args) -> int:
    points = _points(args)
    targets = tuple(args.target) if args.target else DEFAULT_TARGETS
    cwd = Path(args.repo)
    base_sets = []
    if args.preset:
        presets.merged_params(args.preset, cwd / "params.yaml", cwd)
        base_sets = presets.set_args(args.preset, cwd)
    queue(points, targets, cwd=cwd, dry_run=args.dry_run, base_sets=base_sets)
    if args.dry_run:
        return 0
    print(f"queued {len(points)} experiment(s)")
    if args.jobs:
        start(args.jobs, cwd)
        print(f"started {args.jobs} queue worker(s)")
    if args.wait:
        status = wait([p.name for p in points], cwd)
        failed = sorted(n for n, s in status.items() if s == "Failed")
        if failed:
            print(f"sweep: {len(failed)} experiment(s) failed: {', '.join(failed)} "
                  "(see `dvc queue logs NAME`)", file=sys.stderr)
        args.prefix = args.prefix or {"grid": "grid", "course": "course", "eskd": "eskd"}[args.kind]
        args.from_dirs = None
        args.device = any(t.split("@")[0] in ("evaluate", "report") for t in targets)
        _collect(args)
        return 1 if failed else 0
    return 0


def _cmd_derive(args) -> int:
    derive_params(Path(args.params), args.set, Path(args.out))
    return 0


def add_sweep_parser(sub) -> None:
    p = sub.add_parser("sweep", help="KD hyper-parameter sweeps as queued DVC experiments; tables and plots")
    ssub = p.add_subparsers(dest="sweep_command", required=True)

    q = ssub.add_parser("queue", help="queue one `dvc exp run` per sweep point (optionally start, wait, collect)")
    q.add_argument("kind", choices=["grid", "course", "eskd"],
                   help="grid: T x alpha; course: the course's named alpha/T cases; eskd: teacher.epochs = k")
    q.add_argument("--temperatures", help="grid temperatures, e.g. 1,2,4 (default: params.yaml sweep.temperatures)")
    q.add_argument("--alphas", help="grid alphas, e.g. 0.1,0.5 (default: params.yaml sweep.alphas)")
    q.add_argument("--teacher-epochs", help="ESKD k values, e.g. 1,5,10 (default: params.yaml sweep.teacher_epochs)")
    q.add_argument("--prefix", help="experiment name prefix (default: the kind)")
    q.add_argument("--preset", help="apply a course preset (presets/NAME.yaml) to every point, e.g. eskd")
    q.add_argument("--target", action="append",
                   help="stage(s) each experiment reproduces (default quantize@student; repeatable; "
                        "e.g. --target evaluate for on-device accuracy)")
    q.add_argument("-j", "--jobs", type=int, default=0, help="start N queue workers after queueing")
    q.add_argument("--wait", action="store_true", help="wait for the experiments, then collect the table and plots")
    q.add_argument("--out", default="sweeps", help="folder for the table and plots (with --wait)")
    q.add_argument("--dry-run", action="store_true", help="print the dvc commands only")
    _metric_and_repo(q)
    q.set_defaults(func=_cmd_queue)

    c = ssub.add_parser("collect", help="table (CSV, Markdown) and plots of finished sweep experiments")
    c.add_argument("--prefix", help="only experiments whose name starts with this (e.g. grid)")
    c.add_argument("--device", action="store_true",
                   help="include on-device accuracy (only for experiments queued with --target evaluate)")
    c.add_argument("--from-dirs", help="read a Snakemake sweep's point folders (e.g. metrics/sweep) instead of dvc")
    c.add_argument("--teacher-metrics", help="with --from-dirs: the shared teacher's metrics (reference line)")
    c.add_argument("--baseline-metrics", help="with --from-dirs: the baseline's metrics (reference line)")
    c.add_argument("--out", default="sweeps", help="output folder (default sweeps/)")
    _metric_and_repo(c)
    c.set_defaults(func=_collect)

    d = ssub.add_parser("derive-params", help="params.yaml with key=value overrides (one Snakemake sweep point)")
    d.add_argument("--params", default="params.yaml")
    d.add_argument("--set", action="append", default=[], help="key=value (repeatable)")
    d.add_argument("--out", required=True)
    d.set_defaults(func=_cmd_derive)


# -- tinykd preset ---------------------------------------------------------------------------

def _cmd_list(args) -> int:
    for n in presets.names(args.root):
        print(f"{n:14s} {presets.description(n, args.root)}")
    return 0


def _cmd_show(args) -> int:
    presets.merged_params(args.name, Path(args.params), args.root)
    cmd = presets.exp_command(args.name, queue=args.queue, targets=args.target or (), root=args.root)
    print(" ".join(a if a.startswith("-") or "=" not in a else f"'{a}'" for a in cmd))
    return 0


def _cmd_apply(args) -> int:
    changed = presets.apply(args.name, Path(args.params), args.root)
    print(f"preset {args.name}: {len(changed)} key(s) changed in {args.params}"
          + (": " + ", ".join(changed) if changed else ""))
    return 0


def _cmd_run(args) -> int:
    presets.merged_params(args.name, Path(args.params), args.root)
    cmd = presets.exp_command(args.name, queue=args.queue, targets=args.target or (), root=args.root)
    print(" ".join(cmd))
    rc = dvc_command.call(cmd[1:])
    report = report_path()
    if rc == 0 and not args.queue and not args.target and report and report.is_file():
        print(f"preset {args.name}: report in {report.resolve()}")
    return rc


def report_path(dvc_yaml: Path = Path("dvc.yaml")) -> Path | None:
    """reports/report.md: the report stage's output folder, as dvc.yaml names it."""
    from ..params import read_yaml

    if not dvc_yaml.is_file():
        return None
    outs = ((read_yaml(dvc_yaml, "dvc.yaml") or {}).get("stages", {}).get("report", {}) or {}).get("outs") or []
    return dvc_yaml.parent / str(outs[0]) / "report.md" if outs else None


def add_preset_parser(sub) -> None:
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
