"""Matplotlib figures for the sweep report and for TensorBoard images (Agg backend: no display needed).

Every function takes plain data (lists of dicts, arrays) and returns a Figure; the caller saves it.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

#: One colour per model, stable across figures (models not listed get the next free colour).
MODEL_COLOURS = {"lstm": "#1f77b4", "gru": "#2ca02c", "rnn": "#9467bd", "transformer": "#d62728"}
_SPARE = ["#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def model_colour(model: str) -> str:
    """The colour that stands for ``model`` in every figure."""
    if model not in MODEL_COLOURS:
        MODEL_COLOURS[model] = _SPARE[(len(MODEL_COLOURS) - 4) % len(_SPARE)]
    return MODEL_COLOURS[model]


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _panels(n: int, width: float = 4.2, height: float = 3.3, max_cols: int = 4):
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _log2_lengths(ax, lengths) -> None:
    ax.set_xscale("log", base=2)
    ticks = sorted(set(lengths))
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.minorticks_off()


def accuracy_vs_length(task: str, curves: dict[int, dict[str, list[dict]]]) -> Figure:
    """Exact-sequence accuracy against evaluated length, one panel per training length, one line per model.

    ``curves[train_length][model]`` is that model's ladder: dicts with length, seq_acc (None when the
    model cannot take that many tokens) and in_train_range. Lengths up to the training length are shaded;
    points beyond it (extrapolation) are hollow on a dashed line; unsupported lengths are an × on the axis.
    """
    train_lengths = sorted(curves)
    fig, axes = _panels(len(train_lengths))
    for ax, train_len in zip(axes, train_lengths):
        all_lengths = [p["length"] for ladder in curves[train_len].values() for p in ladder] or [train_len]
        lo, hi = min(all_lengths + [train_len]), max(all_lengths + [train_len])
        ax.axvspan(lo / 1.15, train_len, color="#dfe9f5", zorder=0)
        ax.axvline(train_len, color="#7a8ca5", ls=":", lw=1)
        ax.text(train_len, 1.05, " training range ", ha="right", va="bottom", fontsize=7, color="#4a5a75")
        ax.text(train_len, 1.05, " extrapolation →", ha="left", va="bottom", fontsize=7, color="#4a5a75")
        for model in sorted(curves[train_len]):
            colour = model_colour(model)
            ladder = sorted(curves[train_len][model], key=lambda p: p["length"])
            ok = [p for p in ladder if p.get("seq_acc") is not None]
            inside = [p for p in ok if p["in_train_range"]]
            outside = [p for p in ok if not p["in_train_range"]]
            ax.plot([p["length"] for p in inside], [p["seq_acc"] for p in inside], "-o", color=colour, ms=5, label=model)
            if outside:
                bridge = inside[-1:] + outside
                ax.plot([p["length"] for p in bridge], [p["seq_acc"] for p in bridge], "--", color=colour, lw=1.2)
                ax.plot([p["length"] for p in outside], [p["seq_acc"] for p in outside], "o", ms=6,
                        mfc="white", mec=colour, mew=1.5)
            unsupported = [p["length"] for p in ladder if p.get("seq_acc") is None]
            if unsupported:
                ax.plot(unsupported, [-0.03] * len(unsupported), "x", color=colour, ms=8, mew=2, clip_on=False)
        ax.set_xlim(lo / 1.15, hi * 1.15)
        _log2_lengths(ax, all_lengths + [train_len])
        ax.set_ylim(-0.06, 1.12)
        ax.set_title(f"{task}: trained at length {train_len}", fontsize=10)
        ax.set_xlabel("evaluated length")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("exact-sequence accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], ls="--", marker="o", mfc="white", color="#555"),
                Line2D([], [], ls="", marker="x", color="#555", mew=2)]
    labels += ["beyond training length", "length not supported"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    fig.tight_layout()
    return fig


def metric_vs_train_length(rows_by_task: dict[str, dict[str, list[tuple[int, float]]]], ylabel: str,
                           title: str, log_y: bool = False, ylim=None) -> Figure:
    """One panel per task: ``rows_by_task[task][model]`` = [(training length, value)], one line per model."""
    tasks = sorted(rows_by_task)
    fig, axes = _panels(len(tasks))
    for ax, task in zip(axes, tasks):
        lengths = []
        for model in sorted(rows_by_task[task]):
            pts = sorted(p for p in rows_by_task[task][model] if p[1] is not None)
            if not pts:
                continue
            lengths += [p[0] for p in pts]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", color=model_colour(model), ms=5, label=model)
        if lengths:
            _log2_lengths(ax, lengths)
        if log_y:
            ax.set_yscale("log")
        elif ylim:
            ax.set_ylim(*ylim)
        else:
            ax.set_ylim(bottom=0)
        ax.set_title(f"{task}", fontsize=10)
        ax.set_xlabel("training length")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def accuracy_by_slice(task: str, axis: str, curves: dict[int, dict[str, dict[int, float]]]) -> Figure:
    """Accuracy at the training length along a second difficulty axis: a panel per training length, a line per model."""
    train_lengths = sorted(curves)
    fig, axes = _panels(len(train_lengths))
    for ax, train_len in zip(axes, train_lengths):
        for model in sorted(curves[train_len]):
            pts = sorted(curves[train_len][model].items())
            ax.plot([k for k, _ in pts], [v for _, v in pts], "-o", ms=4, color=model_colour(model), label=model)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{task}: trained at length {train_len}", fontsize=10)
        ax.set_xlabel(axis.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("exact-sequence accuracy")
    fig.tight_layout()
    return fig


def validation_curves(task: str, curves: dict[int, dict[str, list[list[tuple[int, float]]]]]) -> Figure:
    """Validation exact-sequence accuracy over training steps: a panel per training length, a line per run."""
    train_lengths = sorted(curves)
    fig, axes = _panels(len(train_lengths))
    for ax, train_len in zip(axes, train_lengths):
        for model in sorted(curves[train_len]):
            for i, series in enumerate(curves[train_len][model]):
                if not series:
                    continue
                ax.plot([s for s, _ in series], [v for _, v in series], "-", marker=".", color=model_colour(model),
                        alpha=1.0 if i == 0 else 0.5, label=model if i == 0 else None)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{task}: trained at length {train_len}", fontsize=10)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation exact-sequence accuracy")
    fig.tight_layout()
    return fig


def attention_grid(maps, tokens: list[str], title: str) -> Figure:
    """The heads of one layer side by side: ``maps`` is (heads, T, T), rows = queries, columns = keys."""
    heads = len(maps)
    t = len(tokens)
    size = min(4.0, max(2.2, 0.12 * t))
    fig, axes = plt.subplots(1, heads, figsize=(size * heads + 0.6, size + 0.6), squeeze=False)
    for h, ax in enumerate(axes[0]):
        ax.imshow(maps[h], cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(f"head {h + 1}", fontsize=9)
        step = max(1, math.ceil(t / 24))
        ticks = list(range(0, t, step))
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xticklabels([tokens[i] for i in ticks], rotation=90, fontsize=6)
        ax.set_yticklabels([tokens[i] for i in ticks], fontsize=6)
        if h == 0:
            ax.set_ylabel("query")
        ax.set_xlabel("key")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

