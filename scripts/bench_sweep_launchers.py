#!/usr/bin/env python
r"""The same Hydra sweep run sequentially and with the joblib launcher, timed side by side on this machine.

Each arm is a real ``compare-train -m`` process (jobs, results.json files and the sweep report included),
in a fresh temporary sweep dir. Arms run in rounds whose order alternates (A B C, then C B A, ...), so a
drift in the machine's speed favours none; the median wall time per arm and the speed-up of joblib over
each sequential arm are printed, and written as JSON with ``--json``:

    python scripts/bench_sweep_launchers.py                       # 4 jobs of ~25 s of training each, about 5 minutes on 2 cores
    python scripts/bench_sweep_launchers.py --rounds 2 --json sweep_bench.json
    python scripts/bench_sweep_launchers.py --sweep model=lstm,gru,transformer task.length=16 trainer.max_steps=200

Arms: ``sequential`` (Hydra's basic launcher, torch's default threads, what a plain ``-m`` does),
``sequential-1thread`` (basic launcher, ``threads=1``: the fairest sequential baseline on a small core
count), and ``joblib`` (``hydra/launcher=joblib``, n_jobs = the CPU cores, each job's torch threads
set to cores // n_jobs by ``threads: auto``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SWEEP = ["model=lstm,transformer", "task=copy", "task.length=8,16", "trainer.max_steps=1500",
                 "trainer.val_check_interval=500", "model.param_budget=50000"]


def arm_overrides(arm: str, n_jobs: int) -> list[str]:
    """The overrides that make one arm: which launcher and how many torch threads per job."""
    return {
        "sequential": [],
        "sequential-1thread": ["threads=1"],
        "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"],
    }[arm]


def run_sweep(arm: str, sweep: list[str], n_jobs: int) -> dict:
    """One timed ``compare-train -m`` of the sweep under this arm; wall time and the jobs' results rows."""
    with tempfile.TemporaryDirectory(prefix=f"sweep-bench-{arm}-") as sweep_dir:
        cmd = [sys.executable, "-m", "compare.train", "-m", *sweep, *arm_overrides(arm, n_jobs),
               f"hydra.sweep.dir={sweep_dir}", "progress_bar=none"]
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # each job picks its own threads
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"bench_sweep_launchers: the {arm} sweep failed (exit {proc.returncode}):\n"
                             f"{' '.join(cmd)}\n{proc.stderr[-3000:]}")
        rows = [json.loads(p.read_text()) for p in sorted(Path(sweep_dir).glob("*/results.json"))]
    bad = [r.get("status") for r in rows if r.get("status") != "ok"]
    if not rows or bad:
        raise SystemExit(f"bench_sweep_launchers: the {arm} sweep left {len(rows)} results, statuses {bad}")
    return {
        "wall_s": wall, "jobs": len(rows),
        "torch_threads": sorted({r.get("torch_threads") for r in rows}, key=str),
        "val_seq_acc": [r.get("val_seq_acc") for r in rows],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sweep", nargs="+", default=DEFAULT_SWEEP, metavar="OVERRIDE",
                   help=f"the sweep's Hydra overrides (default: {' '.join(DEFAULT_SWEEP)})")
    p.add_argument("--arms", default="sequential,sequential-1thread,joblib", help="comma-separated arms to time")
    p.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1, help="joblib's jobs at once (default: cores)")
    p.add_argument("--rounds", type=int, default=1, help="rounds of all arms, order alternating")
    p.add_argument("--json", default=None, help="also write the timings here")
    args = p.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ("sequential", "sequential-1thread", "joblib")]
    if unknown or args.rounds < 1 or args.n_jobs < 1:
        p.error(f"--arms {unknown} not known (sequential, sequential-1thread, joblib)" if unknown
                else "--rounds and --n-jobs must be >= 1")

    runs: dict[str, list[dict]] = {a: [] for a in arms}
    t_start = time.time()
    for i in range(args.rounds):
        for arm in arms if i % 2 == 0 else reversed(arms):
            result = run_sweep(arm, args.sweep, args.n_jobs)
            runs[arm].append(result)
            print(f"round {i + 1} {arm:20s} {result['jobs']} jobs in {result['wall_s']:6.1f} s "
                  f"(torch threads per job: {result['torch_threads']})", flush=True)

    median = {a: statistics.median(r["wall_s"] for r in rs) for a, rs in runs.items()}
    print(f"\nSweep: {' '.join(args.sweep)}  ({os.cpu_count()} CPU cores)")
    print(f"{'arm':20s} {'median wall s':>14s} {'jobs':>5s}")
    for a in arms:
        print(f"{a:20s} {median[a]:14.1f} {runs[a][0]['jobs']:5d}")
    speedups = {}
    if "joblib" in median:
        for a in arms:
            if a != "joblib":
                speedups[a] = median[a] / median["joblib"]
                print(f"joblib is {speedups[a]:.2f}x as fast as {a}")
    if args.json:
        out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sweep": args.sweep,
               "cpu_count": os.cpu_count(), "n_jobs": args.n_jobs, "rounds": args.rounds,
               "load_average_after": os.getloadavg(), "wall_s_total": time.time() - t_start,
               "median_wall_s": median, "joblib_speedup_over": speedups, "runs": runs}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
