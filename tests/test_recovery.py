"""Interrupted runs and sweeps resume with nothing lost; divergence and crashes are recorded, never lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from compare.errors import UserError
from compare.runs.results import read_results, write_results
from compare.train import main, train

REPO = Path(__file__).resolve().parents[1]
#: A tiny LSTM on short copies, checkpointed every 10 steps: a few seconds per run.
TINY = ["model=lstm", "model.param_budget=null", "model.hidden_size=16", "task.length=4", "trainer.max_steps=40",
        "trainer.val_check_interval=20", "trainer.log_every_n_steps=10", "callbacks.resume_checkpoint.every_n_train_steps=10",
        "data.val_size=64", "eval.num_samples=64"]
METRICS = ("val_loss", "val_token_acc", "val_seq_acc", "acc_by_length", "steps")


def test_resume_from_a_mid_run_checkpoint_gives_the_uninterrupted_metrics(killed_and_resumed, tmp_path):
    # Keep every rolling checkpoint, so run b can be put back to exactly what a kill at step 20 leaves behind.
    # Dropout draws from the global RNG: the resumed run must restore it, not only weights and optimizer.
    reference, resumed = killed_and_resumed([*TINY, "callbacks.resume_checkpoint.save_top_k=-1", "model.dropout=0.2"],
                                            step=20)
    run = tmp_path / "b"
    for key in METRICS:
        assert resumed[key] == reference[key], key
    # TensorBoard shows each step once, with the uninterrupted run's values.
    for tag in ("train/loss", "val/seq_acc"):
        assert scalars(run / "tb", tag) == scalars(tmp_path / "a" / "tb", tag), tag
    # Reproducibility needs the seed and the library versions next to the numbers.
    assert resumed["seed"] == 0 and {"torch", "lightning", "hydra", "python"} <= set(resumed["versions"])


def scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return [(e.step, e.value) for e in EventAccumulator(str(log_dir)).Reload().Scalars(tag)]


def test_finished_runs_are_kept_and_never_overwritten(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, "trainer.max_steps=10"])
    train(cfg)
    before = (tmp_path / "run" / "results.json").read_text()
    with pytest.raises(UserError, match="already holds a finished run"):
        train(cfg)
    kept = train(make_cfg([*TINY, "trainer.max_steps=10", "resume=true"]))
    assert kept["status"] == "ok"
    with pytest.raises(UserError, match=r"config differs .*task\.length=5 \(was 4\)"):
        train(make_cfg([*TINY, "trainer.max_steps=10", "resume=true", "task.length=5"]))
    assert (tmp_path / "run" / "results.json").read_text() == before


def test_diverging_run_is_recorded_as_diverged(make_cfg, tmp_path):
    row = train(make_cfg([*TINY, "optimizer.lr=1e30", "scheduler.warmup_steps=0", "check_finite_every_n_steps=5"]))
    saved = read_results(tmp_path / "run" / "results.json")
    assert row["status"] == saved["status"] == "diverged"
    assert saved["diverged_at_step"] == saved["steps"] and 0 < saved["steps"] <= 40
    assert "nan" in saved["error"] or "inf" in saved["error"]


def test_a_crash_inside_training_leaves_a_failed_row_with_its_traceback(make_cfg, tmp_path):
    # A scheduler setting that only breaks once training calls it: not a config mistake, a crash.
    # A scheduler that does not take the run length: the config is well-formed, training itself crashes.
    cfg = make_cfg([*TINY, "scheduler._target_=torch.optim.lr_scheduler.StepLR", "~scheduler.warmup_steps",
                    "~scheduler.min_lr_ratio", "+scheduler.step_size=1"])
    with pytest.raises(TypeError):
        train(cfg)
    saved = read_results(tmp_path / "run" / "results.json")
    assert saved["status"] == "failed" and "total_steps" in saved["error"]
    assert "Traceback" in saved["traceback"]


def sweep(args: list[str], sweep_dir: Path, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["compare-train", "-m", "progress_bar=none", *args, f"hydra.sweep.dir={sweep_dir}"])
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def test_sweep_with_a_failing_job_completes_the_others_and_resumes(tmp_path, monkeypatch, capsys):
    args = [*TINY, "trainer.max_steps=10", "task.length=3,0,2"]
    code, err = sweep(args, tmp_path, monkeypatch, capsys)
    assert code != 0 and "1_copy_lstm_L0" in err and "task.length=0" in err and "Traceback" not in err
    rows = {d.name: read_results(d / "results.json") for d in sorted(tmp_path.glob("*_copy_*"))}
    assert {k: r["status"] for k, r in rows.items()} == {
        "0_copy_lstm_L3": "ok", "1_copy_lstm_L0": "failed", "2_copy_lstm_L2": "ok"}
    assert "task.length=0" in rows["1_copy_lstm_L0"]["error"]

    # Interrupt job 2 after its last checkpoint; re-running the sweep keeps job 0, resumes job 2, retries job 1.
    finished = (tmp_path / "0_copy_lstm_L3" / "results.json").read_text()
    write_results(tmp_path / "2_copy_lstm_L2", {**rows["2_copy_lstm_L2"], "status": "running"})
    code, err = sweep([*args, "resume=true"], tmp_path, monkeypatch, capsys)
    assert code != 0 and "1_copy_lstm_L0" in err
    assert (tmp_path / "0_copy_lstm_L3" / "results.json").read_text() == finished
    again = read_results(tmp_path / "2_copy_lstm_L2" / "results.json")
    assert again["status"] == "ok" and again["resumed_from"]
    assert again["val_loss"] == rows["2_copy_lstm_L2"]["val_loss"]


def run_cli(args: list[str], run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "compare.train", "progress_bar=none", *args,
                             f"hydra.run.dir={run_dir}"], env=env, cwd=run_dir.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_matches_an_uninterrupted_run(tmp_path):
    args = [*TINY, "trainer.max_steps=200", "trainer.val_check_interval=50"]
    reference = run_cli(args, tmp_path / "reference")
    victim = run_cli(args, tmp_path / "killed")
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not last.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a few more steps past the checkpoint: work the resume must redo
    assert victim.poll() is None, "the run finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert json.loads((tmp_path / "killed" / "results.json").read_text())["status"] == "running"

    resumed = run_cli([*args, "resume=true"], tmp_path / "killed")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    a = read_results(tmp_path / "reference" / "results.json")
    b = read_results(tmp_path / "killed" / "results.json")
    assert b["resumed_from"] and b["status"] == a["status"] == "ok"
    for key in METRICS:
        assert a[key] == b[key], key


def test_only_failed_or_unreadable_rows_make_every_job_rebuild_the_report(tmp_path):
    from compare.reporting.callback import sweep_has_failures

    # Under joblib the other jobs' rows say "running" while one job ends: no failure, no rebuild per job.
    write_results(tmp_path / "0_copy_lstm_L3", {"status": "ok"})
    write_results(tmp_path / "1_copy_lstm_L4", {"status": "running"})
    assert not sweep_has_failures(tmp_path)
    write_results(tmp_path / "2_copy_lstm_L5", {"status": "failed"})
    assert sweep_has_failures(tmp_path)
    (tmp_path / "2_copy_lstm_L5" / "results.json").write_text("{not json")
    assert sweep_has_failures(tmp_path)
