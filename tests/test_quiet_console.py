"""A sweep's console shows compare's own lines, not one copy of the libraries' notices per job.

Runs a real 2-job joblib sweep in a subprocess, so the jobs are real loky worker processes (which do not inherit
the main process's warning filters or logger levels)."""

from __future__ import annotations

import json
import subprocess
import sys

#: What Hydra and Lightning print per process unless compare.train.quiet_console has run in it.
CHATTER = ("validated against ConfigStore schema", "LeafSpec", "GPU available", "TPU available", "Tip:",
           "litlogger", "`Trainer.fit` stopped")


def test_a_joblib_sweep_prints_no_library_chatter_from_its_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "model=lstm,gru", "model.param_budget=3000", "task.length=4", "trainer.max_steps=3",
         "trainer.val_check_interval=3", "data.val_size=8", "eval.num_samples=8", "progress_bar=none",
         "hydra.callbacks.report.enabled=false", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    console = proc.stdout + proc.stderr
    assert proc.returncode == 0, console
    rows = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [r["status"] for r in rows] == ["ok", "ok"], console
    # The workers' own log lines reach this console, so the absence below is of chatter, not of their output.
    assert console.count("done in 3 steps") == 2, console
    printed = [line for line in console.splitlines() if any(c in line for c in CHATTER)]
    assert not printed, "library notices on the console:\n" + "\n".join(printed)
