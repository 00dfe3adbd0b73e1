"""Small reusable callbacks: training throughput and memory, and accuracy against sequence length."""

from __future__ import annotations

import resource
import sys
import time
from typing import Sequence

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger

from compare.errors import UserError
from compare.evaluation import LengthResult, evaluate_ladder, ladder_lengths
from compare.tasks.base import check_positive


def peak_memory_mb(device: torch.device) -> float:
    """CUDA max allocated on a GPU; the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ThroughputCallback(L.Callback):
    """Training tokens/s, mean step time and peak memory, timed after ``warmup_steps`` with validation excluded.

    The clock is read only at the window edges and at logging steps, so on GPU it adds no per-step sync.
    """

    def __init__(self, warmup_steps: int = 5, log_every_n_steps: int = 50) -> None:
        self.warmup_steps = warmup_steps
        self.log_every_n_steps = log_every_n_steps
        self.summary: dict = {}
        self._elapsed = 0.0
        self._t0: float | None = None
        self._tokens = 0
        self._steps = 0

    def _now(self, pl_module) -> float:
        _sync(pl_module.device)
        return time.perf_counter()

    def _running_time(self, pl_module) -> float:
        return self._elapsed + (self._now(pl_module) - self._t0 if self._t0 is not None else 0.0)

    def on_train_start(self, trainer, pl_module) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(pl_module.device)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._t0 is None and batch_idx >= self.warmup_steps:
            self._t0 = self._now(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._t0 is None:
            return
        self._tokens += batch[0].numel()
        self._steps += 1
        if self._steps % self.log_every_n_steps == 0:
            elapsed = self._running_time(pl_module)
            pl_module.log_dict({
                "perf/tokens_per_s": self._tokens / elapsed,
                "perf/step_time_ms": 1000 * elapsed / self._steps,
                "perf/peak_mem_mb": peak_memory_mb(pl_module.device),
            })

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._t0 is not None and trainer.state.fn == "fit":
            self._elapsed += self._now(pl_module) - self._t0
            self._t0 = None  # paused; restarts at the next training batch

    def on_train_end(self, trainer, pl_module) -> None:
        elapsed = self._running_time(pl_module)
        self._t0 = None
        self._elapsed = elapsed
        self.summary = {
            "train_tokens_per_s": self._tokens / elapsed if elapsed > 0 else None,
            "step_time_s": elapsed / self._steps if self._steps else None,
            "timed_steps": self._steps,
            "peak_mem_mb": peak_memory_mb(pl_module.device),
        }


class LengthLadderCallback(L.Callback):
    """After training, accuracy at a ladder of lengths (by default ½×, 1×, 2×, 4× the training length).

    Logged to TensorBoard with the length as the step, so the dashboard draws accuracy against length.
    """

    def __init__(self, multipliers: Sequence[float] = (0.5, 1, 2, 4), lengths: Sequence[int] | None = None,
                 num_samples: int = 256, batch_size: int = 128) -> None:
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
        self.results: list[LengthResult] = []

    def on_train_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        task = trainer.datamodule.task
        lengths = ladder_lengths(task.length, self.multipliers, self.lengths)
        self.results = evaluate_ladder(pl_module.model, task, lengths, self.num_samples, self.batch_size)
        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                continue
            for r in self.results:
                if r.supported and r.seq_acc is not None:
                    logger.experiment.add_scalar("length/seq_acc", r.seq_acc, global_step=r.length)
                    logger.experiment.add_scalar("length/token_acc", r.token_acc, global_step=r.length)
            logger.experiment.flush()
