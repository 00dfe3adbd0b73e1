"""Learning-rate schedules, built by Hydra as partials and completed with the optimizer and run length."""

from __future__ import annotations

import math
from typing import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def warmup_cosine(optimizer: Optimizer, total_steps: int, warmup_steps: int = 50, min_lr_ratio: float = 0.1,
                  progress: Callable[[], float] | None = None) -> LambdaLR:
    """Linear warm-up to the base rate over ``warmup_steps``, then cosine decay to ``min_lr_ratio`` of it.

    The decay runs over the steps after the warm-up, reaching the minimum on the last one (``total_steps - 1``); with ``progress`` (a time budget,
    compare.training.budget) it follows ``progress()``, the share of the budget spent (0 to 1), instead.
    """
    warmup_steps = max(0, min(warmup_steps, total_steps - 1))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if progress is not None:
            done = min(1.0, max(0.0, progress()))
        else:
            # Step total_steps - 1 is the last one trained: it runs at the minimum (until 2026-12-06 the decay
            # ended one step short of it, which only a short run, e.g. a small FLOP budget, would notice).
            done = min(1.0, (step - warmup_steps) / max(1, total_steps - 1 - warmup_steps))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))

    return LambdaLR(optimizer, factor)
