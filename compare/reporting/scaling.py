"""Curves, not points: a sweep's results against model size, state size, training FLOPs and seconds.

A task's cells form *size lines* when one model (its label without the sizing settings, ``SIZE_AXES``) has cells
of two or more parameter counts. For those the report draws the task's headline metric (validation loss for a
task scored by loss, such as text_lm; accuracy otherwise) against parameters and state size, and every run's
validation curve against its cumulative training FLOPs and seconds with each model's *frontier*: the best it
reached at or below each compute, over all its sizes. Sentences say which budget was held equal, which model is
ahead at equal compute and whether the order changes with size. For text_lm it also fits the per-token loss
against position, L(t) = a + b t^-c (Kaplan et al. 2020, Fig. 20), per cell and seed.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from compare.reporting.cell_keys import cell_label
from compare.reporting.figures import panel_title
from compare.reporting.findings import Cell, by_axis, compare_pair, numeric_axes
from compare.reporting.intervals import Interval, metric_bounds, per_seed, t_interval
from compare.reporting.power_law import fit_power_law

#: Settings that size a model or its training: a line of the scaling figures is a model without them.
SIZE_AXES = ("model.param_budget", "model.hidden_size", "model.d_model", "model.d_ff", "model.num_layers",
             "budget.flops", "budget.seconds", "trainer.max_steps")
#: x axes of the compute figures: row key of each validation point -> (file name part, axis label).
COMPUTE_AXES = {"train_flops": ("train_flops", "training FLOPs (forward and backward matmuls)"),
                "train_seconds": ("train_seconds", "training seconds (wall clock, validation excluded)")}


def scored_by(cell: Cell) -> str:
    """'loss' when the cell's task is scored by its validation loss (language modelling), else 'accuracy'."""
    kinds = {(r.get("task_settings") or {}).get("scored_by", "accuracy") for r in cell.rows}
    return "loss" if kinds == {"loss"} else "accuracy"


def scored_by_loss(*cells: Cell) -> bool:
    """Whether these cells (of one task) are scored by their validation loss (language modelling), not accuracy:
    lower is better, and exact-sequence accuracy means nothing there (every 256-byte window is 0)."""
    return any(scored_by(c) == "loss" for c in cells)


def headline(cell: Cell) -> Interval:
    """The cell's headline number over seeds: validation loss for a task scored by loss, else accuracy."""
    return cell.stat("val_loss") if scored_by_loss(cell) else cell.accuracy()


def metric_name(cell: Cell) -> str:
    return "validation loss (nats per token)" if scored_by_loss(cell) else "exact-sequence accuracy"


def line_label(cell: Cell) -> str:
    """The cell's label without its sizing settings: one line of the scaling figures."""
    rest = {a: v for a, v in cell.axes.items() if a not in SIZE_AXES}
    return cell_label(cell.base or cell.model, rest, list(rest))


def curve_axes(by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """The numeric axes along which some configuration has two or more values: a curve, not single points (an
    axis that only moves together with another, as a scaling preset's budget.flops with model.param_budget, has
    none; the scaling figures draw those)."""
    return [a for a in numeric_axes(by_model)
            if any(len(vs) > 1 for lines in by_axis(by_model, a).values() for vs in lines.values())]


def size_lines(by_model: dict[str, dict[int, Cell]]) -> dict[int, dict[str, list[Cell]]]:
    """{train length: {line: [cells by parameter count]}} where some line has two or more parameter counts."""
    out: dict = defaultdict(lambda: defaultdict(list))
    for cells in by_model.values():
        for length, c in cells.items():
            if c.stat("params").mean is not None:
                out[length][line_label(c)].append(c)
    lines = {n: {m: sorted(cs, key=lambda c: c.stat("params").mean) for m, cs in ls.items()}
             for n, ls in out.items()}
    if not any(len({c.stat("params").mean for c in cs}) > 1 for ls in lines.values() for cs in ls.values()):
        return {}
    return dict(sorted(lines.items()))


def _points(cells: list[Cell], x_of) -> list[tuple]:
    out = []
    for c in cells:
        iv, x = headline(c), x_of(c)
        if iv.mean is not None and x is not None:
            out.append((x, iv.mean, *iv.bar))
    return out


def size_panels(lines: dict[int, dict[str, list[Cell]]], task: str, x_of) -> dict[str, dict[str, list[tuple]]]:
    """Panels for figures.metric_vs_train_length: one per training length, one line per model."""
    return {panel_title(task, L): {m: _points(cs, x_of) for m, cs in ls.items()}
            for L, ls in lines.items()}


def params_of(c: Cell):
    return c.stat("params").mean


def budget_of(c: Cell):
    """The cell's parameter budget, else its parameter count to the thousand: what "a size" is in a sweep."""
    return c.settings.get("model.param_budget") or round(params_of(c), -3)


def size_label(c: Cell) -> str:
    """The cell's size as its parameter budget reads (25k), else its parameter count."""
    budget = c.settings.get("model.param_budget")
    n = budget if isinstance(budget, (int, float)) and not isinstance(budget, bool) else params_of(c)
    return f"{n / 1000:g}k" if n < 1e6 else f"{n / 1e6:g}M"


def state_of(c: Cell):
    return c.mechanism().get("state_size")


def mean_curve(cell: Cell, x_key: str, y_key: str) -> list[tuple[float, float]]:
    """The cell's validation curve against ``x_key`` (train_flops or train_seconds), the mean over its seeds at
    each validation (seeds validated at the same steps), from each row's ``val_history``."""
    histories = [r.get("val_history") or [] for r in cell.rows]
    histories = [h for h in histories if h]
    if not histories:
        return []
    n = min(len(h) for h in histories)
    out = []
    for i in range(n):
        xs = [h[i].get(x_key) for h in histories]
        ys = [h[i].get(y_key) for h in histories]
        if None not in xs and None not in ys:
            out.append((mean(xs), mean(ys)))
    return out


def frontier(curves: list[list[tuple[float, float]]], lower_is_better: bool) -> list[tuple[float, float]]:
    """The best value reached at or below each compute over several curves (the compute-efficient frontier)."""
    points = sorted(p for c in curves for p in c)
    out: list[tuple[float, float]] = []
    best = None
    for x, y in points:
        if best is None or (y < best if lower_is_better else y > best):
            best = y
        if out and out[-1][0] == x:
            out[-1] = (x, best)
        else:
            out.append((x, best))
    return out


def compute_panels(lines: dict[int, dict[str, list[Cell]]], task: str, x_key: str) -> dict[str, dict]:
    """Panels for figures.curves_vs_compute: per model, each size's mean validation curve and the frontier."""
    panels = {}
    for L, ls in lines.items():
        models = {}
        for model, cells in ls.items():
            lower = scored_by_loss(*cells)
            y_key = "val_loss" if lower else "val_seq_acc"
            curves = {size_label(c): mean_curve(c, x_key, y_key) for c in cells}
            curves = {k: v for k, v in curves.items() if v}
            if curves:
                models[model] = {"sizes": curves, "frontier": frontier(list(curves.values()), lower)}
        if models:
            panels[panel_title(task, L)] = models
    return panels


def budget_sentence(task: str, cells: list[Cell]) -> str | None:
    """Which budget the runs of a task held equal: training FLOPs, seconds, or (the default) steps."""
    kinds = {((r.get("budget") or {}).get("kind") or "steps") for c in cells for r in c.rows}
    flops = [c.stat("train_flops").mean for c in cells if c.stat("train_flops").mean]
    if kinds == {"flops"}:
        values = sorted({(r.get("budget") or {}).get("value") for c in cells for r in c.rows})
        per = ("every run" if len(values) == 1 else "every model of a size") + " trained for the same training " \
              f"FLOPs ({', '.join(f'{v:.3g}' for v in values)}; budget.flops, within one step's FLOPs)"
        return f"{task}: compute held equal: {per}; the learning-rate schedule spans each run's budget."
    if kinds == {"seconds"}:
        values = sorted({(r.get("budget") or {}).get("value") for c in cells for r in c.rows})
        return (f"{task}: wall-clock time held equal ({', '.join(f'{v:g} s' for v in values)} of fitting, "
                "budget.seconds); training FLOPs then differ with each model's speed on this machine.")
    if kinds == {"steps"} and len(flops) > 1:
        return (f"{task}: steps held equal (trainer.max_steps), not compute: training FLOPs per run range from "
                f"{min(flops):.3g} to {max(flops):.3g} (×{max(flops) / min(flops):.1f}); budget.flops holds them "
                "equal.")
    return None if len(kinds) == 1 else f"{task}: the runs were held to different kinds of budget ({sorted(kinds)})."


def _rank_sentence(task: str, what: str, ivs: dict[str, Interval], lower: bool) -> str:
    ranked = sorted((m for m in ivs if ivs[m].mean is not None), key=lambda m: ivs[m].mean, reverse=not lower)
    pairs = [compare_pair(ranked[0], ivs[ranked[0]], m, ivs[m], higher_is_better=not lower) for m in ranked[1:]]
    return f"{task}, {what}: " + "; ".join(pairs) + "."


def scaling_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """Budget held equal, who is ahead at each size (equal compute when budgets are), whether the order changes
    with size, and who is ahead on the frontier at the largest compute every model reached."""
    cells = [c for cs in by_model.values() for c in cs.values()]
    out = [s for s in [budget_sentence(task, cells)] if s]
    lines = size_lines(by_model)
    for L, ls in lines.items():
        lower = scored_by_loss(*(c for cs in ls.values() for c in cs))
        budgets = sorted({budget_of(c) for cs in ls.values() for c in cs}, key=float)
        orders = []
        for size in budgets:
            at = {m: next((c for c in cs if budget_of(c) == size), None) for m, cs in ls.items()}
            ivs = {m: headline(c) for m, c in at.items() if c is not None}
            if len(ivs) < 2:
                continue
            flops = [c.stat("train_flops").mean for c in at.values() if c is not None and c.stat("train_flops").mean]
            where = f"{size / 1000:g}k parameters" + (f", {mean(flops):.3g} training FLOPs" if flops else "")
            out.append(_rank_sentence(task, f"{'validation loss' if lower else 'accuracy'} at {where}", ivs, lower))
            orders.append((size, sorted(ivs, key=lambda m: ivs[m].mean, reverse=not lower)))
        if len(orders) > 1:
            (s0, o0), (s1, o1) = orders[0], orders[-1]
            same = o0 == o1
            out.append(f"{task}: best first by the mean over seeds, at {s0 / 1000:g}k parameters {', '.join(o0)}; at "
                       f"{s1 / 1000:g}k {', '.join(o1)}: "
                       + ("the order does not change with size." if same else "the order changes with size."))
        out += frontier_sentences(task, ls, lower)
    return out


def frontier_sentences(task: str, lines: dict[str, list[Cell]], lower: bool) -> list[str]:
    """Each model's frontier (best over its sizes) at the largest training FLOPs every model reached."""
    fronts = {}
    for model, cells in lines.items():
        y_key = "val_loss" if lower else "val_seq_acc"
        curves = [mean_curve(c, "train_flops", y_key) for c in cells]
        if any(curves):
            fronts[model] = frontier([c for c in curves if c], lower)
    if len(fronts) < 2:
        return []
    reach = min(f[-1][0] for f in fronts.values())
    at = {m: [y for x, y in f if x <= reach][-1] for m, f in fronts.items() if any(x <= reach for x, _ in f)}
    ranked = sorted(at, key=at.get, reverse=not lower)
    name = "validation loss" if lower else "accuracy"
    return [f"{task}, the best any size reached within {reach:.3g} training FLOPs (the largest compute every model "
            f"reached), {name}: " + ", ".join(f"{m} {at[m]:.3f}" for m in ranked) + " (mean over seeds of each size's "
            "curve; one validation every few steps, so the frontier is a step line)."]


# --- text_lm: loss against position in the context, and its power-law fit -------------------------------------

def position_law(losses: list[float]):
    """L(t) = a + b t^-c fitted to a loss at every position t = 1, 2, ... of the context."""
    return fit_power_law(list(range(1, len(losses) + 1)), list(losses))


def position_fits(cell: Cell) -> dict[str, Interval] | None:
    """a, b, c of L(t) = a + b t^-c fitted to each seed's held-out loss by position (``loss_at_position``), over
    seeds; None when the rows have no per-position loss."""
    fits = []
    for r in cell.rows:
        losses = (r.get("task_metrics") or {}).get("loss_at_position")
        if losses and len(losses) >= 3:
            fits.append(position_law(losses))
    if not fits:
        return None
    return {k: t_interval([getattr(f, k) for f in fits], metric_bounds("value")) for k in ("a", "b", "c")}


def mean_by_position(cell: Cell, key: str = "loss_at_position") -> list[float]:
    """The per-position loss, mean over seeds."""
    curves = [(r.get("task_metrics") or {}).get(key) for r in cell.rows]
    curves = [c for c in curves if c]
    if not curves:
        return []
    n = min(len(c) for c in curves)
    return [mean(c[i] for c in curves) for i in range(n)]


def by_position_panels(lines: dict[int, dict[str, list[Cell]]], task: str) -> dict[str, dict]:
    """Panels for figures.loss_by_position: per model and size, the loss by position and its fitted curve."""
    panels = {}
    for L, ls in lines.items():
        entries = {}
        for model, cells in ls.items():
            for rank, c in enumerate(cells):
                losses = mean_by_position(c)
                if len(losses) >= 3:
                    fit = position_law(losses)
                    entries[f"{model} {size_label(c)}"] = {
                        "model": model, "rank": rank, "of": len(cells), "losses": losses, "fit": fit}
        if entries:
            panels[panel_title(task, L)] = entries
    return panels


def position_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """Per model and size: the fitted exponent c, and how much the loss still falls from the middle of the
    context to its end; a warning where training windows score far better than held-out ones (memorisation)."""
    out = []
    for L, ls in size_lines(by_model).items():
        parts, gaps = [], []
        for model, cells in ls.items():
            for c in cells:
                fits, losses = position_fits(c), mean_by_position(c)
                if not fits or len(losses) < 8:
                    continue
                half, end = mean(losses[len(losses) // 4: len(losses) // 2]), mean(losses[len(losses) // 2:])
                where = (f"loss {half:.3f} at positions {len(losses) // 4 + 1}-{len(losses) // 2} and {end:.3f} at "
                         f"{len(losses) // 2 + 1}-{len(losses)}")
                if position_law(losses).decreasing:
                    parts.append(f"{model} {size_label(c)}: c = {fits['c'].text(3)}, a = {fits['a'].text(2)}, {where}")
                else:
                    parts.append(f"{model} {size_label(c)}: no falling power law (the loss is flat or rises past the "
                                 f"first bytes), {where}")
                # Memorised passages show as a gap between training and held-out windows that grows with the
                # context: a constant gap is only the held-out text being harder (another part of the text).
                train = mean_by_position(c, "train_loss_at_position")
                if len(train) >= 32:
                    early = mean(losses[8:32]) - mean(train[8:32])
                    late = end - mean(train[len(train) // 2:])
                    if late - early > 0.1:
                        gaps.append(f"{model} {size_label(c)} (held-out minus training loss {early:.3f} at positions "
                                    f"9-32, {late:.3f} at {len(train) // 2 + 1}-{len(train)})")
        if parts:
            out.append(f"{task}, held-out loss by position fitted with L(t) = a + b t^-c (per seed, then over seeds): "
                       + "; ".join(parts) + ".")
        if gaps:
            out.append(f"Warning: {task}: the gap between training and held-out windows grows with the context, the "
                       f"sign of memorised passages (read the text fewer times: a larger text or fewer steps): "
                       + "; ".join(gaps) + ".")
    return out


def position_table(task: str, by_model: dict[str, dict[int, Cell]]) -> list[tuple]:
    """The report's table of the fits: model, parameters, seeds, a, b, c with their intervals."""
    rows = []
    for L, ls in size_lines(by_model).items():
        for model, cells in ls.items():
            for c in cells:
                fits = position_fits(c)
                if not fits:
                    continue
                losses = mean_by_position(c)
                falls = len(losses) >= 3 and position_law(losses).decreasing
                rows.append([model, f"{params_of(c):,.0f}", c.seeds, fits["a"].text(3), fits["b"].text(3),
                             fits["c"].text(3), "" if falls else "no: flat or rising"])
    if not rows:
        return []
    return [("h3", f"{task}: loss against position, L(t) = a + b t^-c"),
            ("table", ["model", "parameters", "seeds", "a", "b", "c", "falls with t"], rows),
            ("p", "Fitted by least squares to each seed's held-out loss at every position t of the context "
                  "(task_metrics.loss_at_position; t = bytes of context), then the mean over seeds with each seed's "
                  "value in brackets. c is how fast more context helps: Kaplan et al. 2020 (Fig. 20) find it larger "
                  "for transformers than for LSTMs, whose loss stops improving after about 100 tokens. Where the loss "
                  "does not fall with t, the fit runs to the end of its range of c and a, b mean nothing.")]
