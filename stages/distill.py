"""Stage distill: train the student against labels and the teacher's softened outputs, or, with
`student.source` a file, load that pre-trained student instead (not trained here).

A supplied .keras/.h5 student is checked against the dataset and written as models/student.keras;
a supplied full-int8 .tflite is checked and written there byte for byte (no float model exists:
quantize@student recognises it and passes it on unquantized). metrics/distill.json says
`"source": <the file>, "trained": false`."""
from _common import stage


# Below this margin (validation accuracy) a teacher is not "clearly above" the student.
WEAK_TEACHER_MARGIN = 0.02


def warn_weak_teacher(teacher_val: float, baseline_metrics: str | None) -> None:
    """One line on stderr when the teacher's validation accuracy does not clearly beat the
    baseline student's: distilling from it can only pull the student down."""
    import json
    import sys
    from pathlib import Path

    if not baseline_metrics or not Path(baseline_metrics).is_file():
        return
    base = json.loads(Path(baseline_metrics).read_text()).get("val_accuracy")
    if base is not None and teacher_val < base + WEAK_TEACHER_MARGIN:
        print(f"warning: teacher validation accuracy {teacher_val:.4f} is not clearly above the baseline "
              f"student's {base:.4f}; distillation is unlikely to help", file=sys.stderr)


def supplied_student(p: dict, data: dict, info: dict, teacher_path: str, model_path: str, live_dir: str,
                     base) -> dict:
    """Load, check and write the student named by student.source; its test metrics (the keys a
    trained student's distill.json has, where they exist)."""
    from tinykd import train
    from tinykd.atomic import atomic_dir, write_bytes
    from tinykd.data.scaling import from_params
    from tinykd.data.sources import file_digest
    from tinykd.teacher import fetch_model_file, is_tflite

    s, kd = p["student"], p["kd"]
    s_in = from_params(s["input"], "student.input", info["shape"][-1])
    t_in = from_params(p["teacher"]["input"], "teacher.input", info["shape"][-1])
    kinds = ".keras/.h5/.tflite"
    path = fetch_model_file("student.source", s["source"], s["sha256"], base, kinds)
    blob = path.read_bytes()
    metrics = {"source": s["source"], "trained": False, "sha256": file_digest(path)}
    xt, yt = data["test"]
    with atomic_dir(live_dir) as tmp_live:
        if is_tflite(blob):
            from tinykd.quantize import check_int8_tflite, run_tflite

            io = check_int8_tflite(blob, "student.source", s["source"], info["shape"], info["num_classes"])
            # TFLite's int8 softmax output is always quantized with scale 1/256, zero point -128.
            probs = io["output_zero_point"] == -128 and abs(io["output_scale"] - 1 / 256) < 1e-9
            outputs, _ = run_tflite(blob, xt, scaling=s_in)
            scores = train.score(outputs, yt, probabilities=probs)
            if data.get("val") is not None and len(data["val"][0]):
                val_out, _ = run_tflite(blob, data["val"][0], scaling=s_in)
                metrics["val_accuracy"] = train.score(val_out, data["val"][1], probabilities=probs)["accuracy"]
            metrics.update({"format": "tflite", "arch": path.stem, "ends_in_softmax": probs,
                            "test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
                            "evaluated_as": "int8"})
            write_bytes(model_path, blob)
        else:
            from tinykd.distill import kd_loss_terms, teacher_output_model
            from tinykd.model_io import ends_in_softmax, load_keras, save_keras, strip_softmax
            from tinykd.teacher import load_supplied

            student = load_supplied("student.source", s["source"], s["sha256"], info["shape"], info["num_classes"],
                                    base, kinds)
            logits = strip_softmax(student)
            z_s = train.predict(logits, xt, scaling=s_in)
            t_test = train.predict(teacher_output_model(load_keras(teacher_path), kd["teacher_outputs"]), xt,
                                   scaling=t_in)
            total, hard, soft = (float(v) for v in kd_loss_terms(yt, z_s, t_test, alpha=kd["alpha"],
                                                                  temperature=kd["temperature"],
                                                                  teacher_outputs=kd["teacher_outputs"]))
            if data.get("val") is not None and len(data["val"][0]):
                metrics["val_accuracy"] = train.score(train.predict(logits, data["val"][0], scaling=s_in),
                                                      data["val"][1],
                                                      probabilities=False)["accuracy"]
            metrics.update({"format": "keras", "arch": student.name, "ends_in_softmax": ends_in_softmax(student),
                            "params": int(student.count_params()),
                            "test_accuracy": train.score(z_s, yt, probabilities=False)["accuracy"],
                            "test_loss": hard, "test_hard_loss": hard, "test_soft_loss": soft, "test_kd_loss": total,
                            "evaluated_as": "float", "temperature": kd["temperature"],
                            "teacher_outputs": kd["teacher_outputs"]})
            save_keras(student, model_path)
        (tmp_live / "supplied.txt").write_text(f"student loaded from {s['source']} "
                                               f"(sha256 {metrics['sha256']}); not trained here\n")
    return metrics


def arguments(ap) -> None:
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", default="models/teacher.keras")
    ap.add_argument("--model", default="models/student.keras")
    ap.add_argument("--metrics", default="metrics/distill.json")
    ap.add_argument("--live", default="dvclive/distill")
    ap.add_argument("--baseline-metrics", default=None,
                    help="metrics/baseline.json: warn when the teacher is not clearly above that student")


def body(args, p: dict) -> None:
    from tinykd import models, train
    from tinykd.atomic import atomic_dir, write_json
    from tinykd.data.scaling import from_params
    from tinykd.distill import distill
    from tinykd.model_io import load_keras, save_keras
    from tinykd.resume import backup_dir_for

    s, kd = p["student"], p["kd"]
    train.seed_everything(p["seed"])
    data, info = train.load_data(args.data)
    if s["source"] != "train":
        from pathlib import Path

        metrics = supplied_student(p, data, info, args.teacher, args.model, args.live,
                                   Path(args.params).resolve().parent)
        write_json(args.metrics, train.round_metrics(metrics))
        print(f"distill: student supplied ({s['source']}), not trained; test accuracy "
              f"{metrics['test_accuracy']:.4f} ({metrics['evaluated_as']})")
        return
    t_in = from_params(p["teacher"]["input"], "teacher.input", info["shape"][-1])
    s_in = from_params(s["input"], "student.input", info["shape"][-1])
    augment = models.distill_augment(kd["augment"], s["arch"], s["augment"])
    teacher = load_keras(args.teacher)
    student = models.build(s["arch"], info["shape"], info["num_classes"])
    with atomic_dir(args.live) as tmp_live:
        metrics = distill(student, teacher, data, alpha=kd["alpha"], temperature=kd["temperature"],
                          teacher_outputs=kd["teacher_outputs"], epochs=kd["epochs"], batch_size=kd["batch_size"],
                          learning_rate=kd["learning_rate"], augment=augment, seed=p["seed"],
                          views=kd["views"], optimizer_name=kd["optimizer"], live_dir=tmp_live,
                          on_teacher=lambda acc: warn_weak_teacher(acc, args.baseline_metrics),
                          teacher_input=t_in, student_input=s_in, resume_dir=backup_dir_for(args.model))
        save_keras(student, args.model)
    metrics.update({"params": int(student.count_params()), "arch": s["arch"], "alpha": kd["alpha"],
                    "temperature": kd["temperature"], "teacher_outputs": kd["teacher_outputs"]})
    write_json(args.metrics, train.round_metrics(metrics))
    print(f"distill: test accuracy {metrics['test_accuracy']:.4f}, hard {metrics['test_hard_loss']:.4f}, "
          f"soft {metrics['test_soft_loss']:.4f}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["student", "kd"])


if __name__ == "__main__":
    main()
