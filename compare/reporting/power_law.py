"""Fit L(t) = a + b t^(-c): loss against position in the context (Kaplan et al. 2020, Fig. 20 and eq. 5.7).

For a fixed exponent c the model is linear in (a, b), so least squares gives them in closed form; the exponent
is found by a scan over a log-spaced grid and refined by golden-section search around the best grid point. No
scipy: the search is 1-D and the residual is smooth in c.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Exponents searched: a power law flatter than t^-0.001 is a constant, one steeper than t^-5 a step.
C_RANGE = (1e-3, 5.0)


@dataclass(frozen=True)
class PowerLaw:
    """L(t) = a + b t^(-c), and the root-mean-square residual of the fit."""

    a: float
    b: float
    c: float
    rmse: float

    def __call__(self, t: float) -> float:
        return self.a + self.b * t ** (-self.c)

    @property
    def decreasing(self) -> bool:
        """Whether the fit is a loss that falls with t towards a floor: b > 0 and c inside the searched range (a
        flat or rising curve drives c to an end of it, where a and b mean nothing)."""
        return self.b > 0 and C_RANGE[0] * 1.01 < self.c < C_RANGE[1] * 0.99


def _linear_fit(ts: list[float], ys: list[float], c: float) -> tuple[float, float, float]:
    """(a, b, sum of squared residuals) of y = a + b x with x = t^-c."""
    xs = [t ** (-c) for t in ts]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
    a = my - b * mx
    return a, b, sum((a + b * x - y) ** 2 for x, y in zip(xs, ys))


def fit_power_law(ts: list[float], ys: list[float], grid: int = 200) -> PowerLaw:
    """Least-squares L(t) = a + b t^(-c) through the points (t, y), t > 0; at least three distinct t."""
    if len(ts) != len(ys) or len(set(ts)) < 3 or any(t <= 0 for t in ts):
        raise ValueError("a power-law fit needs at least three distinct positions t > 0, one loss each")
    lo, hi = (math.log(x) for x in C_RANGE)
    cs = [math.exp(lo + (hi - lo) * i / (grid - 1)) for i in range(grid)]
    sse = [_linear_fit(ts, ys, c)[2] for c in cs]
    best = min(range(grid), key=sse.__getitem__)
    # Golden-section search in log c between the grid neighbours of the best point.
    left, right = math.log(cs[max(best - 1, 0)]), math.log(cs[min(best + 1, grid - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        m1, m2 = right - ratio * (right - left), left + ratio * (right - left)
        if _linear_fit(ts, ys, math.exp(m1))[2] <= _linear_fit(ts, ys, math.exp(m2))[2]:
            right = m2
        else:
            left = m1
    c = math.exp((left + right) / 2)
    a, b, residual = _linear_fit(ts, ys, c)
    return PowerLaw(a, b, c, math.sqrt(residual / len(ts)))
