"""StepTimer: the one clock behind every throughput figure (training runs and compare-bench alike)."""

from __future__ import annotations

import resource
import sys
import time

import torch


def peak_memory_mb(device: torch.device) -> float:
    """CUDA max allocated on a GPU; the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh CUDA high-water mark (the CPU's RSS mark cannot be reset inside a process)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def minor_page_faults() -> int:
    """Minor page faults of this process so far (memory the allocator had to map afresh)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels, so a clock read measures finished work (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer:
    """Wall time and tokens over a window of training steps, pausable (e.g. around validation).

    The clock is read (and the device synchronised) only at ``start``/``pause``/``elapsed``, never
    per step, so timing adds no per-step sync on a GPU.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.steps = 0
        self.tokens = 0
        self._banked = 0.0
        self._t0: float | None = None
        # CPU seconds of this process over the same window: unlike wall time, barely moved by other
        # processes competing for the cores, so it separates framework overhead from machine noise.
        self._cpu_banked = 0.0
        self._cpu0 = 0.0
        # Page faults over the same window: what fitting does before and after its steps (the end-of-fit scoring
        # of the dashboard callback maps hundreds of MB for long inputs) is not the steps' cost.
        self._faults_banked = 0
        self._faults0 = 0

    @property
    def running(self) -> bool:
        return self._t0 is not None

    def _now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def start(self) -> None:
        """Start (or resume) the clock."""
        if self._t0 is None:
            self._t0 = self._now()
            self._cpu0 = time.process_time()
            self._faults0 = minor_page_faults()

    def pause(self) -> None:
        """Stop the clock, keeping the time so far."""
        if self._t0 is not None:
            self._banked += self._now() - self._t0
            self._cpu_banked += time.process_time() - self._cpu0
            self._faults_banked += minor_page_faults() - self._faults0
            self._t0 = None

    def count(self, tokens: int) -> None:
        """Record one finished step of ``tokens`` tokens (only while the clock runs)."""
        if self._t0 is not None:
            self.steps += 1
            self.tokens += tokens

    def elapsed(self) -> float:
        """Seconds on the clock so far."""
        return self._banked + (self._now() - self._t0 if self._t0 is not None else 0.0)

    def cpu_elapsed(self) -> float:
        """CPU seconds this process spent (all its threads) while the clock ran."""
        return self._cpu_banked + (time.process_time() - self._cpu0 if self._t0 is not None else 0.0)

    def faults(self) -> int:
        """Minor page faults of this process while the clock ran."""
        return self._faults_banked + (minor_page_faults() - self._faults0 if self._t0 is not None else 0)

    def summary(self) -> dict:
        """tokens/s, mean step time (wall and CPU), page faults per step and the number of timed steps (None where
        nothing was timed)."""
        elapsed = self.elapsed()
        return {
            "page_faults_per_step": self.faults() / self.steps if self.steps else None,
            "train_tokens_per_s": self.tokens / elapsed if elapsed > 0 and self.steps else None,
            "step_time_s": elapsed / self.steps if self.steps else None,
            "step_cpu_s": self.cpu_elapsed() / self.steps if self.steps else None,
            "timed_steps": self.steps,
        }
