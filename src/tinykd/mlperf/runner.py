"""The benchmark's two host-runner modes, in the spirit of the MLPerf Tiny / EEMBC runners.

performance  `windows` times: load a test image (`db load` + `db` chunks), `infer N W`; the
             throughput of a window is N / (second m-lap-us - first m-lap-us); the score is
             the median over the windows (the runners use 5 windows).
accuracy     every image: load, `infer 1 0`; top-1 = argmax of m-results against the label. With
             a host reference (.tflite) each vector is also compared with the host int8 result.

Results: results.json (machine-readable, sorted keys, no wall-clock timestamps), results.txt (the
summary a person reads) and log.txt (the protocol transcript), written atomically.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

from .. import atomic
from ..errors import DeviceError
from .client import Device
from .datasets import Sample

QEMU_CLOCK_NOTE = ("QEMU virtual time: the board runs under -icount shift=0,sleep=off (one guest "
                   "instruction = 1 ns), so microseconds count instructions / 1000, not wall-clock time on a "
                   "real STM32L475 (which also spends cycles on flash wait states and memory stalls)")


def clock_description(virtual: bool, info: dict[str, str]) -> dict[str, str]:
    timer = info.get("timer", "unknown")
    if virtual:
        return {"source": "qemu-icount", "timer": timer, "note": QEMU_CLOCK_NOTE}
    note = "microseconds from the device's core timer"
    if timer == "systick":
        note += (" (SysTick: the DWT cycle counter does not count here, as under QEMU; if this is "
                 "a QEMU board started with -icount shift=0 these are virtual microseconds)")
    return {"source": "device", "timer": timer, "note": note}


def describe(dev: Device) -> dict:
    name = dev.sync()
    profile, model = dev.profile()
    return {"name": name, "profile": profile, "model": model, "info": dev.info()}


def run_performance(dev: Device, samples: list[Sample], windows: int = 5, iterations: int = 20,
                    warmups: int = 5, infer_timeout_s: float = 60.0, progress=None) -> dict:
    """Median throughput over `windows` runs of `infer iterations warmups` (image i mod len)."""
    rows = []
    for w in range(windows):
        sample = samples[w % len(samples)]
        dev.load(sample.pixels)
        reply = dev.infer(iterations, warmups, timeout_s=infer_timeout_s * (iterations + warmups))
        if reply.elapsed_us == 0:
            raise DeviceError(f"window {w + 1}: both m-lap-us timestamps are {reply.start_us}: "
                              "the device's timer does not run")
        throughput = iterations / (reply.elapsed_us / 1e6)
        rows.append({"window": w + 1, "sample": sample.name, "iterations": iterations,
                     "warmups": warmups, "start_us": reply.start_us, "end_us": reply.end_us,
                     "elapsed_us": reply.elapsed_us,
                     "throughput_inf_per_s": round(throughput, 4),
                     "latency_us": round(reply.elapsed_us / iterations, 3),
                     "results": reply.results})
        if progress:
            progress(f"window {w + 1}/{windows}: {iterations} inferences in "
                     f"{reply.elapsed_us / 1e6:.6f} s = {throughput:.3f} inf./s")
    median = statistics.median(r["throughput_inf_per_s"] for r in rows)
    return {"mode": "performance", "windows": rows,
            "median_throughput_inf_per_s": round(median, 4),
            "median_latency_ms": round(1000.0 / median, 4)}


def run_accuracy(dev: Device, samples: list[Sample], reference=None, infer_timeout_s: float = 60.0,
                 progress=None) -> dict:
    """Top-1 over `samples` with `infer 1 0` each; optional host-reference agreement."""
    rows = []
    labelled = correct = equal_vectors = equal_raw = raw_checked = 0
    latencies = []
    for i, sample in enumerate(samples):
        dev.load(sample.pixels)
        reply = dev.infer(1, 0, timeout_s=infer_timeout_s)
        values = reply.values
        predicted = int(np.argmax(values)) if values else None
        row = {"sample": sample.name, "label": sample.label, "predicted": predicted,
               "results": reply.results, "latency_us": reply.elapsed_us}
        latencies.append(reply.elapsed_us)
        if sample.label is not None:
            labelled += 1
            correct += int(predicted == sample.label)
        if reference is not None:
            expected_raw = reference.raw(sample.pixels)
            expected = reference.results(sample.pixels)
            row["reference_results"] = expected
            row["matches_reference"] = expected == reply.results
            equal_vectors += int(row["matches_reference"])
            raw = dev.raw()
            if raw is not None:
                raw_checked += 1
                row["raw"] = raw
                row["raw_matches_reference"] = raw == [int(v) for v in expected_raw]
                equal_raw += int(row["raw_matches_reference"])
        rows.append(row)
        if progress:
            progress(f"image {i + 1}/{len(samples)} {sample.name}: predicted {predicted}, "
                     f"label {sample.label}")
    out = {"mode": "accuracy", "samples": len(samples), "labelled": labelled, "correct": correct,
           "top1": round(correct / labelled, 6) if labelled else None,
           "median_latency_us": statistics.median(latencies), "images": rows}
    if reference is not None:
        out["reference"] = {"results_equal": equal_vectors,
                            "results_agreement": round(equal_vectors / len(samples), 6),
                            "raw_checked": raw_checked, "raw_equal": equal_raw}
    return out


def summary_text(result: dict) -> str:
    dev = result["device"]
    lines = [f"MLPerf Tiny image classification (ic01), {result['mode']} mode - tinykd runner",
             f"device   : {dev['name']}",
             f"profile  : {dev['profile']}  model: {dev['model']}",
             f"timer    : {result['clock']['note']}"]
    if dev["info"]:
        lines.append("info     : " + ", ".join(f"{k}={v}" for k, v in sorted(dev["info"].items())))
    if result["mode"] == "performance":
        for r in result["windows"]:
            lines.append(f"window {r['window']}: {r['sample']}: {r['iterations']} inferences "
                         f"({r['warmups']} warm-up) in {r['elapsed_us'] / 1e6:.6f} s = "
                         f"{r['throughput_inf_per_s']:.3f} inf./s; m-results [{','.join(r['results'])}]")
        lines.append(f"Median throughput: {result['median_throughput_inf_per_s']:.3f} inf./s "
                     f"(latency {result['median_latency_ms']:.3f} ms per inference)")
    else:
        if result["top1"] is not None:
            lines.append(f"Top-1 accuracy: {100 * result['top1']:.2f} % "
                         f"({result['correct']} of {result['labelled']} images)")
        else:
            lines.append(f"{result['samples']} images without labels: no accuracy")
        lines.append(f"Median latency (infer 1 0): {result['median_latency_us']} us")
        ref = result.get("reference")
        if ref:
            lines.append(f"Host int8 reference: m-results equal on {ref['results_equal']} of "
                         f"{result['samples']} images; int8 outputs equal on {ref['raw_equal']} of "
                         f"{ref['raw_checked']} checked")
    return "\n".join(lines) + "\n"


def write_results(out_dir: str | Path, result: dict, transcript: list[str], force: bool = False) -> Path:
    """The three files as one folder, replaced whole (atomic.atomic_dir): a folder tinykd did not
    write is refused unless `force`, and a failed write leaves the previous results."""
    with atomic.atomic_dir(out_dir, force) as tmp:
        atomic.write_json(tmp / "results.json", result)
        atomic.write_text(tmp / "results.txt", summary_text(result))
        atomic.write_text(tmp / "log.txt", "\n".join(transcript) + "\n")
    return Path(out_dir)
