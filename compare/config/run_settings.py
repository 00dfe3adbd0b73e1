"""Checks on a run's settings that no constructor sees on its own, made before anything trains."""

from __future__ import annotations

import logging

from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError
from compare.evaluation import ladder_lengths

log = logging.getLogger("compare")


def check_model_fits_task(model, task) -> None:
    """Fail before training when the model cannot read a training sequence at all."""
    limit = getattr(model, "max_positions", None)
    need = task.sequence_length(task.length)
    if limit is not None and need > limit:
        raise UserError(
            f"task.length={task.length} makes sequences of {need} tokens, more than the model's "
            f"max_positions={limit}; set model.max_positions>={need} or model.pos_encoding=sinusoidal"
        )


def check_run_settings(cfg: DictConfig, model, task) -> None:
    """Steps, the finiteness check and evaluation lengths the model cannot read (a warning, not an error)."""
    max_steps = OmegaConf.select(cfg, "trainer.max_steps")
    if not OmegaConf.select(cfg, "trainer.fast_dev_run", default=False) and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        # Batches are endless (max_epochs=-1), so max_steps is what ends a run.
        raise UserError(f"trainer.max_steps={max_steps!r} is not accepted: it must be an integer >= 1")
    every = cfg.get("check_finite_every_n_steps", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise UserError(f"check_finite_every_n_steps={every!r} is not accepted: an integer >= 0 (0: never check)")
    limit = getattr(model, "max_positions", None)
    if limit is not None and cfg.get("eval") is not None:
        lengths = ladder_lengths(task.length, cfg.eval.get("multipliers") or (), cfg.eval.get("lengths"))
        too_long = [n for n in lengths if task.sequence_length(n) > limit]
        if too_long:
            log.warning("evaluation lengths %s make sequences longer than %s's max_positions=%d: they will be "
                        "reported as unsupported (results.json: unsupported_lengths)", too_long, model.name, limit)


def check_optimizer(optimizer_factory, model) -> None:
    """Build the optimizer once on the model's parameters, so a bad setting (lr < 0) fails before training."""
    try:
        optimizer_factory(model.parameters())
    except (ValueError, TypeError) as e:
        raise UserError(f"optimizer: {e}") from None
