"""Stage baseline: train the student from scratch (plain cross-entropy) for comparison."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", default="models/baseline.keras")
    ap.add_argument("--metrics", default="metrics/baseline.json")
    ap.add_argument("--live", default="dvclive/baseline")


def body(args, p: dict) -> None:
    from tinykd import models, train
    from tinykd.atomic import atomic_dir, write_json
    from tinykd.data.scaling import from_params
    from tinykd.model_io import save_keras
    from tinykd.resume import backup_dir_for

    s = p["student"]
    train.seed_everything(p["seed"])
    data, info = train.load_data(args.data)
    scaling = from_params(s["input"], "student.input", info["shape"][-1])
    model = models.build(s["arch"], info["shape"], info["num_classes"])
    with atomic_dir(args.live) as tmp_live:
        train.fit(model, data, epochs=s["epochs"], batch_size=s["batch_size"], learning_rate=s["learning_rate"],
                  augment=s["augment"], seed=p["seed"], live_dir=tmp_live, optimizer_name=s["optimizer"],
                  scaling=scaling, resume_dir=backup_dir_for(args.model))
        scores = train.evaluate(model, *data["test"], scaling=scaling)
        val = train.evaluate(model, *data["val"], scaling=scaling) if len(data["val"][0]) else {"accuracy": None}
        save_keras(model, args.model)
    metrics = {"test_accuracy": scores["accuracy"], "test_loss": scores["loss"], "val_accuracy": val["accuracy"],
               "params": int(model.count_params()), "arch": s["arch"]}
    write_json(args.metrics, train.round_metrics(metrics))
    print(f"baseline: test accuracy {scores['accuracy']:.4f}, loss {scores['loss']:.4f}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["student"])


if __name__ == "__main__":
    main()
