"""Small reusable callbacks: the best checkpoint, training throughput and memory, and accuracy against length."""

from __future__ import annotations

from typing import Sequence

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from compare.errors import UserError
from compare.evaluation import LengthResult, evaluate_ladder, ladder_lengths
from compare.tasks.base import check_positive
from compare.training.scored import check_choice, scored_model
from compare.training.step_timer import StepTimer, peak_memory_mb, reset_peak_memory

__all__ = ["BestCheckpoint", "LengthLadderCallback", "ThroughputCallback", "peak_memory_mb"]


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint whose ties on the monitored metric go to the checkpoint better on ``tie_break``.

    Accuracy saturates: once validation reads 1.00, every later validation ties, and ModelCheckpoint keeps
    the first one, often far less trained (a qa transformer's best was step 200 of 800, and it scored 0.90 on
    the evaluation set where step 800 scored 1.00). Here a tie is won by the lower ``tie_break`` metric
    (val/loss by default; ``tie_break_mode: max`` for one to maximise), so the best checkpoint is the best
    accuracy at the best loss (with ``save_top_k: 1``, the configured one; other values keep Lightning's rule).
    ``tie_break: null`` is plain ModelCheckpoint.
    """

    def __init__(self, *args, tie_break: str | None = "val/loss", tie_break_mode: str = "min", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if tie_break_mode not in ("min", "max"):
            raise UserError(f"callbacks.checkpoint.tie_break_mode={tie_break_mode!r} is not accepted; "
                            "choose one of ['min', 'max']")
        self.tie_break, self.tie_break_mode = tie_break, tie_break_mode
        self.best_tie_break: float | None = None

    def check_monitor_top_k(self, trainer: L.Trainer, current: torch.Tensor | None = None) -> bool:
        better = super().check_monitor_top_k(trainer, current)
        if self.tie_break and self.tie_break not in trainer.callback_metrics:
            raise UserError(f"callbacks.checkpoint.tie_break={self.tie_break!r} is not a logged metric; logged: "
                            f"{sorted(trainer.callback_metrics)} (or null for no tie-break)")
        tie_value = float(trainer.callback_metrics[self.tie_break]) if self.tie_break else None
        if not better and current is not None and tie_value is not None and self.save_top_k == 1 and self.best_k_models:
            tied = float(current) == float(self.best_k_models[self.kth_best_model_path])
            ahead = self.best_tie_break is None or (tie_value < self.best_tie_break if self.tie_break_mode == "min"
                                                   else tie_value > self.best_tie_break)
            # Every rank sees the same synced metrics; the reduction keeps the ranks' decisions one.
            better = trainer.strategy.reduce_boolean_decision(tied and ahead)
        if better:
            self.best_tie_break = tie_value
        return better

    def state_dict(self) -> dict:
        return {**super().state_dict(), "best_tie_break": self.best_tie_break}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.best_tie_break = state_dict.get("best_tie_break")


class ThroughputCallback(L.Callback):
    """Training tokens/s, mean step time and peak memory, timed after ``warmup_steps`` with validation excluded.

    Uses the same ``StepTimer`` as ``compare-bench``, so a run's figures and the benchmark's agree.
    Per step it only counts tokens; the clock is read at the window edges and every
    ``log_every_n_steps`` steps, so on a GPU it adds no per-step sync.
    """

    def __init__(self, warmup_steps: int = 5, log_every_n_steps: int = 50) -> None:
        self.warmup_steps = warmup_steps
        self.log_every_n_steps = log_every_n_steps
        self.summary: dict = {}
        self.timer: StepTimer | None = None
        self._seen = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self.timer = StepTimer(pl_module.device)
        self._seen = 0
        reset_peak_memory(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._seen >= self.warmup_steps:
            self.timer.start()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._seen += 1
        timer = self.timer
        if not timer.running:
            return
        timer.count(batch[0].numel() * trainer.world_size)  # global tokens under DDP
        if trainer.max_steps > 0 and trainer.global_step >= trainer.max_steps:
            timer.pause()  # the window ends with the last step, before the fit loop's end-of-training work
            return
        if self.log_every_n_steps and timer.steps % self.log_every_n_steps == 0:
            elapsed = timer.elapsed()
            for logger in trainer.loggers:
                logger.log_metrics({
                    "perf/tokens_per_s": timer.tokens / elapsed,
                    "perf/step_time_ms": 1000 * elapsed / timer.steps,
                    "perf/peak_mem_mb": peak_memory_mb(pl_module.device),
                }, step=trainer.global_step)

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.timer is not None and trainer.state.fn == "fit":
            self.timer.pause()  # restarts at the next training batch

    def on_train_end(self, trainer, pl_module) -> None:
        self.timer.pause()
        self.summary = {**self.timer.summary(), "peak_mem_mb": peak_memory_mb(pl_module.device),
                        "torch_threads": torch.get_num_threads()}


class LengthLadderCallback(L.Callback):
    """After training, accuracy at a ladder of lengths (by default ½×, 1×, 2×, 4× the longest training length).

    Scores the weights ``checkpoint`` names (``eval.checkpoint``: the best validation checkpoint, or the
    last step's), and marks each rung inside the training range [task.min_length, task.length].
    Logged to TensorBoard with the length as the step, so the dashboard draws accuracy against length.
    """

    def __init__(self, multipliers: Sequence[float] = (0.5, 1, 2, 4), lengths: Sequence[int] | None = None,
                 num_samples: int = 256, batch_size: int = 128, checkpoint: str = "best") -> None:
        # Named by the eval/data keys users set (callbacks/default.yaml interpolates them from there).
        if any(isinstance(m, bool) or not isinstance(m, (int, float)) or m <= 0 for m in multipliers or ()):
            raise UserError(f"eval.multipliers={list(multipliers)!r} is not accepted: each must be a number > 0")
        if lengths is not None and any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in lengths):
            raise UserError(f"eval.lengths={list(lengths)!r} is not accepted: each must be an integer >= 1")
        check_positive("eval.num_samples", num_samples)
        check_positive("data.eval_batch_size", batch_size)
        self.multipliers = list(multipliers)
        self.lengths = list(lengths) if lengths else None
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.checkpoint = check_choice(checkpoint)
        self.results: list[LengthResult] = []
        #: Which weights the results are of ({"scored_checkpoint", "scored_step"}), once evaluated.
        self.scored: dict | None = None

    def on_train_end(self, trainer, pl_module) -> None:
        # Before on_fit_end, where the dashboard callback reads the results.
        if not trainer.is_global_zero:
            return
        model, which = scored_model(trainer, pl_module, self.checkpoint)
        self.evaluate(trainer, model, which)

    def evaluate(self, trainer, model: torch.nn.Module, which: dict) -> None:
        """Evaluate ``model`` (the weights ``which`` describes) at every rung and log the results."""
        task = trainer.datamodule.task
        lengths = ladder_lengths(task.length, self.multipliers, self.lengths)
        self.results = evaluate_ladder(model, task, lengths, self.num_samples, self.batch_size)
        self.scored = dict(which)
        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                continue
            for r in self.results:
                if r.supported and r.seq_acc is not None:
                    logger.experiment.add_scalar("length/seq_acc", r.seq_acc, global_step=r.length)
                    logger.experiment.add_scalar("length/token_acc", r.token_acc, global_step=r.length)
            logger.experiment.flush()
