"""Scale-out presets: joblib sweeps share the cores, SLURM and GPU presets compose, threads are validated."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from compare.errors import UserError
from compare.train import CONF_DIR
from compare.training.ddp import processes_to_start
from compare.training.threads import job_threads, local_processes

REPO = Path(__file__).resolve().parents[1]


def compose_with_hydra(overrides):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=True)


def test_auto_threads_split_the_cores_over_parallel_processes():
    assert job_threads("auto", cpu_count=16, sharers=1) is None  # a lone run keeps torch's default
    assert job_threads("auto", cpu_count=16, sharers=4) == 4
    assert job_threads("auto", cpu_count=2, sharers=4) == 1
    assert job_threads(3, cpu_count=2, sharers=4) == 3
    for bad in (0, -1, "many", True):
        with pytest.raises(UserError, match="threads="):
            job_threads(bad, cpu_count=2, sharers=1)


def test_ddp_preset_starts_its_ranks_and_counts_them_as_core_sharers():
    cfg = compose_with_hydra(["trainer=ddp"])
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 2
    assert processes_to_start(cfg) == 2 and local_processes(cfg) == 2
    assert processes_to_start(compose_with_hydra([])) == 1


def test_gpu_preset_composes_with_bf16_fused_adamw_and_on_device_batches():
    cfg = compose_with_hydra(["trainer=gpu", "trainer.max_steps=7"])
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.trainer.max_steps == 7 and cfg.trainer.gradient_clip_val == 1.0  # the rest of trainer/default
    assert cfg.optimizer.fused is True and cfg.data.generate_on_device is True
    assert compose_with_hydra([]).optimizer.fused is None  # the CPU default is untouched


def test_launcher_presets_compose():
    joblib = compose_with_hydra(["hydra/launcher=joblib"]).hydra.launcher
    assert joblib._target_.endswith("JoblibLauncher") and joblib.n_jobs == 2
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    slurm = compose_with_hydra(["hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu"]).hydra.launcher
    assert slurm._target_.endswith("SlurmLauncher") and slurm.partition == "gpu" and slurm.timeout_min == 60


def test_joblib_sweep_runs_jobs_in_parallel_with_threads_split(tmp_path):
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)  # the job itself must choose its threads
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "model=lstm,gru", "model.param_budget=5000", "task.length=4", "trainer.max_steps=8",
         "trainer.val_check_interval=8", "callbacks.throughput.warmup_steps=2", "data.val_size=16",
         "eval.num_samples=16", "progress_bar=none", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [r["model"] for r in rows] == ["lstm", "gru"] and all(r["status"] == "ok" for r in rows)
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert [r["torch_threads"] for r in rows] == [expected, expected]



def test_sweep_runs_through_submitit_like_a_cluster_job(tmp_path):
    """submitit's local executor pickles and runs each job as a cluster would (no SLURM here), so the job
    function, config and results survive the trip the submitit_slurm preset takes."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=5",
         "model=lstm", "model.param_budget=5000", "task.length=4", "trainer.max_steps=8",
         "trainer.val_check_interval=8", "data.val_size=16", "eval.num_samples=16", "progress_bar=none",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [(r["model"], r["status"]) for r in rows] == [("lstm", "ok")]
    assert (sweep / "report" / "report.md").exists()  # the sweep's report is built after submitit's jobs too

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.slow
def test_transformer_trains_at_16384_tokens_on_one_gpu(make_cfg):
    from compare.train import train

    cfg = make_cfg(["trainer=gpu", "model=transformer", "model.pos_encoding=sinusoidal", "model.d_model=256",
                    "model.n_heads=4", "task.length=8192", "data.batch_size=1", "trainer.max_steps=3",
                    "trainer.val_check_interval=3", "data.val_size=2", "data.eval_batch_size=1",
                    "eval.lengths=[8192]", "eval.num_samples=1", "~callbacks.length_ladder"])
    row = train(cfg)
    assert row["status"] == "ok" and row["peak_mem_mb"] < 80 * 1024


@pytest.mark.slow
def test_sweep_launcher_benchmark_times_both_launchers_over_the_same_jobs(tmp_path):
    out = tmp_path / "sweep_bench.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_sweep_launchers.py"), "--arms", "sequential,joblib",
         "--n-jobs", "2", "--json", str(out), "--sweep", "model=lstm,gru", "model.param_budget=5000",
         "task.length=4", "trainer.max_steps=8", "trainer.val_check_interval=8", "data.val_size=16",
         "eval.num_samples=16"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result["median_wall_s"]) == {"sequential", "joblib"}
    assert all(run["jobs"] == 2 for runs in result["runs"].values() for run in runs)
    assert result["joblib_speedup_over"]["sequential"] > 0
    assert "joblib is" in proc.stdout
