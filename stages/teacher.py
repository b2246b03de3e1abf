"""Stage teacher: load a pre-trained teacher or train one; write it and its test metrics."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", default="models/teacher.keras")
    ap.add_argument("--metrics", default="metrics/teacher.json")
    ap.add_argument("--live", default="dvclive/teacher", help="DVCLive folder for training curves")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd import models, train
    from tinykd.atomic import atomic_dir, write_json
    from tinykd.data.scaling import from_params
    from tinykd.model_io import ends_in_softmax, save_keras
    from tinykd.resume import backup_dir_for
    from tinykd.teacher import load_teacher

    t = p["teacher"]
    train.seed_everything(p["seed"])
    data, info = train.load_data(args.data)
    scaling = from_params(t["input"], "teacher.input", info["shape"][-1])
    live = Path(args.live)
    with atomic_dir(live) as tmp_live:
        if t["source"] == "train":
            model = models.build(t["arch"], info["shape"], info["num_classes"])
            train.fit(model, data, epochs=t["epochs"], batch_size=t["batch_size"],
                      learning_rate=t["learning_rate"], augment=t["augment"], seed=p["seed"], live_dir=tmp_live,
                      optimizer_name=t["optimizer"], scaling=scaling,
                      resume_dir=backup_dir_for(args.model))
        else:
            model = load_teacher(t["source"], t["sha256"], info["shape"], info["num_classes"],
                                 base=Path(args.params).resolve().parent)
            (tmp_live / "loaded.txt").write_text(f"teacher loaded from {t['source']}; not trained here\n")
        softmax = ends_in_softmax(model)
        scores = train.evaluate(model, *data["test"], probabilities=softmax, scaling=scaling)
        save_keras(model, args.model)
    metrics = {"test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
               "params": int(model.count_params()), "source": t["source"],
               "arch": t["arch"] if t["source"] == "train" else model.name, "ends_in_softmax": softmax}
    write_json(args.metrics, train.round_metrics(metrics))
    print(f"teacher: test accuracy {scores['accuracy']:.4f}, loss {scores['loss']:.4f}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["teacher"])


if __name__ == "__main__":
    main()
