"""Stage distill: train the student against labels and the teacher's softened outputs."""
import argparse

from _common import run


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", default="models/teacher.keras")
    ap.add_argument("--model", default="models/student.keras")
    ap.add_argument("--metrics", default="metrics/distill.json")
    ap.add_argument("--live", default="dvclive/distill")
    ap.add_argument("--baseline-metrics", default=None,
                    help="metrics/baseline.json: warn when the teacher is not clearly above that student")
    args = ap.parse_args()

    def body():
        from tinykd import params as P
        from tinykd.atomic import atomic_dir, write_json

        p = P.load(args.params, sections=["student", "kd"])
        s, kd = p["student"], p["kd"]
        from tinykd import models, train
        from tinykd.distill import distill
        from tinykd.model_io import load_keras, save_keras

        train.seed_everything(p["seed"])
        data, info = train.load_data(args.data)
        teacher = load_keras(args.teacher)
        student = models.build(s["arch"], info["shape"], info["num_classes"])
        with atomic_dir(args.live) as tmp_live:
            metrics = distill(student, teacher, data, alpha=kd["alpha"], temperature=kd["temperature"],
                              teacher_outputs=kd["teacher_outputs"], epochs=kd["epochs"], batch_size=kd["batch_size"],
                              learning_rate=kd["learning_rate"], augment=kd["augment"], seed=p["seed"],
                              views=kd["views"], optimizer_name=kd["optimizer"], live_dir=tmp_live,
                              on_teacher=lambda acc: warn_weak_teacher(acc, args.baseline_metrics))
            save_keras(student, args.model)
        metrics.update({"params": int(student.count_params()), "arch": s["arch"], "alpha": kd["alpha"],
                        "temperature": kd["temperature"], "teacher_outputs": kd["teacher_outputs"]})
        write_json(args.metrics, train.round_metrics(metrics))
        print(f"distill: test accuracy {metrics['test_accuracy']:.4f}, hard {metrics['test_hard_loss']:.4f}, "
              f"soft {metrics['test_soft_loss']:.4f}")

    run(body)


if __name__ == "__main__":
    main()
