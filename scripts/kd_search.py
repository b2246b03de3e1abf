"""Choose distillation settings on the validation split: train one distilled student per variant
against a fixed teacher, with the teacher's augmented views computed once for all of them.

    python scripts/kd_search.py --data data --teacher models/teacher.keras \
        --variants '[{"alpha": 0.1, "temperature": 2.0}, {"alpha": 0.5}]' --out logs/kd_search.jsonl

Each variant overrides params.yaml's `kd.*` / `student.arch` values (keys: alpha, temperature,
teacher_outputs, epochs, batch_size, learning_rate, optimizer, views, augment, arch); one JSON line per
variant is appended to --out with its validation accuracy. A variant with "labels_only": true trains
the student on labels alone as the baseline stage does (`student.*` overridden by the same keys),
so a setting such as the learning rate is compared at equal footing on both sides. Test accuracy is deliberately not
printed: a recipe picked on the test split would make the test figures meaningless.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

KEYS = ("alpha", "temperature", "teacher_outputs", "epochs", "batch_size", "learning_rate", "optimizer", "views",
        "augment", "arch", "labels_only")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", default="models/teacher.keras")
    ap.add_argument("--variants", required=True, help="JSON list of objects; keys: " + ", ".join(KEYS))
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, appended")
    args = ap.parse_args()

    from tinykd import distill as D
    from tinykd import models, train
    from tinykd import params as P
    from tinykd.data.scaling import from_params
    from tinykd.errors import ParamError
    from tinykd.model_io import load_keras

    variants = json.loads(args.variants)
    for v in variants:
        bad = sorted(set(v) - set(KEYS))
        if bad:
            raise SystemExit(f"error: variant key {bad[0]!r} is not allowed; expected one of {', '.join(KEYS)}")
    p = P.load(args.params, sections=["student", "kd"])
    data, info = train.load_data(args.data)
    if data.get("val") is None or not len(data["val"][0]):
        raise SystemExit("error: the data has no validation split (dataset.val_split = 0); nothing to choose on")
    views_of = D.teacher_views
    cache: dict = {}

    def cached_views(t_model, x, **kw):
        # Every variant with the same views and seed is shown the same augmented images.
        key = (kw["views"], kw["seed"])
        if key not in cache:
            cache[key] = views_of(t_model, x, **kw)
        return cache[key]

    D.teacher_views = cached_views
    for v in variants:
        kd = {**p["kd"], **{k: val for k, val in v.items() if k != "arch"}}
        try:
            train.seed_everything(p["seed"])
            # In the order the baseline and distill stages use: loading the teacher builds its layers
            # and draws from the seeded generators, so it changes the student's initial weights.
            teacher = None if v.get("labels_only") else load_keras(args.teacher)
            arch = v.get("arch", p["student"]["arch"])
            student = models.build(arch, info["shape"], info["num_classes"])
            t0 = time.monotonic()
            if v.get("labels_only"):
                st = {**p["student"], **{k: val for k, val in v.items() if k in p["student"]}}
                scaling = from_params(st["input"], "student.input", info["shape"][-1])
                train.fit(student, data, epochs=st["epochs"], batch_size=st["batch_size"],
                          learning_rate=st["learning_rate"], augment=st["augment"], seed=p["seed"],
                          optimizer_name=st["optimizer"], scaling=scaling)
                m = {"val_accuracy": train.evaluate(student, *data["val"], scaling=scaling)["accuracy"]}
            else:
                m = D.distill(student, teacher, data, alpha=kd["alpha"], temperature=kd["temperature"],
                              teacher_outputs=kd["teacher_outputs"], epochs=kd["epochs"], batch_size=kd["batch_size"],
                              learning_rate=kd["learning_rate"], seed=p["seed"],
                              augment=models.distill_augment(kd["augment"], arch, p["student"]["augment"]),
                              views=kd["views"], optimizer_name=kd["optimizer"], verbose=2,
                              teacher_input=from_params(p["teacher"]["input"], "teacher.input", info["shape"][-1]),
                              student_input=from_params(p["student"]["input"], "student.input", info["shape"][-1]))
        except ParamError as exc:
            raise SystemExit(f"error: {exc}") from None
        rec = {**v, "val_accuracy": round(m["val_accuracy"], 6), "seconds": round(time.monotonic() - t0, 1)}
        print(json.dumps(rec), flush=True)
        with args.out.open("a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
