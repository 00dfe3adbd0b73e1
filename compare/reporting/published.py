"""Published figures to print beside ours, with where each comes from, and the report blocks that show them.

bAbI: test accuracy on the 1,000 test questions of tasks 1-3 (``task_metrics.test_acc`` of the babi task), one
table per task id, our runs (mean ± 95% t half-width over seeds) above the published numbers.

The Chomsky-hierarchy transduction tasks (``compare.tasks.transduction``): Delétang et al. 2023's score, the
accuracy over the answer symbols averaged over test lengths longer than any trained on, beside its Table 2, with
the best seed (what the paper reports) and the mean over seeds.

Induction heads: accuracy at 1x, 2x, ... the training length, our cells above Gu & Dao's Table 11 at the same
multiples of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from compare.reporting.findings import Cell, cells_of
from compare.reporting.intervals import UNIT, Interval, per_seed, t_interval
from compare.tasks.transduction import LEVELS

WESTON_2015 = ("Weston et al. 2015, \"Towards AI-Complete Question Answering: A Set of Prerequisite Toy Tasks\", "
               "arXiv:1502.05698, Table 3 (LSTM baseline, 1k training questions)")
SUKHBAATAR_2015 = ("Sukhbaatar et al. 2015, \"End-To-End Memory Networks\", arXiv:1503.08895, Table 1 (best 1k "
                   "variant; the paper gives test error, about 0 / 8 / 40 % on tasks 1 / 2 / 3)")

HENAFF_2017 = ("Henaff et al. 2017, \"Tracking the World State with Recurrent Entity Networks\", arXiv:1612.03969, "
               "10k training questions; test error 0 / 0.1 / 4.1 % on tasks 1 / 2 / 3 as the authors' code "
               "(facebookarchive/MemNN, EntNet-babi/README.md) quotes the paper")


@dataclass(frozen=True)
class Published:
    """One published test accuracy on one task (a bAbI task id, or a task's name), the training it had, and its
    source; ``shown`` replaces the number where the source gives a bound rather than a value."""

    task_id: int | str
    train_set: str  # bAbI: "1k" or "10k" training questions; the Chomsky tasks: the training lengths
    model: str
    test_acc: float
    source: str
    shown: str | None = None

    def text(self) -> str:
        return self.shown or f"{self.test_acc:.2f}"


#: The published bAbI figures, as test accuracy (MemN2N's test error e printed as 1 - e).
BABI_PUBLISHED = (
    Published(1, "1k", "LSTM", 0.50, WESTON_2015),
    Published(2, "1k", "LSTM", 0.20, WESTON_2015),
    Published(3, "1k", "LSTM", 0.20, WESTON_2015),
    Published(1, "1k", "MemN2N", 1.00, SUKHBAATAR_2015),
    Published(2, "1k", "MemN2N", 0.92, SUKHBAATAR_2015),
    Published(3, "1k", "MemN2N", 0.60, SUKHBAATAR_2015),
    # 10k: the first model to solve every bAbI task on the 10k files; Weston et al.'s LSTM and MemN2N per-task 10k
    # figures could not be checked against their papers from here (README, bAbI), so they are not printed.
    Published(1, "10k", "EntNet", 1.00, HENAFF_2017),
    Published(2, "10k", "EntNet", 0.999, HENAFF_2017),
    Published(3, "10k", "EntNet", 0.959, HENAFF_2017),
)

TASK_NAMES = {1: "single supporting fact", 2: "two supporting facts", 3: "three supporting facts"}


def test_accuracy_by_support_distance(by_model: dict) -> dict[int, dict[str, dict[int, tuple]]]:
    """A task's cells' accuracy on every test question by support distance (``task_metrics``, bAbI), for
    ``figures.accuracy_by_slice``: {training length: {cell label: {distance bin: (mean, lo, hi)}}}; {} for tasks
    without it. lo and hi are None with one seed."""
    out: dict = {}
    for label, by_length in by_model.items():
        for length, cell in by_length.items():
            keys = {int(k) for r in cell.rows
                    for k in ((r.get("task_metrics") or {}).get("test_acc_by_support_distance") or {})}
            points = {}
            for k in sorted(keys):
                iv = t_interval(per_seed(cell.rows, lambda r, k=k: ((r.get("task_metrics") or {}).get(
                    "test_acc_by_support_distance") or {}).get(str(k))), UNIT)
                points[k] = (iv.mean, *iv.bar)
            if points:
                out.setdefault(length, {})[label] = points
    return out


def _metric(name: str):
    def get(row: dict):
        v = (row.get("task_metrics") or {}).get(name)
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
    return get


def babi_groups(rows: list[dict]) -> dict[int, dict[tuple[str, str], list[dict]]]:
    """Finished babi rows with a test accuracy: {task_id: {(cell label, train_set): rows}}, one entry per cell of
    the report (``cells_of``), so only runs of one configuration are pooled as seeds."""
    babi: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        settings = r.get("task_settings") or {}
        # Rows name a bAbI task babi_qa<id>[_10k]; the family name is in its settings.
        if (settings.get("name") or r.get("task")) == "babi" and _metric("test_acc")(r) is not None \
                and settings.get("task_id") is not None:
            babi.setdefault((int(settings["task_id"]), str(settings.get("train_set", "1k"))), []).append(r)
    out: dict[int, dict[tuple[str, str], list[dict]]] = {}
    for (task_id, train_set), group in babi.items():
        for by_label in cells_of(group).values():
            for label, by_length in by_label.items():
                for length, cell in by_length.items():
                    name = label if len(by_length) == 1 else f"{label} (length {length})"
                    out.setdefault(task_id, {})[(name, train_set)] = cell.rows
    return out


def babi_published_blocks(rows: list[dict]) -> list[tuple]:
    """A table per bAbI task id: our test accuracy per model and training set, then each published figure."""
    groups = babi_groups(rows)
    if not groups:
        return []
    blocks: list[tuple] = [
        ("h2", "bAbI beside the published figures"),
        ("p", "Test accuracy on every question of the task's test file (1,000 questions), each story cut to its "
              "most recent statements that fit the input as in training (MemN2N's protocol). Ours: mean over "
              "seeds, with each seed's value in brackets (2-4 seeds) or ± the 95% t half-width (5 or more); \"best seed\": the "
              "highest seed, since MemN2N's table reports the best of 10 runs. \"support cut\": the share of test "
              "questions that lost a supporting statement to that cut, which no model can answer from the input "
              "alone. Published numbers are as printed in their source (MemN2N's error e as 1 − e).")]
    for task_id in sorted(groups):
        table = []
        for (model, train_set), group in sorted(groups[task_id].items(), key=lambda kv: (kv[0][1] != "1k", kv[0])):
            acc = t_interval(per_seed(group, _metric("test_acc")), UNIT)
            cut = t_interval(per_seed(group, _metric("test_support_lost_share")), UNIT)
            table.append(["ours", model, train_set, acc.n, acc.text(), f"{acc.best:.2f}", cut.text(), "this sweep"])
        for p in BABI_PUBLISHED:
            if p.task_id == task_id:
                table.append(["published", p.model, p.train_set, "", p.text(), "", "", p.source])
        name = TASK_NAMES.get(task_id)
        blocks.append(("h3", f"bAbI qa{task_id}" + (f" ({name})" if name else "")))
        blocks.append(("table", ["", "model", "training questions", "seeds", "test accuracy", "best seed", "support cut",
                                 "source"], table))
    return blocks


DELETANG_TABLE2 = ("Delétang et al. 2023, \"Neural Networks and the Chomsky Hierarchy\", arXiv:2207.02098, Table 2 "
                   "(best of 10 seeds and 3 learning rates; the transformer also best of 5 position encodings), as "
                   "transcribed in Xu et al. 2025, \"DeltaFormer: Unlock the State Space of Transformer\", Table 5: the "
                   "paper's own table could not be read here")
DELETANG_REGULAR = ("Delétang et al. 2023, arXiv:2207.02098, Appendix B.1: \"all the networks, except for "
                    "Transformers, solve all regular tasks perfectly for all the seeds\"")
DELETANG_CYCLE = "Delétang et al. 2023, arXiv:2207.02098, Appendix B.3.2: the transformer's 61.9% on Cycle Navigation"
DELETANG_EVEN = ("Delétang et al. 2023, arXiv:2207.02098, Section 5.4: the transformer solves Even Pairs (a score "
                 "of at least 90%, the paper's line for solved); the number itself was not found in a readable copy")
#: Delétang et al. 2023's scores (share of answer symbols right, averaged over test lengths 41-500 after training on
#: 1-40, best of 10 seeds), for the RNN, the LSTM and the transformer on the tasks built here.
CHOMSKY_PUBLISHED = (
    Published("even_pairs", "1-40", "RNN", 1.00, DELETANG_REGULAR),
    Published("even_pairs", "1-40", "LSTM", 1.00, DELETANG_REGULAR),
    Published("even_pairs", "1-40", "Transformer", 0.90, DELETANG_EVEN, "≥ 0.90"),
    Published("modular_arithmetic", "1-40", "RNN", 1.00, DELETANG_TABLE2),
    Published("modular_arithmetic", "1-40", "LSTM", 1.00, DELETANG_TABLE2),
    Published("modular_arithmetic", "1-40", "Transformer", 0.242, DELETANG_TABLE2),
    Published("parity_check", "1-40", "RNN", 1.00, DELETANG_TABLE2),
    Published("parity_check", "1-40", "LSTM", 1.00, DELETANG_TABLE2),
    Published("parity_check", "1-40", "Transformer", 0.520, DELETANG_TABLE2),
    Published("cycle_navigation", "1-40", "RNN", 1.00, DELETANG_REGULAR),
    Published("cycle_navigation", "1-40", "LSTM", 1.00, DELETANG_REGULAR),
    Published("cycle_navigation", "1-40", "Transformer", 0.619, DELETANG_CYCLE),
    Published("stack_manipulation", "1-40", "RNN", 0.560, DELETANG_TABLE2),
    Published("stack_manipulation", "1-40", "LSTM", 0.591, DELETANG_TABLE2),
    Published("stack_manipulation", "1-40", "Transformer", 0.575, DELETANG_TABLE2),
    Published("reverse_string", "1-40", "RNN", 0.620, DELETANG_TABLE2),
    Published("reverse_string", "1-40", "LSTM", 0.609, DELETANG_TABLE2),
    Published("reverse_string", "1-40", "Transformer", 0.623, DELETANG_TABLE2),
    Published("duplicate_string", "1-40", "RNN", 0.503, DELETANG_TABLE2),
    Published("duplicate_string", "1-40", "LSTM", 0.576, DELETANG_TABLE2),
    Published("duplicate_string", "1-40", "Transformer", 0.528, DELETANG_TABLE2),
)
#: Our model (results row ``model``) -> the column of the paper's table it stands beside.
PAPER_MODELS = {"rnn": "RNN", "lstm": "LSTM", "transformer": "Transformer"}
#: The paper's line for "solved" (its Table 2 puts scores of 90% and more in bold).
SOLVED = 0.90
#: Tasks in the order of the paper's Table 2.
TABLE2_ORDER = ("even_pairs", "modular_arithmetic", "parity_check", "cycle_navigation", "stack_manipulation",
                "reverse_string", "duplicate_string")


def chomsky_cells(rows: list[dict]) -> dict[str, list[Cell]]:
    """The report's cells of the transduction tasks, {task: [cell, ...]} in the paper's task order, each task's
    cells in the paper's column order (RNN, LSTM, transformer), then the others by label."""
    levels = {r["task"]: (r.get("task_settings") or {}).get("level") for r in rows}
    tasks = [t for t, level in levels.items() if level in LEVELS]
    cells = cells_of([r for r in rows if r["task"] in tasks])
    order = list(PAPER_MODELS)

    def task_key(t):
        return (LEVELS.index(levels[t]), TABLE2_ORDER.index(t) if t in TABLE2_ORDER else len(TABLE2_ORDER), t)

    def cell_key(c: Cell):
        model = c.rows[0]["model"]
        return (order.index(model) if model in order else len(order), c.model, c.train_length)
    return {t: sorted((c for by_length in cells[t].values() for c in by_length.values()), key=cell_key)
            for t in sorted(cells, key=task_key)}


def published_score(task: str, model: str) -> Published | None:
    """The paper's score for our ``model`` (results row name) on ``task``, if it gives one."""
    paper = PAPER_MODELS.get(model)
    return next((p for p in CHOMSKY_PUBLISHED if p.task_id == task and p.model == paper), None)


def _lengths(c: Cell) -> str:
    beyond = sorted({int(p["length"]) for r in c.rows for p in r.get("ladder") or []
                     if int(p["length"]) > c.train_range[1]})
    if not beyond:
        return "—"
    return f"{beyond[0]}–{beyond[-1]} ({len(beyond)} lengths)"


def differs(ours: Interval, paper: Published) -> bool:
    """Whether our best seed and the paper's score tell another story: one at or above the paper's line for
    solved and the other below it, or more than 0.10 apart."""
    if ours.best is None:
        return False
    return (ours.best >= SOLVED) != (paper.test_acc >= SOLVED) or abs(ours.best - paper.test_acc) > 0.10


def chomsky_published_blocks(rows: list[dict]) -> list[tuple]:
    """One table of every transduction task and model: our score (mean over seeds and best seed) beside
    Delétang et al.'s Table 2, then a sentence for each cell where ours tells another story than the paper."""
    by_task = chomsky_cells(rows)
    if not by_task:
        return []
    table, notes, sources = [], [], []
    for task, cells in by_task.items():
        for c in cells:
            settings = c.rows[0].get("task_settings") or {}
            score, exact = c.beyond_accuracy("token_acc"), c.beyond_accuracy("seq_acc")
            model = c.rows[0]["model"]
            paper = published_score(task, model)
            if paper is not None and paper.source not in sources:
                sources.append(paper.source)
            table.append([settings.get("level", ""), settings.get("title", task), c.model,
                          f"{c.train_range[0]}–{c.train_range[1]}", _lengths(c), c.seeds,
                          c.stat("val_token_acc").text(),
                          score.text() if score else "—",
                          f"{score.best:.2f}" if score and score.best is not None else "—",
                          exact.text() if exact else "—",
                          f"{paper.text()} [{sources.index(paper.source) + 1}]" if paper else "—"])
            if paper is not None and score is not None and differs(score, paper):
                notes.append(f"{settings.get('title', task)}, {c.model}: our best seed scores {score.best:.2f} "
                             f"(mean {score.text()}) where the paper has {paper.text()}.")
    blocks: list[tuple] = [
        ("h2", "Chomsky hierarchy beside Delétang et al. 2023"),
        ("p", "Each task is posed as in the paper: the string, then one blank per answer symbol, and the answer read "
              "at the blanks, all at once; nothing else is scored. Score: the share of answer symbols right (the "
              "paper's per-sequence accuracy), averaged over the evaluated lengths longer than any trained on, per "
              "seed. \"score (mean)\": over seeds, each seed's value in brackets (2-4 seeds) or ± the 95% t "
              "half-width (5 or more); \"score (best seed)\": the highest seed, which is what the paper's Table 2 "
              "reports (the best of 10 seeds). \"all symbols right\": the share of answers with every symbol right, "
              "averaged the same way (the same number where the answer is one symbol). \"in range\": the share of "
              "answer symbols right on the validation set, which spans the training lengths: a model that did not "
              "fit them was not trained long enough to say anything beyond them. The paper trains on lengths 1-40 "
              "for 1,000,000 steps and tests on 41-500; \"trained on\" and \"tested on\" give ours."),
        ("table", ["level", "task", "model", "trained on", "tested on", "seeds", "in range", "score (mean)",
                   "score (best seed)", "all symbols right", "Delétang et al. 2023"], table),
        ("p", "Published scores: " + "; ".join(f"[{i + 1}] {s}" for i, s in enumerate(sources)) + "."
         if sources else "No published score for these models.")]
    if notes:
        blocks.append(("p", "Where ours differs from the paper (the best seed and the paper's score on two sides of "
                            f"{SOLVED:.2f}, the paper's line for solved, or more than 0.10 apart):"))
        blocks.append(("list", notes))
    return blocks


GU_DAO_2023 = ("Gu & Dao 2023, \"Mamba: Linear-Time Sequence Modeling with Selective State Spaces\", arXiv:2312.00752 "
               "(v2), Table 11: 2 layers, vocabulary 16, trained at 256 tokens (batch 8, 200k-400k steps), accuracy (%) "
               "at 2^6 ... 2^20 tokens; a check mark (perfect accuracy) is printed here as 100")
#: Gu & Dao's training length and Table 11 at 1x, 2x, 4x, 8x and 16x it (256 ... 4,096 tokens), in %.
GU_DAO_TRAIN_LENGTH = 256
INDUCTION_HEADS_PUBLISHED = {
    "MHA-Abs (137k)": (100.0, 58.6, 26.6, 18.8, 9.8),
    "MHA-RoPE (137k)": (100.0, 83.6, 31.3, 18.4, 8.6),
    "MHA-xPos (137k)": (100.0, 99.6, 67.6, 25.4, 7.0),
    "H3 (153k)": (100.0, 80.9, 39.5, 23.8, 14.8),
    "Hyena (69M)": (100.0, 100.0, 44.1, 12.5, 6.6),
    "Mamba (74k)": (100.0, 100.0, 100.0, 100.0, 100.0),
}


def induction_heads_published_blocks(rows: list[dict]) -> list[tuple]:
    """Our induction-heads cells at 1x, 2x, ... their training length, then Table 11 at the same multiples."""
    cells = cells_of([r for r in rows if r.get("task") == "induction_heads"]).get("induction_heads", {})
    if not cells:
        return []
    multiples = [2 ** k for k in range(len(next(iter(INDUCTION_HEADS_PUBLISHED.values()))))]
    table = []
    for label in sorted(cells):
        for length, c in sorted(cells[label].items()):
            by_length = {p["length"]: p["seq_acc"] for p in c.ladder()}
            accs = ["" if by_length.get(length * m) is None else f"{100 * by_length[length * m]:.1f}"
                    for m in multiples]
            table.append(["ours", label, length, c.seeds, *accs])
    for model, accs in INDUCTION_HEADS_PUBLISHED.items():
        table.append(["Gu & Dao 2023", model, GU_DAO_TRAIN_LENGTH, "", *(f"{a:.1f}" for a in accs)])
    return [("h2", "Induction heads beside Gu & Dao 2023"),
            ("table", ["", "model", "trained at", "seeds", *(f"{m}x" for m in multiples)], table),
            ("p", "Accuracy (%) of the answer after the final trigger on the evaluation set at each multiple of the "
                  "training length (ours: mean over seeds; empty: not evaluated there). Published: " + GU_DAO_2023
                  + ". Ours train at a shorter length, for fewer steps and at other sizes: compare the fall past "
                  "1x, not the rows.")]
