"""The report's content as a list of blocks (heading, paragraph, list, table, figure, links), computed from the runs.

``page.py`` renders the same blocks as markdown and as HTML, so both say the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path

from compare.reporting.findings import (Cell, accuracy_sentences, by_axis, cells_of, cost_sentence, fmt_lr,
                                        lr_sentences, run_summary_sentence, slice_sentences)
from compare.reporting.frontier import frontier_blocks
from compare.reporting.headline import headline_blocks
from compare.reporting.published import (babi_published_blocks, chomsky_published_blocks,
                                         induction_heads_published_blocks)
from compare.reporting.results_csv import device_of
from compare.reporting.scaling import (curve_axes, headline, metric_name, position_sentences, position_table,
                                      scaling_sentences, scored_by, scored_by_loss)
from compare.runs.records import RunRecord, unfinished_summary

#: Figures drawn across tasks, in the order the report shows them.
SUMMARY_FIGURES = ("accuracy_vs_length.png", "accuracy_at_train_length.png", "throughput_vs_length.png",
                   "peak_memory_vs_length.png")


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
    if unfinished := unfinished_summary(records):
        blocks.append(("p", unfinished + "."))
    blocks += headline_blocks(cells, device, solved)
    blocks += findings_blocks(cells, rows, device, solved)
    blocks += babi_published_blocks(rows)
    blocks += chomsky_published_blocks(rows)
    blocks += induction_heads_published_blocks(rows)
    for task in sorted(cells):
        blocks += task_blocks(task, cells[task], made)
    blocks += summary_blocks(made, device)
    blocks += explorer_blocks(records, out)
    blocks += run_table_blocks(records)
    return blocks


def findings_blocks(cells: dict, rows: list[dict], device: str, solved: float) -> list[tuple]:
    """The mechanism table, then 'What the results show': accuracy, comparison, rate, slice and cost sentences."""
    sentences = []
    for task in sorted(cells):
        sentences += lr_sentences(task, cells[task])
        # A task scored by its loss (language modelling) has no exact-sequence accuracy worth comparing: every
        # window of 256 bytes is 0; scaling_sentences compares its validation loss instead.
        if not scored_by_loss(*(c for by_len in cells[task].values() for c in by_len.values())):
            sentences += accuracy_sentences(task, cells[task], solved)
        sentences += slice_sentences(task, cells[task])
        sentences += scaling_sentences(task, cells[task]) + position_sentences(task, cells[task])
    for task in sorted(cells):
        for what in ("throughput", "memory"):
            s = cost_sentence(task, cells[task], what, device)
            if s:
                sentences.append(s)
    if "cpu" in device.split("/") and any(r.get("peak_mem_mb") for r in rows):
        sentences.append("On CPU, peak memory is the training process's peak resident set size; jobs run one "
                         "after another in one process (Hydra's basic launcher, or one joblib worker) carry over the peaks of "
                         "earlier jobs.")
    blocks = mechanism_blocks(cells, device)
    blocks += [("h2", "What the results show"), ("p", STATISTICS)]
    # Folded in report.html under one line, so the page opens with "In short" and the mechanism table.
    blocks.append(("list", sentences, f"Every finding, each with the numbers it rests on ({len(sentences)})")
                  if sentences else ("p", "No run has finished yet, so there is nothing to compare."))
    return blocks + lr_search_blocks(cells)


#: How the report pools seeds and when it calls a difference, said once under "What the results show".
STATISTICS = ("Runs are pooled as seeds only when their configurations are equal but for the seed and the "
              "settings that cannot change what is trained or measured (output paths, threads, logging, ...: "
              "compare.reporting.cell_keys.SET_ASIDE); a setting that differs is part of the row's label. A "
              "number is the mean over seeds. With 2–4 seeds each seed's value follows in brackets, "
              "\"0.78 (0.64, 0.91)\"; with 5 or more, \"± h\" is the half-width of the 95% Student's t interval "
              "on the per-seed values (t quantile at n−1 degrees of freedom × sample standard deviation / √n), "
              "written [lo, hi] where it is cut to what the metric can take (0–1 for an accuracy). With 1 seed "
              "there is no interval. One model is said to beat another only when their 95% intervals (printed "
              "in the sentence) do not overlap; otherwise the report says there is no clear difference.")


def _yes_no(x) -> str:
    return "n/a" if x is None else ("yes" if x else "no")


def _count(x) -> str:
    return "n/a" if x is None else f"{int(x):,}"


def mechanism_blocks(cells: dict, device: str) -> list[tuple]:
    """Each model's mechanism (parallel over time, sequential depth, state size) beside its measured results."""
    table = []
    for task in sorted(cells):
        for L in sorted({L for ms in cells[task].values() for L in ms}):
            for model in sorted(m for m, ms in cells[task].items() if L in ms):
                c = cells[task][model][L]
                mech, beyond = c.mechanism(), c.beyond_accuracy()
                rate = c.stat("train_tokens_per_s")
                acc = c.accuracy()
                loss = scored_by_loss(c)
                result = f"val loss {headline(c).text(3)}" if loss else acc.text()
                table.append([task, L, model, _yes_no(mech["parallel_over_time"]), _count(mech["sequential_depth"]),
                              _count(mech["state_size"]), c.seeds, result,
                              _fmt(acc.best) if acc.n > 1 and not loss else "",
                              "—" if beyond is None or loss else beyond.text(),
                              rate.text(fmt=lambda x: f"{x:,.0f}")])
    if not table:
        return []
    return [("h2", "Mechanism and result, per model"),
            ("table", ["task", "train length T", "model", "parallel over time", "sequential depth",
                       "state size", "seeds", "accuracy at T", "best seed at T", "accuracy beyond T", "tokens/s"],
             table),
            ("p", "Parallel over time: whether a layer computes all T positions at once in training (attention, "
                  "linear attention, parallel scans) or one after another (LSTM, GRU, RNN cells). Sequential depth "
                  "and state size are those of one input at training length T, which is N tokens long (N = 2T "
                  "for copy, the task's seq_len for mqar): sequential depth is the steps its forward pass must take "
                  "one after another: N × layers for an LSTM, GRU or RNN, ⌈log2 N⌉ × layers for a parallel scan "
                  "(minGRU, minLSTM), layers for attention. State size: the numbers carried per sequence while "
                  "reading: h and c per layer for "
                  "an LSTM, h per layer for the other recurrences, a d_head × d_head matrix and a normaliser per "
                  "head and layer for linear attention, and for a transformer its key-value cache, 2 × d_model per "
                  "layer for every visible token, which grows with N (or stops at the window). n/a: the run's "
                  "results predate these fields. Accuracy at T: exact-sequence accuracy at the training length "
                  "(validation set; the evaluation set at T where a learning rate was chosen on validation, or where "
                  "the run trained on a range of lengths, whose validation set spans the range), or for a task scored by its "
                  "loss (text_lm) the validation loss in nats per token, lower is better; "
                  f"accuracy beyond T: its mean over the ladder's lengths longer than any trained on (— : none "
                  f"evaluated); best seed at T: the highest seed's accuracy at T (published tables such as Delétang et al. "
                  f"2023 report the best of their seeds); tokens/s: training throughput on {device}. Brackets: "
                  f"each seed's value; ± : 95% t half-width over 5 or more seeds.")]


def lr_search_blocks(cells: dict) -> list[tuple]:
    """The validation score of every learning rate tried, for cells whose sweep searched the rate."""
    table = []
    for task in sorted(cells):
        for model in sorted(cells[task]):
            for L, c in sorted(cells[task][model].items()):
                if c.lr_search is None:
                    continue
                for lr in c.lr_search.grid:
                    acc, loss = c.lr_search.scores[lr]
                    table.append([task, L, model, fmt_lr(lr), acc.n, acc.text(), loss.text(3),
                                  "chosen" if lr == c.lr_search.chosen else ""])
    if not table:
        return []
    return [("h2", "Learning-rate search"),
            ("p", "Each model is compared at the learning rate that did best on the validation set (highest mean "
                  "exact-sequence accuracy; ties go to the lower mean validation loss). The accuracies the report "
                  "compares are then taken on the length ladder's evaluation sets, which are drawn from a different "
                  "random stream (another salt of the task's seed, see Task.eval_set and Task.validation_set) than "
                  "the validation set the rate was chosen on, so the comparison is not scored on the numbers it "
                  "was selected by. For short sequences over a small vocabulary the two draws can still share "
                  "some sequences by chance."),
            ("table", ["task", "train length", "model", "lr", "seeds", "val exact acc", "val loss", ""], table)]


def task_blocks(task: str, by_model: dict[str, dict[int, Cell]], made: dict[str, str]) -> list[tuple]:
    """One task's section: its figures, accuracy at every evaluated length (mean ± 95% t), and its own metrics."""
    blocks: list[tuple] = [("h2", f"Task: {task}")]
    summaries = {(r.get("task_settings") or {}).get("summary") for cs in by_model.values() for c in cs.values()
                 for r in c.rows} - {None}
    if len(summaries) == 1:
        blocks.append(("p", f"What it asks: {summaries.pop()}"))
    curves = f"validation_curves_{task}.png"
    blocks += [("figure", name, made[name]) for name in made
               if name.endswith(f"_{task}.png") and name != curves]
    if curves in made:
        blocks.append(("figure", curves, made[curves]))
    cells = [(model, L, c) for model in sorted(by_model) for L, c in sorted(by_model[model].items())]
    lengths = sorted({p["length"] for _, _, c in cells for p in c.ladder()})
    searched = any(c.lr_search for _, _, c in cells)
    ranged = any(c.train_range[0] != c.train_range[1] for _, _, c in cells)
    loss = scored_by_loss(*(c for _, _, c in cells))
    table = []
    for model, L, c in cells:
        acc = {p["length"]: p for p in c.ladder()}
        cols = [model, L] + ([f"{c.train_range[0]}–{c.train_range[1]}"] if ranged else [])
        cols += [c.seeds] + ([fmt_lr(c.lr) if c.lr is not None else ""] if searched else [])
        table.append(cols + [headline(c).text(3) if loss else c.stat("val_seq_acc").text()]
                     + [_ladder_cell(acc[x]) if x in acc else "" for x in lengths])
    headers = (["model", "train length"] + (["trained on"] if ranged else []) + ["seeds"]
               + (["lr (chosen)"] if searched else []) + ["val loss" if loss else "val exact acc"]
               + [f"@{x}" for x in lengths])
    blocks.append(("table", headers, table))
    blocks.append(("p", ("val loss: validation loss in nats per token, lower is better; @N: accuracy of the next "
                         "token after N tokens of context" if loss else
                         "@N: exact-sequence accuracy") + " on the evaluation set at evaluated length N; — : the model "
                        "cannot take that length; no sample: the evaluation set has none that long. Mean over seeds, "
                        "each seed's value in brackets (2–4 seeds) or ± the 95% t half-width (5 or more)."))
    blocks += axis_blocks(task, by_model)
    blocks += frontier_blocks(task, by_model)
    blocks += position_table(task, by_model)
    metric_names = sorted({k for _, _, c in cells for k in c.task_metrics()})
    if metric_names:
        blocks.append(("h3", f"Task-specific metrics ({task})"))
        blocks.append(("table", ["model", "train length"] + metric_names,
                       [[model, L] + [_metric(c, k) for k in metric_names] for model, L, c in cells]))
    return blocks


def axis_blocks(task: str, by_model: dict[str, dict[int, Cell]]) -> list[tuple]:
    """For each numeric setting that differs between this task's cells: accuracy at the training length with that
    setting across, one row per configuration otherwise equal."""
    blocks: list[tuple] = []
    for axis in curve_axes(by_model):
        lines = by_axis(by_model, axis)
        some = next(c for cs in by_model.values() for c in cs.values())
        values = sorted({v for by_label in lines.values() for vs in by_label.values() for v in vs})
        table = [[label, L] + [headline(vs[v]).text() if v in vs else "" for v in values]
                 for L, by_label in sorted(lines.items()) for label, vs in sorted(by_label.items())]
        blocks += [("h3", f"{task}: {scored_by(some)} against {axis}"),
                   ("table", ["configuration", "train length"] + [f"{axis}={v}" for v in values], table),
                   ("p", f"{metric_name(some).capitalize()} at the training length (for accuracy as in the mechanism "
                         f"table) for each value of {axis}; a row is one configuration otherwise equal, named without "
                         f"{axis}.")]
    return blocks


def _metric(c: Cell, name: str) -> str:
    metrics = c.task_metrics()
    return metrics[name].text(4) if name in metrics else ""


def _ladder_cell(p: dict) -> str:
    if p["seq_acc"] is None:
        return "—" if not p.get("supported", False) else "no sample"
    return p["interval"].text()


def summary_blocks(made: dict[str, str], device: str) -> list[tuple]:
    """The figures across tasks: every task's accuracy against length, accuracy at the training length, then cost."""
    blocks: list[tuple] = []
    for name in SUMMARY_FIGURES:
        if name in made:
            if name == "accuracy_vs_length.png":
                blocks.append(("h2", "Every task against length"))
            elif name == "accuracy_at_train_length.png":
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
            ("links", [(r.name, _relative(r.path / "attention.html", out)) for r in explorers]),
            ("p", "To type your own inputs and watch every model answer live: compare-lab "
                  f"{os.path.commonpath([str(r.path) for r in records])}")]


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
