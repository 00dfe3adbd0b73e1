"""How many torch threads a job uses, so parallel sweep jobs and DDP ranks share the cores instead of fighting; and
the CPU's handling of subnormal floats, which every job sets at its start."""

from __future__ import annotations

import os

import torch
from omegaconf import DictConfig

from compare.errors import UserError


def parallel_sweep_jobs() -> int:
    """Jobs a Hydra launcher runs at once on this machine (joblib's n_jobs; 1 for the basic launcher)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        launcher = HydraConfig.get().launcher
    except (ImportError, ValueError):  # not inside a Hydra job
        return 1
    n_jobs = launcher.get("n_jobs") if "joblib" in str(launcher.get("_target_", "")) else None
    if n_jobs is None:
        return 1
    n_jobs = int(n_jobs)
    return os.cpu_count() or 1 if n_jobs < 0 else max(1, n_jobs)


def local_processes(cfg: DictConfig) -> int:
    """Training processes this run starts on this machine's CPU cores (DDP ranks on CPU; else 1)."""
    trainer = cfg.get("trainer") or {}
    strategy, devices = str(trainer.get("strategy", "auto")), trainer.get("devices", 1)
    if strategy.startswith("ddp") and trainer.get("accelerator") == "cpu" and isinstance(devices, int):
        return max(1, devices)
    return 1


def job_threads(setting, cpu_count: int, sharers: int) -> int | None:
    """Threads for one process: an explicit count, or with ``auto`` the cores split over ``sharers`` processes.

    ``None`` means leave torch's default (a lone job on the machine).
    """
    if setting is None or setting == "auto":
        return None if sharers <= 1 else max(1, cpu_count // sharers)
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise UserError(f"threads={setting!r} is not accepted: use auto or an integer >= 1")
    return setting


def apply_threads(cfg: DictConfig) -> int:
    """Set torch's intra-op threads from ``cfg.threads`` at job start; returns the count in use."""
    sharers = parallel_sweep_jobs() * local_processes(cfg)
    threads = job_threads(cfg.get("threads", "auto"), os.cpu_count() or 1, sharers)
    if threads is not None and threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def flush_denormals() -> bool:
    """Flush subnormal floats (magnitudes below 1.2e-38) to zero on the CPU, for this thread and those it starts.

    x86 arithmetic on subnormal numbers is tens of times slower than on normal ones, and training makes them: a
    gradient that fades back through hundreds of recurrent steps with no loss on them (copy scores only its
    second half) passes through the subnormal range on its way to zero. Measured 2026-12-06 (issue 23, torch
    2.13 CPU, one thread): the LSTM of compare-bench at T=1024 trained 5,000-7,000 tokens/s of CPU time with
    them and 29,000 with them flushed, the same as at T=256; what is lost is below 1e-38 of a gradient whose
    largest entries are about 1e-4. Called at a job's start, before torch starts its worker threads, which
    inherit the setting. Returns False where the CPU cannot flush (then nothing changes).
    """
    return torch.set_flush_denormal(True)
