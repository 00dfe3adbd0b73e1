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


#: The tiny runs of ``two_seed_sweep``: a transformer needs a budget above ~5,100 parameters at width 1.
TINY_RUN = ["task.length=4", "model.param_budget=8000", "trainer.max_steps=12", "trainer.val_check_interval=6",
            "trainer.log_every_n_steps=3", "data.val_size=32", "eval.num_samples=32", "progress_bar=none",
            "threads=1"]


@pytest.fixture(scope="session")
def two_seed_sweep(tmp_path_factory) -> Path:
    """One sweep dir holding LSTM and transformer on copy at length 4, each trained twice (seed 0 and 1) by the
    real ``train``, in job dirs named as Hydra names them; its report is built by ``build_report``."""
    import torch
    from hydra import compose, initialize_config_dir

    from compare.reporting.build import build_report
    from compare.train import CONF_DIR, train

    sweep = tmp_path_factory.mktemp("two_seeds") / "multirun"
    jobs = [(m, s) for m in ("lstm", "transformer") for s in (0, 1)]
    threads = torch.get_num_threads()
    try:
        for num, (model, seed) in enumerate(jobs):
            with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
                cfg = compose("config", overrides=[f"output_dir={sweep / f'{num}_copy_{model}_L4'}", f"model={model}",
                                                   f"seed={seed}", *TINY_RUN])
            assert train(cfg)["status"] == "ok"
    finally:
        torch.set_num_threads(threads)  # threads=1 (as tiny_sweep's OMP_NUM_THREADS=1) must not leak into other tests
    build_report(sweep)
    return sweep
