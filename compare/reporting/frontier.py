"""The recall-memory frontier (Zoology, Arora et al. 2023): accuracy against state size, one line per model.

A sweep over model sizes (e.g. ``model.param_budget``) gives each model several cells of different state size
(``state_size`` of the results row: the numbers it carries per sequence while reading one training input). This
module turns those cells into the frontier figure's lines and table, with Zoology's Figure 2 beside them.
"""

from __future__ import annotations

from collections import defaultdict

from compare.reporting.figures import panel_title
from compare.reporting.findings import Cell
from compare.reporting.intervals import UNIT, Interval, per_seed, t_interval
from compare.reporting.scaling import scored_by_loss

ZOOLOGY_FIG2 = ("Arora et al. 2023, \"Zoology: Measuring and Improving Recall in Efficient Language Models\", "
                "arXiv:2312.04927, Figure 2 (HazyResearch/zoology assets/figure2.png): 2 layers, an 8,192-token "
                "vocabulary, 100k training examples seen for 64 epochs (batch 512 at 64 tokens), best of 4 "
                "learning rates; values read off the figure (about ± 0.03)")

#: Zoology's Figure 2, read off the figure: {(input length, pairs): {model: {model dimension: accuracy}}}. Its x
#: axis is the model dimension, not the state size, and its fixed-state models (H3, RWKV, BaseConv, Hyena) are
#: not ours: it gives the shape to compare, attention flat near 1 and the others rising with width and falling
#: as the pairs grow.
ZOOLOGY_READINGS = {
    (64, 4): {"attention": {64: 0.97, 128: 0.97, 256: 0.97, 512: 0.97},
              "H3": {64: 0.90, 128: 0.97, 256: 0.97, 512: 0.96},
              "RWKV": {64: 0.74, 128: 0.92, 256: 0.95, 512: 0.97},
              "BaseConv": {64: 0.69, 128: 0.92, 256: 0.94, 512: 0.97},
              "Hyena": {64: 0.51, 128: 0.74, 256: 0.83, 512: 0.85}},
    (128, 8): {"attention": {64: 0.97, 128: 0.97, 256: 0.97, 512: 0.97},
               "H3": {64: 0.25, 128: 0.72, 256: 0.89, 512: 0.75},
               "RWKV": {64: 0.18, 128: 0.50, 256: 0.74, 512: 0.91},
               "BaseConv": {64: 0.37, 128: 0.61, 256: 0.83, 512: 0.94},
               "Hyena": {64: 0.19, 128: 0.63, 256: 0.72, 512: 0.83}},
}


def query_accuracy(cell: Cell) -> Interval:
    """Accuracy per scored token (per query, Zoology's metric) at the training length, over seeds: from the
    evaluation set where ``Cell.accuracy`` reads it, else the validation set."""
    if cell.accuracy_source == "evaluation":
        def at_train_length(r):
            p = next((p for p in r.get("ladder") or [] if int(p["length"]) == cell.train_length), None)
            return p.get("token_acc") if p and p.get("supported", True) else None
        return t_interval(per_seed(cell.rows, at_train_length), UNIT)
    return cell.stat("val_token_acc")


def frontier_lines(by_model: dict[str, dict[int, Cell]]) -> dict[int, dict[str, list[tuple[int, Cell]]]]:
    """{train length: {model: [(state size, cell), ...] by state size}}, where at least one model has two
    state sizes (a sweep over sizes); {} otherwise. A line is the model's label without the sizing axes."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for cells in by_model.values():
        for length, c in cells.items():
            state = c.mechanism().get("state_size")
            # A task scored by its loss (text_lm) draws loss against state size instead (compare.reporting.scaling).
            if state is not None and not scored_by_loss(c):
                out[length][c.base or c.model].append((int(state), c))
    if not any(len({s for s, _ in pts}) > 1 for lines in out.values() for pts in lines.values()):
        return {}
    return {n: {m: sorted(pts, key=lambda p: p[0]) for m, pts in lines.items()} for n, lines in sorted(out.items())}


def published_panels(task: str, lines: dict[int, dict[str, list[tuple[int, Cell]]]]) -> dict[str, dict[str, list]]:
    """Zoology's Figure 2 as figure panels, one for each (input length, pairs) of ``lines`` that it reports:
    {panel title: {Zoology's model: [(model dimension, accuracy), ...]}}. Each title extends the title of our panel
    at the same pairs (``figures.panel_title``), so it sorts right after it. (Zoology reads one input length per
    number of pairs, so the pairs name the panel.)"""
    panels = {}
    for pairs, by_line in lines.items():
        for seq_len in sorted({seq_len_of(c) for pts in by_line.values() for _, c in pts} - {None}):
            readings = ZOOLOGY_READINGS.get((int(seq_len), pairs))
            if readings:
                panels[f"{panel_title(task, pairs)} · Zoology Fig. 2"] = {
                    f"Zoology {m}": sorted(by_width.items()) for m, by_width in readings.items()}
    return panels


def seq_len_of(cell: Cell):
    """The input length of the cell's training inputs (the task's ``seq_len`` setting, else the row's tokens)."""
    tokens = {r.get("train_sequence_tokens") for r in cell.rows} - {None}
    return tokens.pop() if len(tokens) == 1 else cell.settings.get("task.seq_len")


def frontier_blocks(task: str, by_model: dict[str, dict[int, Cell]]) -> list[tuple]:
    """The frontier table (ours, per model and size) and Zoology's readings at the same input length and pairs."""
    lines = frontier_lines(by_model)
    if not lines:
        return []
    table = []
    for length, by_line in lines.items():
        for model, pts in sorted(by_line.items()):
            for state, c in pts:
                acc = query_accuracy(c)
                params = c.stat("params").mean
                table.append([length, seq_len_of(c) or "", model, c.model, f"{state:,}",
                              f"{params:,.0f}" if params else "", acc.text(),
                              f"{acc.best:.2f}" if acc.best is not None else ""])
    shown = {(seq_len_of(c), length) for length, by_line in lines.items() for pts in by_line.values() for _, c in pts}
    published = []
    for (seq_len, pairs), readings in ZOOLOGY_READINGS.items():
        if (seq_len, pairs) in shown:
            widths = sorted({w for by_width in readings.values() for w in by_width})
            published += [("p", f"Zoology Fig. 2 at {seq_len} input tokens, {pairs} pairs: accuracy against model "
                                "dimension."),
                          ("table", ["model"] + [f"d_model {w}" for w in widths],
                           [[m] + [f"{by_width[w]:.2f}" if w in by_width else "" for w in widths]
                            for m, by_width in readings.items()])]
    return [("h3", f"{task}: recall against state size"),
            ("table", ["pairs", "input tokens", "model", "configuration", "state size", "parameters",
                       "accuracy per query", "best seed"], table),
            ("p", "Accuracy per query (each scored token; Zoology's metric) at the training length, mean over seeds "
                  "with each seed's value in brackets (2-4 seeds) or ± the 95% t half-width (5 or more), at each "
                  "configuration's chosen learning rate where several were searched. State size: the numbers a "
                  "model carries per sequence while reading one training input (a transformer's key-value cache "
                  "grows with the input; a window caps it; the recurrences and linear attention keep a fixed "
                  "state). Published: " + ZOOLOGY_FIG2 + "; its x is the model dimension, and its fixed-state "
                  "models are H3, RWKV, BaseConv and Hyena, not ours, so compare the shape, not the rows.")] + published
