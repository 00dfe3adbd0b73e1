"""Long unattended sweeps survive preemption signals, damaged checkpoints, full disks and readers of a running sweep.

Signals here are real (``os.kill``), sent either by a tiny callback inside the run at a fixed step (in this
process, so the default suite stays fast and the step is exact) or to a real ``python -m compare.train``
subprocess (marked slow). The callbacks below are instantiated by Hydra from ``+callbacks.<name>._target_``
(pytest puts tests/ on sys.path; a subprocess gets it through PYTHONPATH).
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from compare.errors import UserError
from compare.report import main as report_main
from compare.reporting.build import build_report
from compare.runs.atomic import atomic_write_text, stale_temp_files
from compare.runs.records import load_runs
from compare.runs.resume import checkpoint_step
from compare.runs.results import read_results, write_results
from compare.train import main, train
from compare.training.checkpoint_io import AtomicCheckpointIO
from compare.training.preemption import Preempted

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
#: A tiny LSTM on short copies (one torch thread, so a subprocess and this process compute the same numbers).
TINY = ["model=lstm", "model.param_budget=null", "model.hidden_size=16", "task.length=4", "trainer.max_steps=40",
        "trainer.val_check_interval=20", "trainer.log_every_n_steps=10", "callbacks.resume_checkpoint.every_n_train_steps=10",
        "data.val_size=64", "eval.num_samples=64", "threads=1"]
METRICS = ("val_loss", "val_token_acc", "val_seq_acc", "acc_by_length", "ladder", "steps")


class SignalAtStep(L.Callback):
    """Sends ``signum`` to this very process at the end of training step ``step`` (-1: never), or at the end of
    the validation that follows that step (``during=validation``)."""

    def __init__(self, step: int = -1, signum: int = int(signal.SIGTERM), hang_s: float = 0.0,
                 during: str = "train") -> None:
        self.step, self.signum, self.hang_s, self.during = step, signum, hang_s, during

    def send(self, trainer, during: str) -> None:
        if trainer.global_step == self.step and during == self.during:
            os.kill(os.getpid(), self.signum)
            time.sleep(self.hang_s)  # a step that outlasts the grace time: only the watchdog can end it

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.send(trainer, "train")

    def on_validation_end(self, trainer, pl_module) -> None:
        self.send(trainer, "validation")


#: What ReportWhileTraining saw: (job dir name, records' statuses, the warnings, report.md text).
SEEN: list[tuple] = []


class ReportWhileTraining(L.Callback):
    """Builds the report of the sweep this job belongs to in the middle of the job's training."""

    def __init__(self, step: int = 5, job: int = 1) -> None:
        self.step, self.job = step, job

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        job = Path(trainer.default_root_dir)
        if trainer.global_step == self.step and job.name.startswith(f"{self.job}_"):
            warnings: list[str] = []
            build_report(job.parent, warn=warnings.append)
            statuses = {r.name: r.status for r in load_runs(job.parent)}
            SEEN.append((job.name, statuses, warnings, (job.parent / "report" / "report.md").read_text()))


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """``threads=1`` sets torch's thread count for the whole process; put it back for the other tests."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def scalars(log_dir: Path, tag: str) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return [(e.step, e.value) for e in EventAccumulator(str(log_dir)).Reload().Scalars(tag)]


def signal_at(step: int, sig: signal.Signals = signal.SIGTERM) -> list[str]:
    return ["+callbacks.signal._target_=test_preemption.SignalAtStep", f"+callbacks.signal.step={step}",
            f"+callbacks.signal.signum={int(sig)}"]


def test_sigterm_mid_run_stops_with_a_checkpoint_and_resume_gives_the_uninterrupted_metrics(make_cfg, tmp_path):
    overrides = [*TINY, "model.dropout=0.2"]  # dropout: the resumed run must also restore the RNG stream
    reference = train(make_cfg([*overrides, *signal_at(-1)], sub="reference"))
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1)}

    with pytest.raises(Preempted) as stopped:
        train(make_cfg([*overrides, *signal_at(15)], sub="victim"))
    assert stopped.value.code == 128 + signal.SIGTERM
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # the run's handlers are gone again
    run = tmp_path / "victim"
    row = read_results(run / "results.json")
    assert row["status"] == "preempted" and row["preempted_by"] == "SIGTERM" and row["steps"] == 15
    assert "resume=true" in row["error"]
    assert checkpoint_step(run / "checkpoints" / "last.ckpt") == (15, "")
    with pytest.raises(UserError, match="already holds a checkpoint"):  # never restarted over by accident
        train(make_cfg([*overrides, *signal_at(15)], sub="victim"))

    resumed = train(make_cfg([*overrides, *signal_at(15), "resume=true"], sub="victim"))
    assert resumed["status"] == "ok" and resumed["resumed_from"].endswith("last.ckpt")
    for key in METRICS:
        assert resumed[key] == reference[key], key
    for tag in ("train/loss", "val/seq_acc"):
        assert scalars(run / "tb", tag) == scalars(tmp_path / "reference" / "tb", tag), tag


def test_sigterm_during_validation_stops_after_it_and_resume_gives_the_uninterrupted_metrics(make_cfg, tmp_path):
    # Lightning raises its SIGTERMException after the validation, past the end of the training step: the
    # checkpoint is taken there (on_exception), and Lightning's loop state must carry the resumed run on exactly.
    reference = train(make_cfg(TINY, sub="reference"))
    signal_in_validation = [*signal_at(20), "+callbacks.signal.during=validation"]
    with pytest.raises(Preempted):
        train(make_cfg([*TINY, *signal_in_validation], sub="victim"))
    assert read_results(tmp_path / "victim" / "results.json")["steps"] == 20
    resumed = train(make_cfg([*TINY, *signal_in_validation, "resume=true"], sub="victim"))
    for key in METRICS:
        assert resumed[key] == reference[key], key
    for tag in ("train/loss", "val/seq_acc"):  # each step once in TensorBoard, with the uninterrupted values
        assert scalars(tmp_path / "victim" / "tb", tag) == scalars(tmp_path / "reference" / "tb", tag), tag


def test_sigusr1_is_a_preemption_too_and_a_requeued_slurm_job_continues_by_itself(make_cfg, tmp_path, monkeypatch):
    overrides = [*TINY, "trainer.max_steps=20", "trainer.val_check_interval=10"]
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # what SLURM sets; a requeued job keeps its id
    # A launcher's own handler (submitit's requeues the job) gets the signal once the run has stopped cleanly.
    handed_on = []
    launcher_handler = lambda signum, frame: handed_on.append(  # noqa: E731
        (signum, read_results(tmp_path / "run" / "results.json")["status"]))
    previous = signal.signal(signal.SIGUSR1, launcher_handler)
    try:
        with pytest.raises(Preempted) as stopped:
            train(make_cfg([*overrides, *signal_at(7, signal.SIGUSR1)]))
        assert signal.getsignal(signal.SIGUSR1) is launcher_handler
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert handed_on == [(signal.SIGUSR1, "preempted")]
    assert stopped.value.code == 128 + signal.SIGUSR1
    row = read_results(tmp_path / "run" / "results.json")
    assert (row["status"], row["preempted_by"], row["steps"], row["cluster_job"]) == ("preempted", "SIGUSR1", 7, "4242")

    monkeypatch.setenv("SLURM_JOB_ID", "999")  # another job must not take it over without resume=true
    with pytest.raises(UserError, match="already holds a checkpoint"):
        train(make_cfg([*overrides, *signal_at(7, signal.SIGUSR1)]))
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    again = train(make_cfg([*overrides, *signal_at(7, signal.SIGUSR1)]))  # resume=false, as submitted
    assert again["status"] == "ok" and again["steps"] == 20 and again["resumed_from"]


def test_a_damaged_last_checkpoint_falls_back_to_the_newest_readable_one_then_to_a_fresh_start(
        make_cfg, tmp_path, caplog):
    overrides = [*TINY, "callbacks.resume_checkpoint.save_top_k=-1", "callbacks.checkpoint=null"]
    reference = train(make_cfg(overrides))
    ckpts = tmp_path / "run" / "checkpoints"
    unfinished = {**reference, "status": "running", "steps": 0}

    # Killed mid-write by a writer that was not atomic: last.ckpt is half a file; step 20's is whole.
    for p in ckpts.glob("*step=[34]0.ckpt"):
        p.unlink()
    last = ckpts / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    write_results(tmp_path / "run", unfinished)
    with caplog.at_level(logging.WARNING, logger="compare"):
        resumed = train(make_cfg([*overrides, "resume=true"]))
    warning = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(warning) == 1 and "last.ckpt" in warning[0] and "step 20" in warning[0], warning
    assert resumed["resumed_from"].endswith("epoch=0-step=20.ckpt")
    for key in METRICS:
        assert resumed[key] == reference[key], key

    # Nothing readable at all: one warning, a fresh start, and (same seed) the same result again.
    for p in ckpts.glob("*.ckpt"):
        p.write_bytes(b"not a checkpoint")
    write_results(tmp_path / "run", unfinished)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="compare"):
        fresh = train(make_cfg([*overrides, "resume=true"]))
    assert any("starts again from step 0" in r.getMessage() for r in caplog.records)
    assert "resumed_from" not in fresh and fresh["val_loss"] == reference["val_loss"]


def test_a_full_disk_leaves_the_previous_checkpoint_results_and_report_files_whole(tmp_path):
    # RLIMIT_FSIZE makes any write past N bytes fail with EFBIG, for root too: a disk that fills mid-write.
    io = AtomicCheckpointIO()
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"global_step": 10, "w": torch.zeros(10)}, ckpt)
    write_results(tmp_path, {"status": "ok", "steps": 10})
    atomic_write_text(tmp_path / "report" / "report.html", "<p>the previous report</p>")
    before = {p: p.read_bytes() for p in (ckpt, tmp_path / "results.json", tmp_path / "report" / "report.html")}

    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel's signal ends the process
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        with pytest.raises(OSError):
            io.save_checkpoint({"global_step": 20, "w": torch.zeros(100_000)}, ckpt)
        with pytest.raises(OSError):
            write_results(tmp_path, {"status": "ok", "steps": 20, "pad": "x" * 100_000})
        with pytest.raises(OSError):
            atomic_write_text(tmp_path / "report" / "report.html", "y" * 100_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert {p: p.read_bytes() for p in before} == before
    assert checkpoint_step(ckpt) == (10, "")
    assert not any(stale_temp_files(d) for d in (tmp_path, ckpt.parent, tmp_path / "report"))


def test_an_output_dir_that_cannot_be_written_fails_before_training(make_cfg, tmp_path):
    # chmod does not stop root; a path whose parent is a regular file fails for everyone (ENOTDIR).
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UserError, match=rf"output_dir={blocker}/run lies under {blocker}, which is a file"):
        train(make_cfg(TINY, sub="a_file/run"))
    with pytest.raises(UserError, match=rf"output_dir={blocker} is a file"):
        train(make_cfg(TINY, sub="a_file"))
    assert blocker.read_text() == ""


def test_an_output_dir_on_a_read_only_file_system_fails_before_training(make_cfg, tmp_path):
    # sysfs refuses new folders even to root: a real read-only place on Linux machines and containers.
    target = Path("/sys/compare_cannot_write_here/run")
    try:
        target.parent.mkdir()
    except OSError:
        pass
    else:
        target.parent.rmdir()
        pytest.skip("/sys is writable here")
    cfg = make_cfg(TINY)
    cfg.output_dir = str(target)
    with pytest.raises(UserError, match=rf"output_dir={target} cannot be written \(.+\); it must be a folder"):
        train(cfg)


def run_sweep(args: list[str], sweep_dir: Path, monkeypatch, capsys) -> int:
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["compare-train", "-m", "progress_bar=none", *args,
                                      f"hydra.sweep.dir={sweep_dir}"])
    try:
        main()
    except SystemExit as e:
        return e.code
    finally:
        capsys.readouterr()
    return 0


def test_report_of_a_sweep_that_is_still_running_uses_finished_runs_and_counts_the_rest(
        tmp_path, monkeypatch, capsys):
    SEEN.clear()
    args = [*TINY, "trainer.max_steps=10", "task.length=3,4", "hydra.callbacks.report.enabled=false",
            "+callbacks.probe._target_=test_preemption.ReportWhileTraining"]
    assert run_sweep(args, tmp_path, monkeypatch, capsys) == 0
    # Job 1's probe built the report while job 0 was done and job 1 itself was training (results.json: running).
    job, statuses, warnings, report_md = SEEN[-1]
    assert job == "1_copy_lstm_L4"
    assert statuses == {"0_copy_lstm_L3": "ok", "1_copy_lstm_L4": "running"}
    assert warnings == ["1 of 2 runs has not finished yet (1 still running): the findings and figures use only the "
                        "1 finished; build the report again when they end"]
    assert "1 of 2 runs has not finished yet" in report_md

    # Now half-written states next to the finished runs: a job Hydra has just started (.hydra only), a row
    # being replaced (the old row plus a half-written temp file), and a preempted run.
    fresh = tmp_path / "2_copy_lstm_L5"
    shutil.copytree(tmp_path / "1_copy_lstm_L4" / ".hydra", fresh / ".hydra")
    (tmp_path / "1_copy_lstm_L4" / ".results.json.x1y2.tmp").write_text('{"schema_version": 1, "sta')
    stopped = tmp_path / "3_copy_lstm_L6"
    stopped.mkdir()
    write_results(stopped, {**read_results(tmp_path / "0_copy_lstm_L3" / "results.json"), "status": "preempted",
                            "error": "preempted by SIGTERM at step 5; continue it with resume=true"})
    assert report_main([str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and out.strip().endswith("report.html")
    assert "2 of 4 runs have not finished yet (1 still running, 1 preempted)" in err
    md = (tmp_path / "report" / "report.md").read_text()
    assert "2 of 4 runs have not finished yet (1 still running, 1 preempted)" in md
    csv = (tmp_path / "report" / "results.csv").read_text()
    assert "2_copy_lstm_L5,running" in csv and "3_copy_lstm_L6,preempted" in csv


def test_preempted_is_a_status_every_reader_accepts(tmp_path):
    write_results(tmp_path, {"status": "preempted", "steps": 3})
    with pytest.raises(UserError, match="results row lacks keys"):
        read_results(tmp_path / "results.json")
    row = {k: None for k in ("model", "task", "train_length", "params", "seed", "val_token_acc", "val_seq_acc",
                             "train_tokens_per_s", "wall_s", "peak_mem_mb")}
    row.update(steps=3, acc_by_length={}, config={})
    write_results(tmp_path, {**row, "status": "preempted"})
    assert read_results(tmp_path / "results.json")["status"] == "preempted"
    write_results(tmp_path, {**row, "status": "paused"})
    with pytest.raises(UserError, match="status 'paused' is not one this version of compare writes"):
        read_results(tmp_path / "results.json")


def cli(args: list[str], run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "compare.train", "progress_bar=none", *args,
                             f"hydra.run.dir={run_dir}"], env=env, cwd=run_dir.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_sigterm_to_a_real_compare_train_process_then_resume_matches_an_uninterrupted_run(make_cfg, tmp_path):
    args = [*TINY, "trainer.max_steps=400", "trainer.val_check_interval=100"]
    victim = cli(args, tmp_path / "victim")
    first = tmp_path / "victim" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not first.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the run ended before it could be signalled: " + victim.stderr.read()
    os.kill(victim.pid, signal.SIGTERM)
    sent = time.monotonic()
    assert victim.wait(timeout=30) == 128 + signal.SIGTERM, victim.stderr.read()
    took = time.monotonic() - sent
    row = read_results(tmp_path / "victim" / "results.json")
    assert row["status"] == "preempted" and 10 <= row["steps"] < 400, row
    assert checkpoint_step(first) == (row["steps"], "")
    assert took < 25, f"exit took {took:.1f} s after SIGTERM"

    reference = train(make_cfg(args, sub="reference"))
    resumed = train(make_cfg([*args, "resume=true"], sub="victim"))
    assert resumed["status"] == "ok"
    for key in METRICS:
        assert resumed[key] == reference[key], key


@pytest.mark.slow
def test_a_step_longer_than_the_grace_time_is_cut_off_by_the_watchdog(tmp_path):
    args = [*TINY, "trainer.max_steps=400", "preemption.grace_s=4",
            *signal_at(25), "+callbacks.signal.hang_s=120"]
    victim = cli(args, tmp_path / "victim")
    assert victim.wait(timeout=300) == 128 + signal.SIGTERM, victim.stderr.read()
    row = read_results(tmp_path / "victim" / "results.json")
    # Step 25 never ended; the newest checkpoint on disk (step 20) is what resume will continue from.
    assert (row["status"], row["steps"]) == ("preempted", 20), row
    assert "no training step ended within 2 s" in (tmp_path / "victim" / "train.log").read_text()


@pytest.mark.slow
def test_compare_report_on_a_live_sweep_subprocess(tmp_path):
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    sweep = subprocess.Popen([sys.executable, "-m", "compare.train", "-m", "progress_bar=none", *TINY,
                              "trainer.max_steps=600", "task.length=3,4", "hydra.callbacks.report.enabled=false",
                              f"hydra.sweep.dir={sweep_dir}"],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = sweep_dir / "0_copy_lstm_L3" / "results.json"
        deadline = time.time() + 300
        while sweep.poll() is None and time.time() < deadline and not (
                first.exists() and json.loads(first.read_text())["status"] == "ok"):
            time.sleep(0.05)
        seen = []
        while sweep.poll() is None and len(seen) < 3:  # while job 1 trains, and its dir is half-written
            warnings: list[str] = []
            build_report(sweep_dir, warn=warnings.append)
            seen.append(warnings)
        assert sweep.wait(timeout=300) == 0, sweep.stderr.read()
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert seen, "the sweep ended before the report could be built"
    assert any(w and "not finished yet (1 still running)" in w[0] for w in seen), seen


def task_processes(marker: str) -> list[int]:
    """Pids of submitit job tasks (``python -m submitit.core._submit <folder>``) whose folder holds ``marker``."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "submitit.core._submit" in cmd and marker in cmd:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="finds the job's process through /proc")
def test_submitit_requeues_a_preempted_job_which_continues_to_the_uninterrupted_metrics(make_cfg, tmp_path):
    """The hydra submitit launcher's local executor runs a job as SLURM would, requeue included: SIGUSR2
    (submitit's signal) to the job's process stops the run with a checkpoint, hands the signal to submitit,
    which requeues the job; the requeued job finds its own preempted row and continues it."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep_dir = tmp_path / "sweep"
    args = [*TINY, "trainer.max_steps=600", "trainer.val_check_interval=100"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # timeout_min=5: submitit's own time-limit signal (at 5 min less 30 s) never comes within this test.
    master = subprocess.Popen([sys.executable, "-m", "compare.train", "-m", "hydra/launcher=submitit_local",
                               "hydra.launcher.timeout_min=5", "hydra.callbacks.report.enabled=false",
                               "progress_bar=none", *args, f"hydra.sweep.dir={sweep_dir}"],
                              env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        run = sweep_dir / "0_copy_lstm_L4"
        deadline = time.time() + 300
        while not (run / "checkpoints" / "last.ckpt").exists() and master.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        tasks = task_processes(str(sweep_dir))
        assert master.poll() is None and len(tasks) == 1, "the job ended before it could be signalled"
        os.kill(tasks[0], signal.SIGUSR2)
        assert master.wait(timeout=400) == 0, master.stderr.read()
    finally:
        if master.poll() is None:
            master.kill()
    row = read_results(run / "results.json")
    log = (run / "train.log").read_text()
    assert row["status"] == "ok" and row["resumed_from"], row
    assert "preempted by SIGUSR2 at step" in log and "was requeued after it stopped (status preempted)" in log
    reference = train(make_cfg(args, sub="reference"))
    for key in METRICS:
        assert row[key] == reference[key], key
