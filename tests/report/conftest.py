"""A real, tiny Hydra multirun shared by the report, dashboard and browser tests (one per session)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m <args>`` from ``cwd`` with this checkout's compare first on the path."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def cli():
    """``run_cli`` for tests in other files (conftest helpers cannot be imported by name)."""
    return run_cli


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory) -> Path:
    """4 jobs through Hydra: LSTM and transformer on copy at length 4 (trained a few steps) and at length 0
    (rejected by the task: two real failed jobs). The report is built by the on_multirun_end callback."""
    work = tmp_path_factory.mktemp("sweep")
    sweep = work / "multirun"
    proc = run_cli(["compare.train", "-m", "model=lstm,transformer", "task.length=4,0", "trainer.max_steps=30",
                    "trainer.val_check_interval=10", "trainer.log_every_n_steps=5", "model.param_budget=20000",
                    "data.val_size=32", "eval.num_samples=32", "progress_bar=none", f"hydra.sweep.dir={sweep}"],
                   cwd=work)
    # The sweep reports its failed jobs with a non-zero exit, after every job has run and the report is built.
    assert proc.returncode == 1 and "compare-train: error: a run of the sweep failed" in proc.stderr, proc.stderr[-3000:]
    assert (sweep / "report" / "report.html").is_file(), proc.stderr[-3000:]
    return sweep
