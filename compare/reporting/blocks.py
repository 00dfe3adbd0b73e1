"""The report's content as a list of blocks (heading, paragraph, list, table, figure, links), computed from the runs.

``page.py`` renders the same blocks as markdown and as HTML, so both say the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path

from compare.reporting.findings import (Cell, accuracy_sentences, cells_of, cost_sentence, run_summary_sentence,
                                        slice_sentences)
from compare.reporting.results_csv import device_of
from compare.runs.records import RunRecord

#: Figures drawn across tasks, in the order the report shows them.
SUMMARY_FIGURES = ("accuracy_at_train_length.png", "throughput_vs_length.png", "peak_memory_vs_length.png")


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _fmt(x, digits=2):
    return "" if x is None else f"{x:.{digits}f}"


def report_blocks(records: list[RunRecord], root: Path, out: Path, made: dict[str, str],
                  solved: float) -> list[tuple]:
    """The report's content, computed from the runs."""
    rows = [r.row for r in records if r.usable]
    cells = cells_of(rows)
    device = "/".join(sorted({device_of(r) for r in rows}) or ["unknown"])
    blocks: list[tuple] = [("h1", f"compare report: {root.resolve().name}"),
                           ("p", f"Built by compare-report from the results.json of each run under {root}. "
                                 + run_summary_sentence([r.status for r in records]))]
    blocks += findings_blocks(cells, rows, device, solved)
    for task in sorted(cells):
        blocks += task_blocks(task, cells[task], made)
    blocks += summary_blocks(made, device)
    blocks += explorer_blocks(records, out)
    blocks += run_table_blocks(records)
    return blocks


def findings_blocks(cells: dict, rows: list[dict], device: str, solved: float) -> list[tuple]:
    """'What the results show': accuracy, slice and cost sentences for every task."""
    sentences = []
    for task in sorted(cells):
        sentences += accuracy_sentences(task, cells[task], solved)
        sentences += slice_sentences(task, cells[task])
    for task in sorted(cells):
        for what in ("throughput", "memory"):
            s = cost_sentence(task, cells[task], what, device)
            if s:
                sentences.append(s)
    if "cpu" in device.split("/") and any(r.get("peak_mem_mb") for r in rows):
        sentences.append("On CPU, peak memory is the training process's peak resident set size; jobs run one "
                         "after another in one process (Hydra's basic launcher) carry over the peaks of earlier jobs.")
    return [("h2", "What the results show"),
            ("list", sentences) if sentences else ("p", "No run has finished yet, so there is nothing to compare.")]


def task_blocks(task: str, by_model: dict[str, dict[int, Cell]], made: dict[str, str]) -> list[tuple]:
    """One task's section: its figures, accuracy at every evaluated length, and its own metrics."""
    blocks: list[tuple] = [("h2", f"Task: {task}")]
    curves = f"validation_curves_{task}.png"
    blocks += [("figure", name, made[name]) for name in made
               if name.endswith(f"_{task}.png") and name != curves]
    if curves in made:
        blocks.append(("figure", curves, made[curves]))
    lengths = sorted({p["length"] for ms in by_model.values() for c in ms.values() for p in c.ladder()})
    table = []
    for model in sorted(by_model):
        for L, c in sorted(by_model[model].items()):
            acc = {p["length"]: p for p in c.ladder()}
            table.append([model, L, c.seeds, _fmt(c.val_seq_acc)]
                         + [("—" if acc[x]["seq_acc"] is None else _fmt(acc[x]["seq_acc"])) if x in acc else ""
                            for x in lengths])
    blocks.append(("table", ["model", "train length", "seeds", "val exact acc"] + [f"@{x}" for x in lengths], table))
    blocks.append(("p", "@N: exact-sequence accuracy at evaluated length N; — : the model cannot take that length."))
    metric_names = sorted({k for ms in by_model.values() for c in ms.values() for k in c.task_metrics()})
    if metric_names:
        blocks.append(("h3", f"Task-specific metrics ({task})"))
        blocks.append(("table", ["model", "train length"] + metric_names,
                       [[model, L] + [_fmt(c.task_metrics().get(k), 4) for k in metric_names]
                        for model in sorted(by_model) for L, c in sorted(by_model[model].items())]))
    return blocks


def summary_blocks(made: dict[str, str], device: str) -> list[tuple]:
    """The figures across tasks: accuracy at the training length, then cost."""
    blocks: list[tuple] = []
    for name in SUMMARY_FIGURES:
        if name in made:
            if name == "accuracy_at_train_length.png":
                blocks.append(("h2", "Across training lengths"))
            elif name == "throughput_vs_length.png":
                blocks.append(("h2", f"Cost ({device})"))
            blocks.append(("figure", name, made[name]))
    return blocks


def explorer_blocks(records: list[RunRecord], out: Path) -> list[tuple]:
    """Links to each run's attention explorer page, when there are any."""
    explorers = [r for r in records if (r.path / "attention.html").is_file()]
    if not explorers:
        return []
    return [("h2", "Attention explorers"),
            ("p", "Attention of every layer and head on the task's probe example (sliders for layer and head; "
                  "hover a cell for its weight):"),
            ("links", [(r.name, _relative(r.path / "attention.html", out)) for r in explorers])]


def run_table_blocks(records: list[RunRecord]) -> list[tuple]:
    """Runs that did not finish (with the reason), then every run in one table."""
    bad = [r for r in records if not r.usable]
    blocks: list[tuple] = [("h2", "Runs that did not finish")]
    blocks.append(("table", ["run", "status", "problem"], [[r.name, r.status, r.problem or ""] for r in bad])
                  if bad else ("p", "None: every run finished."))
    blocks.append(("h2", "All runs"))
    blocks.append(("table", ["run", "status", "task", "model", "train length", "params", "steps", "val exact acc",
                             "tokens/s", "peak MB", "wall s"],
                   [[r.name, r.status, (r.row or {}).get("task") or "", (r.row or {}).get("model") or "",
                     (r.row or {}).get("train_length") or "", (r.row or {}).get("params") or "",
                     (r.row or {}).get("steps") or "", _fmt((r.row or {}).get("val_seq_acc")),
                     _fmt((r.row or {}).get("train_tokens_per_s"), 0), _fmt((r.row or {}).get("peak_mem_mb"), 0),
                     _fmt((r.row or {}).get("wall_s"), 1)] for r in records]))
    return blocks
