"""The GPU suite's command line: which parts run, where results go, and the ``--smoke`` check of its outputs."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path

from compare.benchmark.gpu.settings import GPU, PARTS, SMOKE

USAGE = """\
python scripts/gpu_suite.py                       # every part, on one GPU (about 27 min, estimated)
python scripts/gpu_suite.py --only crossover,long,bench --deadline-s 540
python scripts/gpu_suite.py --smoke               # the same code paths at toy sizes on a CPU, under a minute
python scripts/gpu_suite.py --merge a/gpu_suite.json b/gpu_suite.json --out merged   # two device calls as one

Parts, in the order they run (estimated wall time on one H100/H200; no GPU was available when this was
written, so the JSON's wall_s of each part is the real figure). Run crossover before bench (in the same call, or
with its JSON in --out or --previous): its step times let bench give its slowest rows fewer steps.
""" + "\n".join(f"  {name:10s} ~{est // 60:.0f} min  {what}" for name, (est, what) in PARTS.items())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gpu_suite", description="Every model measured on one GPU: compare-bench rows, "
                                "the LSTM/transformer crossover, MFU, a 16,384-token run and the GPU demo; one JSON "
                                "and the README's markdown tables.", epilog=USAGE,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts, from {', '.join(PARTS)}")
    p.add_argument("--smoke", action="store_true", help="toy sizes on a CPU, checking the outputs' structure")
    p.add_argument("--out", default=os.environ.get("OUT") or "gpu_suite_out",
                   help="output folder (default: $OUT if set, else gpu_suite_out/); a JSON already there keeps "
                        "the parts not run again")
    p.add_argument("--deadline-s", type=float, default=None,
                   help="stop starting rows (and stop the demo sweep) this many seconds after the start, so a "
                        "time-limited call ends with its results written")
    p.add_argument("--bundle", action=argparse.BooleanOptionalAction, default=None,
                   help="pack traces and demo figures into one archive (default: when writing to $OUT, since the "
                        "device tool returns at most 8 files)")
    p.add_argument("--models", default=None, help="comma-separated bench models (default: every model this "
                                                   "checkout has: compare.benchmark.rows.bench_models)")
    p.add_argument("--target", type=float, default=0.97, help="framework/raw ratio each bench row should reach")
    p.add_argument("--profile", choices=("below-target", "all", "first", "none"), default=None,
                   help="which bench rows get a profiler trace (default below-target; --smoke: first)")
    p.add_argument("--peak-flops", type=float, default=None, help="peak FLOP/s for MFU (known GPUs: automatic)")
    p.add_argument("--demo-jobs", type=int, default=None, help="demo sweep jobs at once (joblib; default 8 on a GPU)")
    p.add_argument("--demo-override", action="append", default=[], metavar="KEY=VALUE",
                   help="extra Hydra override for the demo sweep; a sweep list replaces the experiment's, "
                        "e.g. task=copy,parity or model=lstm,transformer (repeatable)")
    p.add_argument("--previous", type=Path, default=None, metavar="JSON",
                   help="start from this suite JSON (an earlier device call's, carried along) instead of the one in "
                        "--out: its parts are kept, and bench reads the crossover's step times from it")
    p.add_argument("--merge", nargs="+", type=Path, default=None, metavar="JSON",
                   help="measure nothing: merge these suite JSONs into --out and rebuild its tables and figure")
    return p.parse_args(argv)


def chosen(args: argparse.Namespace) -> tuple[list[str], dict[str, list[str]]]:
    """The parts (in the suite's order) and models asked for; a UserError naming a value not accepted."""
    from compare.benchmark.rows import bench_models
    from compare.errors import UserError

    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise UserError(f"--only={args.only!r}: {bad or 'nothing'} not known; choose from {', '.join(PARTS)}")
    known = bench_models()
    models = known if args.models is None else {}
    for m in [] if args.models is None else [m.strip() for m in args.models.split(",") if m.strip()]:
        if m not in known:
            raise UserError(f"--models: {m!r} is not a model this checkout can build; choose from {', '.join(known)}")
        models[m] = known[m]
    if not models:
        raise UserError("--models: no model given")
    if args.demo_jobs is not None and args.demo_jobs < 1:
        raise UserError(f"--demo-jobs={args.demo_jobs} must be >= 1")
    return [p for p in PARTS if p in parts], models


def run_part(ctx, name: str) -> dict:
    """One part, timed; an error ends that part (recorded with its traceback), not the suite."""
    from compare.benchmark.gpu import demo, parts

    funcs = {"crossover": parts.crossover_part, "bench": parts.bench_part, "mfu": parts.mfu_part,
             "long": parts.long_part, "demo": demo.demo_part}
    ctx.log(f"{name}: {PARTS[name][1]}")
    # compare-bench collects garbage before every timed run; with torch, Lightning, dynamo and matplotlib loaded a
    # full collection took about a second on a small CPU. Freezing what survives a collection now (modules, caches:
    # nothing that holds a model) leaves those collections only the rows' own objects to scan.
    gc.collect()
    gc.freeze()
    t0 = time.time()
    try:
        result = funcs[name](ctx)
    except Exception as e:
        result = {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
        ctx.log(result["traceback"])
    result["wall_s"] = time.time() - t0
    ctx.output.record(name, result)
    ctx.output.pack()
    ctx.log(f"{name}: {result['status']} in {result['wall_s']:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts (or merge earlier results); returns the exit status."""
    args = parse_args(argv)
    from compare.errors import UserError

    try:
        return suite(args, list(sys.argv[1:] if argv is None else argv))
    except UserError as e:
        print(f"gpu_suite: error: {e}", file=sys.stderr)
        return 2


def suite(args: argparse.Namespace, command: list[str]) -> int:
    """The suite proper (or the merge of earlier results): checks, then each part in turn."""
    import torch

    from compare.benchmark.gpu.output import SuiteOutput, merge_results
    from compare.errors import UserError

    out = Path(args.out)
    if args.merge:
        output = SuiteOutput(out, bundle=False, header={"smoke": None})
        output.data = merge_results(args.merge)
        output.write()
        print(f"gpu_suite: merged {len(args.merge)} files into {out}")
        return 0
    parts, models = chosen(args)
    if not args.smoke and not torch.cuda.is_available():
        raise UserError("no CUDA GPU is visible; --smoke runs the same code paths on a CPU at toy sizes")
    threads = torch.get_num_threads()
    try:
        return run_parts(args, command, parts, models)
    finally:  # an in-process call (the tests) gets its process back as it was
        gc.unfreeze()
        torch.set_num_threads(threads)


def run_parts(args: argparse.Namespace, command: list[str], parts: list[str], models: dict) -> int:
    """Every chosen part into the output folder; with --smoke, then the check of what they wrote."""
    import torch

    from compare.benchmark.gpu.output import ARCHIVE_NAME, SuiteOutput, environment
    from compare.benchmark.gpu.parts import Context, Deadline
    from compare.errors import UserError

    out, sizes = Path(args.out), SMOKE if args.smoke else GPU
    torch.set_float32_matmul_precision("high")  # as compare-train does
    if sizes.threads:
        torch.set_num_threads(sizes.threads)
    bundle = args.bundle if args.bundle is not None else \
        bool(os.environ.get("OUT")) and out.resolve() == Path(os.environ["OUT"]).resolve()
    header = {**environment(), "smoke": args.smoke, "argv": command, "parts": parts, "models": list(models),
              "sizes": asdict(sizes), "deadline_s": args.deadline_s}
    if args.previous is not None and not args.previous.is_file():
        raise UserError(f"--previous {args.previous}: no such file")
    output = SuiteOutput(out, bundle, header, args.previous)
    ctx = Context(sizes, models, output, Deadline(args.deadline_s), args.target, args.peak_flops,
                  args.profile or ("first" if args.smoke else "below-target"), log=lambda m: print(m, flush=True),
                  demo_overrides=tuple(args.demo_override), demo_jobs=args.demo_jobs)
    results = {name: run_part(ctx, name) for name in parts}
    output.close()
    print(f"gpu_suite: wrote {out / 'gpu_suite.json'} and {out / 'gpu_suite.md'}"
          + (f" (traces and figures in {ARCHIVE_NAME})" if bundle and (out / ARCHIVE_NAME).is_file() else ""))
    if args.smoke:
        problems = smoke_problems(out, parts, bundle)
        if problems:
            print("gpu_suite: --smoke: the outputs are not as expected:\n  " + "\n  ".join(problems), file=sys.stderr)
            return 1
        print("gpu_suite: --smoke: every part ran and wrote what it should")
    return 1 if any(r["status"] == "failed" for r in results.values()) else 0


#: What each part's JSON must hold after --smoke (keys of the part, and of its first row where it has rows).
SMOKE_KEYS = {
    "crossover": (("points", "exponents", "crossovers", "headline", "settings"),
                  ("model", "seq_len", "raw_tokens_per_s", "raw_step_s", "params")),
    "bench": (("rows", "below_target", "exponents", "settings"),
              ("model", "seq_len", "ratio", "framework_tokens_per_s", "raw_tokens_per_s", "peak_mem_mb", "sdpa_kernel",
               "framework_step_s", "meets_target")),
    "mfu": (("arms", "flops_per_step", "peak_source", "compile_speedup", "params"), ()),
    "long": (("rows", "seq_len"), ("shape", "status", "peak_mem_mb", "sdpa_kernel", "flash_skipped")),
    "demo": (("jobs", "runs", "figures", "command"), ("task", "model", "status")),
}


def smoke_problems(out: Path, parts: list[str], bundle: bool) -> list[str]:
    """Everything about the --smoke outputs that is not as the GPU run will need it (empty: all is well)."""
    data = json.loads((out / "gpu_suite.json").read_text())
    problems = []
    for name in parts:
        part = data["parts"].get(name, {})
        if part.get("status") != "ok":
            problems.append(f"{name}: status {part.get('status')} ({part.get('error') or part.get('failed')})")
            continue
        keys, row_keys = SMOKE_KEYS[name]
        problems += [f"{name}: no {k!r}" for k in keys if k not in part]
        rows = part.get("rows") or part.get("points") or part.get("runs") or [{}]
        problems += [f"{name}: row without {k!r}" for k in row_keys if k not in rows[0]]
    md = (out / "gpu_suite.md").read_text()
    problems += [f"gpu_suite.md: no section for {name}" for name in parts if f"### {name}:" not in md]
    if "crossover" in parts and not (out / "tokens_per_s_vs_length.png").is_file():
        problems.append("no tokens_per_s_vs_length.png")
    names = bundled_names(out) if bundle else [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()]
    if "bench" in parts and not any(n.startswith("traces/") and n.endswith("_framework.json.gz") for n in names):
        problems.append("bench: no profiler trace in traces/")
    if "demo" in parts and not any(n.startswith("data_readme/gpu_") and n.endswith(".png") for n in names):
        problems.append("demo: no figure in data_readme/")
    return problems


def bundled_names(out: Path) -> list[str]:
    """The files in the suite's archive (none when it was not written)."""
    import tarfile

    path = out / "gpu_suite_files.tar.gz"
    if not path.is_file():
        return []
    with tarfile.open(path) as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]
