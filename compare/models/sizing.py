"""Choose a model's width so that its trainable parameter count matches a budget."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from compare.errors import UserError

#: The comparison is fair when every model is within this fraction of the budget.
BUDGET_TOLERANCE = 0.05


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def params_of(make: Callable[[int], nn.Module], width: int) -> int:
    """Parameter count of ``make(width)``, built on the meta device so no memory is allocated."""
    with torch.device("meta"):
        return count_params(make(width))


def fit_width(make: Callable[[int], nn.Module], budget: int, *, step: int = 1, what: str = "model") -> int:
    """Largest width (a multiple of ``step``) whose model has at most ``budget`` parameters.

    Parameter counts grow monotonically with width for every model here, so a bisection finds it.
    """
    if budget is None or budget <= 0:
        raise UserError(f"param_budget={budget} is not a positive number of parameters")
    lo = 1  # in units of `step`
    if params_of(make, lo * step) > budget:
        raise UserError(
            f"param_budget={budget} is too small to build {what}: the narrowest one "
            f"(width {step}) already has {params_of(make, step)} parameters; use a larger budget"
        )
    hi = 2
    while params_of(make, hi * step) <= budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if params_of(make, mid * step) <= budget:
            lo = mid
        else:
            hi = mid
    # The next width up may land closer to the budget than this one.
    below, above = params_of(make, lo * step), params_of(make, hi * step)
    return hi * step if abs(above - budget) < abs(budget - below) else lo * step


def fit_block_widths(make: Callable[[int, int], nn.Module], budget: int, *, mlp_ratio: float, d_ff: int | None = None,
                     step: int = 1, what: str = "model") -> tuple[int, int]:
    """(width, d_ff) of a block-stacked model built by ``make(width, d_ff)`` for ``budget`` parameters.

    Without ``d_ff`` the width is fitted with the MLP at ``mlp_ratio`` x width, then the MLP width is fitted
    at that width so the count lands on the budget (a width step moves it by thousands). With ``d_ff`` the
    MLP keeps it and the width alone is fitted, so the count is as near the budget as one width step allows.
    """
    if d_ff is not None:
        width = fit_width(lambda w: make(w, d_ff), budget, step=step, what=what)
        n = params_of(lambda w: make(w, d_ff), width)
        if abs(n - budget) > BUDGET_TOLERANCE * budget:
            raise UserError(f"model.d_ff={d_ff} with model.param_budget={budget}: the nearest width ({width}) gives "
                            f"{what} with {n:,} parameters, {abs(n - budget) / budget:.1%} off the budget (at "
                            f"most {BUDGET_TOLERANCE:.0%} is accepted); set model.d_ff=null to fit it, or a smaller d_ff")
        return width, d_ff

    def ratio_ff(width: int) -> int:
        return max(1, round(mlp_ratio * width))

    width = fit_width(lambda w: make(w, ratio_ff(w)), budget, step=step, what=what)
    d_ff = ratio_ff(width)
    if params_of(lambda f: make(width, f), d_ff) != budget:
        d_ff = fit_width(lambda f: make(width, f), budget, what=what)
    return width, d_ff
