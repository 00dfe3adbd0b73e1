"""trainer=ddp: two CPU processes (gloo) follow the one-process run, inside a Hydra multirun, one folder per job."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from compare.train import train

REPO = Path(__file__).resolve().parents[1]
# SGD, not Adam: an SGD step is proportional to the gradient, so a rank that trained on its half of
# the batch alone (no gradient averaging) lands measurably elsewhere; Adam's normalised first steps
# would hide that.
RUN = ["optimizer=sgd", "optimizer.lr=0.5", "~scheduler", "model=transformer", "model.param_budget=20000",
       "task.length=6", "trainer.max_steps=4", "trainer.val_check_interval=4", "trainer.log_every_n_steps=2",
       "data.val_size=32", "eval.num_samples=32", "progress_bar=none"]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_two_process_ddp_matches_one_process_in_a_multirun(tmp_path, make_cfg):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    sweep = tmp_path / "sweep"
    # One sweep, two jobs: the one-process run and the same run over 2 DDP processes (global batch 8 in both).
    proc = subprocess.run(
        [sys.executable, "-m", "compare.train", "-m", "trainer=default,ddp", "data.batch_size=8", *RUN,
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    # Lightning's own ddp launcher re-runs the command line per rank, which inside -m re-runs the sweep
    # and scatters extra folders (lightning-hydra-template #393): here exactly the two job folders exist.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep"]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir() and p.name != "report")  # report/: the sweep's report
    assert [p.name for p in jobs] == ["0_copy_transformer_L6", "1_copy_transformer_L6"]
    assert (sweep / "report" / "results.csv").read_text().count("\n") == 3  # header + one row per job
    single, two = jobs
    rows = [json.loads((j / "results.json").read_text()) for j in jobs]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[1]["config"]["trainer"]["strategy"] == "ddp" and rows[1]["steps"] == 4

    # Same global batch, gradients averaged over ranks: the same weights up to float summation order.
    tolerance = 1e-5
    diff_ddp = max_difference(weights(single), weights(two))
    assert diff_ddp < tolerance, diff_ddp
    assert abs(rows[0]["val_loss"] - rows[1]["val_loss"]) < 1e-5

    # The check can fail: one process trained on half the batch (what a rank without gradient
    # averaging would do) ends far outside the tolerance.
    half = make_cfg(["data.batch_size=4", *RUN[:-1]], sub="half")
    train(half)
    diff_half = max_difference(weights(single), weights(tmp_path / "half"))
    assert diff_half > 100 * tolerance, diff_half
