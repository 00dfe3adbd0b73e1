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
from matplotlib.ticker import NullFormatter  # noqa: E402

#: One colour per model, stable across figures. The parallel-scan variants sit near their full recurrent
#: cousins' hue family, a windowed transformer (label ``transformer-w<W>``) near the transformer's red, and the
#: rotary transformer (the why_attention demo's) a darker red, apart from the learned table's when both are drawn.
MODEL_COLOURS = {"lstm": "#1f77b4", "gru": "#2ca02c", "rnn": "#9467bd", "transformer": "#d62728",
                 "transformer-rope": "#8b0000", "minlstm": "#17becf", "mingru": "#bcbd22",
                 "linear_attention": "#ff7f0e", "transformer-window": "#e377c2", "mamba": "#8c564b",
                 "deltanet": "#393b79"}
_SPARE = ["#7f7f7f", "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#dbdb8d"]
_ASSIGNED: dict[str, str] = {}


def panel_title(task: str, length) -> str:
    """The title of a figure's panel for the runs trained at one length (mqar: its number of key-value pairs)."""
    return f"{task}: trained at length {length}"


def model_colour(model: str) -> str:
    """The colour that stands for ``model`` in every figure (models not listed get the next free colour)."""
    if model in MODEL_COLOURS:
        return MODEL_COLOURS[model]
    if model not in _ASSIGNED:
        taken = set(_ASSIGNED.values())
        window = MODEL_COLOURS["transformer-window"]
        if model.startswith("transformer-w") and window not in taken:
            _ASSIGNED[model] = window  # the first windowed transformer; a second window gets a spare colour
        else:
            free = [c for c in _SPARE if c not in taken]
            _ASSIGNED[model] = free[0] if free else _SPARE[len(_ASSIGNED) % len(_SPARE)]
    return _ASSIGNED[model]


def _dodge(i: int, n: int, step: float = 0.05) -> float:
    """How far model i of n is shifted sideways (in axis units: octaves on a log2 axis) so error bars at the
    same x stay apart."""
    return step * (i - (n - 1) / 2)


def _errorbars(ax, xs, ys, ranges, colour) -> None:
    """95% interval bars from (lo, hi) pairs, already cut to what the metric can take (None = a single seed, no
    bar): an accuracy's bar never reaches below 0 or above 1."""
    pts = [(x, y, r) for x, y, r in zip(xs, ys, ranges) if y is not None and r is not None and r[0] is not None]
    if pts:
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts],
                    yerr=[[max(0.0, p[1] - p[2][0]) for p in pts], [max(0.0, p[2][1] - p[1]) for p in pts]],
                    fmt="none", ecolor=colour, elinewidth=1.2, capsize=3, zorder=3)


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
    ticks = sorted(set(lengths))
    if len(ticks) > 8 or max(ticks) >= 10_000:
        # Many values (the state sizes of many models) or large ones (parameter counts): a label per value would
        # overlap, decades read well.
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        return
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(t) for t in ticks])
    ax.minorticks_off()


def accuracy_vs_length(task: str, curves: dict[int, dict[str, list[dict]]],
                       ranges: dict[int, tuple[int, int]] | None = None) -> Figure:
    """Exact-sequence accuracy against evaluated length, one panel per training length, one line per model.

    ``curves[train_length][model]`` is that model's ladder: dicts with length, seq_acc (None when the
    model cannot take that many tokens), seq_acc_half (95% interval half-width, None with one seed) and
    beyond (longer than any length trained on). ``ranges[train_length]`` = (shortest, longest) length
    trained on, default (train_length, train_length): that span is shaded, and only that span. Error
    bars are the intervals; points beyond the range are hollow on a dashed line; unsupported lengths
    are an × on the axis.
    """
    return _ladder_panels([(task, curves[L], (ranges or {}).get(L, (L, L))) for L in sorted(curves)])


def accuracy_vs_length_by_task(panels: dict[str, tuple[dict[str, list[dict]], tuple[int, int]]]) -> Figure:
    """The same panels as :func:`accuracy_vs_length`, one per task: ``panels[task]`` = (ladders by model,
    (shortest, longest) length trained on)."""
    return _ladder_panels([(task, *panels[task]) for task in sorted(panels)])


def _ladder_panels(panels: list[tuple[str, dict[str, list[dict]], tuple[int, int]]]) -> Figure:
    """One panel per (task, ladders by model, training range)."""
    fig, axes = _panels(len(panels))
    for ax, (task, ladders, (lo_t, hi_t)) in zip(axes, panels):
        all_lengths = [p["length"] for ladder in ladders.values() for p in ladder] or [hi_t]
        lo, hi = min(all_lengths + [lo_t]), max(all_lengths + [hi_t])
        # One trained length is a thin band at it, so the shading never claims shorter lengths were trained on.
        ax.axvspan(lo_t / 1.04, hi_t * 1.04, color="#dfe9f5", zorder=0)
        ax.text(math.sqrt(lo_t * hi_t), 1.05, "trained", ha="center", va="bottom", fontsize=7, color="#4a5a75")
        ax.text(hi_t * 1.06, 1.05, " extrapolation →", ha="left", va="bottom", fontsize=7, color="#4a5a75")
        models = sorted(ladders)
        for i, model in enumerate(models):
            _ladder_line(ax, sorted(ladders[model], key=lambda p: p["length"]), model, 2 ** _dodge(i, len(models)))
        ax.set_xlim(lo / 1.15, hi * 1.15)
        _log2_lengths(ax, all_lengths + [lo_t, hi_t])
        ax.set_ylim(-0.06, 1.12)
        ax.set_title(panel_title(task, hi_t) if lo_t == hi_t
                     else f"{task}: trained at lengths {lo_t}–{hi_t}", fontsize=10)
        ax.set_xlabel("evaluated length")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("exact-sequence accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    handles += [Line2D([], [], ls="--", marker="o", mfc="white", color="#555"),
                Line2D([], [], ls="", marker="x", color="#555", mew=2)]
    labels += ["beyond the lengths trained on", "length not supported"]
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    fig.tight_layout()
    return fig


def _ladder_line(ax, ladder: list[dict], model: str, shift: float = 1.0) -> None:
    colour = model_colour(model)
    ladder = [{**p, "x": p["length"] * shift} for p in ladder]
    ok = [p for p in ladder if p.get("seq_acc") is not None]
    # Ladders built before "beyond" existed mark the same thing as not in_train_range.
    outside = [p for p in ok if p.get("beyond", not p.get("in_train_range", True))]
    inside = [p for p in ok if p not in outside]
    ax.plot([p["x"] for p in inside], [p["seq_acc"] for p in inside], "-o", color=colour, ms=5, label=model)
    if outside:
        bridge = inside[-1:] + outside
        ax.plot([p["x"] for p in bridge], [p["seq_acc"] for p in bridge], "--", color=colour, lw=1.2)
        ax.plot([p["x"] for p in outside], [p["seq_acc"] for p in outside], "o", ms=6,
                mfc="white", mec=colour, mew=1.5)
    _errorbars(ax, [p["x"] for p in ok], [p["seq_acc"] for p in ok], [_ladder_range(p) for p in ok], colour)
    # A length with no evaluation sample (supported, but an empty bucket) is left out, not marked as one the model
    # cannot take.
    unsupported = [p["x"] for p in ladder if p.get("seq_acc") is None and not p.get("supported", False)]
    if unsupported:
        ax.plot(unsupported, [-0.03] * len(unsupported), "x", color=colour, ms=8, mew=2, clip_on=False)


def _ladder_range(p: dict) -> tuple | None:
    """A ladder point's 95% interval (lo, hi): its cut ends, or ± the half-width in points written without them."""
    if p.get("seq_acc_half") is None:
        return None
    if p.get("seq_acc_lo") is not None:
        return (p["seq_acc_lo"], p["seq_acc_hi"])
    return (max(0.0, p["seq_acc"] - p["seq_acc_half"]), min(1.0, p["seq_acc"] + p["seq_acc_half"]))


def _point(p) -> tuple:
    """(x, value, (lo, hi) or None) from (x, value) or (x, value, lo, hi)."""
    return (p[0], p[1], (p[2], p[3]) if len(p) > 3 and p[2] is not None else None)


def metric_vs_train_length(rows_by_task: dict[str, dict[str, list[tuple]]], ylabel: str,
                           title: str, log_y: bool = False, ylim=None, xlabel: str = "training length",
                           zero_based: bool = True, xlabels: dict[str, str] | None = None) -> Figure:
    """One panel per task: ``rows_by_task[task][model]`` = [(training length, value[, 95% lo, hi])], one
    line per model, error bars where there is an interval. ``xlabel`` names another x (any numeric setting
    swept, e.g. model.num_layers): positive values spanning a factor of 4 or more are spaced by octaves, others
    (and any 0) evenly. ``xlabels`` gives single panels (by key) their own x label."""
    tasks = sorted(rows_by_task)
    fig, axes = _panels(len(tasks))
    for ax, task in zip(axes, tasks):
        models = sorted(rows_by_task[task])
        lengths = [p[0] for m in models for p in rows_by_task[task][m] if p[1] is not None]
        log_x = bool(lengths) and min(lengths) > 0 and (xlabel == "training length" or max(lengths) / min(lengths) >= 4)
        span = (max(lengths) - min(lengths)) if lengths else 0
        for i, model in enumerate(models):
            pts = sorted(_point(p) for p in rows_by_task[task][model] if p[1] is not None)
            if not pts:
                continue
            colour = model_colour(model)
            xs = [p[0] * 2 ** _dodge(i, len(models)) if log_x else p[0] + (span or 1) * _dodge(i, len(models), 0.01)
                  for p in pts]
            ax.plot(xs, [p[1] for p in pts], "-o", color=colour, ms=5, label=model)
            _errorbars(ax, xs, [p[1] for p in pts], [p[2] for p in pts], colour)
        if log_x:
            _log2_lengths(ax, lengths)
            ax.set_xlim(min(lengths) / 1.4, max(lengths) * 1.4)  # room for the dodged bars, even at one length
        elif lengths:
            ax.set_xticks(sorted(set(lengths)))
        if log_y:
            ax.set_yscale("log")
        elif ylim:
            ax.set_ylim(*ylim)
        elif zero_based:
            ax.set_ylim(bottom=0)
        _label_panel(ax, f"{task}", (xlabels or {}).get(task, xlabel))
    return _finish(fig, axes, ylabel, title)


def _label_panel(ax, name: str, xlabel: str, legend_size: float = 8, **legend) -> None:
    ax.set_title(name, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size, **legend)


def _finish(fig: Figure, axes, ylabel: str, title: str) -> Figure:
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def accuracy_by_slice(task: str, axis: str,
                      curves: dict[int | tuple[int, int], dict[str, dict[int, float | tuple]]]) -> Figure:
    """Accuracy along a second difficulty axis: a panel per key, a line per model; values are accuracies or
    (accuracy, 95% lo, hi) triples (lo and hi None with one seed). A key is the training length (scored there) or a pair
    (training length, evaluated length), for the same slices of longer inputs than any trained on."""
    keys = sorted(curves, key=lambda k: k if isinstance(k, tuple) else (k, k))
    fig, axes = _panels(len(keys))
    for ax, key in zip(axes, keys):
        train_len, eval_len = key if isinstance(key, tuple) else (key, key)
        models = sorted(curves[key])
        for i, model in enumerate(models):
            pts = [_point((k + _dodge(i, len(models), 0.08), *(v if isinstance(v, tuple) else (v,))))
                   for k, v in sorted(curves[key][model].items())]
            pts = [p for p in pts if p[1] is not None]
            colour = model_colour(model)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o", ms=4, color=colour, label=model)
            _errorbars(ax, [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts], colour)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(panel_title(task, train_len) + ("" if eval_len == train_len else
                                                                  f", evaluated at {eval_len}"), fontsize=10)
        ax.set_xlabel(axis.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("exact-sequence accuracy")
    fig.tight_layout()
    return fig


def validation_curves(task: str, curves: dict[int, dict[str, list[list[tuple[int, float]]]]],
                      stage_ends: dict[int, set[int]] | None = None) -> Figure:
    """Validation exact-sequence accuracy over training steps: a panel per training length, a line per run;
    dotted vertical lines where curriculum stages end (``stage_ends`` per training length)."""
    train_lengths = sorted(curves)
    fig, axes = _panels(len(train_lengths))
    for ax, train_len in zip(axes, train_lengths):
        for i, step in enumerate(sorted((stage_ends or {}).get(train_len, ()))):
            ax.axvline(step, color="grey", ls=":", lw=1.2, label="curriculum stage ends" if i == 0 else None)
        for model in sorted(curves[train_len]):
            for i, series in enumerate(curves[train_len][model]):
                if not series:
                    continue
                ax.plot([s for s, _ in series], [v for _, v in series], "-", marker=".", color=model_colour(model),
                        alpha=1.0 if i == 0 else 0.5, label=model if i == 0 else None)
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(panel_title(task, train_len), fontsize=10)
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



def curves_vs_compute(panels: dict[str, dict[str, dict]], xlabel: str, ylabel: str, title: str) -> Figure:
    """One panel per training length: ``panels[title][model]`` = {"sizes": {size label: [(x, y)]}, "frontier":
    [(x, y)]}; each size's curve thin, the model's frontier (the best of its sizes up to each x) thick, log x."""
    fig, axes = _panels(len(panels), width=5.0, height=3.8)
    for ax, (name, models) in zip(axes, panels.items()):
        for model, parts in sorted(models.items()):
            colour = model_colour(model)
            for size, pts in parts["sizes"].items():
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "-", color=colour, alpha=0.35, lw=1)
                ax.annotate(size, pts[-1][:2], fontsize=6, color=colour, alpha=0.8)
            front = parts["frontier"]
            ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=colour, lw=2.2, label=model)
        ax.set_xscale("log")
        _label_panel(ax, name, xlabel)
    return _finish(fig, axes, ylabel, title)


def loss_by_position(panels: dict[str, dict[str, dict]], title: str) -> Figure:
    """Loss against position in the context (log x), one line per model and size (darker: larger) with its fitted
    a + b t^-c dashed: ``panels[title][label]`` = {"model", "rank", "of", "losses", "fit"}."""
    fig, axes = _panels(len(panels), width=5.4, height=4.0)
    for ax, (name, entries) in zip(axes, panels.items()):
        for label, e in entries.items():
            colour = model_colour(e["model"])
            alpha = 0.35 + 0.65 * (e["rank"] + 1) / e["of"]
            ts = list(range(1, len(e["losses"]) + 1))
            ax.plot(ts, e["losses"], "-", color=colour, alpha=alpha, lw=1, label=label)
            if e["fit"].decreasing:  # a flat or rising curve has no power law to draw
                ax.plot(ts, [e["fit"](t) for t in ts], "--", color=colour, alpha=alpha, lw=0.8)
        ax.set_xscale("log", base=2)
        _label_panel(ax, name, "position in the context t (bytes read)", 6, ncol=2)
    return _finish(fig, axes, "held-out loss at position t (nats)", title)
