"""Measuring a row: warm-up, interleaved pairs of the two arms, medians and ratios; each row in its own process."""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import math
import multiprocessing
import os
import statistics
import tempfile
import warnings

import torch

from compare.benchmark.arms import FrameworkArm, RawArm, batch_stream, data_time_s
from compare.benchmark.probes import device_peak_flops, sdpa_kernel, uses_sdpa
from compare.benchmark.rows import RowSpec, compose_config
from compare.config.build import build, build_model
from compare.training.flops import sequence_flops
from compare.training.threads import flush_denormals
from compare.training.step_timer import peak_memory_mb

def measure_row(spec: RowSpec) -> dict:
    """Time one row: warm-up, then ``pairs`` interleaved repeats of framework and raw loop; medians."""
    torch.set_float32_matmul_precision("high")  # as compare-train does
    flush_denormals()  # as compare-train does
    if spec.threads:
        torch.set_num_threads(spec.threads)
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no per-Trainer banners between repeats
    warnings.filterwarnings("ignore", module="lightning")
    rss_before = peak_memory_mb(torch.device("cpu"))
    with tempfile.TemporaryDirectory(prefix="compare-bench-") as out:
        cfg = compose_config(spec, out)
        torch.manual_seed(cfg.seed)
        task = build(cfg.task)
        model = build_model(cfg.model, vocab_size=task.num_tokens)
        arms = build_arms(spec, cfg, model, task, out)
        runs = timed_pairs(spec, arms)
        device = arms["framework"].device
        datamodule = arms["framework"].datamodule
        inputs, targets = next(iter(batch_stream(datamodule, device)))
        probes = {
            "flops": inputs.shape[0] * sequence_flops(model, inputs.shape[1]),
            "kernel": sdpa_kernel(model, inputs, arms["raw"].autocast) if uses_sdpa(model) else None,
            "data_s": data_time_s(datamodule, device),
        }
    return row_of(spec, runs, model, inputs, device, probes, rss_before)


def build_arms(spec: RowSpec, cfg, model, task, out: str) -> dict:
    """The arms of a row, each run once untimed (the framework's run also moves the model to its device)."""
    arms = {"framework": FrameworkArm(cfg, model, task)}
    arms["framework"].run()
    arms["raw"] = RawArm(cfg, model, arms["framework"].datamodule, arms["framework"].device)
    if spec.compile:
        arms["compiled"] = FrameworkArm(compose_config(spec, out, compile=True), model, task, compile=True,
                                        compile_backend=spec.compile_backend)
        arms["compiled"].run()
    arms["raw"].run(spec.warmup, spec.steps)
    return arms


def timed_pairs(spec: RowSpec, arms: dict) -> dict[str, list[dict]]:
    """``spec.pairs`` rounds of every arm, the order reversed each round; each run's timings and page faults."""
    runs: dict[str, list[dict]] = {name: [] for name in arms}
    order = list(arms)
    for i in range(spec.pairs):
        # A B, then B A, ...: a drift of the machine's speed, or being first after the other arm, favours neither.
        for name in order if i % 2 == 0 else reversed(order):
            gc.collect()  # each arm starts without the other's garbage to collect
            # Each result has the page faults of its timed steps alone (StepTimer): until 2026-12-06 they were
            # counted over the whole fit, whose end-of-fit scoring (validation of 256 inputs at T=1024) showed as
            # 16,443 faults "per step" of the framework arm's LSTM (issue 23).
            runs[name].append(arms[name].run(spec.warmup, spec.steps) if name == "raw" else arms[name].run())
    return runs


def row_of(spec: RowSpec, runs: dict[str, list[dict]], model, inputs, device, probes: dict, rss_before) -> dict:
    """The row's JSON: medians, per-pair ratios, memory, FLOPs and kernel."""
    step = {name: statistics.median(r["step_time_s"] for r in rs) for name, rs in runs.items()}
    ratios = [b["step_time_s"] / a["step_time_s"] for a, b in zip(runs["framework"], runs["raw"])]
    cpu_ratios = [b["step_cpu_s"] / a["step_cpu_s"] for a, b in zip(runs["framework"], runs["raw"])]
    flops = probes["flops"]
    peak = spec.peak_flops or device_peak_flops(device)
    row = {
        "model": spec.model, "seq_len": spec.seq_len, "batch_size": inputs.shape[0],
        "tokens_per_batch": inputs.numel(), "device": str(device), "params": sum(p.numel() for p in model.parameters()),
        "framework_step_s": step["framework"], "raw_step_s": step["raw"],
        "framework_tokens_per_s": inputs.numel() / step["framework"], "raw_tokens_per_s": inputs.numel() / step["raw"],
        # framework/raw in throughput = raw step time / framework step time, per pair, then the median.
        "ratio": statistics.median(ratios), "ratio_per_pair": ratios,
        "ratio_of_medians": step["raw"] / step["framework"],
        # The same ratio in CPU seconds of this process: little moved by other jobs on a shared machine.
        "cpu_ratio": statistics.median(cpu_ratios), "cpu_ratio_per_pair": cpu_ratios,
        "data_s": probes["data_s"], "data_share": probes["data_s"] / step["raw"],
        "peak_mem_mb": max(r["peak_mem_mb"] for rs in runs.values() for r in rs),
        "peak_mem_framework_mb": max(r["peak_mem_mb"] for r in runs["framework"]),
        "peak_mem_raw_mb": max(r["peak_mem_mb"] for r in runs["raw"]),
        "mem_kind": "cuda_max_allocated" if device.type == "cuda" else "process_peak_rss",
        "rss_before_mb": rss_before if device.type == "cpu" else None,
        "step_times_s": {name: [r["step_time_s"] for r in rs] for name, rs in runs.items()},
        "step_cpu_s": {name: [r["step_cpu_s"] for r in rs] for name, rs in runs.items()},
        "flops_per_step": flops, "achieved_flops": flops / step["framework"] if flops else None,
        "mfu": flops / step["framework"] / peak if flops and peak else None,
        "sdpa_kernel": probes["kernel"],
        "page_faults_per_step": {name: statistics.median(r["page_faults_per_step"] for r in rs)
                                 for name, rs in runs.items()},
        # Spread of the per-pair ratio: how noisy the machine was while this row ran.
        "ratio_spread": (max(ratios) - min(ratios)) if len(ratios) > 1 else 0.0,
    }
    if spec.compile:
        row["compiled_step_s"] = step["compiled"]
        row["compile_speedup"] = step["framework"] / step["compiled"]
    return row


#: glibc's malloc moves its mmap threshold as a process frees large blocks, so whether a step's tensors come from
#: fresh pages (a minor page fault per 4 KiB) depends on everything the process did before: measured on a GRU at
#: T=1024, one arm took 0 faults per step and the other 500-1,000, 13-26% of its step time, and which arm paid
#: changed with the order of frees. Fixed thresholds give both arms the same steady allocator (``--system-malloc``
#: keeps glibc's default; the page faults per step are reported either way).
STEADY_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def run_isolated(spec: RowSpec, steady_malloc: bool = True) -> dict:
    """``measure_row`` in a fresh process, so the CPU's peak-RSS high-water mark belongs to this row alone."""
    ctx = multiprocessing.get_context("spawn")
    # glibc reads the thresholds when the spawned process starts; this process's environment is restored after.
    saved = {k: os.environ.get(k) for k in STEADY_MALLOC_ENV}
    if steady_malloc:
        os.environ.update(STEADY_MALLOC_ENV)
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            return pool.submit(measure_row, spec).result()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def length_exponents(rows: list[dict]) -> dict[str, float]:
    """Per model, the least-squares slope of log(time per sequence) against log(sequence length)."""
    out = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        pts = [(math.log(r["seq_len"]), math.log(r["raw_step_s"] / r["batch_size"])) for r in rows if r["model"] == model]
        if len(pts) < 2:
            continue
        mx = sum(x for x, _ in pts) / len(pts)
        my = sum(y for _, y in pts) / len(pts)
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        out[model] = sum((x - mx) * (y - my) for x, y in pts) / sxx if sxx else float("nan")
    return out
