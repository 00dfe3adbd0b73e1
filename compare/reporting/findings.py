"""What the results say, in sentences computed from the results rows (never written by hand).

Rows are grouped into cells (task, model, training length); a cell's numbers are means over its
seeds. Every sentence names the numbers it rests on, so a reader can check it against the figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean


@dataclass
class Cell:
    """The finished runs of one model on one task at one training length."""

    task: str
    model: str
    train_length: int
    rows: list[dict] = field(default_factory=list)

    def _mean(self, key: str):
        vals = [r[key] for r in self.rows if r.get(key) is not None]
        return mean(vals) if vals else None

    @property
    def seeds(self) -> int:
        return len(self.rows)

    @property
    def val_seq_acc(self):
        return self._mean("val_seq_acc")

    @property
    def tokens_per_s(self):
        return self._mean("train_tokens_per_s")

    @property
    def peak_mem_mb(self):
        return self._mean("peak_mem_mb")

    def ladder(self) -> list[dict]:
        """The length ladder averaged over seeds: length, seq_acc (None = unsupported), in_train_range."""
        by_len: dict[int, list[dict]] = defaultdict(list)
        for r in self.rows:
            for p in r.get("ladder") or []:
                by_len[int(p["length"])].append(p)
        out = []
        for length in sorted(by_len):
            pts = by_len[length]
            accs = [p["seq_acc"] for p in pts if p.get("supported", True) and p.get("seq_acc") is not None]
            out.append({"length": length, "seq_acc": mean(accs) if accs else None,
                        "in_train_range": bool(pts[0].get("in_train_range", length <= self.train_length)),
                        "tokens": pts[0].get("tokens")})
        return out


    def slices(self) -> dict[str, dict[int, float]]:
        """Exact-sequence accuracy at the training length by each second difficulty axis: {axis: {key: acc}}."""
        acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in self.rows:
            for p in r.get("ladder") or []:
                if int(p["length"]) == self.train_length:
                    for axis, by_key in (p.get("by") or {}).items():
                        for key, value in by_key.items():
                            acc[axis][int(key)].append(value)
        return {axis: {k: mean(v) for k, v in sorted(keys.items())} for axis, keys in acc.items()}

    def task_metrics(self) -> dict[str, float]:
        """Numeric task-specific metrics of the rows (``task_metrics``), averaged over seeds."""
        vals: dict[str, list[float]] = defaultdict(list)
        for r in self.rows:
            for k, v in (r.get("task_metrics") or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    vals[k].append(float(v))
        return {k: mean(v) for k, v in sorted(vals.items())}


def cells_of(rows: list[dict]) -> dict[str, dict[str, dict[int, Cell]]]:
    """cells[task][model][train_length] from finished results rows."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        task, model, length = r["task"], r["model"], int(r["train_length"])
        cell = out[task][model].setdefault(length, Cell(task, model, length))
        cell.rows.append(r)
    return {t: dict(m) for t, m in out.items()}


def _f(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _rate(x) -> str:
    if x is None:
        return "n/a"
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def _ranked(pairs):
    """Models best first, ties by name: [(model, value)]."""
    return sorted(pairs, key=lambda p: (-(p[1] if p[1] is not None else -1.0), p[0]))


def accuracy_sentences(task: str, by_model: dict[str, dict[int, Cell]], solved: float) -> list[str]:
    """Accuracy at each training length, the longest length each model solves, and extrapolation."""
    out = []
    lengths = sorted({L for cells in by_model.values() for L in cells})
    for L in lengths:
        pairs = _ranked([(m, cells[L].val_seq_acc) for m, cells in by_model.items() if L in cells])
        seeds = max(cells[L].seeds for cells in by_model.values() if L in cells)
        parts = ", ".join(f"{m} {_f(a)}" for m, a in pairs)
        note = f" (mean of {seeds} seeds)" if seeds > 1 else ""
        out.append(f"{task}, trained and tested at length {L}: exact-sequence accuracy {parts}{note}.")
    if len(lengths) > 1:
        parts = []
        for m in sorted(by_model):
            cells = by_model[m]
            ok = [L for L, c in cells.items() if c.val_seq_acc is not None and c.val_seq_acc >= solved]
            if ok:
                parts.append(f"{m} up to {max(ok)}" + ("" if max(ok) == max(cells) else f" (not at {max(cells)})"))
            else:
                best_L = max(cells, key=lambda L: cells[L].val_seq_acc or 0.0)
                parts.append(f"{m} at none of {min(cells)}–{max(cells)} "
                             f"(best {_f(cells[best_L].val_seq_acc)} at {best_L})")
        out.append(f"{task}: longest training length solved (exact-sequence accuracy ≥ {solved:.2f}): "
                   + "; ".join(parts) + ".")
    beyond_parts, unsupported_parts = [], []
    for m in sorted(by_model):
        pts = [(c.train_length, p) for c in by_model[m].values() for p in c.ladder() if not p["in_train_range"]]
        if not pts:
            continue
        accs = [p["seq_acc"] for _, p in pts if p["seq_acc"] is not None]
        cannot = [p for _, p in pts if p["seq_acc"] is None]
        if accs and max(accs) == 0:
            beyond_parts.append(f"{m} 0.00 at every longer length it was evaluated at")
        elif accs:
            best_L, best = max(((L, p) for L, p in pts if p["seq_acc"] is not None), key=lambda x: x[1]["seq_acc"])
            beyond_parts.append(f"{m} {_f(mean(accs))} on average, best {_f(best['seq_acc'])} "
                                f"at length {best['length']} (trained at {best_L})")
        if cannot:
            unsupported_parts.append(f"{m} cannot take {len(cannot)} of its {len(pts)} longer lengths "
                                     f"(from length {min(p['length'] for p in cannot)})")
    if beyond_parts:
        out.append(f"{task}, beyond the training length: " + "; ".join(beyond_parts) + ".")
    if unsupported_parts:
        out.append(f"{task}: " + "; ".join(unsupported_parts) + ", counted as unsupported rather than as 0.")
    return out


def slice_sentences(task: str, by_model: dict[str, dict[int, Cell]]) -> list[str]:
    """Accuracy along each second difficulty axis (e.g. fact distance) at the longest training length."""
    out = []
    axes = sorted({a for cells in by_model.values() for c in cells.values() for a in c.slices()})
    for axis in axes:
        parts = []
        for m in sorted(by_model):
            cells = {L: c.slices().get(axis) for L, c in by_model[m].items() if c.slices().get(axis)}
            if not cells:
                continue
            L = max(cells)
            keys = cells[L]
            lo, hi = min(keys), max(keys)
            parts.append(f"{m} {_f(keys[lo])} at {lo} and {_f(keys[hi])} at {hi} (trained at {L})")
        if parts:
            out.append(f"{task}, exact-sequence accuracy by {axis}: " + "; ".join(parts) + ".")
    return out


def cost_sentence(task: str, by_model: dict[str, dict[int, Cell]], what: str, device: str) -> str | None:
    """How tokens/s or peak memory changes from the shortest to the longest training length, per model."""
    attr, unit, fmt = {"throughput": ("tokens_per_s", "tokens/s", _rate),
                       "memory": ("peak_mem_mb", "MB", lambda x: _f(x, 0))}[what]
    parts = []
    for m in sorted(by_model):
        cells = {L: getattr(c, attr) for L, c in by_model[m].items() if getattr(c, attr) is not None}
        if not cells:
            continue
        lo, hi = min(cells), max(cells)
        if lo == hi:
            parts.append(f"{m} {fmt(cells[lo])} {unit} at length {lo}")
        else:
            ratio = cells[hi] / cells[lo] if cells[lo] else float("nan")
            parts.append(f"{m} {fmt(cells[lo])} {unit} at length {lo} and {fmt(cells[hi])} at {hi} (×{ratio:.2f})")
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
