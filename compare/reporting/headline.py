"""The report's opening, "In short": the story the numbers tell, in a few sentences computed from the cells.

Per task it sets the best attention model against the best model with a fixed-size state (the recurrences, linear
attention and every other model that squeezes what it read into a state of fixed size) at the longest training
length both ran at, and calls a winner by the report's own rule (``findings.verdict``: 95% intervals that do not
overlap). Then what each model cost on this hardware, and what the numbers cannot carry: one seed, intervals
that overlap, a budget too small to separate the models. Every number in it is also in the findings below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from statistics import median

from hydra.utils import get_object

from compare.reporting.findings import BEATS, NO_VALUE, ONE_SEED, OVERLAP, Cell, _rate, verdict
from compare.reporting.intervals import Interval
from compare.reporting.scaling import headline, scored_by_loss

#: At most this many models are named in the cost sentence (the fastest and slowest are kept).
MAX_COST_MODELS = 6


def is_attention(cell: Cell) -> bool:
    """Whether the cell's model reads by attention over every token it read (a key-value cache that grows with the
    input, or stops at a window); every other model carries a state of fixed size.

    The model class says so through the model contract: ``returns_attention`` (forward can return one
    (time x time) map per layer: each position's weights over every earlier one), read from the class named by the
    row's ``config.model._target_``, so a new model is placed by its own class, not by a list kept here."""
    return any(_returns_attention(((r.get("config") or {}).get("model") or {}).get("_target_")) for r in cell.rows)


@cache
def _returns_attention(target: str | None) -> bool:
    if not target:
        return False
    try:
        return getattr(get_object(target), "returns_attention", False) is True
    except Exception:  # noqa: BLE001 - a class an old results.json names that is gone now: no attention claimed
        return False


@dataclass
class Contest:
    """One task at one training length: the best attention model against the best fixed-state one."""

    task: str
    length: int
    attention: tuple[str, Interval]
    fixed: tuple[str, Interval]
    outcome: str  # findings.verdict of the two
    by_loss: bool = False  # scored by validation loss (lower is better), not accuracy

    @property
    def attention_ahead(self) -> bool:
        a, f = self.attention[1].mean, self.fixed[1].mean
        return a <= f if self.by_loss else a >= f

    @property
    def margin(self) -> float:
        """How far the winner is ahead, in the task's own metric."""
        return abs(self.attention[1].mean - self.fixed[1].mean)

    @property
    def level(self) -> bool:
        """Whether the two means are equal as the headline prints them (two decimals)."""
        return f"{self.attention[1].mean:.2f}" == f"{self.fixed[1].mean:.2f}"

    @property
    def winner(self) -> tuple[str, Interval]:
        return self.attention if self.attention_ahead else self.fixed

    @property
    def loser(self) -> tuple[str, Interval]:
        return self.fixed if self.attention_ahead else self.attention

    def numbers(self) -> str:
        (w, iw), (l, il) = self.winner, self.loser
        return f"{w} {iw.mean:.2f} against {l} {il.mean:.2f}" + (" validation loss" if self.by_loss else "")

    def where(self) -> str:
        return f"{self.task} at length {self.length}"


def _best(cells: dict[str, Cell], by_loss: bool) -> tuple[str, Interval] | None:
    """The best model by the task's headline number: the lowest validation loss or the highest accuracy."""
    scored = [(m, iv) for m, c in sorted(cells.items()) if (iv := headline(c)).mean is not None]
    return (min if by_loss else max)(scored, key=lambda p: p[1].mean, default=None)


def contests(cells: dict[str, dict[str, dict[int, Cell]]]) -> tuple[list[Contest], list[str]]:
    """(contests, tasks where only one kind of model ran) over every task, each at its longest training length
    where both kinds ran."""
    out, one_kind = [], []
    for task in sorted(cells):
        lengths = sorted({L for by_len in cells[task].values() for L in by_len}, reverse=True)
        for L in lengths:
            at_L = {m: by_len[L] for m, by_len in cells[task].items() if L in by_len}
            by_loss = scored_by_loss(*at_L.values())
            att = _best({m: c for m, c in at_L.items() if is_attention(c)}, by_loss)
            fixed = _best({m: c for m, c in at_L.items() if not is_attention(c)}, by_loss)
            if att and fixed:
                out.append(Contest(task, L, att, fixed, verdict(att[1], fixed[1]), by_loss))
                break
        else:
            one_kind.append(task)
    return out, one_kind


def _count(n: float) -> str:
    """A parameter count as people say it: 50k, 1.2M."""
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}k" if n >= 1e3 else f"{n:.0f}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _range(values: list[float], fmt) -> str:
    lo, hi = min(values), max(values)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}–{fmt(hi)}"


def story_sentences(found: list[Contest], one_kind: list[str], cells: dict) -> list[str]:
    """Where attention wins and by how much, where recurrence wins, and where neither is clearly ahead."""
    out = []
    attention = [c for c in found if c.outcome == BEATS and c.attention_ahead]
    fixed = [c for c in found if c.outcome == BEATS and not c.attention_ahead]
    if attention:
        out.append("Attention wins on " + _join([
            f"{c.where()} ({c.numbers()}, the best model with a fixed-size state: {c.margin:.2f} ahead)"
            for c in attention]) + ".")
    if fixed:
        out.append("Recurrence (a fixed-size state) wins on " + _join([
            f"{c.where()} ({c.numbers()}, the best attention model: {c.margin:.2f} ahead)" for c in fixed]) + ".")
    unclear = [c for c in found if c.outcome == OVERLAP]
    if unclear:
        out.append("No clear winner on " + _join([f"{c.where()} ({c.numbers()})" for c in unclear])
                   + ": the 95% intervals overlap.")
    single = [c for c in found if c.outcome == ONE_SEED and not c.level]
    if single:
        out.append("Ahead on one seed, with no interval to judge it by: " + _join(
            [f"{c.winner[0]} on {c.where()} ({c.numbers()})" for c in single]) + ".")
    level = [c for c in found if c.outcome == ONE_SEED and c.level]
    if level:
        out.append("Level on one seed: " + _join(
            [f"{c.attention[0]} and {c.fixed[0]} on {c.where()} (both {c.attention[1].mean:.2f})" for c in level])
            + ".")
    if found and not (attention or fixed):
        out.insert(0, "Neither attention nor a fixed-size state wins any task here by the report's rule (95% "
                      "intervals that do not overlap).")
    if one_kind:
        kinds = []
        for task in one_kind:
            any_cell = next(c for by_len in cells[task].values() for c in by_len.values())
            kinds.append(f"{task} ({'attention models' if is_attention(any_cell) else 'fixed-state models'} only)")
        out.append(f"Only one kind of model ran on {_join(kinds)}, so there the report compares them with each "
                   "other, not attention with recurrence.")
    return out


def cost_sentence(cells: dict, device: str) -> str | None:
    """Training tokens/s per model on this hardware, and what it does not say about a GPU."""
    rates: dict[str, list[float]] = {}
    for by_model in cells.values():
        for model, by_len in by_model.items():
            for c in by_len.values():
                if c.tokens_per_s is not None:
                    rates.setdefault(model, []).append(c.tokens_per_s)
    if not rates:
        return None
    ranked = sorted(rates, key=lambda m: -median(rates[m]))
    if len(ranked) > MAX_COST_MODELS:
        ranked = ranked[:MAX_COST_MODELS - 1] + ranked[-1:]
    parts = [f"{m} {_range(rates[m], _rate)}" for m in ranked]
    spread = any(len(v) > 1 for v in rates.values())
    text = (f"On this hardware ({device}) they trained at " + ", ".join(parts) + " tokens/s"
            + (" (lowest–highest over their tasks and lengths)" if spread else ""))
    if "cpu" in device.split("/"):
        text += ("; a CPU has few cores to spread the positions of a sequence over, so these numbers say nothing "
                 "about a GPU, where attention and the parallel scans compute every position at once and an LSTM "
                 "must still step through them one after another")
    return text + "."


def caveat_sentence(found: list[Contest], cells: dict, solved: float) -> str:
    """What the reader should not conclude: one seed, overlapping intervals, a budget too small to separate them."""
    rows = [r for by_model in cells.values() for by_len in by_model.values() for c in by_len.values()
            for r in c.rows]
    params = [r["params"] for r in rows if isinstance(r.get("params"), (int, float))]
    steps = [r["steps"] for r in rows if isinstance(r.get("steps"), (int, float))]
    size = []
    if params:
        size.append(f"about {_count(median(params))} parameters" if max(params) <= 1.1 * min(params)
                    else f"{_range(params, _count)} parameters")
    if steps:
        size.append(f"{_range(steps, lambda x: f'{x:,.0f}')} training steps")
    parts = []
    seeds = sorted({c.attention[1].n for c in found} | {c.fixed[1].n for c in found})
    if seeds and seeds[0] < 2:
        parts.append("a result on one seed is one draw, not a finding (run seed=0,1,2)")
    elif seeds and seeds[0] == 2:
        parts.append("with two seeds a 95% interval reaches 12.7 standard errors either side of the mean, so only "
                     "large gaps count")
    if any(c.outcome == OVERLAP for c in found):
        parts.append("where intervals overlap the runs do not tell the models apart, which is not the same as "
                     "the models being equal")
    # `solved` is an accuracy; a task scored by its loss has no such line.
    unsolved = [c.where() for c in found
                if c.outcome != NO_VALUE and not c.by_loss and max(c.attention[1].mean, c.fixed[1].mean) < solved]
    if unsolved:
        parts.append(f"no model reached {solved:.2f} on {_join(unsolved)}, so this budget may be too small to "
                     "separate them there")
    budget = f" These are models of {' and '.join(size)}" if size else " These are small models"
    return (budget + ": what they show holds at this budget, not for the architectures at scale"
            + ("; and " + "; ".join(parts) if parts else "") + ".").lstrip()


def in_short(cells: dict, device: str, solved: float = 0.9) -> list[str]:
    """The sentences of "In short" (3-6 when there is something to compare)."""
    if not cells:
        return ["No run has finished yet, so there is nothing to tell."]
    found, one_kind = contests(cells)
    out = story_sentences(found, one_kind, cells)
    if (cost := cost_sentence(cells, device)) is not None:
        out.append(cost)
    out.append(caveat_sentence(found, cells, solved))
    return out


def headline_blocks(cells: dict, device: str, solved: float = 0.9) -> list[tuple]:
    """The report's first section."""
    return [("h2", "In short"), ("p", " ".join(in_short(cells, device, solved)))]
