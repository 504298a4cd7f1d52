"""matplotlib figures for reports. Each function takes plain numbers and returns a Figure; what
the numbers are is computed elsewhere (``model_report``, ``compare``)."""
from __future__ import annotations

import numpy as np

BLUE, RED, GREEN, GREY, ORANGE = "#4878a8", "#c44e52", "#55a868", "#8c8c8c", "#dd8452"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def training_curves(history: dict):
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for ax, key, title in ((axes[0], "accuracy", "accuracy"), (axes[1], "loss", "loss")):
        if key in history:
            ax.plot(epochs, history[key], color=BLUE, label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], color=RED, label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion(matrix: np.ndarray, class_names: list[str], title: str):
    plt = _plt()
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=100)
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = matrix[i, j]
                if value >= 0.005:
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def prediction_grid(images: np.ndarray, true: list[int], pred: list[int],
                    class_names: list[str]):
    plt = _plt()
    count = len(images)
    cols = min(8, count)
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.75 * rows), dpi=100,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, (image, t, p) in enumerate(zip(images, true, pred, strict=True)):
        ax = axes.ravel()[k]
        ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        right = t == p
        ax.set_title(f"{'✓' if right else '✗'} {class_names[p]}" + ("" if right else
                                                                 f"\n(is {class_names[t]})"),
                     fontsize=7, color=GREEN if right else RED)
    fig.tight_layout()
    return fig


def layer_bars(names: list[str], values: list[float], xlabel: str, title: str,
               highlight: int | None = None, colors: list[str] | None = None):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.3), dpi=100)
    colors = colors or [BLUE] * len(names)
    if highlight is not None:
        colors = list(colors)
        colors[highlight] = RED
    ax.barh(range(len(names)), values, color=colors)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def line_through_layers(names: list[str], series: dict[str, list[float]], ylabel: str,
                        title: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    for (label, values), color in zip(series.items(), (BLUE, RED, GREEN, ORANGE), strict=False):
        ax.plot(range(len(values)), values, marker="o", color=color, label=label)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def budget_bars(labels: list[str], used: list[int], available: list[int], title: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.7 * len(labels) + 1.2), dpi=100)
    y = np.arange(len(labels))
    ax.barh(y, available, color="#dddddd", label="available")
    ax.barh(y, used, color=[RED if u > a else GREEN for u, a in zip(used, available, strict=True)],
            height=0.5, label="used")
    for i, (u, a) in enumerate(zip(used, available, strict=True)):
        ax.text(u, i, f" {u:,} B ({100 * u / a:.0f} %)" if a else f" {u:,} B", va="center",
                fontsize=8)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("bytes")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def histogram(values: list[float], marks: dict[str, float], xlabel: str, title: str):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
    ax.hist(values, bins=min(50, max(5, len(values) // 4)), color=BLUE)
    for (label, value), style in zip(marks.items(), ("-", "--", ":"), strict=False):
        ax.axvline(value, color=RED, linestyle=style, label=f"{label} {value:,.0f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("runs")
    ax.set_title(title, fontsize=10)
    if marks:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, title: str, cols: int = 8, labels: list[str] | None = None,
               cmap: str = "viridis"):
    """Small multiples: ``images`` is (N, H, W); each panel is scaled on its own."""
    plt = _plt()
    count = len(images)
    cols = min(cols, count)
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.1 * rows + 0.5), dpi=100,
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, image in enumerate(images):
        ax = axes.ravel()[k]
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        if labels:
            ax.set_title(labels[k], fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def scatter(points: list[dict], x: str, y: str, xlabel: str, ylabel: str, title: str,
            front: list[str] | None = None, vline: tuple[float, str] | None = None,
            log_x: bool = False):
    """One labelled point per model; ``front`` names are joined as the Pareto front."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4), dpi=100)
    for p in points:
        ax.scatter(p[x], p[y], color=GREEN if p.get("fits", True) else RED, zorder=3)
        ax.annotate(p["name"], (p[x], p[y]), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)
    if front:
        chosen = sorted((p for p in points if p["name"] in front), key=lambda p: p[x])
        ax.plot([p[x] for p in chosen], [p[y] for p in chosen], color=GREY, linestyle="--",
                label="Pareto front", zorder=2)
    if vline:
        ax.axvline(vline[0], color=RED, linestyle=":", label=vline[1])
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if front or vline:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def png_bytes(fig) -> bytes:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    _plt().close(fig)
    return buffer.getvalue()
