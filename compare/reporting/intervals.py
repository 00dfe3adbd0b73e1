"""Numbers over seeds: the mean, a 95% Student's t interval kept inside what the metric can take, the seeds.

A cell's number is one value per seed (``per_seed``), summarised by ``t_interval``. The interval is the usual
mean ± t(0.975, n-1) · s / √n, but it is cut to the metric's range (``metric_bounds``: an accuracy never
reaches below 0 or above 1), and with 2-4 seeds the text shows the seeds themselves, which say more than an
interval that wide: ``0.78 (0.64, 0.91)``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import mean, stdev

#: Upper 2.5% points of Student's t (two-sided 95%) for 1..30 degrees of freedom, from the NIST/SEMATECH
#: e-Handbook of Statistical Methods, section 1.3.6.7.2 (critical values of the t distribution). scipy
#: is not a dependency and torch's StudentT has no icdf, hence the table; checked against numerical
#: integration of the t density to within 0.0015.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
         2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z_975 = 1.959963984540054
#: Up to this many seeds a number is printed with its seeds beside it rather than with a ± half-width.
SHOW_SEEDS_UP_TO = 4
#: The range of a share (an accuracy, a fraction of questions): an interval is never drawn outside it.
UNIT = (0.0, 1.0)
#: The range of a quantity that cannot be negative (a loss, tokens per second, megabytes, seconds).
NON_NEGATIVE = (0.0, None)
UNBOUNDED = (None, None)


def t_quantile_975(dof: int) -> float:
    """The 97.5% quantile of Student's t with ``dof`` degrees of freedom (the factor of a two-sided 95% interval)."""
    if dof < 1:
        raise ValueError(f"dof={dof}: Student's t needs at least 1 degree of freedom")
    if dof <= len(T_975):
        return T_975[dof - 1]
    # Cornish-Fisher expansion of t in powers of 1/dof (Abramowitz & Stegun 26.7.5): within 1e-7 beyond 30.
    z = _Z_975
    g = ((z**3 + z) / 4, (5 * z**5 + 16 * z**3 + 3 * z) / 96, (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
         (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160)
    return z + sum(gi / dof ** (i + 1) for i, gi in enumerate(g))


def metric_bounds(name: str) -> tuple[float | None, float | None]:
    """The range a metric's values can take, from its name: shares in [0, 1], costs and losses >= 0."""
    key = name.lower()
    if "acc" in key or "share" in key or key.endswith("_rate"):
        return UNIT
    if any(part in key for part in ("loss", "tokens_per_s", "mem", "time", "wall", "params", "flops")):
        return NON_NEGATIVE
    return UNBOUNDED


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds, the half-width of its 95% t interval (None with fewer than 2 seeds), the per-seed
    values, and the range the metric can take (the interval's ends are cut to it)."""

    mean: float | None
    half: float | None
    n: int
    values: tuple[float, ...] = ()
    bounds: tuple[float | None, float | None] = UNBOUNDED

    @property
    def lo(self) -> float | None:
        if self.mean is None:
            return None
        lo = self.mean - (self.half or 0.0)
        return lo if self.bounds[0] is None else max(lo, self.bounds[0])

    @property
    def hi(self) -> float | None:
        if self.mean is None:
            return None
        hi = self.mean + (self.half or 0.0)
        return hi if self.bounds[1] is None else min(hi, self.bounds[1])

    @property
    def bar(self) -> tuple[float | None, float | None]:
        """(lo, hi) as the figures draw an error bar; (None, None) with one seed (no interval)."""
        return (self.lo, self.hi) if self.half is not None else (None, None)

    @property
    def best(self) -> float | None:
        """The highest per-seed value (the best seed, where higher is better: published tables such as Delétang
        et al. 2023 report the best of their seeds)."""
        return max(self.values) if self.values else self.mean

    @property
    def clipped(self) -> bool:
        """Whether the t interval reached past the metric's range and was cut to it."""
        return self.half is not None and (self.lo != self.mean - self.half or self.hi != self.mean + self.half)

    def text(self, digits: int = 2, fmt=None) -> str:
        """'0.53' (1 seed); '0.78 (0.64, 0.91)' (2-4 seeds: the mean, then each seed; '1.00 (both seeds)' when
        they agree); '0.53 ± 0.12' (5 or more),
        or '0.93 [0.85, 1.00]' where the ± would pass the metric's range; 'n/a' without a value."""
        fmt = fmt or (lambda x: f"{x:.{digits}f}")
        if self.mean is None:
            return "n/a"
        if self.half is None:
            return fmt(self.mean)
        if len(self.values) == self.n and self.n <= SHOW_SEEDS_UP_TO:
            if len({fmt(v) for v in self.values}) == 1:
                return f"{fmt(self.mean)} ({'both' if self.n == 2 else f'all {self.n}'} seeds)"
            return f"{fmt(self.mean)} ({', '.join(fmt(v) for v in self.values)})"
        if self.clipped:
            return f"{fmt(self.mean)} [{fmt(self.lo)}, {fmt(self.hi)}]"
        return f"{fmt(self.mean)} ± {fmt(self.half)}"

    def range_text(self, digits: int = 2) -> str:
        """The 95% interval as '[lo, hi]' (cut to the metric's range), or 'no interval' with one seed."""
        if self.half is None:
            return "no interval"
        return f"[{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def overlaps(self, other: Interval) -> bool:
        """True when the two intervals share a point (touching counts as overlapping)."""
        return self.lo <= other.hi and other.lo <= self.hi


def t_interval(values: list[float], bounds: tuple[float | None, float | None] = UNBOUNDED) -> Interval:
    """Mean of ``values`` (one per seed) ± t(0.975, n-1) · s / √n, s the sample standard deviation.

    This is Student's t interval on the seed means, with n-1 degrees of freedom; one value has no interval.
    ``bounds`` is the metric's range: the interval's ends are cut to it (the mean and half-width are not).
    """
    vals = tuple(float(v) for v in values if v is not None)
    if not vals:
        return Interval(None, None, 0, (), bounds)
    if len(vals) == 1:
        return Interval(vals[0], None, 1, vals, bounds)
    half = t_quantile_975(len(vals) - 1) * stdev(vals) / math.sqrt(len(vals))
    return Interval(mean(vals), half, len(vals), vals, bounds)


def per_seed(rows: list[dict], value) -> list[float]:
    """``value(row)`` averaged within each seed (a resumed or repeated seed counts once), one number per seed,
    in seed order."""
    by_seed: dict = defaultdict(list)
    for i, r in enumerate(rows):
        v = value(r)
        if v is not None:
            by_seed[r.get("seed", f"row{i}")].append(float(v))
    return [mean(v) for _, v in sorted(by_seed.items(), key=lambda kv: str(kv[0]))]


def seeds_note(intervals: list[Interval]) -> str:
    """What the numbers beside a mean are, or that there is no interval (one seed)."""
    ns = sorted({iv.n for iv in intervals if iv.mean is not None})
    if not ns:
        return ""
    if ns == [1]:
        return " (1 seed: no interval)"
    seeds = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    single = "; a value alone rests on 1 seed" if 1 in ns else ""
    if ns[-1] <= SHOW_SEEDS_UP_TO:
        return f" (mean over {seeds} seeds, each seed's value in brackets{single})"
    return f" (mean ± 95% t half-width over {seeds} seeds, [lo, hi] where it is cut to 0-1{single})"
