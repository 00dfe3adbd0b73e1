"""A sweep's console shows compare's own lines, not one copy of the libraries' notices per job.

Runs a real 2-job joblib sweep and a real 2-process DDP run in subprocesses, so the jobs are real loky worker
processes and the second rank a real spawned process (neither inherits the main process's warning filters or
logger levels)."""

from __future__ import annotations

import json
import subprocess
import sys

#: What Hydra and Lightning print per process unless compare.errors.quiet_console has run in it.
CHATTER = ("validated against ConfigStore schema", "LeafSpec", "GPU available", "TPU available", "Tip:",
           "litlogger", "`Trainer.fit` stopped")
TINY = ["model.param_budget=3000", "task.length=4", "trainer.max_steps=3", "trainer.val_check_interval=3",
        "data.val_size=8", "eval.num_samples=8", "progress_bar=none"]


def chatter(console: str) -> list[str]:
    """The console's lines that hold any of CHATTER."""
    return [line for line in console.splitlines() if any(c in line for c in CHATTER)]


def test_a_joblib_sweep_prints_no_library_chatter_from_its_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "model=lstm,gru", *TINY, "hydra.callbacks.report.enabled=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console
    rows = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [r["status"] for r in rows] == ["ok", "ok"], console
    # The workers' own log lines reach this console, so the absence below is of chatter, not of their output.
    assert console.count("done in 3 steps") == 2, console
    assert not chatter(console), "library notices on the console:\n" + "\n".join(chatter(console))


def test_a_ddp_run_prints_no_library_chatter_from_its_second_rank(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "trainer=ddp", "trainer.devices=2", "model=gru", *TINY,
         f"hydra.run.dir={run}"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console
    assert json.loads((run / "results.json").read_text())["status"] == "ok", console
    assert "GLOBAL_RANK: 1" in console, console  # the second rank ran, and its output reaches this console
    assert not chatter(console), "library notices on the console:\n" + "\n".join(chatter(console))
