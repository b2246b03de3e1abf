"""The report's figures (matplotlib, Agg). Each function returns a Figure or None when its data is missing."""
from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from .plotting import pyplot

LABEL = {"teacher": "teacher", "baseline": "student without KD", "student": "distilled student"}


def accuracy_bars(inp):
    """Test accuracy per model: float, int8 (host), and on the device for the deployed student."""
    plt = pyplot()
    models = [m for m in ("teacher", "baseline", "student") if inp.quantize.get(m) or inp.train.get(m)]
    if not models:
        return None
    series = [("float", lambda m: (inp.quantize.get(m) or {}).get("float_accuracy",
                                                                 (inp.train.get(m) or {}).get("test_accuracy"))),
              ("int8 (host)", lambda m: (inp.quantize.get(m) or {}).get("int8_accuracy"))]
    if inp.device:
        series.append(("int8 on the device", lambda m: inp.device.get("accuracy") if m == "student" else None))
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    width = 0.8 / len(series)
    for i, (name, value) in enumerate(series):
        xs, ys = [], []
        for j, m in enumerate(models):
            v = value(m)
            if v is not None:
                xs.append(j + (i - (len(series) - 1) / 2) * width)
                ys.append(v)
        bars = ax.bar(xs, ys, width, label=name)
        for b, v in zip(bars, ys):
            ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(models)))
    ax.set_xticklabels([LABEL[m] for m in models])
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.08)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=len(series))
    ax.set_title("Accuracy: float vs int8 vs device")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def training_curves(inp):
    """Train and validation accuracy/loss per epoch of each trained model (DVCLive)."""
    plt = pyplot()
    models = [m for m in ("teacher", "baseline", "student") if inp.curves.get(m)]
    if not models:
        return None
    fig, axes = plt.subplots(2, len(models), figsize=(4.2 * len(models), 6.0), squeeze=False)
    for col, m in enumerate(models):
        curves = inp.curves[m]
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row][col]
            for split, style in (("train", "-"), ("eval", "--")):
                pts = curves.get(split, {}).get(metric)
                if pts:
                    ax.plot([s + 1 for s, _ in pts], [v for _, v in pts], style, marker="o", markersize=3,
                            label="validation" if split == "eval" else "train")
            ax.set_title(f"{LABEL[m]}: {metric}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def confusion_matrix(inp):
    plt = pyplot()
    if not inp.confusion:
        return None
    names, counts = inp.confusion
    n = len(names)
    fig, ax = plt.subplots(figsize=(1.5 + 0.55 * n, 1.2 + 0.5 * n))
    im = ax.imshow(counts, cmap="Blues")
    ax.set_xticks(range(n))
    ax.set_xticklabels(names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("predicted (device)")
    ax.set_ylabel("actual")
    top = max((max(r) for r in counts), default=0)
    for i in range(n):
        for j in range(n):
            if counts[i][j]:
                ax.text(j, i, str(counts[i][j]), ha="center", va="center", fontsize=7,
                        color="white" if counts[i][j] > top / 2 else "black")
    fig.colorbar(im, ax=ax)
    ax.set_title("On-device confusion matrix")
    return fig


def footprint_bars(inp):
    """Flash and arena RAM per model against the board's budgets."""
    plt = pyplot()
    fp = inp.footprint
    if not fp or not fp.get("models"):
        return None
    models = [m for m in ("teacher", "baseline", "student") if m in fp["models"]]
    board = fp.get("board", {})
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.4))
    for ax, key, budget_key, title in ((axes[0], "flash_bytes", "flash_budget", "flash (weights + code)"),
                                       (axes[1], "arena_bytes", "arena_budget", "RAM (activation arena)")):
        values = [fp["models"][m][key] / 1024 for m in models]
        colors = ["tab:green" if fp["models"][m].get("fits") else "tab:red" for m in models]
        ax.bar(range(len(models)), values, color=colors)
        if board.get(budget_key):
            ax.axhline(board[budget_key] / 1024, color="black", linestyle="--", label="board budget")
            ax.legend(fontsize=7)
        ax.set_yscale("log")
        ax.set_xticks(range(len(models)))
        ax.set_xticklabels([LABEL[m] for m in models], fontsize=8)
        ax.set_ylabel("KiB")
        ax.set_title(title, fontsize=9)
    fig.suptitle(f"Footprint on {board.get('name', 'the board')} (green: fits, red: does not)", fontsize=10)
    fig.tight_layout()
    return fig
