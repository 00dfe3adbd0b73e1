"""Which weights a finished run is scored with (``eval.checkpoint``): the best validation checkpoint, or the last step.

The best weights are loaded into a copy of the model, so the module keeps its last weights: the rolling
last.ckpt that Lightning may still write at the end of training holds what training ended with.
"""

from __future__ import annotations

import copy
import logging
import weakref
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from compare.errors import UserError

log = logging.getLogger("compare")

CHOICES = ("best", "last")
#: trainer -> {choice: (model, which)}: the ladder callback and the results row score the same weights, loaded once.
_LOADED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: trainer -> {choice: validation scores}: the dashboard and the results row show the same numbers, computed once.
_VALIDATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_choice(value) -> str:
    """``value`` if it is one of CHOICES, else a UserError naming it."""
    if value not in CHOICES:
        raise UserError(f"eval.checkpoint={value!r} is not accepted; choose one of {list(CHOICES)}")
    return value


def best_checkpoint_callback(trainer: L.Trainer) -> ModelCheckpoint | None:
    """The ModelCheckpoint that keeps the best weights by a monitored metric (None when it is switched off)."""
    return next((cb for cb in trainer.checkpoint_callbacks if cb.monitor is not None), None)


def scored_model(trainer: L.Trainer, module: L.LightningModule, choice: str) -> tuple[torch.nn.Module, dict]:
    """(model to score, {"scored_checkpoint", "scored_step"}) for ``choice``; falls back to last with one warning."""
    check_choice(choice)
    cached = _LOADED.setdefault(trainer, {})
    if choice not in cached:
        cached[choice] = _load(trainer, module, choice)
    return cached[choice]


def scored_validation(trainer: L.Trainer, module: L.LightningModule, choice: str) -> dict:
    """The datamodule's ``score_validation`` of the weights ``choice`` picks, computed once per run."""
    cached = _VALIDATED.setdefault(trainer, {})
    if choice not in cached:
        model, _ = scored_model(trainer, module, choice)
        cached[choice] = trainer.datamodule.score_validation(model)
    return cached[choice]


def _load(trainer: L.Trainer, module: L.LightningModule, choice: str) -> tuple[torch.nn.Module, dict]:
    last = (module.model, {"scored_checkpoint": "last", "scored_step": trainer.global_step})
    if choice == "last":
        return last
    callback = best_checkpoint_callback(trainer)
    path = callback.best_model_path if callback is not None else ""
    if not path or not Path(path).is_file():
        why = "callbacks.checkpoint is off" if callback is None else "no best checkpoint was saved (no validation ran)"
        log.warning("eval.checkpoint=best: %s; scoring the last weights instead", why)
        return last
    # Our own checkpoint, which holds the RNG states and hyperparameters next to the weights.
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = {k[len("model."):]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    model = copy.deepcopy(module.model)
    model.load_state_dict(state)
    return model, {"scored_checkpoint": str(path), "scored_step": int(checkpoint["global_step"])}
