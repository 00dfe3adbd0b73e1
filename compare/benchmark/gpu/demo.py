"""The demo part of the GPU suite: ``compare-train experiment=why_attention_gpu`` end to end, as a user runs it,
with its report figures copied out under the names they would have in data/readme/."""

from __future__ import annotations

import collections
import importlib.util
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compare.benchmark.gpu.parts import Context
from compare.reporting.build import build_report
from compare.runs.results import RESULTS_FILE

REPO = Path(__file__).resolve().parents[3]

#: Seconds kept back from the deadline to stop the sweep and build its report from the runs that finished.
REPORT_RESERVE_S = 40


def joblib_available() -> bool:
    """Whether Hydra's joblib launcher plugin can be imported here (on the GPU machine it comes as a wheel)."""
    try:
        return importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is not None
    except ModuleNotFoundError:
        return False


def demo_command(ctx: Context, sweep: Path) -> tuple[list[str], str]:
    """The compare-train command line of the demo sweep (joblib with several jobs at once on a GPU), and the
    launcher it uses."""
    jobs = ctx.demo_jobs or ctx.sizes.demo_jobs
    if jobs > 1 and joblib_available():
        launcher, name = ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"], f"joblib, {jobs} jobs at once"
    else:
        launcher = []
        name = "basic (one job at a time)" + (": hydra-joblib-launcher is not installed" if jobs > 1 else "")
    return [sys.executable, "-m", "compare.train", "experiment=why_attention_gpu", f"hydra.sweep.dir={sweep}",
            *launcher, *ctx.sizes.demo_overrides, *ctx.demo_overrides], name


def shown(cmd: list[str], sweep: Path) -> str:
    """The sweep's command as a user would type it (the suite's scratch sweep dir left out)."""
    return shlex.join(["compare-train", *(a for a in cmd[3:] if a != f"hydra.sweep.dir={sweep}")])


def run_sweep(cmd: list[str], cwd: Path, log_path: Path, timeout: float | None) -> tuple[int | None, bool]:
    """Run the sweep in its own process group; at ``timeout`` stop the whole group (jobs included).
    Returns (exit status or None, whether it was stopped at the deadline)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
           "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w") as log:
        # A process group, not a new session: if the suite itself is killed, the device tool still ends the sweep.
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=os.setpgrp)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return None, True
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise


def run_rows(sweep: Path) -> list[dict]:
    """One line per job of the sweep, read from its results.json."""
    rows = []
    for path in sorted(sweep.glob(f"*/{RESULTS_FILE}")):
        try:
            r = json.loads(path.read_text())
        except ValueError:
            rows.append({"dir": path.parent.name, "status": "unreadable"})
            continue
        rows.append({"dir": path.parent.name, "task": r.get("task"), "model": r.get("model"),
                     "train_length": r.get("train_length"), "status": r.get("status"), "params": r.get("params"),
                     "val_seq_acc": r.get("val_seq_acc"), "train_tokens_per_s": r.get("train_tokens_per_s"),
                     "wall_s": r.get("wall_s"), "error": r.get("error")})
    return rows


def copy_report(ctx: Context, sweep: Path) -> dict:
    """The report's figures as data_readme/gpu_<name>.png (ready for data/readme/), report.md and results.csv."""
    report = sweep / "report"
    readme = ctx.output.files_dir("data_readme")
    figures = []
    for png in sorted((report / "figures").glob("*.png")):
        shutil.copyfile(png, readme / f"gpu_{png.name}")
        figures.append(f"gpu_{png.name}")
    demo = ctx.output.files_dir("demo")
    for name in ("report.md", "results.csv"):
        if (report / name).is_file():
            shutil.copyfile(report / name, demo / name)
    return {"figures": figures, "figures_dir": "data_readme", "report_md": (demo / "report.md").is_file()}


def demo_part(ctx: Context) -> dict:
    """The demo sweep end to end, stopped at the deadline if need be; its jobs, report and figures."""
    work = Path(tempfile.mkdtemp(prefix="gpu_suite_demo_"))
    try:
        sweep = work / "multirun"
        cmd, launcher = demo_command(ctx, sweep)
        left = ctx.deadline.left()
        if left < 2 * REPORT_RESERVE_S:
            return {"status": "skipped", "reason": "deadline (--deadline-s)", "command": shown(cmd, sweep)}
        t0 = time.time()
        log = ctx.output.files_dir("demo") / "sweep.log"
        ctx.log(f"  demo: {shown(cmd, sweep)}")
        code, stopped = run_sweep(cmd, work, log, None if left == float("inf") else left - REPORT_RESERVE_S)
        wall = time.time() - t0
        rows = run_rows(sweep)
        report_error = None
        if rows and (stopped or not (sweep / "report" / "report.md").is_file()):
            try:  # a stopped sweep never reached its end-of-sweep report
                build_report(sweep)
            except Exception as e:  # the runs' own rows are still recorded
                report_error = f"{type(e).__name__}: {e}"
        copied = copy_report(ctx, sweep) if (sweep / "report").is_dir() else {"figures": []}
        statuses = collections.Counter(r["status"] for r in rows)
        ok = code == 0 and rows and statuses.get("ok") == len(rows)
        return {"status": "ok" if ok else ("partial" if statuses.get("ok") else "failed"),
                "command": shown(cmd, sweep), "launcher": launcher, "returncode": code, "stopped_at_deadline": stopped,
                "wall_s": wall, "jobs": dict(statuses), "runs": rows, "report_error": report_error,
                "log_tail": log.read_text(errors="replace").splitlines()[-15:], **copied}
    finally:
        shutil.rmtree(work, ignore_errors=True)
