"""SequenceModule: the LightningModule around any sequence model (loss and metrics on scored positions)."""

from __future__ import annotations

import random
from typing import Any, Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.evaluation.metrics import SequenceAccuracy
from compare.models.sizing import count_params
from compare.tasks.base import IGNORE
from compare.training.flops import FlopsPerSequence


#: The attribute Lightning writes on a LightningModule around every hook call (see ``__setattr__``).
FX_NAME_ATTRIBUTE = "_current_fx_name"


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the run stops and is recorded as diverged."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"training loss is {loss} at step {step}")
        self.step, self.loss = step, loss


def rng_states() -> dict[str, Any]:
    """The global random states dropout and friends draw from (the data stream has its own seeded generators)."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what ``rng_states`` saved, so a resumed run draws the same dropout masks as an uninterrupted one."""
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def sequence_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy over scored positions (targets != IGNORE)."""
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)


class SequenceModule(L.LightningModule):
    """Trains a plain ``nn.Module`` (tokens -> logits) with AdamW and a step-wise schedule from config."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        compile: bool = False,
        check_finite_every_n_steps: int = 25,
    ) -> None:
        super().__init__()
        self.check_finite_every_n_steps = check_finite_every_n_steps
        self.model = model
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.forward_fn = torch.compile(model) if compile else model
        self.val_acc = SequenceAccuracy()
        self.num_params = count_params(model)
        #: With a time budget (budget.seconds): the share of it spent, 0 to 1, which the learning-rate schedule
        #: follows instead of the step count (compare.training.budget); None: the schedule runs over max_steps.
        self.budget_progress: Callable[[], float] | None = None
        self._flops: FlopsPerSequence | None = None

    @property
    def flops_per_sequence(self) -> FlopsPerSequence:
        """FLOPs of one forward and backward pass over one input of a given length (counted once per length)."""
        if self._flops is None:
            self._flops = FlopsPerSequence(self.model)
        return self._flops

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets _current_fx_name around every hook call (46 times a training step); a plain attribute
        # write skips nn.Module's Parameter/Module/buffer checks: 0.2 instead of 1.3 us a write, 53 us a step,
        # 1.3% of a 20k-parameter GRU's CPU step and 0.4% of a 200k LSTM's (scripts/bench_lightning_privates.py,
        # 2026-12-04, torch 2.13 CPU, one thread). No public API sets it: tests/test_lightning_internals.py fails
        # if Lightning stops writing this name (the fast path would then just do nothing).
        if name == FX_NAME_ATTRIBUTE:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.forward_fn(tokens)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        inputs, targets = batch
        loss = sequence_loss(self(inputs), targets)
        # self.log costs 0.4-0.6 ms of Python per call, while the loggers only receive a value every
        # trainer.log_every_n_steps steps: logging just on those steps writes the same points and saves 9% of a
        # 20k-parameter GRU's CPU step, 4% of a 200k LSTM's (scripts/bench_lightning_privates.py, 2026-12-04).
        if self._logs_this_step():
            self.log("train/loss", loss, prog_bar=True)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        # Reading the loss waits for the device, so it is looked at only every n steps (and at the last
        # one): after a NaN the weights stay NaN, so the next check still catches it, at most n-1 steps late.
        every, step = self.check_finite_every_n_steps, self.trainer.global_step
        if every > 0 and (step % every == 0 or step >= self.trainer.max_steps > 0):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            if not torch.isfinite(loss).item():
                raise TrainingDiverged(step, float(loss))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rng_states"] = rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "rng_states" in checkpoint:
            set_rng_states(checkpoint["rng_states"])

    def _logs_this_step(self) -> bool:
        """Whether the Trainer hands logged values to the loggers after this training step.

        Lightning's own rule (``LoggerConnector.should_update_logs``, not public) is "(batches stepped + 1) is a
        multiple of log_every_n_steps, or the run stops"; with one optimizer, batches stepped = global_step.
        tests/test_lightning_internals.py checks the two agree on the installed Lightning. Outside a Trainer
        (a direct call) it logs, as Lightning would.
        """
        try:
            trainer = self.trainer
        except RuntimeError:  # not attached to a Trainer
            return True
        return (trainer.global_step + 1) % trainer.log_every_n_steps == 0 or trainer.should_stop

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        inputs, targets = batch
        logits = self(inputs)
        self.log("val/loss", sequence_loss(logits, targets), prog_bar=True, sync_dist=True)
        self.val_acc.update(logits, targets)

    def on_validation_epoch_end(self) -> None:
        scores = self.val_acc.compute()
        self.log("val/token_acc", scores["token_acc"], sync_dist=True)
        self.log("val/seq_acc", scores["seq_acc"], prog_bar=True, sync_dist=True)
        self.val_acc.reset()

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.model.parameters())
        if self.scheduler_factory is None:
            return optimizer
        total = self.trainer.max_steps if self.trainer.max_steps > 0 else 1000
        if self.budget_progress is None:
            scheduler = self.scheduler_factory(optimizer, total_steps=total)
        else:
            try:
                scheduler = self.scheduler_factory(optimizer, total_steps=total, progress=self.budget_progress)
            except TypeError:
                raise UserError("budget.seconds needs a learning-rate schedule that can follow the time spent "
                                "(a `progress` argument, as scheduler=warmup_cosine has); "
                                f"{self.scheduler_factory} has none") from None
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
