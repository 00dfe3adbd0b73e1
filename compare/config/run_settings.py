"""Checks on a run's settings that no constructor sees on its own, made before anything trains."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError
from compare.evaluation import ladder_lengths
from compare.training.scored import check_choice

log = logging.getLogger("compare")


def check_model_fits_task(model, task) -> None:
    """Fail before training when the model cannot read a training sequence at all."""
    limit = model.max_positions
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
    check_choice(OmegaConf.select(cfg, "eval.checkpoint", default="best"))
    check_eval_lengths(OmegaConf.select(cfg, "eval.lengths", default=None))
    limit = model.max_positions
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


def check_eval_lengths(lengths) -> None:
    """``eval.lengths``: null (use eval.multipliers) or a non-empty list of distinct integers >= 1."""
    if lengths is None:
        return
    shown = list(lengths) if OmegaConf.is_list(lengths) or isinstance(lengths, (list, tuple)) else lengths
    accepted = "a list of distinct integers >= 1 such as eval.lengths=[8,16,64], or null to use eval.multipliers"
    if not isinstance(shown, list) or not shown:
        raise UserError(f"eval.lengths={shown!r} is not accepted: {accepted}")
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shown):
        raise UserError(f"eval.lengths={shown!r} is not accepted: each must be an integer >= 1 ({accepted})")
    twice = sorted({n for n in shown if shown.count(n) > 1})
    if twice:
        raise UserError(f"eval.lengths={shown!r} is not accepted: {', '.join(map(str, twice))} given more than "
                        f"once; {accepted}")


def check_output_dir(path, key: str) -> None:
    """Fail before anything runs when ``path`` cannot hold a run's files: a file is in the way, or no writes.

    The probe really writes (a temp file, removed again): permission bits say nothing for root, and a
    read-only or full file system only shows itself on a write.
    """
    path = Path(path)
    accepted = "it must be a folder that can be created and written"
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        where = "is a file" if blocker == path else f"lies under {blocker}, which is a file"
        raise UserError(f"{key}={path} {where}; {accepted}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise UserError(f"{key}={path} cannot be written ({e.strerror or e}); {accepted}") from None
