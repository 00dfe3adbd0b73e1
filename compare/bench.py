r"""compare-bench: the framework's training path against a plain PyTorch loop, per model and sequence length.

For each model and each sequence length (at a fixed number of tokens per batch) it builds the run
exactly as ``compare-train`` does from the Hydra config (Trainer + SequenceModule + TaskDataModule,
with the logger and throughput callback), and a plain loop over the same model, the same batches,
the same optimizer, schedule and gradient clipping. Both are timed by the same ``StepTimer`` after
warm-up, in interleaved repeats (A B, B A, A B, ...), and the medians are compared:

    compare-bench                                   # CPU defaults, a few minutes on 2 cores
    compare-bench --trainer gpu --lengths 256,1024,4096,16384 --tokens-per-batch 65536 --compile \
        --override model.param_budget=5000000 --override transformer-sdpa:model.d_model=512 \
        --override transformer-explicit:model.d_model=512
    compare-bench --models transformer-sdpa --override model.param_budget=1000000
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import logging
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from compare.build import build, build_model
from compare.errors import UserError
from compare.results import atomic_write_text, library_versions
from compare.training.datamodule import TaskStream
from compare.training.module import SequenceModule, sequence_loss
from compare.training.step_timer import StepTimer, peak_memory_mb, reset_peak_memory, synchronize

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

#: Benchmark model name -> overrides of the Hydra config that build it.
MODELS = {
    "lstm": ["model=lstm"],
    "gru": ["model=gru"],
    "rnn": ["model=rnn"],
    "transformer-sdpa": ["model=transformer", "model.attention=sdpa", "model.pos_encoding=sinusoidal"],
    "transformer-explicit": ["model=transformer", "model.attention=explicit", "model.pos_encoding=sinusoidal"],
}

#: Dense bf16 peak FLOP/s of GPUs we know, for model FLOPs utilisation (override with --peak-flops).
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}

#: aten op of scaled_dot_product_attention -> the kernel it names.
SDPA_KERNELS = {
    "_scaled_dot_product_flash_attention_for_cpu": "flash (CPU)",
    "_scaled_dot_product_flash_attention": "flash",
    "_scaled_dot_product_efficient_attention": "memory-efficient",
    "_scaled_dot_product_cudnn_attention": "cuDNN",
    "_scaled_dot_product_fused_attention_overrideable": "fused (backend)",
}


@dataclass
class RowSpec:
    """One benchmark row: a model at one sequence length, and how to time it."""

    model: str
    seq_len: int
    tokens_per_batch: int
    steps: int
    warmup: int
    pairs: int
    trainer: str
    overrides: list[str] = field(default_factory=list)
    compile: bool = False
    peak_flops: float | None = None
    threads: int | None = None


def row_overrides(overrides: list[str], model: str) -> list[str]:
    """The overrides for one bench model: plain ones apply to every row, ``MODEL:key=value`` to that model only."""
    out = []
    for o in overrides:
        name, sep, rest = o.partition(":")
        if sep and name in MODELS and "=" not in name:
            if name == model:
                out.append(rest)
        else:
            out.append(o)
    return out


def compose_config(spec: RowSpec, out_dir: str, *, compile: bool = False) -> DictConfig:
    """The Hydra config of a ``compare-train`` run for this row, with validation and checkpoints off."""
    batch_size = max(1, spec.tokens_per_batch // spec.seq_len)
    overrides = [
        *MODELS[spec.model], "task=copy", f"task.length={spec.seq_len // 2}", f"data.batch_size={batch_size}",
        f"trainer={spec.trainer}", f"trainer.max_steps={spec.warmup + spec.steps}", "++trainer.limit_val_batches=0",
        "~callbacks.checkpoint", "~callbacks.length_ladder", f"callbacks.throughput.warmup_steps={spec.warmup}",
        f"output_dir={out_dir}", "progress_bar=none", f"model.compile={str(compile).lower()}",
        *row_overrides(spec.overrides, spec.model),
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


class FrameworkArm:
    """(a): a Lightning Trainer around SequenceModule and TaskDataModule, built as compare-train builds them."""

    def __init__(self, cfg: DictConfig, model: torch.nn.Module, task, compile: bool = False) -> None:
        from compare.train import progress_bar_callbacks

        self.cfg = cfg
        self.module = SequenceModule(model, build(cfg.optimizer), build(cfg.scheduler) if cfg.get("scheduler") else None,
                                     compile=compile)
        self.datamodule = build(cfg.data, task=task, seed=cfg.seed)
        self._bar = progress_bar_callbacks(cfg.progress_bar)

    def run(self) -> dict:
        """Train ``trainer.max_steps`` steps with a fresh Trainer; the throughput callback's figures."""
        cfg = self.cfg
        callbacks = [build(c) for c in cfg.callbacks.values()]
        loggers = [build(c) for c in cfg.logger.values()] if cfg.get("logger") else False
        show_bar, bar = self._bar
        trainer = build(cfg.trainer, callbacks=callbacks + bar, logger=loggers, enable_progress_bar=show_bar)
        trainer.fit(self.module, datamodule=self.datamodule)
        throughput = next(c for c in callbacks if type(c).__name__ == "ThroughputCallback")
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

    def run(self, warmup: int, steps: int) -> dict:
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


def step_flops(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> int:
    """FLOPs of one forward+backward, counted by torch's FlopCounterMode (matmuls and attention)."""
    from torch.nn.attention import SDPBackend
    from torch.nn.attention import sdpa_kernel as sdpa_kernel_choice
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # The counter has no formula for the CPU flash kernel; the math backend runs the same attention as
    # counted matmuls (full T x T, the usual convention for MFU, as the GPU kernels' formulas also count).
    backend = sdpa_kernel_choice(SDPBackend.MATH) if inputs.device.type == "cpu" else nullcontext()
    with counter, backend:
        sequence_loss(model(inputs), targets).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def aten_ops(model: torch.nn.Module, inputs: torch.Tensor, autocast) -> set[str]:
    """Names of the aten ops one forward pass dispatches (e.g. which attention kernel ran)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class OpRecorder(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names: set[str] = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.add(func.overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), autocast(), OpRecorder() as recorder:
        model(inputs)
    return recorder.names


def sdpa_kernel(model: torch.nn.Module, inputs: torch.Tensor, autocast) -> str | None:
    """Which scaled_dot_product_attention kernel a forward pass ran (from the aten ops it dispatched)."""
    names = aten_ops(model, inputs, autocast)
    found = [kernel for op, kernel in SDPA_KERNELS.items() if op in names]
    if found:
        return ", ".join(found)
    # SDPA's math fallback decomposes into plain matmuls and softmax.
    return "math (unfused)" if any(isinstance(m, torch.nn.Module) and getattr(m, "impl", None) == "sdpa"
                                   for m in model.modules()) else None


def device_peak_flops(device: torch.device) -> float | None:
    """The device's dense bf16 peak, when it is a GPU we know."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_FLOPS.items() if key in name), None)


def minor_page_faults() -> int:
    """Minor page faults of this process so far (memory the allocator had to map afresh)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure_row(spec: RowSpec) -> dict:
    """Time one row: warm-up, then ``pairs`` interleaved repeats of framework and raw loop; medians."""
    torch.set_float32_matmul_precision("high")  # as compare-train does
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
        arms = {"framework": FrameworkArm(cfg, model, task)}
        arms["framework"].run()  # warm-up (also moves the model to the training device)
        device = arms["framework"].device
        arms["raw"] = RawArm(cfg, model, arms["framework"].datamodule, device)
        if spec.compile:
            arms["compiled"] = FrameworkArm(compose_config(spec, out, compile=True), model, task, compile=True)
            arms["compiled"].run()
        arms["raw"].run(spec.warmup, spec.steps)

        runs: dict[str, list[dict]] = {name: [] for name in arms}
        order = list(arms)
        for i in range(spec.pairs):
            # A B, then B A, ...: a drift of the machine's speed, or being first after the other arm, favours neither.
            for name in order if i % 2 == 0 else reversed(order):
                gc.collect()  # each arm starts without the other's garbage to collect
                faults = minor_page_faults()
                result = arms[name].run(spec.warmup, spec.steps) if name == "raw" else arms[name].run()
                result["page_faults_per_step"] = (minor_page_faults() - faults) / (spec.warmup + spec.steps)
                runs[name].append(result)

        datamodule = arms["framework"].datamodule
        inputs, targets = next(iter(batch_stream(datamodule, device)))
        flops = step_flops(model, inputs, targets) if spec.model.startswith("transformer") else None
        kernel = sdpa_kernel(model, inputs, arms["raw"].autocast) if spec.model == "transformer-sdpa" else None
        make_data = data_time_s(datamodule, device)

    step = {name: statistics.median(r["step_time_s"] for r in rs) for name, rs in runs.items()}
    ratios = [b["step_time_s"] / a["step_time_s"] for a, b in zip(runs["framework"], runs["raw"])]
    cpu_ratios = [b["step_cpu_s"] / a["step_cpu_s"] for a, b in zip(runs["framework"], runs["raw"])]
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
        "data_s": make_data, "data_share": make_data / step["raw"],
        "peak_mem_mb": max(r["peak_mem_mb"] for rs in runs.values() for r in rs),
        "peak_mem_framework_mb": max(r["peak_mem_mb"] for r in runs["framework"]),
        "peak_mem_raw_mb": max(r["peak_mem_mb"] for r in runs["raw"]),
        "mem_kind": "cuda_max_allocated" if device.type == "cuda" else "process_peak_rss",
        "rss_before_mb": rss_before if device.type == "cpu" else None,
        "step_times_s": {name: [r["step_time_s"] for r in rs] for name, rs in runs.items()},
        "step_cpu_s": {name: [r["step_cpu_s"] for r in rs] for name, rs in runs.items()},
        "flops_per_step": flops, "achieved_flops": flops / step["framework"] if flops else None,
        "mfu": flops / step["framework"] / peak if flops and peak else None,
        "sdpa_kernel": kernel,
        "page_faults_per_step": {name: statistics.median(r["page_faults_per_step"] for r in rs)
                                 for name, rs in runs.items()},
    }
    if spec.compile:
        row["compiled_step_s"] = step["compiled"]
        row["compile_speedup"] = step["framework"] / step["compiled"]
    # Spread of the per-pair ratio: how noisy the machine was while this row ran.
    row["ratio_spread"] = (max(ratios) - min(ratios)) if len(ratios) > 1 else 0.0
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
    if steady_malloc:
        os.environ.update(STEADY_MALLOC_ENV)  # read by glibc when the spawned process starts
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(measure_row, spec).result()


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


EXPONENT_NOTE = (
    "Exponent k: time per sequence grows as T^k at a fixed number of tokens per batch (log-log slope over the "
    "lengths run). A recurrent model takes T sequential steps, so k is about 1 and its tokens/s stays flat. "
    "A transformer's attention costs T^2 per sequence (k -> 2 once attention dominates the MLPs); on a GPU the "
    "T positions run in parallel, so wall time can grow more slowly than the FLOPs (k < 2) until compute or "
    "memory binds. On a CPU there is no parallel hardware to hide it."
)


def print_report(rows: list[dict], exponents: dict[str, float], target: float, console: Console) -> None:
    """The ratio table, the cost-vs-length exponents and a verdict against the target ratio."""
    compiled = any("compile_speedup" in r for r in rows)
    table = Table(title=f"compare-bench on {rows[0]['device']}: framework (a) vs raw PyTorch loop (b), medians")
    for col in ("model", "T", "batch", "(a) tok/s", "(b) tok/s", "(a)/(b)", "pair spread", "CPU-time (a)/(b)", "(a) step ms",
                "faults/step (a)/(b)", "data %", "peak MB", "GFLOP/s", "MFU", "SDPA kernel"):
        table.add_column(col, justify="left" if col in ("model", "SDPA kernel") else "right")
    if compiled:
        table.add_column("compile gain", justify="right")
    for r in rows:
        ok = r["ratio"] >= target
        cells = [
            r["model"], str(r["seq_len"]), str(r["batch_size"]), f"{r['framework_tokens_per_s']:,.0f}",
            f"{r['raw_tokens_per_s']:,.0f}", f"[{'green' if ok else 'red'}]{r['ratio']:.3f}[/]",
            f"{r['ratio_spread']:.3f}", f"{r['cpu_ratio']:.3f}", f"{1000 * r['framework_step_s']:.1f}",
            "{framework:.0f}/{raw:.0f}".format(**r["page_faults_per_step"]), f"{100 * r['data_share']:.2f}",
            f"{r['peak_mem_mb']:,.0f}", f"{r['achieved_flops'] / 1e9:.2f}" if r["achieved_flops"] else "-",
            f"{100 * r['mfu']:.1f}%" if r["mfu"] else "-", r["sdpa_kernel"] or "-",
        ]
        if compiled:
            cells.append(f"{r['compile_speedup']:.2f}x" if "compile_speedup" in r else "-")
        table.add_row(*cells)
    console.print(table)
    mem = "CUDA max allocated" if rows[0]["mem_kind"] == "cuda_max_allocated" else "peak RSS of the row's own process"
    console.print(f"(a)/(b): raw step time / framework step time per interleaved pair, median; >= {target} is the "
                  f"target. Pair spread: max - min of the per-pair ratios (machine noise). CPU-time (a)/(b): the same ratio in CPU seconds of the benchmark process, which other jobs on a shared machine barely move. Peak MB: {mem}. "
                  "faults/step: minor page faults per step, per arm (memory mapped afresh; see --system-malloc). "
                  "data %: time to make one batch / raw step time.")
    console.print("Measured exponents k (time per sequence ~ T^k): "
                  + ", ".join(f"{m} {k:.2f}" for m, k in exponents.items()))
    console.print(EXPONENT_NOTE)
    slow_attention = [r for r in rows if r["device"].startswith("cuda") and r["sdpa_kernel"]
                      and "flash" not in r["sdpa_kernel"]]
    if slow_attention:
        console.print("[yellow]SDPA did not pick the flash kernel: it needs bf16/fp16 (trainer=gpu) and a head size "
                      "(d_model / n_heads) that is a multiple of 8, e.g. transformer-sdpa:model.d_model=256.[/]")
    low = [r for r in rows if r["ratio"] < target]
    worst = min(rows, key=lambda r: r["ratio"])
    console.print(f"Worst row: {worst['model']} T={worst['seq_len']} at {worst['ratio']:.3f}. "
                  + (f"{len(low)} row(s) below {target}." if low else f"Every row >= {target}."))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="compare-bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lstm,gru,transformer-sdpa,transformer-explicit",
                   help=f"comma-separated, from {', '.join(MODELS)}")
    p.add_argument("--lengths", default="64,256,1024", help="sequence lengths in tokens (even), comma-separated")
    p.add_argument("--tokens-per-batch", type=int, default=2048, help="batch size = this // length")
    p.add_argument("--steps", type=int, default=10, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of every repeat")
    p.add_argument("--pairs", type=int, default=5, help="interleaved (framework, raw) pairs per row, order alternating")
    p.add_argument("--trainer", default="default", help="trainer config group: default (CPU) or gpu")
    p.add_argument("--compile", action="store_true", help="also time model.compile=true and report its gain")
    p.add_argument("--peak-flops", type=float, default=None, help="device peak FLOP/s for MFU (known GPUs: automatic)")
    p.add_argument("--target", type=float, default=0.97, help="framework/raw ratio each row should reach")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Hydra override for every row, e.g. model.param_budget=1000000, or for one model with "
                        "a prefix, e.g. transformer-sdpa:model.d_model=256 (repeatable)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per row (default 1: steady timings, and the ratio is about framework overhead, "
                        "not thread scaling; with 2 threads on a busy 2-core machine a step took 50x longer); "
                        "0 = torch's own choice")
    p.add_argument("--system-malloc", action="store_true",
                   help="keep glibc's adaptive malloc thresholds in the row processes (see STEADY_MALLOC_ENV)")
    p.add_argument("--no-isolate", action="store_true",
                   help="run rows in this process (faster start; CPU peak RSS is then a running maximum)")
    p.add_argument("--json", default="bench.json", help="where to write the results")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Console script ``compare-bench``."""
    args = parse_args(argv)
    try:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        bad = [m for m in models if m not in MODELS]
        if bad:
            raise UserError(f"--models: {bad} not known; choose from {list(MODELS)}")
        try:
            lengths = [int(x) for x in args.lengths.split(",")]
        except ValueError:
            raise UserError(f"--lengths={args.lengths!r}: expected comma-separated integers") from None
        if any(t < 2 or t % 2 for t in lengths):
            raise UserError(f"--lengths={args.lengths}: each length must be an even number >= 2 (copy task: 2L tokens)")
        for name in ("steps", "pairs", "tokens_per_batch"):
            if getattr(args, name) < 1:
                raise UserError(f"--{name.replace('_', '-')}={getattr(args, name)} must be >= 1")
        if args.trainer != "default" and "gpu" in args.trainer and not torch.cuda.is_available():
            raise UserError(f"--trainer {args.trainer} needs a CUDA GPU and none is visible")
    except UserError as e:
        print(f"compare-bench: error: {e}", file=sys.stderr)
        sys.exit(2)

    console = Console(width=None if sys.stdout.isatty() else 200)
    rows, failed = [], []
    t0 = time.time()
    for model in models:
        for seq_len in lengths:
            spec = RowSpec(model, seq_len, args.tokens_per_batch, args.steps, args.warmup, args.pairs, args.trainer,
                           args.override, args.compile, args.peak_flops, args.threads)
            with console.status(f"{model} T={seq_len}"):
                try:
                    row = measure_row(spec) if args.no_isolate else run_isolated(spec, not args.system_malloc)
                except (torch.OutOfMemoryError, RuntimeError, UserError) as e:
                    # One row that cannot run (out of memory at a long length) is a result, not the end.
                    message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    console.print(f"  {model:22s} T={seq_len:<6d} [red]could not run: {message}[/]")
                    failed.append({"model": model, "seq_len": seq_len, "error": f"{type(e).__name__}: {message}"})
                    continue
            console.print(f"  {model:22s} T={seq_len:<6d} (a)/(b) {row['ratio']:.3f}  "
                          f"{row['framework_tokens_per_s']:,.0f} vs {row['raw_tokens_per_s']:,.0f} tok/s")
            rows.append(row)
    if not rows:
        print("compare-bench: error: no row could run", file=sys.stderr)
        sys.exit(1)
    exponents = length_exponents(rows)
    print_report(rows, exponents, args.target, console)
    out = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "argv": sys.argv[1:], "wall_s": time.time() - t0,
        "cpu_count": os.cpu_count(), "torch_threads": args.threads or "torch default",
        "load_average": os.getloadavg(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "versions": library_versions(), "settings": vars(args), "target": args.target,
        "exponents": exponents, "exponent_note": EXPONENT_NOTE, "rows": rows, "failed_rows": failed,
    }
    atomic_write_text(args.json, json.dumps(out, indent=2) + "\n")
    console.print(f"wrote {args.json} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
