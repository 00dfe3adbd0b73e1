"""The measuring parts of the GPU suite: crossover points, compare-bench rows, MFU, and the long-sequence run.

Each part returns its result as a dict (``status``: ok, partial, skipped or failed, with the reason) and records
its progress in the suite's JSON as it goes, so a suite killed at the device's time limit keeps what finished.
"""

from __future__ import annotations

import gc
import math
import statistics
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import torch
from omegaconf import OmegaConf

from compare.benchmark.arms import RawArm
from compare.benchmark.gpu import analysis
from compare.benchmark.gpu.output import SuiteOutput
from compare.benchmark.gpu.profile import profile_row
from compare.benchmark.gpu.settings import Sizes
from compare.benchmark.measure import measure_row
from compare.benchmark.probes import device_peak_flops, sdpa_kernel
from compare.benchmark.rows import RowSpec, compose_config
from compare.config.build import build, build_model
from compare.errors import UserError
from compare.models import TransformerLM
from compare.models.sizing import count_params, fit_width

#: Errors that end one row or point, not the part: out of memory at a long length, a model that cannot be built.
ROW_ERRORS = (torch.OutOfMemoryError, RuntimeError, UserError)


class Deadline:
    """The time the suite may still spend (``--deadline-s``); without one, all the time there is."""

    def __init__(self, seconds: float | None) -> None:
        self.end = time.monotonic() + seconds if seconds else None

    def left(self) -> float:
        """Seconds left (infinite without a deadline)."""
        return math.inf if self.end is None else self.end - time.monotonic()

    def allows(self, need_s: float) -> bool:
        """True when at least ``need_s`` seconds are left."""
        return self.left() >= need_s


@dataclass
class Context:
    """What every part reads: sizes, models, where to write, the deadline and the settings of this suite run."""

    sizes: Sizes
    models: dict[str, list[str]]
    output: SuiteOutput
    deadline: Deadline
    target: float
    peak_flops: float | None
    profile: str
    log: Callable[[str], None]
    demo_overrides: tuple[str, ...] = ()
    demo_jobs: int | None = None

    @property
    def device(self) -> torch.device:
        return torch.device("cuda" if self.sizes.trainer == "gpu" else "cpu")


def free_memory() -> None:
    """Return what a failed row held, so the next row starts from an empty GPU."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def error_of(e: BaseException) -> str:
    """One line for a row that could not run."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def row_spec(ctx: Context, model: str, seq_len: int, **kwargs) -> RowSpec:
    """A compare-bench row of this suite: the model at ``seq_len``, sized to the suite's common budget."""
    s = ctx.sizes
    overrides = [f"model.param_budget={s.param_budget}", *s.extra_overrides, *aligned_widths(ctx, model)]
    fields = dict(model=model, seq_len=seq_len, tokens_per_batch=s.tokens_per_batch, steps=s.steps, warmup=s.warmup,
                  pairs=s.pairs, trainer=s.trainer, overrides=overrides, peak_flops=ctx.peak_flops, threads=s.threads)
    return RowSpec(**{**fields, **kwargs})


_ALIGNED: dict[tuple, list[str]] = {}


def aligned_widths(ctx: Context, model: str) -> list[str]:
    """``model.d_model``/``model.d_ff`` overrides giving a transformer heads of a multiple of 8 dimensions
    (what the flash kernel needs) at the same parameter budget: the width rounds to a multiple of 8 x heads and
    the MLP is trimmed to land on the budget. Empty for other models, or when the fitted width already fits."""
    s = ctx.sizes
    key = (model, s.param_budget, s.align_heads, s.extra_overrides)
    if key in _ALIGNED:
        return _ALIGNED[key]
    out: list[str] = []
    if s.align_heads:
        spec = RowSpec(model, s.lengths[0], s.tokens_per_batch, 1, 0, 1, s.trainer,
                       [f"model.param_budget={s.param_budget}", *s.extra_overrides])
        with tempfile.TemporaryDirectory(prefix="gpu-suite-") as tmp:
            cfg = compose_config(spec, tmp)
        vocab = build(cfg.task).num_tokens
        with torch.device("meta"):
            net = build_model(cfg.model, vocab_size=vocab)
        if isinstance(net, TransformerLM):  # the explicit-attention rows too, so they time the same shape
            step = 8 * net.n_heads
            width = max(step, round(net.d_model / step) * step)
            if width != net.d_model:
                def make(f: int):
                    return build_model(OmegaConf.merge(cfg.model, {"d_model": width, "d_ff": f}), vocab_size=vocab)
                d_ff = fit_width(make, s.param_budget, what=f"{model} at d_model={width}")
                out = [f"model.d_model={width}", f"model.d_ff={d_ff}"]
    _ALIGNED[key] = out
    return out


def raw_point(ctx: Context, model: str, seq_len: int) -> dict:
    """Tokens/s of the plain PyTorch loop for one model and length (no Lightning): what the hardware does."""
    s = ctx.sizes
    spec = row_spec(ctx, model, seq_len, steps=s.point_steps, warmup=s.point_warmup)
    with tempfile.TemporaryDirectory(prefix="gpu-suite-") as out:
        cfg = compose_config(spec, out)
        torch.manual_seed(cfg.seed)
        task = build(cfg.task)
        net = build_model(cfg.model, vocab_size=task.num_tokens)
        raw = RawArm(cfg, net, build(cfg.data, task=task, seed=cfg.seed), ctx.device)
        raw.run(spec.warmup, 1)  # first contact: cuDNN plans, allocator pools, lazy initialisation
        result = raw.run(spec.warmup, spec.steps)
    batch = max(1, s.tokens_per_batch // seq_len)
    return {"model": model, "seq_len": seq_len, "batch_size": batch, "tokens_per_batch": batch * seq_len,
            "params": count_params(net), "raw_step_s": result["step_time_s"],
            "raw_tokens_per_s": result["train_tokens_per_s"], "peak_mem_mb": result["peak_mem_mb"],
            "device": str(ctx.device)}


def crossover_part(ctx: Context) -> dict:
    """Raw-loop tokens/s of every model at every crossover length, then the crossover and the exponents."""
    s = ctx.sizes
    result: dict = {"status": "running", "baseline": "lstm", "headline_model": "transformer-sdpa",
                    "settings": {"lengths": list(s.crossover_lengths), "tokens_per_batch": s.tokens_per_batch,
                                 "param_budget": s.param_budget, "steps": s.point_steps, "warmup": s.point_warmup,
                                 "trainer": s.trainer, "device": str(ctx.device),
                                 "gpu": torch.cuda.get_device_name() if ctx.device.type == "cuda" else None},
                    "points": [], "failed": [], "skipped": []}
    models = [m for m in ctx.models if s.crossover_models is None or m in s.crossover_models]
    for model in models:
        for seq_len in s.crossover_lengths:
            if not ctx.deadline.allows(30):
                result["skipped"].append({"model": model, "seq_len": seq_len, "reason": "deadline (--deadline-s)"})
                continue
            try:
                point = raw_point(ctx, model, seq_len)
            except ROW_ERRORS as e:
                point = {"model": model, "seq_len": seq_len, "error": error_of(e)}
            if "error" in point:
                free_memory()  # here, not in the except clause, whose traceback still holds the row's tensors
                result["failed"].append(point)
                ctx.log(f"  crossover {model} T={seq_len}: could not run: {point['error']}")
                continue
            result["points"].append(point)
            ctx.log(f"  crossover {model:20s} T={seq_len:<6d} {point['raw_tokens_per_s']:,.0f} tok/s")
        ctx.output.record("crossover", result)
    result.update(crossover_claims(result["points"], models))
    result["status"] = "partial" if result["failed"] or result["skipped"] else "ok"
    return result


def crossover_claims(points: list[dict], models: list[str]) -> dict:
    """The exponents of every model, and each model's crossover against the LSTM (the transformer's first)."""
    others = [m for m in models if m != "lstm"]
    return {"exponents": analysis.length_exponents(points),
            "crossovers": {m: analysis.crossover(points, m, "lstm") for m in others},
            "headline": analysis.crossover(points, "transformer-sdpa", "lstm")}


def steps_for(ctx: Context, step_s: float | None) -> tuple[int, int]:
    """(warm-up, timed) steps of a bench row: the preset's, cut so that the row takes about ``row_budget_s`` when
    the crossover part measured this row's step time (a 16,384-token LSTM step may take a second on a GPU)."""
    s = ctx.sizes
    if not step_s:
        return s.warmup, s.steps
    runs = 1 + 2 * s.pairs  # the untimed framework run, then a framework and a raw run per pair
    steps = max(min(3, s.steps), min(s.steps, math.floor(s.row_budget_s / (runs * step_s)) - s.warmup))
    # A row this slow is far from launch-bound, and the untimed run before the pairs already warmed it up.
    warmup = 1 if runs * (s.warmup + steps) * step_s > s.row_budget_s else s.warmup
    return warmup, steps


def bench_part(ctx: Context) -> dict:
    """compare-bench's rows (framework vs raw loop) for every model at every bench length; traces of slow rows."""
    s = ctx.sizes
    known = {(p["model"], p["seq_len"]): p["raw_step_s"]
             for p in ctx.output.data["parts"].get("crossover", {}).get("points", [])}
    result: dict = {"status": "running", "target": ctx.target, "profile": ctx.profile, "rows": [], "failed": [],
                    "skipped": [], "settings": {"lengths": list(s.lengths), "tokens_per_batch": s.tokens_per_batch,
                                                "param_budget": s.param_budget, "warmup": s.warmup, "pairs": s.pairs,
                                                "max_steps": s.steps, "trainer": s.trainer}}
    for model in ctx.models:
        for seq_len in s.lengths:
            if not ctx.deadline.allows(45):
                result["skipped"].append({"model": model, "seq_len": seq_len, "reason": "deadline (--deadline-s)"})
                continue
            warmup, steps = steps_for(ctx, known.get((model, seq_len)))
            spec = row_spec(ctx, model, seq_len, warmup=warmup, steps=steps)
            try:
                row = measure_row(spec)
            except ROW_ERRORS as e:
                row = {"model": model, "seq_len": seq_len, "error": error_of(e)}
            if "error" in row:
                free_memory()  # after the except clause, whose traceback held the row's tensors
                result["failed"].append(row)
                ctx.log(f"  bench {model} T={seq_len}: could not run: {row['error']}")
                continue
            row.update(steps=spec.steps, warmup=spec.warmup, meets_target=row["ratio"] >= ctx.target)
            if wants_trace(ctx, row, first=not result["rows"]) and ctx.deadline.allows(60):
                row["trace"] = profile_row(spec, ctx.output.files_dir("traces"))
            result["rows"].append(row)
            ctx.log(f"  bench {model:20s} T={seq_len:<6d} (a)/(b) {row['ratio']:.3f}  "
                    f"{row['framework_tokens_per_s']:,.0f} vs {row['raw_tokens_per_s']:,.0f} tok/s")
            ctx.output.record("bench", result)
    rows = result["rows"]
    result["below_target"] = [f"{r['model']} T={r['seq_len']}" for r in rows if not r["meets_target"]]
    result["exponents"] = analysis.length_exponents(rows)
    result["status"] = "partial" if result["failed"] or result["skipped"] else "ok"
    return result


def wants_trace(ctx: Context, row: dict, first: bool) -> bool:
    """Whether to save a profiler trace of this row: below the target on a GPU (by default), every row, the
    first one (``--smoke``: the trace path runs without a slow row), or none."""
    if ctx.profile == "below-target":
        return not row["meets_target"] and row["device"].startswith("cuda")
    return {"all": True, "first": first, "none": False}[ctx.profile]


def matmul_ceiling(device: torch.device, n: int = 8192, repeats: int = 10) -> float:
    """bf16 FLOP/s of a large matrix product on this GPU (random data; the median of ``repeats`` timed products)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize(device)
        times.append(start.elapsed_time(end) / 1000)
    del a, b
    free_memory()
    return 2 * n**3 / statistics.median(times)


def peak_of(ctx: Context) -> tuple[float | None, str]:
    """The peak FLOP/s MFU is taken against, and where it comes from."""
    if ctx.peak_flops:
        return ctx.peak_flops, "--peak-flops"
    peak = device_peak_flops(ctx.device)
    if peak:
        return peak, f"datasheet dense bf16 peak of the {torch.cuda.get_device_name()} (benchmark/probes.py)"
    return None, f"no dense bf16 peak known for {ctx.device.type}; pass --peak-flops"


def mfu_part(ctx: Context) -> dict:
    """The transformer at the GPT-2-small shape, compare-train path with and without model.compile: MFU."""
    s = ctx.sizes
    if not ctx.deadline.allows(0 if s.smoke else 150):
        return {"status": "skipped", "reason": "deadline (--deadline-s): the compile alone takes a minute or more"}
    spec = RowSpec("transformer-sdpa", s.mfu_seq_len, s.mfu_tokens_per_batch, s.mfu_steps, s.warmup, s.mfu_pairs,
                   s.trainer, list(s.mfu_shape), compile=True, peak_flops=ctx.peak_flops, threads=s.threads,
                   compile_backend=s.compile_backend)
    with tempfile.TemporaryDirectory(prefix="gpu-suite-") as tmp:
        precision = str(compose_config(spec, tmp).trainer.precision)
    row = measure_row(spec)
    peak, source = peak_of(ctx)
    ceiling = matmul_ceiling(ctx.device) if ctx.device.type == "cuda" else None
    flops = row["flops_per_step"]
    arms = []
    for compiled, step_s in ((False, row["framework_step_s"]), (True, row["compiled_step_s"])):
        achieved = flops / step_s if flops else None
        arms.append({"compile": compiled, "step_s": step_s, "tokens_per_s": row["tokens_per_batch"] / step_s,
                     "achieved_flops": achieved, "mfu": achieved / peak if achieved and peak else None,
                     "of_matmul_ceiling": achieved / ceiling if achieved and ceiling else None})
    return {"status": "ok", "shape": list(s.mfu_shape), "seq_len": s.mfu_seq_len, "batch_size": row["batch_size"],
            "precision": precision,
            "params": row["params"], "flops_per_step": flops, "peak_flops": peak, "peak_source": source,
            "mfu_skipped": None if peak else source, "matmul_ceiling_flops": ceiling,
            "matmul_ceiling_skipped": None if ceiling else "needs a CUDA GPU (bf16 8192^3 products, CUDA events)",
            "compile_backend": s.compile_backend or "inductor (torch's default)", "compile_speedup":
            row["compile_speedup"], "arms": arms, "sdpa_kernel": row["sdpa_kernel"], "peak_mem_mb": row["peak_mem_mb"],
            "ratio": row["ratio"], "row": row}


def long_shapes(ctx: Context) -> dict[str, list[str]]:
    """The transformers the long part trains: the bench's (equal budget) and the GPT-2-small shape."""
    s = ctx.sizes
    bench = [f"model.param_budget={s.param_budget}", *aligned_widths(ctx, "transformer-sdpa")]
    return {"bench-size": bench, "gpt2-small" if not s.smoke else "mfu-shape": list(s.mfu_shape)}


def long_config(ctx: Context, overrides: list[str], out: str):
    """A compare-train config: the transformer trains ``long_steps`` steps at ``long_seq_len`` tokens, batch 1,
    with validation and the ladder cut to one sample (the claim is about training memory)."""
    from hydra import compose, initialize_config_dir

    from compare.config import CONF_DIR

    s = ctx.sizes
    length = s.long_seq_len // 2  # the copy task's sequences are 2 x length tokens
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[
            "model=transformer", "model.attention=sdpa", "model.pos_encoding=sinusoidal", *overrides, "task=copy",
            f"task.length={length}", "data.batch_size=1", f"trainer={s.trainer}", f"trainer.max_steps={s.long_steps}",
            f"trainer.val_check_interval={s.long_steps}", f"trainer.log_every_n_steps={s.long_steps}",
            "data.val_size=1", "data.eval_batch_size=1", f"eval.lengths=[{length}]", "eval.num_samples=1",
            "~callbacks.length_ladder", "~callbacks.checkpoint", "~callbacks.resume_checkpoint", "~callbacks.attention",
            f"callbacks.throughput.warmup_steps={min(5, s.long_steps - 1)}", f"output_dir={out}", "progress_bar=none",
            *([f"threads={s.threads}"] if s.threads else [])])
    if "min_length" in cfg.task:  # every step at the full length: the claim is about its memory
        cfg.task.min_length = length
    return cfg


def long_part(ctx: Context) -> dict:
    """The transformer trains ``long_steps`` steps at 16,384 tokens per sequence: status, peak memory, kernel."""
    from compare.training.run import train

    result: dict = {"status": "running", "seq_len": ctx.sizes.long_seq_len, "trainer": ctx.sizes.trainer, "rows": []}
    for name, overrides in long_shapes(ctx).items():
        if not ctx.deadline.allows(30):
            result["rows"].append({"shape": name, "status": "skipped", "reason": "deadline (--deadline-s)"})
            continue
        with tempfile.TemporaryDirectory(prefix="gpu-suite-long-") as out:
            cfg = long_config(ctx, overrides, out)
            try:
                run = train(cfg)
                row = {"status": run["status"], "steps": run["steps"], "params": run["params"],
                       "peak_mem_mb": run["peak_mem_mb"], "train_tokens_per_s": run["train_tokens_per_s"],
                       "step_time_s": run["step_time_s"], "error": run.get("error")}
            except torch.OutOfMemoryError as e:
                row = {"status": "out of memory", "error": error_of(e)}
            except ROW_ERRORS as e:
                row = {"status": "failed", "error": error_of(e)}
            free_memory()
            row.update(shape=name, overrides=overrides, batch_size=1, **kernel_of(ctx, cfg))
        result["rows"].append(row)
        ctx.log(f"  long {name}: {row['status']}, peak {row.get('peak_mem_mb') or 0:,.0f} MB, {row['sdpa_kernel']}")
        ctx.output.record("long", result)
    bad = [r for r in result["rows"] if r["status"] != "ok"]
    result["status"] = "ok" if not bad else "partial"
    return result


def kernel_of(ctx: Context, cfg) -> dict:
    """Which SDPA kernel the long run's model dispatches at its length, and whether that is flash (CUDA only)."""
    torch.manual_seed(cfg.seed)
    task = build(cfg.task)
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if ctx.device.type == "cuda" else nullcontext
    try:
        kernel = sdpa_kernel(build_model(cfg.model, vocab_size=task.num_tokens).to(ctx.device),
                             torch.randint(0, task.num_tokens, (1, task.sequence_length(task.length)),
                                           device=ctx.device), autocast)
    except ROW_ERRORS as e:
        kernel = f"kernel probe failed: {error_of(e)}"
    free_memory()
    if kernel and kernel.startswith("kernel probe failed"):
        return {"sdpa_kernel": None, "flash": None, "flash_skipped": kernel}
    if ctx.device.type != "cuda":
        return {"sdpa_kernel": kernel, "flash": None, "flash_skipped": "the flash check needs a CUDA GPU"}
    return {"sdpa_kernel": kernel, "flash": bool(kernel) and kernel.startswith("flash"), "flash_skipped": None}

