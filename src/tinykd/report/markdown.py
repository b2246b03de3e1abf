"""report.md: the text. Every number is read from a metrics file; absent inputs are named, not guessed."""
from __future__ import annotations

from ..device import latency
from .collect import Inputs

TITLE = {"teacher": "teacher", "baseline": "student without KD (baseline)", "student": "distilled student"}
STAGE_OF = {"footprint": "footprint", "firmware": "build@student", "device": "evaluate@student"}


def pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def nbytes(v) -> str:
    if v is None:
        return "n/a"
    return f"{int(v):,} B ({v / 1024:.1f} KiB)" if v >= 1024 else f"{int(v):,} B"


def num(v) -> str:
    return "n/a" if v is None else f"{int(v):,}"


def _accuracy(inp: Inputs, model: str, key: str):
    q = inp.quantize.get(model) or {}
    if key == "float":
        return q.get("float_accuracy", (inp.train.get(model) or {}).get("test_accuracy"))
    return q.get("int8_accuracy")


def _epochs(inp: Inputs, model: str):
    curves = inp.curves.get(model) or {}
    steps = {s for split in curves.values() for pts in split.values() for s, _ in pts}
    return len(steps) or None


def _absent(what: str, path_hint: str, stage: str) -> str:
    return (f"_Not available: {path_hint} does not exist (run `dvc repro {stage}`). "
            f"This report shows no {what} numbers rather than invent them._\n")


def section_overview(inp: Inputs) -> list[str]:
    out = ["# tinykd report", ""]
    ds = inp.dataset
    if ds:
        counts = ds.get("counts", {})
        shape = "x".join(str(d) for d in ds.get("shape", []))
        out.append(f"Dataset **{ds.get('name', '?')}**: {counts.get('train', '?')} training, "
                   f"{counts.get('val', '?')} validation and {counts.get('test', '?')} test images of {shape}, "
                   f"{ds.get('num_classes', '?')} classes.")
    s = inp.train.get("student") or {}
    if supplied(inp):
        out.append(f"Student: **supplied, not trained here** (`student.source` = `{s.get('source')}`, sha256 "
                   f"`{s.get('sha256', 'n/a')}`, {s.get('format', 'keras')}); no distillation ran, so its accuracy "
                   "is the supplied model's own.")
    elif s:
        out.append(f"Distillation: alpha = {s.get('alpha')} (weight of the label loss), temperature T = "
                   f"{s.get('temperature')}, teacher outputs: {s.get('teacher_outputs')}"
                   + images_line(s) + ".")
    out.append("")
    return out


def images_line(s: dict) -> str:
    """What the distilled student was shown (distill.json from before `augment` was recorded: nothing)."""
    if "augment" not in s:
        return ""
    if not s["augment"]:
        return ", on the plain training images"
    views = s.get("views") or 0
    return (f", on {views} cached crop + flip views per image" if views
            else ", on crop + flip with the teacher run on every batch")


def supplied(inp: Inputs) -> bool:
    """True when the distill stage loaded the student from a file (metrics/distill.json "trained": false)."""
    return (inp.train.get("student") or {}).get("trained") is False


def title(inp: Inputs, model: str) -> str:
    return "supplied student (not trained here)" if model == "student" and supplied(inp) else TITLE[model]


def weak_teacher_note(inp: Inputs, margin: float = 0.02) -> list[str]:
    """The distill stage's warning, repeated beside the KD gain: a teacher whose validation accuracy
    is not `margin` above the baseline student's can only pull the student down."""
    tv = (inp.train.get("student") or {}).get("teacher_val_accuracy")
    bv = (inp.train.get("baseline") or {}).get("val_accuracy")
    if tv is None or bv is None or tv >= bv + margin:
        return []
    return [f"**Warning: the teacher is not clearly stronger than the student** (validation accuracy "
            f"{pct(tv)} against the baseline student's {pct(bv)}); distilling from it is unlikely to help."]


def section_models(inp: Inputs) -> list[str]:
    out = ["## Teacher, baseline and distilled student", "",
           "| model | architecture | parameters | epochs | float accuracy | int8 accuracy | int8 drop "
           "| .keras size | .tflite size | size ratio |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for m in ("teacher", "baseline", "student"):
        t, q = inp.train.get(m) or {}, inp.quantize.get(m) or {}
        if not t and not q:
            out.append(f"| {title(inp, m)} | _missing_ | | | | | | | | |")
            continue
        fa, ia = _accuracy(inp, m, "float"), _accuracy(inp, m, "int8")
        ratio = (f"{q['keras_bytes'] / q['tflite_bytes']:.2f}x" if q.get("keras_bytes") and q.get("tflite_bytes")
                 else "n/a")
        drop = f"{100 * (fa - ia):+.2f} pt" if fa is not None and ia is not None else "n/a"
        out.append(f"| {title(inp, m)} | {t.get('arch', 'n/a')} | {num(q.get('params', t.get('params')))} | "
                   f"{_epochs(inp, m) or 'n/a'} | {pct(fa)} | {pct(ia)} | {drop} | {nbytes(q.get('keras_bytes'))} | "
                   f"{nbytes(q.get('tflite_bytes'))} | {ratio} |")
    out.append("")
    b, s = _accuracy(inp, "baseline", "float"), _accuracy(inp, "student", "float")
    if b is not None and s is not None:
        bi, si = _accuracy(inp, "baseline", "int8"), _accuracy(inp, "student", "int8")
        gain = f"{100 * (s - b):+.2f} points float"
        if bi is not None and si is not None:
            gain += f", {100 * (si - bi):+.2f} points int8"
        if supplied(inp):
            out.append(f"The supplied student's test accuracy differs by **{gain}** from the baseline (`student.arch` "
                       "trained on labels only here); it was not distilled here, so this is no distillation gain.")
        else:
            out.append(f"Knowledge distillation changes the student's test accuracy by **{gain}** against the same "
                       "architecture trained on labels only.")
            out += weak_teacher_note(inp)
    out.append("Size ratio = .keras file bytes / int8 .tflite bytes. int8 accuracies are from the LiteRT "
               "interpreter on the host, one image at a time.")
    out.append("")
    return out


def section_footprint(inp: Inputs) -> list[str]:
    fp = inp.footprint
    out = ["## Footprint on the board", ""]
    if not fp:
        return out + [_absent("footprint", "metrics/footprint.json", "footprint")]
    b = fp.get("board", {})
    out.append(f"Board **{b.get('name')}**: flash budget for the model {nbytes(b.get('flash_budget'))} "
               f"(of {nbytes(b.get('flash_bytes'))}), arena budget {nbytes(b.get('arena_budget'))} in "
               f"{b.get('arena_region')}.")
    out += ["", "| model | weights | flash estimate | arena (RAM) | MACs / inference | layers | fits flash "
                "| fits RAM | fits the board |", "|---|---:|---:|---:|---:|---:|---|---|---|"]
    yes = {True: "yes", False: "**no**", None: "n/a"}
    for m in ("teacher", "baseline", "student"):
        f = fp.get("models", {}).get(m)
        if not f:
            continue
        out.append(f"| {title(inp, m)} | {nbytes(f.get('weight_bytes'))} | {nbytes(f.get('flash_bytes'))} | "
                   f"{nbytes(f.get('arena_bytes'))} | {num(f.get('macs'))} | {num(f.get('layers'))} | "
                   f"{yes[f.get('fits_flash')]} | {yes[f.get('fits_ram')]} | {yes[f.get('fits')]} |")
    fitting = [title(inp, m) for m in ("baseline", "student") if fp.get("models", {}).get(m, {}).get("fits")]
    out += ["", "Students that fit the board: " + (", ".join(fitting) if fitting else "none") + "."]
    fw = inp.firmware
    if fw:
        out += ["", "Linked firmware image (metrics/firmware.json): "
                    + ", ".join(f"{label} {nbytes(fw[k])} of {nbytes(fw.get(k.replace('_used', '_limit')))}"
                                for k, label in (("flash_used", "flash"), ("sram1_used", "SRAM1"),
                                                 ("sram2_used", "SRAM2")) if k in fw) + "."]
    else:
        out += ["", _absent("firmware size", "metrics/firmware.json", "build@student")]
    out.append("")
    return out


def _device_cell(d: dict | None, key: str, fmt) -> str:
    if not d or d.get(key) is None:
        return "n/a"
    return fmt(d[key])


def section_device(inp: Inputs) -> list[str]:
    d, b = inp.device, inp.device_baseline
    out = ["## On the device", ""]
    if not d:
        return out + [_absent("on-device accuracy, latency or agreement", "metrics/device.json", "evaluate@student")]
    unit = d.get("latency_unit", "cycles")
    where = (f"QEMU's emulated {d.get('board') or 'board'} (latency counted in guest instructions: a lower "
             "bound for the real chip's cycles)" if d.get("emulated")
             else f"the board (backend {d.get('backend')}, DWT cycle counter)")
    rows = [
        ("accuracy on the device", "accuracy", pct),
        ("accuracy of the same .tflite on the host", "host_accuracy", pct),
        ("outputs bit-exact with the host", "bit_exact", pct),
        ("images bit-exact", "bit_exact_images", num),
        ("top-1 agreement device/host", "top1_agreement", pct),
        (f"latency, median ({unit})", f"latency_{unit}_median", lambda v: f"{v:,}"),
        (f"latency, 95th percentile ({unit})", f"latency_{unit}_p95", lambda v: f"{v:,}"),
        ("MACs per inference", "macs", num),
        ("arena", "arena_bytes", nbytes),
    ]
    out += [f"Measured on {where}, {d.get('samples')} test images.", "",
            f"| quantity | {'supplied student' if supplied(inp) else 'distilled student'} | baseline |",
            "|---|---:|---:|"]
    cells = [f"| {label} | {_device_cell(d, key, fmt)} | {_device_cell(b, key, fmt)} |" for label, key, fmt in rows]
    # at the core clock the firmware reported, which device.json records beside the figure
    cells.insert(7, f"| latency at the core clock, median | {latency.describe(d)} | {latency.describe(b)} |")
    out += cells
    out.append("")
    if b and d.get("accuracy") is not None and b.get("accuracy") is not None:
        same = d.get("samples") == b.get("samples")
        out.append(f"On the device, knowledge distillation changes int8 top-1 accuracy by "
                   f"**{100 * (d['accuracy'] - b['accuracy']):+.2f} points** against the baseline"
                   + ("." if same else f" (careful: {d.get('samples')} vs {b.get('samples')} images)."))
        out += weak_teacher_note(inp)
        out.append("")
    elif not b:
        out += [_absent("the baseline on the device", "metrics/baseline/device.json", "evaluate@baseline"), ""]
    if inp.confusion is None:
        out.append(_absent("confusion matrix", "plots/device/confusion.csv", "evaluate@student"))
    return out


def render(inp: Inputs, made: dict, compression: list[str] = ()) -> str:
    out = section_overview(inp) + section_models(inp)
    if "accuracy" in made:
        out += [f"![accuracy]({made['accuracy']})", ""]
    out += section_footprint(inp)
    if "footprint" in made:
        out += [f"![footprint]({made['footprint']})", ""]
    out += section_device(inp)
    if "confusion_matrix" in made:
        out += [f"![confusion matrix]({made['confusion_matrix']})", ""]
    out += list(compression)  # tinykd.report.compression.section: empty unless compression stages ran
    out += ["## Training curves", ""]
    if "training_curves" in made:
        out += ["Per epoch, from DVCLive (dvclive/<stage>/plots/metrics).", "",
                f"![training curves]({made['training_curves']})", ""]
    else:
        out += ["_Not available: no DVCLive curves were found (models loaded rather than trained?)._", ""]
    if inp.sweep:
        out += ["## KD sweep", "", "From sweeps/results.csv (`tinykd sweep collect`).", "", inp.sweep["markdown"], ""]
        out += [f"![sweep]({name})" for name in made.get("sweep", [])] + [""]
    missing = [p for p in inp.missing]
    if missing:
        out += ["## Inputs not found", "", "The report was written without: " + ", ".join(f"`{p}`" for p in missing)
                + ".", ""]
    return "\n".join(out).rstrip() + "\n"
