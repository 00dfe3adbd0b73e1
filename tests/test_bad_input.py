"""Bad input campaign: every mistake gets one `compare-train: error: ...` line naming the value, a non-zero exit, no traceback.

The cases run the real console entry point (``compare.train.main``, i.e. Hydra's compose and the whole
run up to training) in this process, because importing torch in a fresh interpreter for each case would
cost seconds; one case runs the real CLI in a subprocess to check the same holds there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from compare.errors import UserError
from compare.train import main

REPO = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], run_dir: Path, monkeypatch, capsys) -> tuple[int, str]:
    """Run compare-train in-process; returns (exit status, stderr)."""
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["compare-train", "progress_bar=none", *args, f"hydra.run.dir={run_dir}"])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    return code, capsys.readouterr().err


# (command-line arguments, strings the error line must contain)
CASES = {
    "unknown model": (["model=foo"], ["model/foo", "lstm", "transformer"]),
    "unknown task": (["task=foo"], ["task/foo", "copy"]),
    "zero length": (["task.length=0"], ["task.length=0", ">= 1"]),
    "negative length": (["task.length=-3"], ["task.length=-3", ">= 1"]),
    "length not a number": (["task.length=abc"], ["task.length='abc'", "integer"]),
    "vocabulary of one": (["task.vocab_size=1"], ["task.vocab_size=1", ">= 2"]),
    "budget too small": (["model.param_budget=10"], ["param_budget=10", "too small"]),
    "negative budget": (["model=transformer", "model.param_budget=-5"], ["param_budget=-5"]),
    "longer than max_positions": (["model=transformer", "task.length=300"], ["task.length=300", "max_positions=512"]),
    "misspelled key": (["task.lenght=8"], ["task.lenght"]),
    "misspelled key added with +": (["+task.lenght=8"], ["task.lenght", "length"]),
    "misspelled model key": (["+model.hiden_size=8"], ["model.hiden_size", "hidden_size"]),
    "zero eval length": (["eval.lengths=[8,0]"], ["eval.lengths=[8, 0]", ">= 1"]),
    "eval length not a number": (["eval.lengths=[x]"], ["eval.lengths=['x']"]),
    "negative eval multiplier": (["eval.multipliers=[1,-2]"], ["eval.multipliers=[1, -2]", "> 0"]),
    "negative batch size": (["data.batch_size=-4"], ["data.batch_size=-4", ">= 1"]),
    "zero eval batch size": (["data.eval_batch_size=0"], ["data.eval_batch_size=0"]),
    "unknown attention impl": (["model=transformer", "model.attention=flash"], ["attention='flash'", "sdpa"]),
    "unknown position encoding": (["model=transformer", "model.pos_encoding=xpos"], ["pos_encoding='xpos'", "sinusoidal"]),
    "unknown recurrent cell": (["model.cell=mamba"], ["cell='mamba'", "lstm"]),
    "heads do not divide width": (["model=transformer", "model.n_heads=3", "model.d_model=64"], ["d_model=64", "n_heads=3"]),
    "zero layers": (["model.num_layers=0"], ["num_layers=0"]),
    "zero training steps": (["trainer.max_steps=0"], ["trainer.max_steps=0", ">= 1"]),
    "unknown precision": (["trainer.precision=bf17"], ["trainer.precision='bf17'", "bf16-mixed"]),
    "negative learning rate": (["optimizer.lr=-1"], ["-1", "learning rate"]),
    "learning rate not a number": (["optimizer.lr=fast"], ["optimizer.lr='fast'"]),
    "seed not a number": (["seed=abc"], ["seed='abc'"]),
    "unknown progress bar": (["progress_bar=loud"], ["progress_bar='loud'"]),
    "resume not a switch": (["resume=maybe"], ["resume='maybe'"]),
    "override without a value": (["tasklength8"], ["tasklength8"]),
    "negative divergence check": (["check_finite_every_n_steps=-1"], ["check_finite_every_n_steps=-1"]),
    "duplicate eval lengths": (["eval.lengths=[8,16,8]"], ["eval.lengths=[8, 16, 8]", "8 given more than once"]),
    "empty eval lengths": (["eval.lengths=[]"], ["eval.lengths=[]", "null to use eval.multipliers"]),
    "zero threads": (["threads=0"], ["threads=0", "auto or an integer >= 1"]),
    "uncatchable preemption signal": (["preemption.signals=[SIGKILL]"], ["preemption.signals=['SIGKILL']", "SIGTERM"]),
    "unknown preemption signal": (["preemption.signals=[SIGFOO]"], ["'SIGFOO' is not a catchable signal"]),
    "zero grace time": (["preemption.grace_s=0"], ["preemption.grace_s=0", "seconds > 0"]),
    "unknown target": (["task._target_=compare.tasks.NoSuchTask"], ["compare.tasks.NoSuchTask"]),
    "misspelled logger": (["logger=csvv"], ["logger/csvv", "csv, mlflow, tensorboard, wandb"]),
    "misspelled logger in a list": (["logger=[tensorboard,cvs]"], ["logger/cvs", "csv, mlflow, tensorboard, wandb"]),
    "training pool not whole batches": (["data.train_size=50"], ["data.train_size=50", "data.batch_size=32"]),
}


@pytest.mark.parametrize("args,expected", list(CASES.values()), ids=list(CASES))
def test_bad_input_gets_one_clear_error(args, expected, tmp_path, monkeypatch, capsys):
    code, err = run_cli(args, tmp_path / "run", monkeypatch, capsys)
    assert code != 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("compare-train: error: "), err
    for text in expected:
        assert text in lines[0], (text, lines[0])


@pytest.mark.parametrize("where", ["hydra.run.dir", "hydra.sweep.dir"])
@pytest.mark.parametrize("below", [False, True], ids=["is a file", "under a file"])
def test_a_run_or_sweep_dir_that_is_a_file_gets_one_clear_error(where, below, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    target = blocker / "job" if below else blocker
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    sweep = ["-m"] if where == "hydra.sweep.dir" else []
    monkeypatch.setattr(sys, "argv", ["compare-train", *sweep, "progress_bar=none", f"{where}={target}"])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    what = f"lies under {blocker}, which is a file" if below else "is a file"
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"compare-train: error: {where}={target} {what}; it must be a folder "
                                        f"that can be created and written"]
    assert blocker.read_text() == "keep me"


def test_campaign_has_at_least_twenty_distinct_cases():
    assert len({tuple(args) for args, _ in CASES.values()}) >= 20


def test_a_run_that_fails_before_the_model_is_built_leaves_a_failed_row(tmp_path, monkeypatch, capsys):
    code, _ = run_cli(["task.length=0"], tmp_path / "run", monkeypatch, capsys)
    row = json.loads((tmp_path / "run" / "results.json").read_text())
    assert code == 2
    assert row["status"] == "failed" and "task.length=0" in row["error"] and row["params"] is None
    assert "traceback" not in row  # a user's mistake needs no traceback, a crash keeps one (see test_recovery)


def test_a_setting_that_does_not_resolve_leaves_a_failed_row(tmp_path, monkeypatch, capsys):
    """An interpolation naming a missing key fails before the run's row exists; without a row of its own, a sweep's
    report counted the run as still running."""
    code, err = run_cli(["trainer.max_steps=${plan.x}"], tmp_path / "run", monkeypatch, capsys)
    row = json.loads((tmp_path / "run" / "results.json").read_text())
    assert code == 2 and "plan.x" in err.strip().splitlines()[-1]
    assert row["status"] == "failed" and "plan.x" in row["error"] and row["steps"] == 0
    assert row["config"]["trainer"]["max_steps"] == "${plan.x}"  # the config as written, since it cannot resolve


def test_full_error_switch_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    monkeypatch.setattr(sys, "argv", ["compare-train", "task.vocab_size=1", f"hydra.run.dir={tmp_path}"])
    with pytest.raises(UserError, match="task.vocab_size=1"):
        main()


def test_real_cli_prints_one_line_and_exits_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, "-m", "compare.train", "model=transformer", "model.attention=flash",
                           f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("compare-train: error: attention='flash'")


CONF = REPO / "conf"


@pytest.mark.parametrize("group", ["model", "task", "trainer", "optimizer", "scheduler", "experiment"])
def test_every_shipped_config_passes_the_check(group, tmp_path):
    """The check must never reject a config the project ships (it is derived from the constructors, not a list)."""
    from hydra import compose, initialize_config_dir

    from compare.config.build import MODEL_RUN_KEYS
    from compare.config.check import check_config

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    assert options
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        for option in options:
            cfg = compose("config", overrides=[f"{group}={option}", f"output_dir={tmp_path}"],
                          return_hydra_config=True)
            # Presets read ${hydra:runtime.choices...}, as in a real job: set the Hydra config a job would have
            # (without this the test passed or failed depending on which test had set it before).
            HydraConfig.instance().set_config(cfg)
            with open_dict(cfg):
                del cfg["hydra"]
            check_config(cfg, extra_keys={"model": MODEL_RUN_KEYS})


def test_other_console_scripts_get_the_same_style(capsys, monkeypatch):
    from compare.errors import reported_errors

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as exit_:
        with reported_errors("compare-report"):
            raise UserError("runs=/nowhere is not a folder")
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "compare-report: error: runs=/nowhere is not a folder\n"
    with pytest.raises(SystemExit) as exit_:
        with reported_errors("compare-report"):
            raise RuntimeError("boom")
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and err.startswith("compare-report: error: RuntimeError: boom") and "Traceback" not in err
