"""After training, the attention weights of every layer and head on the task's probe example.

Written as ``attention.json`` and the self-contained explorer page ``attention.html`` in the run dir,
and logged to TensorBoard as one image per layer (heads side by side). A no-op for models that have no
attention maps (the recurrent ones).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from compare.models import SequenceModel
from compare.reporting.attention_html import attention_payload, render_attention_html
from compare.runs.atomic import atomic_write_text
from compare.training.scored import check_choice, scored_model

log = logging.getLogger("compare")


def attention_maps(model: SequenceModel, tokens: torch.Tensor) -> list[torch.Tensor] | None:
    """Per-layer (heads, T, T) attention weights of ``model`` on ``tokens`` (1, T), or None if it has none."""
    if not model.returns_attention:
        return None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, maps = model(tokens, return_attention=True)
    finally:
        model.train(was_training)
    return [m[0].float().cpu() for m in maps]


class AttentionMapCallback(L.Callback):
    """Attention explorer for attention models, at the end of training (rank zero only), of the weights the run is
    scored with (``checkpoint``: eval.checkpoint, best or last), so the maps show the model the numbers are of."""

    def __init__(self, dirpath: str, log_images: bool = True, max_tokens: int = 256, checkpoint: str = "best") -> None:
        self.checkpoint = check_choice(checkpoint)
        self.dirpath = Path(dirpath)
        self.log_images = log_images
        self.max_tokens = max_tokens
        self.written: Path | None = None

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        task = trainer.datamodule.task
        tokens, names = task.probe()
        if tokens.shape[1] > self.max_tokens:
            log.info("attention explorer: probe of %d tokens cut to the first %d (callbacks.attention.max_tokens)",
                     tokens.shape[1], self.max_tokens)
            tokens, names = tokens[:, : self.max_tokens], names[: self.max_tokens]
        if not pl_module.model.returns_attention:
            return  # a recurrent model: no checkpoint to load
        model, which = scored_model(trainer, pl_module, self.checkpoint)
        model = model.to(pl_module.device)
        maps = attention_maps(model, tokens.to(pl_module.device))
        model_name = pl_module.model.name
        meta = {"model": model_name, "task": task.label, "train_length": task.length,
                "layers": len(maps), "heads": int(maps[0].shape[0]), "step": which["scored_step"]}
        payload = attention_payload(names, [m.tolist() for m in maps], meta)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.dirpath / "attention.json", json.dumps(payload) + "\n")
        title = f"Attention of {model_name} on a {task.name} probe (length {task.length})"
        atomic_write_text(self.dirpath / "attention.html", render_attention_html(payload, title))
        self.written = self.dirpath / "attention.html"
        if self.log_images:
            self._log_images(trainer, maps, names, model_name, task.name)

    @staticmethod
    def _log_images(trainer, maps, names, model_name, task_name) -> None:
        from compare.reporting.figures import attention_grid

        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                continue
            for i, m in enumerate(maps):
                fig = attention_grid(m.numpy(), names, f"{model_name} on {task_name}: layer {i + 1}")
                logger.experiment.add_figure(f"attention/layer_{i + 1}", fig, global_step=trainer.global_step)
            logger.experiment.flush()
