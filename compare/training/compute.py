"""ComputeCallback: a run's training compute (FLOPs and seconds), and its validation curves against both.

FLOPs per step are ``rows x FLOPs per sequence`` at the batch's length (:mod:`compare.training.flops`, counted
once per length before the first step). Seconds are the wall-clock time of the training steps, validation and
the one-off counting excluded (the same window the throughput figures use). Both are also written into every
checkpoint, so a resumed run carries on counting where it stopped.

TensorBoard gets each validation metric twice more, under ``val_vs_flops/<metric>`` with the cumulative training
FLOPs as the step and under ``val_vs_train_ms/<metric>`` with the training milliseconds as the step, so the
Scalars tab draws learning curves on a compute axis (its x axis reads "step"; the tag says what it counts).
They are written straight to TensorBoard's file writer: other loggers (wandb, mlflow) want steps that only go up
with the run's own step.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

from compare.training.step_timer import StepTimer

#: The validation metrics drawn against compute, as logged by SequenceModule.
VALIDATION_METRICS = ("loss", "seq_acc", "token_acc")


def training_token_lengths(task) -> list[int]:
    """The input lengths (tokens) of the training batches: one per task length in the training range."""
    return sorted({task.sequence_length(n) for n in range(task.min_length, task.length + 1) if task.supports(n)})


class ComputeCallback(L.Callback):
    """Counts training FLOPs and seconds; logs validation against both; ``summary`` holds the run's totals."""

    def __init__(self) -> None:
        self.flops = 0
        self.tokens = 0
        self.seconds = 0.0
        self.history: list[dict] = []
        self.summary: dict = {}
        self._timer: StepTimer | None = None

    def setup(self, trainer, pl_module, stage: str) -> None:
        if stage != "fit":
            return
        # Every length counted before the fit starts, so no count lands in the timed steps or in a time budget
        # (Lightning's Timer starts with training).
        count = pl_module.flops_per_sequence
        for length in training_token_lengths(trainer.datamodule.task):
            count(length)

    def on_train_start(self, trainer, pl_module) -> None:
        self._timer = StepTimer(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        pl_module.flops_per_sequence(batch[0].shape[1])  # a length outside the range: counted before the clock
        self._timer.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        inputs = batch[0]
        rows = inputs.shape[0] * trainer.world_size  # the global batch under DDP
        self.flops += rows * pl_module.flops_per_sequence(inputs.shape[1])
        self.tokens += rows * inputs.shape[1]

    def _pause(self) -> None:
        if self._timer is not None and self._timer.running:
            self._timer.pause()

    def _train_seconds(self) -> float:
        return self.seconds + (self._timer.elapsed() if self._timer is not None else 0.0)

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "fit":
            self._pause()

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        seconds = self._train_seconds()
        point = {"step": trainer.global_step, "train_flops": self.flops, "train_seconds": seconds}
        for what in VALIDATION_METRICS:
            value = trainer.callback_metrics.get(f"val/{what}")
            if value is not None:
                point[f"val_{what}"] = float(value)
        self.history.append(point)
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                for what in VALIDATION_METRICS:
                    if f"val_{what}" in point:
                        logger.experiment.add_scalar(f"val_vs_flops/{what}", point[f"val_{what}"], self.flops)
                        logger.experiment.add_scalar(f"val_vs_train_ms/{what}", point[f"val_{what}"],
                                                     round(1000 * seconds))

    def on_train_end(self, trainer, pl_module) -> None:
        self._pause()
        seconds = self._train_seconds()
        self.summary = {"train_flops": self.flops, "train_tokens": self.tokens,
                        "flops_per_token": self.flops / self.tokens if self.tokens else None,
                        "train_seconds": seconds, "val_history": list(self.history)}

    def state_dict(self) -> dict:
        return {"flops": self.flops, "tokens": self.tokens, "seconds": self._train_seconds(),
                "history": list(self.history)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.flops, self.tokens = int(state_dict["flops"]), int(state_dict["tokens"])
        self.seconds, self.history = float(state_dict["seconds"]), list(state_dict["history"])
