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
import json
import os
import sys
import time

import torch
from rich.console import Console

from compare.benchmark.measure import length_exponents, measure_row, run_isolated
from compare.benchmark.rows import MODELS, RowSpec, bench_models, unavailable_reason
from compare.benchmark.table import EXPONENT_NOTE, print_report
from compare.errors import UserError
from compare.runs.atomic import atomic_write_text
from compare.runs.results import library_versions

__all__ = ["length_exponents", "main"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="compare-bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="lstm,gru,transformer-sdpa,transformer-explicit",
                   help=f"comma-separated, from {', '.join(MODELS)} (and any other conf/model/*.yaml by name)")
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



def checked_choices(args: argparse.Namespace) -> tuple[list[str], list[int]]:
    """The models and lengths asked for; a UserError naming any value that is not accepted."""
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    known = bench_models()
    bad = [m for m in models if m not in known and m not in MODELS]
    if bad:
        raise UserError(f"--models: {bad} not known; choose from {list(known)}")
    for m in models:
        if m not in known:
            raise UserError(f"--models: {m} cannot be built in this checkout: {unavailable_reason(m)}")
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
    return models, lengths


def run_rows(args: argparse.Namespace, models: list[str], lengths: list[int], console: Console):
    """Every (model, length) row, each printed as it finishes; rows that cannot run are reported, not fatal."""
    rows, failed = [], []
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
    return rows, failed


def main(argv: list[str] | None = None) -> None:
    """Console script ``compare-bench``."""
    args = parse_args(argv)
    try:
        models, lengths = checked_choices(args)
    except UserError as e:
        print(f"compare-bench: error: {e}", file=sys.stderr)
        sys.exit(2)
    console = Console(width=None if sys.stdout.isatty() else 200)
    t0 = time.time()
    rows, failed = run_rows(args, models, lengths, console)
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
