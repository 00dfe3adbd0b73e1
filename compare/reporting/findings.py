"""What the results say, in sentences computed from the results rows (never written by hand).

Rows are grouped into cells: runs whose resolved configs are equal but for the seed and the keys that cannot
change what is trained or measured (``compare.reporting.cell_keys``). Only runs of one cell are pooled: every
number is the mean over its seeds with a 95% Student's t interval (``compare.reporting.intervals``). A setting
that differs between the cells of one task and model is an axis and is written into the cell's label. When a
sweep tried several learning rates for otherwise equal cells, the cell keeps the runs of the rate that did best
on the validation set (``choose_lr``) and the report compares models there, on the evaluation sets.
Every sentence names the numbers it rests on, so a reader can check it against the figures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean

from compare.reporting.cell_keys import axes_by_model, cell_label, compared_settings, settings_key
from compare.reporting.intervals import (UNIT, Interval, metric_bounds, per_seed, seeds_note, t_interval,
                                         t_quantile_975)

__all__ = ["Cell", "Interval", "LrSearch", "cells_of", "choose_lr", "compare_pair", "model_label", "per_seed",
           "seed_groups", "seeds_note", "t_interval", "t_quantile_975"]

def lr_of(row: dict):
    """The learning rate a row was trained with (from its config), or None."""
    lr = ((row.get("config") or {}).get("optimizer") or {}).get("lr")
    return float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def model_label(row: dict) -> str:
    """The model's name, with ``-<pos_encoding>`` when not the default learned table, ``-conv<N>`` for linear
    attention with a short convolution and ``-w<window>`` for attention limited to a sliding window: runs that
    differ in any are other models, never extra seeds."""
    model_cfg = (row.get("config") or {}).get("model") or {}
    label = str(row["model"])
    if model_cfg.get("pos_encoding") not in (None, "learned"):
        label += f"-{model_cfg['pos_encoding']}"
    if label == "linear_attention" and (model_cfg.get("conv_size") or 1) > 1:
        label += f"-conv{model_cfg['conv_size']}"
    return f"{label}-w{model_cfg['window']}" if model_cfg.get("window") else label


def _train_range(row: dict) -> tuple[int, int]:
    lengths = row.get("train_lengths")
    if isinstance(lengths, (list, tuple)) and len(lengths) == 2:
        return int(lengths[0]), int(lengths[1])
    return int(row["train_length"]), int(row["train_length"])


@dataclass
class LrSearch:
    """The learning rates a cell was trained at, their validation scores, and the one the report compares at."""

    scores: dict[float, tuple[Interval, Interval]]  # lr -> (val exact-sequence accuracy, val loss)
    chosen: float

    @property
    def grid(self) -> list[float]:
        return sorted(self.scores)

    @property
    def edge(self) -> str | None:
        """'lowest' or 'highest' when the chosen rate is at that end of the searched grid."""
        if self.chosen == self.grid[0]:
            return "lowest"
        return "highest" if self.chosen == self.grid[-1] else None


def choose_lr(rows_by_lr: dict[float, list[dict]]) -> LrSearch:
    """The best rate on the validation set: highest mean val_seq_acc, ties to the lower mean val_loss, then lower lr."""
    scores = {lr: (t_interval(per_seed(rows, lambda r: r.get("val_seq_acc")), UNIT),
                   t_interval(per_seed(rows, lambda r: r.get("val_loss")), metric_bounds("val_loss")))
              for lr, rows in rows_by_lr.items()}

    def rank(lr):
        acc, loss = scores[lr]
        return (-(acc.mean if acc.mean is not None else -1.0), loss.mean if loss.mean is not None else math.inf, lr)

    return LrSearch(scores, min(scores, key=rank))


def ladder_point(row: dict, length: int) -> dict | None:
    """The ladder entry of ``row`` at ``length``, or None."""
    return next((p for p in row.get("ladder") or [] if int(p["length"]) == length), None)


@dataclass
class Cell:
    """The finished runs of one configuration on one task at one training length (at its chosen rate, if
    searched): ``model`` is its label (the model's, then its axis values), ``axes`` the values of the settings
    that tell it apart from the other cells of its task and model, ``settings`` all its compared settings."""

    task: str
    model: str
    train_length: int
    rows: list[dict] = field(default_factory=list)
    lr_search: LrSearch | None = None
    base: str | None = None
    axes: dict[str, object] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def stat(self, key: str) -> Interval:
        """Mean and 95% t interval over seeds of a numeric row key (cut to the range its name implies)."""
        return t_interval(per_seed(self.rows, lambda r: r.get(key)), metric_bounds(key))

    def label_without(self, axis: str) -> str:
        """The cell's label with one axis left out: the line it belongs to in a figure with that axis on x."""
        names = [a for a in self.axes if a != axis]
        return cell_label(self.base or self.model, {a: self.axes[a] for a in names}, names)

    @property
    def seeds(self) -> int:
        return len(per_seed(self.rows, lambda r: 0))

    @property
    def val_seq_acc(self):
        return self.stat("val_seq_acc").mean

    @property
    def tokens_per_s(self):
        return self.stat("train_tokens_per_s").mean

    @property
    def peak_mem_mb(self):
        return self.stat("peak_mem_mb").mean

    @property
    def lr(self):
        lrs = {lr_of(r) for r in self.rows}
        return lrs.pop() if len(lrs) == 1 else None

    @property
    def train_range(self) -> tuple[int, int]:
        """The shortest and longest length trained on: ``train_lengths`` of the rows, else the training length."""
        ranges = [_train_range(r) for r in self.rows] or [(self.train_length, self.train_length)]
        return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)

    def _points(self, length: int) -> list[float | None]:
        def acc(r):
            p = ladder_point(r, length)
            return p.get("seq_acc") if p and p.get("supported", True) else None
        return per_seed(self.rows, acc)

    def accuracy(self) -> Interval:
        """Exact-sequence accuracy at the training length: on the evaluation set at that length when the rate was
        chosen on the validation set (so the number compared is not the one selected on) or the run trained on a
        range of lengths (its validation set spans the range, mostly shorter inputs), else on the validation set."""
        if self.accuracy_source == "evaluation":
            return t_interval(self._points(self.train_length), UNIT)
        return self.stat("val_seq_acc")

    @property
    def accuracy_source(self) -> str:
        """Which set ``accuracy`` comes from: 'evaluation' or 'validation'."""
        ranged = self.train_range[0] < self.train_range[1]
        return ("evaluation" if (self.lr_search is not None or ranged) and self._points(self.train_length)
                else "validation")

    def ladder(self) -> list[dict]:
        """The length ladder over seeds: length, seq_acc (None = not scored), supported (False: the model or task
        cannot take that length; True with seq_acc None: the evaluation set had no sample there, e.g. no bAbI test
        story that long), seq_acc_half (95% t, None with one seed), seeds, in_training_range (within [min, max]
        trained on), beyond (longer than any trained), tokens."""
        lo, hi = self.train_range
        by_len: dict[int, dict] = {}
        for r in self.rows:
            for p in r.get("ladder") or []:
                by_len.setdefault(int(p["length"]), p)
        out = []
        for length in sorted(by_len):
            iv = t_interval(self._points(length), UNIT)
            out.append({"length": length, "seq_acc": iv.mean, "seq_acc_half": iv.half, "seeds": iv.n,
                        "seq_acc_lo": iv.lo, "seq_acc_hi": iv.hi, "interval": iv,
                        "in_training_range": bool(by_len[length].get("in_training_range", lo <= length <= hi)),
                        "beyond": length > hi, "tokens": by_len[length].get("tokens"),
                        "supported": all(p.get("supported", True) for r in self.rows for p in r.get("ladder") or []
                                         if int(p["length"]) == length)})
        return out

    def beyond_accuracy(self, metric: str = "seq_acc") -> Interval | None:
        """Mean accuracy (``metric`` of the ladder: seq_acc or token_acc) over the supported ladder lengths longer
        than any trained on (per seed, then over seeds); None when the ladder has no longer length."""
        hi = self.train_range[1]
        if not any(int(p["length"]) > hi for r in self.rows for p in r.get("ladder") or []):
            return None

        def beyond(r):
            accs = [p[metric] for p in r.get("ladder") or [] if int(p["length"]) > hi
                    and p.get("supported", True) and p.get(metric) is not None]
            return mean(accs) if accs else None
        return t_interval(per_seed(self.rows, beyond), UNIT)

    def slices(self, length: int | None = None) -> dict[str, dict[int, Interval]]:
        """Exact-sequence accuracy at ``length`` (default: the training length) by each second difficulty axis:
        {axis: {key: Interval}}."""
        length = self.train_length if length is None else length

        def by(r) -> dict:
            return (ladder_point(r, length) or {}).get("by") or {}
        axes: dict[str, set[int]] = defaultdict(set)
        for r in self.rows:
            for axis, by_key in by(r).items():
                axes[axis].update(int(k) for k in by_key)

        def value(axis, key):
            return t_interval(per_seed(self.rows, lambda r: by(r).get(axis, {}).get(str(key))), UNIT)
        return {axis: {k: value(axis, k) for k in sorted(keys)} for axis, keys in sorted(axes.items())}

    def longest_sliced_length(self) -> int | None:
        """The longest ladder length with accuracy by a second axis, if it is longer than the training length."""
        lengths = [int(p["length"]) for r in self.rows for p in r.get("ladder") or [] if p.get("by")]
        longest = max(lengths, default=None)
        return longest if longest is not None and longest > self.train_length else None

    def task_metrics(self) -> dict[str, Interval]:
        """Numeric task-specific metrics of the rows (``task_metrics``), over seeds."""
        names = sorted({k for r in self.rows for k, v in (r.get("task_metrics") or {}).items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})

        def get(name):
            def value(r):
                v = (r.get("task_metrics") or {}).get(name)
                return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
            return value
        return {k: t_interval(per_seed(self.rows, get(k)), metric_bounds(k)) for k in names}

    def mechanism(self) -> dict:
        """parallel_over_time, sequential_depth and state_size from the rows (absent in rows written before them)."""
        keys = ("parallel_over_time", "sequential_depth", "state_size")
        row = next((r for r in self.rows if any(r.get(k) is not None for k in keys)), {})
        return {k: row.get(k) for k in keys}


def seed_groups(rows: list[dict]) -> dict[tuple, Cell]:
    """Runs that differ only in seed (and in ``SET_ASIDE``): {(task, label, train length, lr): Cell}.

    Runs whose compared settings differ are never in one group: a setting that differs between groups of one
    task and model is an axis, and its value is part of the label (``lstm 2 layers``)."""
    keyed: dict[tuple, tuple[dict, list[dict]]] = {}
    for r in rows:
        settings = compared_settings(r)
        key = (r["task"], model_label(r), int(r["train_length"]), settings_key(settings), lr_of(r))
        keyed.setdefault(key, (settings, []))[1].append(r)
    axes = axes_by_model([(t, m, n, settings) for (t, m, n, _, _), (settings, _) in keyed.items()])
    out: dict[tuple, Cell] = {}
    for (task, base, length, _, lr), (settings, group) in keyed.items():
        names = axes[(task, base)]
        values = {a: settings[a] for a in names if a in settings}
        label = cell_label(base, values, names)
        key = (task, label, length, lr)
        if key in out:  # two settings written alike: never pooled, so the label falls back to every key
            label = cell_label(base, settings, sorted(settings))
            key = (task, label, length, lr)
        out[key] = Cell(task, label, length, group, base=base, axes=values, settings=settings)
    return out


def cells_of(rows: list[dict]) -> dict[str, dict[str, dict[int, Cell]]]:
    """cells[task][label][train_length] from finished rows; a cell trained at several rates keeps its best one."""
    by_cell: dict[tuple, dict] = defaultdict(dict)
    for (task, model, length, lr), group in seed_groups(rows).items():
        by_cell[(task, model, length)][lr] = group
    out: dict = defaultdict(lambda: defaultdict(dict))
    for (task, model, length), by_lr in by_cell.items():
        rated = {lr: g.rows for lr, g in by_lr.items() if lr is not None}
        first = next(iter(by_lr.values()))
        if len(rated) > 1:
            search = choose_lr(rated)
            rows_ = by_lr[search.chosen].rows
        else:
            search, rows_ = None, [r for g in by_lr.values() for r in g.rows]
        out[task][model][length] = Cell(task, model, length, rows_, search, first.base, first.axes, first.settings)
    return {t: dict(m) for t, m in out.items()}


def numeric_axes(by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """The axes of a task's cells whose values are all numbers and take at least two values: each can be the x
    axis of a figure and the columns of a table."""
    values: dict[str, set] = defaultdict(set)
    for cells in by_model.values():
        for c in cells.values():
            for a, v in c.axes.items():
                values[a].add(v if isinstance(v, (int, float)) and not isinstance(v, bool) else "not a number")
    return [a for a, vs in values.items() if len(vs) > 1 and "not a number" not in vs]


def by_axis(by_model: dict[str, dict[int, Cell]], axis: str) -> dict[int, dict[str, dict[float, Cell]]]:
    """A task's cells with ``axis`` taken out of their labels: {train length: {label without it: {value: Cell}}}."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for cells in by_model.values():
        for length, c in cells.items():
            if axis in c.axes:
                out[length][c.label_without(axis)][c.axes[axis]] = c
    return {n: dict(lines) for n, lines in out.items()}


def _f(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _rate(x) -> str:
    if x is None:
        return "n/a"
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def fmt_lr(lr: float) -> str:
    """A learning rate as people write it: 0.003, 0.0001, 3e-05."""
    return f"{lr:g}"


def _ranked(pairs):
    """Models best first, ties by name: [(model, value)]."""
    return sorted(pairs, key=lambda p: (-(p[1] if p[1] is not None else -1.0), p[0]))


#: What ``verdict`` can say of two intervals: the higher one beats the other, they overlap, one side has a single
#: seed (no interval), or one side has no value.
BEATS, OVERLAP, ONE_SEED, NO_VALUE = "beats", "overlap", "one seed", "no value"


def verdict(ia: Interval, ib: Interval) -> str:
    """The report's rule for two intervals: BEATS only when both have 2+ seeds and their 95% intervals do not
    overlap; OVERLAP when they do; ONE_SEED when either has one seed; NO_VALUE when either has no mean."""
    if ia.mean is None or ib.mean is None:
        return NO_VALUE
    if ia.n < 2 or ib.n < 2:
        return ONE_SEED
    return OVERLAP if ia.overlaps(ib) else BEATS


def compare_pair(a: str, ia: Interval, b: str, ib: Interval, higher_is_better: bool = True) -> str:
    """'a beats b' only when their 95% intervals do not overlap, 'no clear difference' when they do; with one
    seed on either side the sentence says the comparison rests on one seed. ``higher_is_better=False`` for a loss."""
    said = verdict(ia, ib)
    if said == NO_VALUE:
        return f"{a} vs {b}: no {'accuracy' if higher_is_better else 'value'} to compare"
    if (ib.mean > ia.mean) == higher_is_better and ib.mean != ia.mean:
        a, ia, b, ib = b, ib, a, ia
    nums = f"{ia.text()} vs {ib.text()}"
    if said != ONE_SEED:
        nums = f"{ia.text()}, 95% interval {ia.range_text()}, vs {ib.text()}, {ib.range_text()}"
    if said == ONE_SEED:
        lead = f"{a} and {b} level" if ia.mean == ib.mean else f"{a} ahead of {b}"
        return f"{lead} ({nums}), but this rests on one seed, so there is no interval to judge it by"
    if said == OVERLAP:
        return f"no clear difference between {a} and {b} ({nums}: the 95% intervals overlap)"
    return f"{a} beats {b} ({nums}: the 95% intervals do not overlap)"


def comparison_sentence(task: str, length: int, by_model: dict[str, Interval]) -> str | None:
    """The best model against each other model at one training length, by ``compare_pair``."""
    models = {m: iv for m, iv in by_model.items() if iv.mean is not None}
    if len(models) < 2:
        return None
    best = _ranked([(m, iv.mean) for m, iv in models.items()])[0][0]
    parts = [compare_pair(best, models[best], m, iv) for m, iv in sorted(models.items()) if m != best]
    return f"{task} at training length {length}, exact-sequence accuracy: " + "; ".join(parts) + "."


def accuracy_sentences(task: str, by_model: dict[str, dict[int, Cell]], solved: float) -> list[str]:
    """Accuracy at each training length (with the comparison), the longest length each model solves, extrapolation."""
    out = []
    lengths = sorted({L for cells in by_model.values() for L in cells})
    for L in lengths:
        at_L = {m: cells[L] for m, cells in by_model.items() if L in cells}
        ivs = {m: c.accuracy() for m, c in at_L.items()}
        pairs = _ranked([(m, iv.mean) for m, iv in ivs.items()])
        parts = ", ".join(f"{m} {ivs[m].text()}" for m, _ in pairs)
        sources = {c.accuracy_source for c in at_L.values()}
        searched = all(c.lr_search is not None for c in at_L.values())
        where = "" if sources == {"validation"} else (
            " on the evaluation set" + (", each model at the learning rate it did best at on the validation set"
                                        if searched else "")
            if sources == {"evaluation"} else
            " (on the evaluation set where a learning rate was chosen or a range of lengths trained on)")
        lo = min(c.train_range[0] for c in at_L.values())
        trained = f"trained and tested at length {L}" if lo == L else f"trained on lengths {lo}–{L}, tested at {L}"
        out.append(f"{task}, {trained}: exact-sequence accuracy {parts}{where}{seeds_note(list(ivs.values()))}.")
        if (s := comparison_sentence(task, L, ivs)) is not None:
            out.append(s)
    if len(lengths) > 1:
        out.append(_solved_sentence(task, by_model, solved))
    out += _beyond_sentences(task, by_model)
    return out


def _solved_sentence(task: str, by_model: dict[str, dict[int, Cell]], solved: float) -> str:
    parts = []
    for m in sorted(by_model):
        cells = by_model[m]
        acc = {L: c.accuracy().mean for L, c in cells.items()}
        ok = [L for L, a in acc.items() if a is not None and a >= solved]
        if ok:
            parts.append(f"{m} up to {max(ok)}" + ("" if max(ok) == max(cells) else f" (not at {max(cells)})"))
        else:
            best_L = max(cells, key=lambda L: acc[L] or 0.0)
            parts.append(f"{m} at none of {min(cells)}–{max(cells)} (best {_f(acc[best_L])} at {best_L})")
    return (f"{task}: longest training length solved (mean exact-sequence accuracy ≥ {solved:.2f}): "
            + "; ".join(parts) + ".")


def _beyond_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    beyond_parts, unsupported_parts, empty = [], [], set()
    for m in sorted(by_model):
        pts = [(c.train_range[1], p) for c in by_model[m].values() for p in c.ladder() if p["beyond"]]
        if not pts:
            continue
        accs = [p["seq_acc"] for _, p in pts if p["seq_acc"] is not None]
        cannot = [p for _, p in pts if p["seq_acc"] is None and not p["supported"]]
        empty.update(p["length"] for _, p in pts if p["seq_acc"] is None and p["supported"])
        if accs and max(accs) == 0:
            beyond_parts.append(f"{m} 0.00 at every longer length it was evaluated at")
        elif accs:
            best_L, best = max(((L, p) for L, p in pts if p["seq_acc"] is not None), key=lambda x: x[1]["seq_acc"])
            beyond_parts.append(f"{m} {_f(mean(accs))} on average, best {_f(best['seq_acc'])} "
                                f"at length {best['length']} (trained up to {best_L})")
        if cannot:
            unsupported_parts.append(f"{m} cannot take {len(cannot)} of its {len(pts)} longer lengths "
                                     f"(from length {min(p['length'] for p in cannot)})")
    out = []
    if beyond_parts:
        out.append(f"{task}, beyond the lengths trained on: " + "; ".join(beyond_parts) + ".")
    if unsupported_parts:
        out.append(f"{task}: " + "; ".join(unsupported_parts) + ", counted as unsupported rather than as 0.")
    if empty:
        lengths = ", ".join(str(n) for n in sorted(empty))
        out.append(f"{task}: the evaluation set has no sample at length {lengths} (no test story that long), so no "
                   "model is scored there.")
    return out


def lr_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """The learning rate each model was compared at, and a warning when it sits at an end of the searched grid."""
    out = []
    for L in sorted({L for cells in by_model.values() for L in cells}):
        searched = {m: cells[L].lr_search for m, cells in sorted(by_model.items()) if L in cells and cells[L].lr_search}
        if not searched:
            continue
        chosen = "; ".join(f"{m} {fmt_lr(s.chosen)} (of {len(s.grid)}: {fmt_lr(s.grid[0])}–{fmt_lr(s.grid[-1])})"
                           for m, s in searched.items())
        out.append(f"{task} at training length {L}, learning rate chosen on the validation set (highest exact-sequence "
                   f"accuracy, ties to the lower loss): {chosen}.")
        for m, s in searched.items():
            if s.edge:
                out.append(f"Warning: {m}'s best rate on {task} at length {L}, {fmt_lr(s.chosen)}, is the {s.edge} "
                           f"one searched, so a better one may lie {'below' if s.edge == 'lowest' else 'above'} "
                           f"the grid: widen optimizer.lr.")
    return out


def slice_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """Accuracy along each second difficulty axis (e.g. fact distance) at the longest training length, and at the
    longest evaluated length where that is longer (how far back a model reaches past what it trained on)."""
    out = []
    axes = sorted({a for cells in by_model.values() for c in cells.values() for a in c.slices()})
    for axis in axes:
        at_train, past = [], []
        for m in sorted(by_model):
            cells = {L: c for L, c in by_model[m].items() if c.slices().get(axis)}
            if not cells:
                continue
            L = max(cells)
            at_train.append(f"{m} {_ends(cells[L].slices()[axis])} (trained at {L})")
            longest = cells[L].longest_sliced_length()
            beyond = cells[L].slices(longest).get(axis) if longest else None
            if beyond:
                past.append(f"{m} {_ends(beyond)} (at length {longest}, trained up to {L})")
        if at_train:
            out.append(f"{task}, exact-sequence accuracy by {axis}: " + "; ".join(at_train) + ".")
        if past:
            out.append(f"{task}, by {axis} past the lengths trained on: " + "; ".join(past) + ".")
    return out


def _ends(keys: dict[int, Interval]) -> str:
    """The accuracy at the smallest and the largest key of a slice."""
    lo, hi = min(keys), max(keys)
    return f"{keys[lo].text()} at {lo} and {keys[hi].text()} at {hi}"


def cost_sentence(task: str, by_model: dict[str, dict[int, Cell]], what: str, device: str) -> str | None:
    """How tokens/s or peak memory changes from the shortest to the longest training length, per model."""
    key, unit, fmt = {"throughput": ("train_tokens_per_s", "tokens/s", _rate),
                      "memory": ("peak_mem_mb", "MB", lambda x: _f(x, 0))}[what]
    parts = []
    for m in sorted(by_model):
        cells = {L: c.stat(key) for L, c in by_model[m].items() if c.stat(key).mean is not None}
        if not cells:
            continue
        lo, hi = min(cells), max(cells)
        if lo == hi:
            parts.append(f"{m} {cells[lo].text(fmt=fmt)} {unit} at length {lo}")
        else:
            ratio = cells[hi].mean / cells[lo].mean if cells[lo].mean else float("nan")
            parts.append(f"{m} {cells[lo].text(fmt=fmt)} {unit} at length {lo} and {cells[hi].text(fmt=fmt)} "
                         f"at {hi} (×{ratio:.2f})")
    if not parts:
        return None
    label = "training throughput" if what == "throughput" else "peak memory"
    return f"{task}, {label} on {device}: " + "; ".join(parts) + "."


def run_summary_sentence(statuses: list[str]) -> str:
    """'9 runs: 8 finished, 1 failed.'"""
    counts: dict[str, int] = defaultdict(int)
    for s in statuses:
        counts[s] += 1
    words = {"ok": "finished", "failed": "failed", "diverged": "diverged", "running": "without results yet",
             "unreadable": "with an unreadable results file"}
    parts = [f"{counts[s]} {words.get(s, s)}" for s in ["ok", "failed", "diverged", "running", "unreadable"]
             if counts.get(s)]
    parts += [f"{n} {s}" for s, n in counts.items() if s not in words]
    return f"{len(statuses)} run{'s' if len(statuses) != 1 else ''}: " + ", ".join(parts) + "."
