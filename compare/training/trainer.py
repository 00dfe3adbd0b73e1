"""The Lightning Trainer of a run: its callbacks, loggers and progress bar, all from config."""

from __future__ import annotations

import sys

import lightning as L
from hydra.utils import get_object
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from compare.config.build import build
from compare.errors import UserError, quiet_console
from compare.training.checkpoint_io import checkpoint_plugins


def progress_bar_callbacks(mode: str) -> tuple[bool, list]:
    """(enable_progress_bar, callbacks): a rich bar on an interactive terminal, none in logs and CI."""
    if mode not in ("auto", "rich", "none"):
        raise UserError(f"progress_bar={mode!r} is not accepted; choose auto, rich or none")
    rich = mode == "rich" or (mode == "auto" and sys.stderr.isatty())
    return (True, [RichProgressBar()]) if rich else (False, [])


def build_callbacks(cfg: DictConfig) -> list:
    """The configured callbacks; one set to null (e.g. ``callbacks.checkpoint=null``) is switched off."""
    return [build(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]


def build_loggers(cfg: DictConfig, purge_from: int | None) -> list | bool:
    """The configured loggers (a logger set to null is off). In a run dir that already has TensorBoard events,
    those from step ``purge_from`` on are dropped, so no curve shows a step twice."""
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if node is None:
            continue
        extra = {}
        if purge_from is not None and issubclass(get_object(node._target_), TensorBoardLogger):
            extra["purge_step"] = purge_from
        loggers.append(build(node, **extra))
    return loggers or False


def build_trainer(cfg: DictConfig, callbacks: list, purge_from: int | None, num_params: int,
                  overrides: dict | None = None) -> L.Trainer:
    """``cfg.trainer`` with the run's callbacks, loggers and progress bar; the parameter count goes to every logger,
    and to every logger but TensorBoard the run's whole resolved config (their run pages list it as the run's
    parameters; TensorBoard's HParams row is the dashboard callback's, settings against final metrics).

    Checkpoints are written atomically (``checkpoint_plugins``) unless ``trainer.plugins`` names its own.
    ``overrides``: Trainer settings that replace the config's (a compute budget's max_steps or max_time).
    """
    quiet_console()  # every process that trains, DDP ranks included, before Lightning prints its banner
    show_bar, bar = progress_bar_callbacks(cfg.progress_bar)
    extra = {} if cfg.trainer.get("plugins") else {"plugins": checkpoint_plugins()}
    trainer = build(cfg.trainer, callbacks=callbacks + bar, logger=build_loggers(cfg, purge_from),
                    enable_progress_bar=show_bar, **extra, **(overrides or {}))
    resolved = None
    for lg in trainer.loggers:
        settings = {"params": num_params}
        if not isinstance(lg, TensorBoardLogger):
            resolved = resolved if resolved is not None else OmegaConf.to_container(cfg, resolve=True)
            settings = {**resolved, **settings}
        lg.log_hyperparams(settings)
    return trainer
