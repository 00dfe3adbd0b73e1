"""The two arms a row times: (a) the compare-train path, (b) a plain PyTorch loop over the same model and batches."""

from __future__ import annotations

import statistics
import time
from contextlib import nullcontext

import torch
from omegaconf import DictConfig

from compare.config.build import build
from compare.training.callbacks import ThroughputCallback
from compare.training.datamodule import TaskStream
from compare.training.module import SequenceModule, sequence_loss
from compare.training.step_timer import StepTimer, peak_memory_mb, reset_peak_memory, synchronize
from compare.training.trainer import build_callbacks, build_trainer

class FrameworkArm:
    """(a): a Lightning Trainer around SequenceModule and TaskDataModule, built as compare-train builds them."""

    def __init__(self, cfg: DictConfig, model: torch.nn.Module, task, compile: bool = False,
                 compile_backend: str | None = None) -> None:
        self.cfg = cfg
        self.module = SequenceModule(model, build(cfg.optimizer), build(cfg.scheduler) if cfg.get("scheduler") else None,
                                     compile=compile and compile_backend is None)
        if compile and compile_backend is not None:
            self.module.forward_fn = torch.compile(model, backend=compile_backend)
        self.datamodule = build(cfg.data, task=task, seed=cfg.seed)

    def run(self, extra_callbacks: tuple = ()) -> dict:
        """Train ``trainer.max_steps`` steps with a fresh Trainer; the throughput callback's figures."""
        callbacks = build_callbacks(self.cfg) + list(extra_callbacks)
        trainer = build_trainer(self.cfg, callbacks, None, self.module.num_params)
        trainer.fit(self.module, datamodule=self.datamodule)
        throughput = next(c for c in callbacks if isinstance(c, ThroughputCallback))
        self.device = self.module.device
        return throughput.summary


class RawArm:
    """(b): a plain PyTorch loop over the same model, batches, optimizer, schedule and gradient clipping."""

    def __init__(self, cfg: DictConfig, model: torch.nn.Module, datamodule, device: torch.device) -> None:
        self.cfg, self.model, self.datamodule, self.device = cfg, model, datamodule, device
        precision = str(cfg.trainer.get("precision", "32-true"))
        dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else nullcontext
        self.clip = cfg.trainer.get("gradient_clip_val")

    def run(self, warmup: int, steps: int, profiler=None) -> dict:
        """``warmup`` untimed steps, then ``steps`` timed ones; ``profiler`` (a torch.profiler.profile) records step
        ``warmup`` alone."""
        cfg, model = self.cfg, self.model.to(self.device).train()
        optimizer = build(cfg.optimizer)(model.parameters())
        scheduler = build(cfg.scheduler)(optimizer, total_steps=warmup + steps) if cfg.get("scheduler") else None
        timer = StepTimer(self.device)
        reset_peak_memory(self.device)
        stream = iter(batch_stream(self.datamodule, self.device))
        for i in range(warmup + steps):
            inputs, targets = next(stream)
            if i == warmup:
                timer.start()
                if profiler is not None:
                    profiler.start()
            with self.autocast():
                loss = sequence_loss(model(inputs), targets)
            loss.backward()
            # Lightning drops the step's graph right after backward; holding it into the next step changes
            # when the allocator frees and re-maps memory, which on CPU was worth up to 25% of a GRU step.
            del loss
            if self.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), self.clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if scheduler is not None:
                scheduler.step()
            timer.count(inputs.numel())
            if profiler is not None and i == warmup:
                synchronize(self.device)  # the step's kernels belong in its trace
                profiler.stop()
        timer.pause()
        return {**timer.summary(), "peak_mem_mb": peak_memory_mb(self.device)}


def batch_stream(datamodule, device: torch.device) -> TaskStream:
    """The training batches a framework run starts from (step 0), made on ``device``."""
    return TaskStream(datamodule.task, datamodule.batch_size, datamodule.seed, device)


def data_time_s(datamodule, device: torch.device, repeats: int = 20) -> float:
    """Median seconds to make one training batch on the training device."""
    stream = iter(batch_stream(datamodule, device))
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        next(stream)
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
