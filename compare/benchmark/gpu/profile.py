"""A torch.profiler trace of one training step of a bench row, through the framework and through the raw loop,
so a row that misses the target ratio can be explained from a trace rather than a guess."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import lightning as L
import torch
from torch.profiler import ProfilerActivity, profile

from compare.benchmark.arms import FrameworkArm, RawArm
from compare.benchmark.rows import RowSpec, compose_config
from compare.config.build import build, build_model
from compare.runs.atomic import atomic_write_text
from compare.training.step_timer import synchronize


def new_profiler(device: torch.device) -> profile:
    """A profiler of host and (on a GPU) device activity, without stacks or shapes: a small trace."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    return profile(activities=activities)


class ProfileOneStep(L.Callback):
    """Profiles one whole trip through Lightning's loop: from the start of batch ``step`` to the start of the next
    (hooks, optimizer, logging and the next batch's fetch included: whatever the framework adds is in it)."""

    def __init__(self, step: int, device: torch.device) -> None:
        self.step = step
        self.profiler = new_profiler(device)
        self.running = self.done = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step and not self.done:
            self.profiler.start()
            self.running = True
        elif self.running:
            self.stop(pl_module.device)

    def on_train_end(self, trainer, pl_module) -> None:
        if self.running:
            self.stop(pl_module.device)

    def stop(self, device: torch.device) -> None:
        synchronize(device)
        self.profiler.stop()
        self.running, self.done = False, True


def summary_table(prof: profile, device: torch.device) -> str:
    """The ops that took the most time in the trace, as torch prints them."""
    keys = ("self_device_time_total", "self_cuda_time_total") if device.type == "cuda" else ("self_cpu_time_total",)
    for key in keys:
        try:
            return prof.key_averages().table(sort_by=key, row_limit=25)
        except (AttributeError, KeyError, ValueError):
            continue
    return prof.key_averages().table(row_limit=25)


def profile_row(spec: RowSpec, out_dir: Path) -> dict:
    """Chrome traces (gzip) of one framework step and one raw-loop step of ``spec``, and a text summary of both."""
    spec = replace(spec, steps=2, pairs=1)  # a step to profile and one after it, whose start ends the window
    stem = f"{spec.model}_T{spec.seq_len}"
    with tempfile.TemporaryDirectory(prefix="gpu-suite-trace-") as tmp:
        cfg = compose_config(spec, tmp)
        torch.manual_seed(cfg.seed)
        task = build(cfg.task)
        model = build_model(cfg.model, vocab_size=task.num_tokens)
        framework = FrameworkArm(cfg, model, task)
        framework.run()  # warm: the trace should show a steady step, not the first one
        callback = ProfileOneStep(spec.warmup, torch.device("cuda" if cfg.trainer.accelerator == "gpu" else "cpu"))
        framework.run((callback,))
        device = framework.device
        raw_profiler = new_profiler(device)
        RawArm(cfg, model, framework.datamodule, device).run(spec.warmup, 1, profiler=raw_profiler)
    files = {"framework": f"{stem}_framework.json.gz", "raw": f"{stem}_raw.json.gz", "summary": f"{stem}_summary.txt"}
    callback.profiler.export_chrome_trace(str(out_dir / files["framework"]))
    raw_profiler.export_chrome_trace(str(out_dir / files["raw"]))
    atomic_write_text(out_dir / files["summary"], f"{stem}: one framework step (compare-train path)\n"
                      f"{summary_table(callback.profiler, device)}\n\n{stem}: one raw-loop step\n"
                      f"{summary_table(raw_profiler, device)}\n")
    return {"dir": out_dir.name, **files}
