"""Sweeps over the distillation hyper-parameters as queued DVC experiments.

Every sweep point is one `dvc exp run --queue -S kd.alpha=... -S kd.temperature=... <targets>`;
`dvc queue start -j N` runs them in temporary copies of the workspace that share the DVC cache,
so fetch, teacher and baseline are checked out from the cache rather than rerun. The results are
read back from `dvc exp show --json` and rendered by `tinykd.report.sweep`.

The Snakemake twin of the same grid is workflow/rules/sweep.smk (one folder per grid point).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .dotted import assign, cli_value, get
from .dvc_cli import dvc_binary
from .errors import ParamError, TinykdError

# The grid of the course's exercise: T x alpha.
GRID_TEMPERATURES = (1.0, 2.0, 4.0, 16.0, 32.0, 64.0)
GRID_ALPHAS = (0.1, 0.3, 0.5, 0.7, 0.9)
# ESKD: teachers stopped after k epochs.
ESKD_TEACHER_EPOCHS = (1, 2, 5, 10, 20)

# The course's named KD cases. alpha weighs the hard-label loss (see tinykd.distill):
# alpha = 1 ignores the teacher, alpha = 0 ignores the labels.
COURSE_CASES = (
    ("labels-only", 1.0, 1.0, "alpha = 1: cross-entropy on labels only, the teacher is ignored (T unused)"),
    ("teacher-only-T1", 0.0, 1.0, "alpha = 0, T = 1: match the teacher's plain softmax, no labels"),
    ("teacher-only-T4", 0.0, 4.0, "alpha = 0, T = 4: match the teacher's softened outputs, no labels"),
    ("keras-example", 0.1, 10.0, "alpha = 0.1, T = 10: the Keras knowledge-distillation example"),
    ("mnist", 0.5, 4.0, "alpha = 0.5, T = 4: the course's MNIST distillation"),
    ("final", 0.4, 3.0, "alpha = 0.4, T = 3: the course's final choice (presets/course_kd.yaml)"),
)

# Metrics collected per experiment: (column, metrics file, key).
METRIC_COLUMNS = (
    ("student_accuracy", "metrics/distill.json", "test_accuracy"),
    ("student_int8_accuracy", "metrics/quantize_student.json", "int8_accuracy"),
    ("teacher_accuracy", "metrics/teacher.json", "test_accuracy"),
    ("baseline_accuracy", "metrics/baseline.json", "test_accuracy"),
    ("device_accuracy", "metrics/device.json", "accuracy"),
)
PARAM_COLUMNS = (("alpha", "kd.alpha"), ("temperature", "kd.temperature"), ("teacher_epochs", "teacher.epochs"))
DEFAULT_TARGETS = ("quantize@student",)


@dataclass(frozen=True)
class Point:
    """One experiment: a name and the params it sets."""

    name: str
    sets: tuple[tuple[str, object], ...]
    note: str = ""

    def set_args(self) -> list[str]:
        out = []
        for key, value in self.sets:
            out += ["-S", f"{key}={cli_value(value)}"]
        return out


def tag(value: float) -> str:
    """A number as it appears in experiment and folder names: 4.0 -> '4', 0.5 -> '0.5'."""
    return f"{float(value):g}"


def grid_points(temperatures=GRID_TEMPERATURES, alphas=GRID_ALPHAS, prefix: str = "grid") -> list[Point]:
    check_grid(temperatures, alphas)
    return [Point(f"{prefix}-T{tag(t)}-a{tag(a)}", (("kd.alpha", float(a)), ("kd.temperature", float(t))))
            for a in alphas for t in temperatures]


def course_points(prefix: str = "course") -> list[Point]:
    return [Point(f"{prefix}-{name}", (("kd.alpha", a), ("kd.temperature", t)), note)
            for name, a, t, note in COURSE_CASES]


def eskd_points(epochs=ESKD_TEACHER_EPOCHS, prefix: str = "eskd") -> list[Point]:
    for k in epochs:
        if int(k) != k or k < 1:
            raise ParamError("teacher.epochs", k, "integers >= 1 for an ESKD sweep")
    return [Point(f"{prefix}-k{int(k)}", (("teacher.epochs", int(k)),),
                  f"teacher trained {int(k)} epoch(s) only") for k in epochs]


def check_grid(temperatures, alphas) -> None:
    for t in temperatures:
        if not float(t) > 0:
            raise ParamError("kd.temperature", t, "numbers > 0")
    for a in alphas:
        if not 0.0 <= float(a) <= 1.0:
            raise ParamError("kd.alpha", a, "numbers between 0 and 1")
    if not temperatures or not alphas:
        raise ParamError("sweep grid", f"{list(temperatures)} x {list(alphas)}",
                         "at least one temperature and one alpha")


def parse_numbers(text: str, key: str) -> list[float]:
    """'1,2,4' -> [1.0, 2.0, 4.0], naming the option on bad input."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ParamError(key, text, "a comma-separated list of numbers, e.g. 1,2,4") from None


# -- running dvc -----------------------------------------------------------------------------

def _dvc(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run([dvc_binary(), *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise TinykdError("dvc is not on PATH: activate the venv (.venv/bin) or `pip install dvc`") from None
    if check and proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise TinykdError(f"`dvc {' '.join(args)}` failed: {last[0]}")
    return proc


def queue_command(point: Point, targets=DEFAULT_TARGETS, base_sets=()) -> list[str]:
    """`base_sets` (-S pairs of a preset) minus the keys the point sets itself, then the point's."""
    own = {key for key, _ in point.sets}
    base = []
    for flag, pair in zip(base_sets[::2], base_sets[1::2]):
        if pair.split("=", 1)[0] not in own:
            base += [flag, pair]
    return ["exp", "run", "--queue", "-n", point.name, *base, *point.set_args(), *targets]


def queue(points: list[Point], targets=DEFAULT_TARGETS, cwd: Path = Path("."), dry_run: bool = False,
          echo=print, base_sets=()) -> list[list[str]]:
    """Queue one experiment per point; returns the dvc command lines."""
    cmds = [queue_command(p, targets, base_sets) for p in points]
    for point, cmd in zip(points, cmds):
        echo("dvc " + " ".join(cmd) + (f"    # {point.note}" if point.note else ""))
        if not dry_run:
            _dvc(cmd, cwd)
    return cmds


def start(jobs: int, cwd: Path = Path(".")) -> None:
    """`dvc queue start -j N`. Its workers outlive it and inherit its stdout/stderr: those go to a
    file, not a pipe, or reading them to the end would wait for the workers to exit."""
    import tempfile

    if jobs < 1:
        raise ParamError("--jobs", jobs, "an integer >= 1")
    with tempfile.TemporaryFile("w+") as log:
        try:
            code = subprocess.call([dvc_binary(), "queue", "start", "-j", str(jobs)], cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=log)
        except FileNotFoundError:
            raise TinykdError("dvc is not on PATH: activate the venv (.venv/bin) or `pip install dvc`") from None
        if code != 0:
            log.seek(0)
            last = log.read().strip().splitlines()[-1:] or ["(no output)"]
            raise TinykdError(f"`dvc queue start -j {jobs}` failed: {last[0]}")


_STATUS_LINE = re.compile(r"^(?P<task>[0-9a-f]{7,})\s+(?P<name>\S+)\s+.*"
                          r"\s(?P<status>Queued|Running|Success|Failed)\s*$")


def queue_status(cwd: Path = Path(".")) -> dict[str, str]:
    """{experiment name: Queued | Running | Success | Failed} from `dvc queue status`."""
    out = _dvc(["queue", "status"], cwd).stdout
    status = {}
    for line in out.splitlines():
        m = _STATUS_LINE.match(line.strip())
        if m:
            status[m["name"]] = m["status"]
    return status


def wait(names: list[str] | None = None, cwd: Path = Path("."), timeout_s: float = 24 * 3600,
         poll_s: float = 5.0, echo=print) -> dict[str, str]:
    """Block until the named (default: all) queued experiments have finished; returns their status."""
    deadline = time.monotonic() + timeout_s
    last = None
    while True:
        status = queue_status(cwd)
        mine = {n: s for n, s in status.items() if names is None or n in names}
        pending = sorted(n for n, s in mine.items() if s in ("Queued", "Running"))
        summary = f"{len(mine) - len(pending)}/{len(mine)} finished"
        if summary != last:
            echo(f"sweep: {summary}")
            last = summary
        if not pending:
            return mine
        if time.monotonic() > deadline:
            raise TinykdError(f"sweep: {len(pending)} experiment(s) still queued or running after {timeout_s:g} s: "
                              + ", ".join(pending[:5]))
        time.sleep(poll_s)


# -- collecting results ----------------------------------------------------------------------

@dataclass
class Row:
    name: str
    rev: str
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "rev": self.rev, **self.params, **self.metrics}


def _row(name: str, entry: dict, device: bool = False) -> Row | None:
    data = entry.get("data") or {}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    metrics = data.get("metrics") or {}
    if not params:
        return None
    row = Row(name=name, rev=(entry.get("rev") or "")[:7])
    for col, key in PARAM_COLUMNS:
        row.params[col] = get(params, key, None)
    for col, path, key in METRIC_COLUMNS:
        value = ((metrics.get(path) or {}).get("data") or {}).get(key)
        if col == "device_accuracy" and not device:
            value = None  # inherited from the parent commit, not this experiment's student
        row.metrics[col] = value if isinstance(value, (int, float)) else None
    return row


def rows_from_exp_show(show: list, prefix: str | None = None, include_failed: bool = False,
                       device: bool = False) -> list[Row]:
    """Experiments (not the workspace or commits) from `dvc exp show --json`, optionally only those
    whose name starts with `prefix`. Experiments without results (queued, failed) are skipped.

    metrics/device.json of an experiment that stopped before `evaluate` is its parent commit's:
    the device column is filled only with `device=True` (experiments that ran evaluate)."""
    rows = []
    for commit in show:
        for exp in commit.get("experiments") or []:
            name = exp.get("name") or ""
            if prefix and not name.startswith(prefix):
                continue
            revs = exp.get("revs") or []
            if not revs:
                continue
            entry = revs[0]
            if entry.get("error") and not include_failed:
                continue
            row = _row(name, entry, device)
            if row is not None and (include_failed or row.metrics.get("student_accuracy") is not None
                                    or row.metrics.get("teacher_accuracy") is not None):
                rows.append(row)
    rows.sort(key=lambda r: (r.params.get("alpha") or 0, r.params.get("temperature") or 0,
                             r.params.get("teacher_epochs") or 0, r.name))
    return rows


def exp_show(cwd: Path = Path(".")) -> list:
    return json.loads(_dvc(["exp", "show", "--json"], cwd).stdout)


def rows_from_point_dirs(root: Path, teacher_metrics: Path | None = None,
                         baseline_metrics: Path | None = None) -> list[Row]:
    """Rows from the Snakemake sweep's folders: <root>/<point>/{params.yaml, distill.json, quantize.json,
    teacher.json (ESKD)}; the shared teacher's and baseline's metrics fill the reference columns."""
    from .params import read_yaml

    def read(path):
        return json.loads(Path(path).read_text()) if path is not None and Path(path).is_file() else {}

    shared = {"metrics/teacher.json": read(teacher_metrics), "metrics/baseline.json": read(baseline_metrics)}
    rows = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        params_file = folder / "params.yaml"
        if not params_file.is_file():
            continue
        params = read_yaml(params_file)
        row = Row(name=folder.name, rev="")
        for col, key in PARAM_COLUMNS:
            row.params[col] = get(params, key, None)
        files = {"metrics/distill.json": read(folder / "distill.json"),
                 "metrics/quantize_student.json": read(folder / "quantize.json"),
                 "metrics/teacher.json": read(folder / "teacher.json") or shared["metrics/teacher.json"],
                 "metrics/baseline.json": shared["metrics/baseline.json"]}
        for col, path, key in METRIC_COLUMNS:
            value = files.get(path, {}).get(key)
            row.metrics[col] = value if isinstance(value, (int, float)) else None
        rows.append(row)
    rows.sort(key=lambda r: (r.params.get("alpha") or 0, r.params.get("temperature") or 0,
                             r.params.get("teacher_epochs") or 0, r.name))
    return rows


def derive_params(params_path: Path, sets: list[str], out: Path) -> dict:
    """params.yaml with `key=value` overrides applied, validated, written to `out` (Snakemake sweeps)."""
    import yaml

    from . import params as P
    from .atomic import write_text

    raw = P.read_yaml(params_path) or {}
    for item in sets:
        if "=" not in item:
            raise ParamError("--set", item, "key=value, e.g. kd.alpha=0.5")
        key, value = item.split("=", 1)
        if "." in key and not isinstance(get(raw, key.rsplit(".", 1)[0], None), dict):
            raise ParamError(key, value, "a key of an existing params.yaml section")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ParamError("--set", item, f"key=value with a YAML value ({P.yaml_problem(exc)})") from None
        assign(raw, key, parsed, create=False)
    P.validate(raw, P.load_schema(P.find_schema(params_path)))
    write_text(out, yaml.safe_dump(raw, sort_keys=False))
    return raw


# -- command line ----------------------------------------------------------------------------

def sweep_defaults(params_path: Path) -> dict:
    """The `sweep:` section of params.yaml (validated, defaults filled); the built-in grid without one."""
    from . import params as P

    if not Path(params_path).is_file():
        return {"temperatures": list(GRID_TEMPERATURES), "alphas": list(GRID_ALPHAS),
                "teacher_epochs": list(ESKD_TEACHER_EPOCHS)}
    return P.load(params_path)["sweep"]


def _points(args) -> list[Point]:
    defaults = sweep_defaults(Path(args.repo) / "params.yaml")
    if args.preset:
        from . import presets

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
    from .report import sweep as sweep_report

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
        from . import presets

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


def add_parser(sub) -> None:
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
    q.add_argument("--metric", default="student_accuracy", help="metric plotted against T")
    q.add_argument("--dry-run", action="store_true", help="print the dvc commands only")
    q.add_argument("--repo", default=".", help="the DVC repository (default: current folder)")
    q.set_defaults(func=_cmd_queue)

    c = ssub.add_parser("collect", help="table (CSV, Markdown) and plots of finished sweep experiments")
    c.add_argument("--prefix", help="only experiments whose name starts with this (e.g. grid)")
    c.add_argument("--device", action="store_true",
                   help="include on-device accuracy (only for experiments queued with --target evaluate)")
    c.add_argument("--from-dirs", help="read a Snakemake sweep's point folders (e.g. metrics/sweep) instead of dvc")
    c.add_argument("--teacher-metrics", help="with --from-dirs: the shared teacher's metrics (reference line)")
    c.add_argument("--baseline-metrics", help="with --from-dirs: the baseline's metrics (reference line)")
    c.add_argument("--out", default="sweeps", help="output folder (default sweeps/)")
    c.add_argument("--metric", default="student_accuracy", help="metric plotted against T")
    c.add_argument("--repo", default=".", help="the DVC repository (default: current folder)")
    c.set_defaults(func=_collect)

    d = ssub.add_parser("derive-params", help="params.yaml with key=value overrides (one Snakemake sweep point)")
    d.add_argument("--params", default="params.yaml")
    d.add_argument("--set", action="append", default=[], help="key=value (repeatable)")
    d.add_argument("--out", required=True)
    d.set_defaults(func=_cmd_derive)
