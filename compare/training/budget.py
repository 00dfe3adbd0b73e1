"""Equal-compute runs: ``budget.flops`` and ``budget.seconds`` end a run when its training compute is spent.

``budget.flops=F``: every training batch's length is drawn from the run's seed (``step_tokens``) and the FLOPs of
a step at each length are counted (:mod:`compare.training.flops`), so the number of steps whose FLOPs first reach
F is known before training starts. That number becomes ``trainer.max_steps``: the learning-rate schedule spans
exactly the budget (warm-up, then the decay ending at its minimum on the last step), and two models given the
same F stop within one step's FLOPs of it, however different their cost per step.

``budget.seconds=S``: Lightning's ``max_time`` stops the run when S seconds of fitting (its Timer: training and
validation) are spent. How many steps fit is not known in advance (it depends on the machine and on its load),
so the schedule follows the clock instead of the step count: after the warm-up steps, the decay's progress is
the share of S spent, and the rate reaches its minimum when the time runs out. A resumed run continues the
clock from its checkpoint. Time budgets are not reproducible step for step, FLOP budgets are.

With neither (the default) a run trains ``trainer.max_steps`` steps, as always. ``budget.validations=N`` spreads
N validations evenly over a FLOP budget's steps (its step count differs from model to model).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lightning.pytorch.callbacks import Timer
from omegaconf import DictConfig

from compare.errors import UserError
from compare.training.datamodule import step_tokens

#: How many steps a FLOP budget may take at most (a typo of a few orders of magnitude would never end).
MAX_BUDGET_STEPS = 10_000_000


@dataclass
class Budget:
    """What a run's budget is (``kind``: flops, seconds or steps) and the Trainer settings that hold it."""

    kind: str
    value: float | None
    trainer_overrides: dict

    def row(self) -> dict:
        """The results row's ``budget``: which budget ended the run, its size, and the steps it gave."""
        out = {"kind": self.kind, "value": self.value}
        if self.kind == "flops":
            out["steps"] = self.trainer_overrides["max_steps"]
        return out


def _positive(key: str, value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserError(f"{key}={value!r} is not accepted: give a number > 0, or null for no such budget")
    return float(value)


def steps_for_flops(flops: float, step_flops) -> int:
    """The fewest steps whose FLOPs (``step_flops(k)`` for step k) add up to at least ``flops``."""
    total, steps = 0, 0
    while total < flops:
        if steps >= MAX_BUDGET_STEPS:
            raise UserError(f"budget.flops={flops:g} needs more than {MAX_BUDGET_STEPS:,} steps of this model "
                            f"({step_flops(0):,} FLOPs a step); give a smaller budget")
        total += step_flops(steps)
        steps += 1
    return steps


def plan_budget(cfg: DictConfig, module, datamodule) -> Budget:
    """The run's budget from ``cfg.budget``, with the Trainer settings that hold it (checked before training)."""
    node = cfg.get("budget") or {}
    flops = _positive("budget.flops", node.get("flops"))
    seconds = _positive("budget.seconds", node.get("seconds"))
    validations = node.get("validations")
    if validations is not None and (isinstance(validations, bool) or not isinstance(validations, int)
                                    or validations < 1):
        raise UserError(f"budget.validations={validations!r} is not accepted: give an integer >= 1, or null to "
                        "keep trainer.val_check_interval")
    if flops is not None and seconds is not None:
        raise UserError(f"budget.flops={flops:g} and budget.seconds={seconds:g}: a run holds one budget; set the "
                        "other to null")
    if flops is not None:
        batch, seed = datamodule.batch_size, datamodule.seed
        count = module.flops_per_sequence
        steps = steps_for_flops(flops, lambda k: batch * count(step_tokens(datamodule.task_at(k), seed, k)))
        overrides: dict = {"max_steps": steps}
        if validations is not None:
            overrides["val_check_interval"] = max(1, steps // validations)
        elif cfg.trainer.get("val_check_interval", 1) > steps:
            overrides["val_check_interval"] = steps  # at least the validation at the end
        return Budget("flops", flops, overrides)
    if seconds is not None:
        return Budget("seconds", seconds, {"max_time": timedelta(seconds=seconds), "max_steps": -1})
    return Budget("steps", cfg.trainer.get("max_steps"), {})


def follow_time_budget(trainer, module, budget: Budget) -> None:
    """With a time budget, make the module's learning-rate schedule follow the share of it spent."""
    if budget.kind != "seconds":
        return
    timer = next(cb for cb in trainer.callbacks if isinstance(cb, Timer))
    module.budget_progress = lambda: min(1.0, timer.time_elapsed("train") / budget.value)
