"""Which figures a report has: per task (accuracy against length, by slice, validation curves) and across tasks."""

from __future__ import annotations

from pathlib import Path

from compare.reporting import figures
from compare.reporting.findings import Cell, by_axis, cells_of
from compare.reporting.frontier import (ZOOLOGY_FIG2, frontier_lines, published_panels,
                                       query_accuracy)
from compare.reporting.published import test_accuracy_by_support_distance
from compare.reporting.scaling import curve_axes, headline, metric_name, scored_by
from compare.reporting.scaling_figures import scaling_figures
from compare.runs.atomic import atomic_write_bytes
from compare.runs.records import RunRecord


class FigureSet:
    """PNG files written under one folder, with their captions in report order."""

    def __init__(self, fig_dir: Path) -> None:
        self.fig_dir = fig_dir
        self.made: dict[str, str] = {}

    def save(self, name: str, fig, caption: str) -> None:
        atomic_write_bytes(self.fig_dir / name, figures.png_bytes(fig))
        self.made[name] = caption


def build_figures(records: list[RunRecord], fig_dir: Path) -> dict[str, str]:
    """Write every figure as PNG under ``fig_dir``; returns file name -> caption, in report order."""
    out = FigureSet(fig_dir)
    cells = cells_of([r.row for r in records if r.usable])
    for task in sorted(cells):
        task_figures(out, task, cells[task], records)
    if cells:
        summary_figures(out, cells)
    return out.made


#: How every figure's error bars are computed, said once in each caption.
ERROR_BARS = ("Error bars: 95% Student's t interval over seeds (t quantile at n−1 degrees of freedom × standard "
              "deviation / √n), cut to what the metric can take (an accuracy to 0–1); none where a cell has 1 seed.")


def task_figures(out: FigureSet, task: str, by_model: dict[str, dict[int, Cell]], records: list[RunRecord]) -> None:
    """Accuracy against evaluated length, accuracy by each slice axis, and validation curves of one task."""
    curves: dict = {}
    ranges: dict[int, tuple[int, int]] = {}
    for model, by_len in by_model.items():
        for L, cell in by_len.items():
            if cell.ladder():
                curves.setdefault(L, {})[model] = cell.ladder()
                lo, hi = cell.train_range
                old = ranges.get(L, (lo, hi))
                ranges[L] = (min(lo, old[0]), max(hi, old[1]))
    if curves:
        ranged = any(lo != hi for lo, hi in ranges.values())
        out.save(f"accuracy_vs_length_{task}.png", figures.accuracy_vs_length(task, curves, ranges),
                 f"{task}: exact-sequence accuracy on the evaluation set against evaluated length, one panel per "
                 "training length. Shaded: the lengths trained on "
                 + ("(from the shortest to the longest of each run's training range); " if ranged else
                    "(only the training length itself; shorter lengths were not trained on); ")
                 + "hollow markers on dashed lines: longer than any length trained on; × on the axis: a length the "
                 "model cannot take. " + ERROR_BARS)
    for axis in sorted({a for ms in by_model.values() for c in ms.values() for a in c.slices()}):
        by: dict = {}
        for model, by_len in by_model.items():
            for L, cell in by_len.items():
                # At the training length, and at the longest evaluated length: how far back each model still
                # reaches once inputs are longer than any it trained on.
                longest = cell.longest_sliced_length()
                for key, at in [(L, None)] + ([((L, longest), longest)] if longest else []):
                    sliced = cell.slices(at).get(axis)
                    if sliced:
                        by.setdefault(key, {})[model] = {k: (iv.mean, *iv.bar) for k, iv in sliced.items()}
        longer = any(isinstance(k, tuple) for k in by)
        out.save(f"accuracy_by_{axis}_{task}.png", figures.accuracy_by_slice(task, axis, by),
                 f"{task}: exact-sequence accuracy by {axis.replace('_', ' ')}, at the training length"
                 + (" and (panels \"evaluated at\") at the longest evaluated length, past the lengths trained on"
                    if longer else "") + ". " + ERROR_BARS)
    if by_support := test_accuracy_by_support_distance(by_model):
        out.save(f"test_accuracy_by_support_distance_{task}.png",
                 figures.accuracy_by_slice(task, "support_distance (tokens, test file)", by_support),
                 f"{task}: accuracy on every question of the test file (cut as in training) by the distance from "
                 "its first supporting statement back to the question, in tokens (bins named by their lower "
                 "edge); one panel per training length. " + ERROR_BARS)
    for axis in curve_axes(by_model):
        some = next(c for cs in by_model.values() for c in cs.values())
        kind, name = scored_by(some), metric_name(some)
        panels = {figures.panel_title(task, L):
                  {label: [(v, headline(c).mean, *headline(c).bar) for v, c in sorted(values.items())]
                   for label, values in lines.items()}
                  for L, lines in sorted(by_axis(by_model, axis).items())}
        out.save(f"{kind}_vs_{axis}_{task}.png",
                 figures.metric_vs_train_length(panels, name, f"{task}: {kind} against {axis}",
                                                ylim=(-0.05, 1.05) if kind == "accuracy" else None, xlabel=axis,
                                                zero_based=kind == "accuracy"),
                 f"{task}: {name} at the training length against {axis}, a setting that differs "
                 f"between the runs of this sweep; one line per configuration otherwise equal (its label without "
                 f"{axis}), one panel per training length. " + ERROR_BARS)
    scaling_figures(out, task, by_model)
    if lines := frontier_lines(by_model):
        panels = {figures.panel_title(task, L):
                  {model: [(state, query_accuracy(c).mean, *query_accuracy(c).bar) for state, c in pts]
                   for model, pts in by_line.items()}
                  for L, by_line in lines.items()}
        published = published_panels(task, lines)
        out.save(f"accuracy_vs_state_size_{task}.png",
                 figures.metric_vs_train_length({**panels, **published}, "accuracy per query",
                                                f"{task}: recall against state size", ylim=(-0.05, 1.05),
                                                xlabel="state size (numbers carried per sequence)",
                                                xlabels={t: "model dimension (Zoology's x)" for t in published}),
                 f"{task}: accuracy per query at the training length against the state size each model carries "
                 "while reading one training input (log scale), one line per model over the sizes swept, one panel "
                 "per training length (for mqar: the number of key-value pairs); Zoology's recall-memory frontier. "
                 + ("Beside each, the panel marked Zoology Fig. 2: the published curves at the same input length and "
                    "pairs, against model dimension (its x; its models are not ours), read off the figure. " if published
                    else "") + f"Source: {ZOOLOGY_FIG2}. " + ERROR_BARS)
    val: dict = {}
    stage_ends: dict[int, set[int]] = {}
    label_of = {id(r): c.model for ms in by_model.values() for c in ms.values() for r in c.rows}
    for r in records:
        if r.usable and r.row["task"] == task and r.val_curve and id(r.row) in label_of:
            val.setdefault(int(r.row["train_length"]), {}).setdefault(label_of[id(r.row)], []).append(r.val_curve)
            stage_ends.setdefault(int(r.row["train_length"]), set()).update(curriculum_stage_ends(r.row))
    if val:
        staged = any(stage_ends.values())
        out.save(f"validation_curves_{task}.png", figures.validation_curves(task, val, stage_ends),
                 f"{task}: validation exact-sequence accuracy over training steps (from each run's TensorBoard "
                 "events; one line per seed" + (", at each model's chosen learning rate" if _searched(by_model) else "")
                 + ")." + (" Dotted vertical lines: where a curriculum stage (data.curriculum) hands over to the next, "
                           "the last to the task itself; validation is on the task itself throughout." if staged else ""))


def curriculum_stage_ends(row: dict) -> list[int]:
    """The training steps at which a run's curriculum stages end (none without a curriculum)."""
    stages = ((row.get("config") or {}).get("data") or {}).get("curriculum") or []
    ends, total = [], 0
    for stage in stages:
        total += int(stage["steps"])
        ends.append(total)
    return ends


def _searched(by_model: dict[str, dict[int, Cell]]) -> bool:
    return any(c.lr_search for ms in by_model.values() for c in ms.values())


def summary_figures(out: FigureSet, cells: dict[str, dict[str, dict[int, Cell]]]) -> None:
    """Every task's accuracy against evaluated length (at its longest training length), and accuracy, throughput
    and memory against training length, one line per model."""
    def per_task(value):
        return {t: {m: [(L, *value(c)) for L, c in by_len.items()] for m, by_len in ms.items()}
                for t, ms in cells.items()}

    def stat(key):
        return lambda c: (c.stat(key).mean, *c.stat(key).bar)

    def measured(key) -> bool:
        return any(c.stat(key).mean for ms in cells.values() for by_len in ms.values() for c in by_len.values())

    panels = {}
    for task, ms in cells.items():
        L = max(L for by_len in ms.values() for L in by_len)
        ladders = {m: by_len[L].ladder() for m, by_len in ms.items() if L in by_len and by_len[L].ladder()}
        if ladders:
            ranges = [by_len[L].train_range for by_len in ms.values() if L in by_len]
            panels[task] = (ladders, (min(r[0] for r in ranges), max(r[1] for r in ranges)))
    if len(panels) > 1:
        out.save("accuracy_vs_length.png", figures.accuracy_vs_length_by_task(panels),
                 "Every task at its longest training length: exact-sequence accuracy on the evaluation set against "
                 "evaluated length, one line per model. Shaded: the lengths trained on; hollow markers on dashed "
                 "lines: longer than any length trained on; × on the axis: a length the model cannot take. "
                 + ERROR_BARS)
    sources = {c.accuracy_source for ms in cells.values() for by_len in ms.values() for c in by_len.values()}
    where = ("Validation" if sources == {"validation"} else "Evaluation-set" if sources == {"evaluation"}
             else "Validation (evaluation-set where a learning rate was chosen on validation or a run trained on "
                  "a range of lengths)")
    out.save("accuracy_at_train_length.png",
             figures.metric_vs_train_length(per_task(lambda c: (c.accuracy().mean, *c.accuracy().bar)),
                                            "exact-sequence accuracy", "Accuracy at the training length",
                                            ylim=(-0.05, 1.05)),
             f"{where} exact-sequence accuracy at the length each run was trained on (the longest, where it trained "
             "on a range), one line per model. "
             + ERROR_BARS)
    if measured("train_tokens_per_s"):
        out.save("throughput_vs_length.png",
                 figures.metric_vs_train_length(per_task(stat("train_tokens_per_s")), "training tokens / s",
                                                "Training throughput"),
                 "Training throughput (tokens per second, validation excluded) against training length. " + ERROR_BARS)
    if measured("peak_mem_mb"):
        out.save("peak_memory_vs_length.png",
                 figures.metric_vs_train_length(per_task(stat("peak_mem_mb")), "peak memory (MB)", "Peak memory"),
                 "Peak memory during training against training length. " + ERROR_BARS)
