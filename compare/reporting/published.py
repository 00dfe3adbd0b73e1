"""Published figures to print beside ours, with where each comes from, and the report blocks that show them.

Only bAbI so far: test accuracy on the 1,000 test questions of tasks 1-3 (``task_metrics.test_acc`` of the
babi task), one table per task id, our runs (mean ± 95% t half-width over seeds) above the published numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from compare.reporting.findings import cells_of
from compare.reporting.intervals import UNIT, per_seed, t_interval

WESTON_2015 = ("Weston et al. 2015, \"Towards AI-Complete Question Answering: A Set of Prerequisite Toy Tasks\", "
               "arXiv:1502.05698, Table 3 (LSTM baseline, 1k training questions)")
SUKHBAATAR_2015 = ("Sukhbaatar et al. 2015, \"End-To-End Memory Networks\", arXiv:1503.08895, Table 1 (best 1k "
                   "variant; the paper gives test error, about 0 / 8 / 40 % on tasks 1 / 2 / 3)")


@dataclass(frozen=True)
class Published:
    """One published test accuracy on one bAbI task, and its source."""

    task_id: int
    train_set: str  # "1k" or "10k" training questions
    model: str
    test_acc: float
    source: str


#: The published bAbI figures, as test accuracy (MemN2N's test error e printed as 1 - e).
BABI_PUBLISHED = (
    Published(1, "1k", "LSTM", 0.50, WESTON_2015),
    Published(2, "1k", "LSTM", 0.20, WESTON_2015),
    Published(3, "1k", "LSTM", 0.20, WESTON_2015),
    Published(1, "1k", "MemN2N", 1.00, SUKHBAATAR_2015),
    Published(2, "1k", "MemN2N", 0.92, SUKHBAATAR_2015),
    Published(3, "1k", "MemN2N", 0.60, SUKHBAATAR_2015),
)

TASK_NAMES = {1: "single supporting fact", 2: "two supporting facts", 3: "three supporting facts"}


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
                table.append(["published", p.model, p.train_set, "", f"{p.test_acc:.2f}", "", "", p.source])
        name = TASK_NAMES.get(task_id)
        blocks.append(("h3", f"bAbI qa{task_id}" + (f" ({name})" if name else "")))
        blocks.append(("table", ["", "model", "training questions", "seeds", "test accuracy", "best seed", "support cut",
                                 "source"], table))
    return blocks
