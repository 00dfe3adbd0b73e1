"""Which figures a report has: per task (accuracy against length, by slice, validation curves) and across tasks."""

from __future__ import annotations

from pathlib import Path

from compare.reporting import figures
from compare.reporting.findings import Cell, cells_of
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


def task_figures(out: FigureSet, task: str, by_model: dict[str, dict[int, Cell]], records: list[RunRecord]) -> None:
    """Accuracy against evaluated length, accuracy by each slice axis, and validation curves of one task."""
    curves: dict = {}
    for model, by_len in by_model.items():
        for L, cell in by_len.items():
            if cell.ladder():
                curves.setdefault(L, {})[model] = cell.ladder()
    if curves:
        out.save(f"accuracy_vs_length_{task}.png", figures.accuracy_vs_length(task, curves),
                 f"{task}: exact-sequence accuracy against evaluated length, one panel per training length. "
                 "Shaded: lengths up to the training length; hollow markers on dashed lines: extrapolation; "
                 "× on the axis: a length the model cannot take.")
    for axis in sorted({a for ms in by_model.values() for c in ms.values() for a in c.slices()}):
        by: dict = {}
        for model, by_len in by_model.items():
            for L, cell in by_len.items():
                if cell.slices().get(axis):
                    by.setdefault(L, {})[model] = cell.slices()[axis]
        out.save(f"accuracy_by_{axis}_{task}.png", figures.accuracy_by_slice(task, axis, by),
                 f"{task}: exact-sequence accuracy at the training length by {axis.replace('_', ' ')}.")
    val: dict = {}
    for r in records:
        if r.usable and r.row["task"] == task and r.val_curve:
            val.setdefault(int(r.row["train_length"]), {}).setdefault(r.row["model"], []).append(r.val_curve)
    if val:
        out.save(f"validation_curves_{task}.png", figures.validation_curves(task, val),
                 f"{task}: validation exact-sequence accuracy over training steps (from each run's TensorBoard events).")


def summary_figures(out: FigureSet, cells: dict[str, dict[str, dict[int, Cell]]]) -> None:
    """Accuracy, throughput and memory against training length, one line per model, every task."""
    def per_task(attr):
        return {t: {m: [(L, getattr(c, attr)) for L, c in by_len.items()] for m, by_len in ms.items()}
                for t, ms in cells.items()}

    def measured(attr) -> bool:
        return any(getattr(c, attr) for ms in cells.values() for by_len in ms.values() for c in by_len.values())

    out.save("accuracy_at_train_length.png",
             figures.metric_vs_train_length(per_task("val_seq_acc"), "exact-sequence accuracy",
                                            "Accuracy at the training length", ylim=(-0.05, 1.05)),
             "Validation exact-sequence accuracy at the length each run was trained on, one line per model.")
    if measured("tokens_per_s"):
        out.save("throughput_vs_length.png",
                 figures.metric_vs_train_length(per_task("tokens_per_s"), "training tokens / s", "Training throughput"),
                 "Training throughput (tokens per second, validation excluded) against training length.")
    if measured("peak_mem_mb"):
        out.save("peak_memory_vs_length.png",
                 figures.metric_vs_train_length(per_task("peak_mem_mb"), "peak memory (MB)", "Peak memory"),
                 "Peak memory during training against training length.")
