"""Stage report: reports/report.md and its figures (PNG + SVG) from the pipeline's metrics, DVCLive
curves, the device evaluation and, when present, the sweep summary in sweeps/."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--metrics", default="metrics", help="folder of the stages' metrics .json files")
    ap.add_argument("--live", default="dvclive", help="DVCLive folder (teacher/, baseline/, distill/)")
    ap.add_argument("--device-plots", default="plots/device", help="evaluate's plots folder (confusion.csv)")
    ap.add_argument("--dataset", default="data/dataset.json")
    ap.add_argument("--sweep", default="sweeps", help="sweep summary folder (results.csv); optional")
    ap.add_argument("--out", default="reports", help="folder to write report.md and figures into")


def body(args, _params: None) -> None:
    from pathlib import Path

    from tinykd.report import build_report

    inp = build_report(Path(args.out), metrics_dir=Path(args.metrics), live_dir=Path(args.live),
                       device_plots=Path(args.device_plots), dataset_json=Path(args.dataset),
                       sweep_dir=Path(args.sweep))
    print(f"report: {args.out}/report.md" + (f" (without {', '.join(inp.missing)})" if inp.missing else ""))


def main() -> None:
    stage(__doc__, arguments, body, sections=None)


if __name__ == "__main__":
    main()
