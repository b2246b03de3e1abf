"""Stage fetch: download or read the dataset, split it, write arrays + dataset.json."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--out", default="data", help="folder for train/val/test.npz and dataset.json")
    ap.add_argument("--quiet", action="store_true", help="no progress bars (shown only on a terminal anyway)")
    args = ap.parse_args()

    def body():
        from pathlib import Path

        from tinykd import params as P
        from tinykd.data import fetch

        p = P.load(args.params, sections=["dataset"])
        d = p["dataset"]
        info = fetch(args.out, d["name"], d["source"], d["sha256"], d["val_split"], d["limit_train"],
                     d["limit_test"], p["seed"], base=Path(args.params).resolve().parent, progress=not args.quiet)
        print(f"fetch: {info['name']} {info['shape']} classes={info['num_classes']} counts={info['counts']}")

    run(body)


if __name__ == "__main__":
    main()
