"""Stage distill: train the student against labels and the teacher's softened outputs."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", default="models/teacher.keras")
    ap.add_argument("--model", default="models/student.keras")
    ap.add_argument("--metrics", default="metrics/distill.json")
    ap.add_argument("--live", default="dvclive/distill")
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
                              live_dir=tmp_live)
            save_keras(student, args.model)
        metrics.update({"params": int(student.count_params()), "arch": s["arch"], "alpha": kd["alpha"],
                        "temperature": kd["temperature"], "teacher_outputs": kd["teacher_outputs"]})
        write_json(args.metrics, train.round_metrics(metrics))
        print(f"distill: test accuracy {metrics['test_accuracy']:.4f}, hard {metrics['test_hard_loss']:.4f}, "
              f"soft {metrics['test_soft_loss']:.4f}")

    run(body)


if __name__ == "__main__":
    main()
