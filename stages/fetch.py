"""Stage fetch: download or read the dataset, split it, write arrays + dataset.json."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--out", default="data", help="folder for train/val/test.npz and dataset.json")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (shown only on a terminal anyway)")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd.data import fetch

    d = p["dataset"]
    info = fetch(args.out, d["name"], d["source"], d["sha256"], d["val_split"], d["limit_train"],
                 d["limit_test"], p["seed"], base=Path(args.params).resolve().parent, progress=not args.quiet)
    print(f"fetch: {info['name']} {info['shape']} classes={info['num_classes']} counts={info['counts']}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["dataset"])


if __name__ == "__main__":
    main()
