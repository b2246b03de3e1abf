"""Run the pipeline with each stage's wall time logged, and record a finished run in results/.

    python scripts/record_run.py repro [--log logs/repro-times.json] [dvc repro args...]
    python scripts/record_run.py record results/<name> [--times logs/repro-times.json]
    python scripts/record_run.py table results/<name> [results/<other> ...]   # the README's Results table

`repro` runs `dvc repro` and timestamps its output: a stage's wall time runs from its
"Running stage" line to the next one (or the end). `record` copies what a reader needs to hold
their own run against this one into the folder: params.yaml, dvc.lock, metrics/, reports/, the
stage times and machine.json (CPU, cores, memory, OS, Python and package versions, git commit).
It never overwrites an existing record.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

STAGE_LINE = re.compile(r"^(?:Running|Stage) stage '([^']+)'")


def _save_times(log: Path, times: dict[str, float]) -> None:
    """Merge `times` into the log, atomically: a run stopped part-way keeps its finished stages."""
    from tinykd.atomic import write_json

    write_json(log, {**(json.loads(log.read_text()) if log.is_file() else {}), **times})


def repro(log: Path, dvc_args: list[str]) -> int:
    """dvc repro with per-stage wall times; the output still streams to the terminal. Each stage's
    time is written to `log` when the next one starts, so a stopped run loses only the unfinished
    stage's (a resumed teacher, say, has its time in two logs)."""
    proc = subprocess.Popen(["dvc", "repro", *dvc_args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    current, since = None, time.monotonic()
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        m = STAGE_LINE.match(line)
        if m and line.startswith("Running"):
            now = time.monotonic()
            if current:
                _save_times(log, {current: round(now - since, 1)})
            current, since = m.group(1), now
    rc = proc.wait()
    if current:
        _save_times(log, {current: round(time.monotonic() - since, 1)})
    return rc


def _version(pkg: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        m = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        mem = round(int(m.group(1)) / 1024 ** 2, 1) if m else None
    qemu = shutil.which("qemu-system-arm")
    qemu_v = (subprocess.run([qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
              if qemu else None)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "os": platform.platform(),
            "python": platform.python_version(), "qemu": qemu_v, "git_commit": commit,
            "packages": {p: _version(p) for p in ("tensorflow", "keras", "dvc", "tflite-micro", "numpy")}}


def record(out: Path, times: Path) -> None:
    if out.exists():
        sys.exit(f"error: {out} exists; a record is never overwritten (choose another folder)")
    tmp = out.with_name(f".{out.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in ("params.yaml", "dvc.lock"):
        shutil.copy2(name, tmp / name)
    shutil.copytree("metrics", tmp / "metrics")
    if Path("reports").is_dir():
        shutil.copytree("reports", tmp / "reports", ignore=shutil.ignore_patterns(".tinykd-output"))
    if times.is_file():
        shutil.copy2(times, tmp / "stage_times.json")
    (tmp / "machine.json").write_text(json.dumps(machine(), indent=2) + "\n")
    tmp.rename(out)
    print(f"recorded: {out}")


def _read(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


def _teacher_origin(run: Path, source: str) -> Path | None:
    """The record a supplied teacher came from, when its file lies in another record's models/."""
    parts = Path(source).parts
    if "results" in parts and "models" in parts:
        origin = Path(*parts[:parts.index("models")])
        for base in (Path.cwd(), run.parent.parent):
            if (base / origin / "stage_times.json").is_file():
                return base / origin
    return None


def _stage_outs(run: Path, stage: str):
    """The md5s of `stage`'s outputs in a record's dvc.lock (None when it has no such stage)."""
    import yaml

    lock = run / "dvc.lock"
    entry = (yaml.safe_load(lock.read_text()) or {}).get("stages", {}).get(stage) if lock.is_file() else None
    return sorted((o["path"], o.get("md5")) for o in entry.get("outs", [])) if entry else None


def _cached_stage_time(run: Path, stage: str) -> tuple[float, str] | None:
    """A stage DVC took from its cache in `run` has no wall time there: the time of the sibling
    record in which it ran with the same outputs (same md5s in both dvc.locks), and its name."""
    outs = _stage_outs(run, stage)
    if not outs:
        return None
    for other in sorted(run.parent.iterdir()):
        sec = _read(other / "stage_times.json").get(stage) if other != run else None
        if sec and _stage_outs(other, stage) == outs:
            return sec, other.name
    return None


def table(runs: list[Path]) -> str:
    """Markdown table of teacher, baseline and distilled student read from recorded runs: the
    teacher from the first, baseline and distilled student from each (one record per student arch)."""
    from tinykd.device import latency

    rows = []
    clocks = set()
    train_stage = {"teacher": "teacher", "baseline": "baseline", "student": "distill"}
    names = {"teacher": "teacher", "baseline": "student, labels only (baseline)", "student": "student, distilled"}
    for i, run in enumerate(runs):
        m = run / "metrics"
        times = _read(run / "stage_times.json")
        fp = _read(m / "footprint.json").get("models", {})
        device = {"student": (_read(m / "device.json"), _read(m / "firmware.json")),
                  "baseline": (_read(m / "baseline" / "device.json"), _read(m / "baseline" / "firmware.json"))}
        for model in (("teacher", "baseline", "student") if i == 0 else ("baseline", "student")):
            q = _read(m / f"quantize_{model}.json")
            t = _read(m / f"{train_stage[model]}.json")
            dev, fw = device.get(model, ({}, {}))
            on_dev = _pct(dev.get("accuracy")) + (f" ({dev['samples']:,} images)" if dev.get("samples") else "")
            lat = latency.read(dev)
            clocks.add(lat and lat[1])
            flash = f"{fw['flash_used']:,} B" if fw.get("flash_used") else "–"
            arena = fp.get(model, {}).get("arena_bytes")
            sec = times.get(train_stage[model])
            trained = f"{sec / 60:.0f} min" if sec else "–"
            if not sec and model != "teacher" and (hit := _cached_stage_time(run, train_stage[model])):
                trained = f"{hit[0] / 60:.0f} min (in {hit[1]})"
            if model == "teacher" and t.get("source", "train") != "train":
                # A supplied teacher was trained elsewhere: its time is the origin record's.
                origin = _teacher_origin(run, t["source"])
                osec = _read(origin / "stage_times.json").get("teacher") if origin else None
                trained = f"{osec / 60:.0f} min (in {origin.name})" if osec else "supplied"
            rows.append(f"| {names[model]} ({t.get('arch', '?')}) | {q.get('params', t.get('params', 0)):,} "
                        f"| {_pct(q.get('float_accuracy', t.get('test_accuracy')))} | {_pct(q.get('int8_accuracy'))} "
                        f"| {on_dev} | {f'{lat[0]} ms' if lat else '–'} | {flash} "
                        f"| {f'{arena:,} B' if arena else '–'} | {trained} |")
    clocks.discard(None)
    # One clock for every row (one board) goes in the header, as the committed README shows it.
    if len(clocks) > 1:
        raise SystemExit(f"record_run: the records were measured at different core clocks {sorted(clocks)}; "
                         "tabulate one board at a time")
    at = f" at {latency.mhz(clocks.pop())}" if clocks else ""
    head = ["| model | parameters | float (host) | int8 (host) | int8 on the device | latency" + at +
            " | firmware flash | arena RAM | training |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    return "\n".join(head + rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("repro", help="dvc repro with per-stage wall times")
    r.add_argument("--log", type=Path, default=Path("logs/repro-times.json"))
    rec = sub.add_parser("record", help="copy this run's params, lock, metrics, report, times into a folder")
    rec.add_argument("out", type=Path)
    rec.add_argument("--times", type=Path, default=Path("logs/repro-times.json"))
    tab = sub.add_parser("table", help="print the Results table of a recorded run")
    tab.add_argument("runs", type=Path, nargs="+", help="records; the teacher row comes from the first")
    args, rest = ap.parse_known_args()
    if args.cmd == "repro":
        sys.exit(repro(args.log, rest))
    if args.cmd == "table":
        print(table(args.runs))
        return
    record(args.out, args.times)


if __name__ == "__main__":
    main()
