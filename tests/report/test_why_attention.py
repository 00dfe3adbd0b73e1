"""The why_attention presets: they compose, every swept task has a length at every rung, and (slow) the CPU
preset runs end to end through Hydra with its report."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # lets ${hydra:runtime.choices.task} resolve, as inside a job
    return cfg


@pytest.mark.parametrize("preset,models", [("why_attention", {"lstm", "mingru", "linear_attention", "positions/rope"}),
                                           ("why_attention_gpu", {"lstm", "gru", "mingru", "minlstm", "linear_attention", "transformer"})])
def test_preset_is_a_sweep_with_a_length_for_every_task_and_rung(preset, models):
    cfg = composed(f"experiment={preset}")
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = cfg.hydra.sweeper.params
    assert set(params.model.split(",")) == models
    tasks, rungs = params.task.split(","), params.rung.split(",")
    assert "copy" in tasks
    if preset == "why_attention":
        assert len(params.seed.split(",")) >= 2  # intervals in the demo's report
        # One training range per task; copy and qa train on every length up to it, not at one length.
        assert rungs == ["long"]
        for task in ("copy", "qa"):
            job = composed(f"experiment={preset}", f"task={task}")
            assert job.task.min_length < job.task.length, (task, job.task.min_length, job.task.length)
    else:
        assert len(rungs) >= 2
    for task in tasks:
        lengths = [cfg.plan[task][r] for r in ("short", "medium", "long", "longer") if r in cfg.plan[task]]
        assert all(isinstance(n, int) and n > 0 for n in lengths) and lengths == sorted(set(lengths)), (task, lengths)
    # Each job reads its own task's rung: task.length and steps follow the plan.
    for rung in [r for r in ("short", "medium", "long", "longer") if r in cfg.plan["copy"]]:
        job = composed(f"experiment={preset}", "task=copy", f"rung={rung}")
        assert job.task.length == cfg.plan["copy"][rung]
        assert job.trainer.max_steps == cfg.plan["copy"].max_steps
        for group in ("task", "model", "trainer", "data", "eval", "optimizer"):
            OmegaConf.to_container(job[group], resolve=True)  # every group of the job resolves
    if preset.endswith("_gpu"):
        assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    model_budgets = {composed(f"experiment={preset}", f"model={m}").model.param_budget for m in models}
    assert len(model_budgets) == 1  # the same parameter budget for every model
    if preset == "why_attention":
        # The demo's transformer reads any length (rotary positions), and its job dirs do not nest.
        job = composed(f"experiment={preset}", "model=positions/rope", "task=qa", "hydra.job.num=7")
        assert job.model.pos_encoding == "rope"
        assert job.hydra.sweep.subdir == "7_qa_rope_L32"
        # The demo's report says which qa it runs: the seed's one fact across distance, not the lookup among facts.
        from compare.config.build import build
        assert "reaching that fact across distance, not a lookup among facts" in build(job.task).summary()


@pytest.mark.slow
def test_why_attention_end_to_end(tmp_path: Path, cli):
    """The README's first command, on this machine's CPU (prints its wall time; must stay under 10 minutes)."""
    start = time.perf_counter()
    proc = cli(["compare.train", "experiment=why_attention", f"hydra.sweep.dir={tmp_path / 'demo'}"],
                   cwd=tmp_path, timeout=900)
    wall = time.perf_counter() - start
    print(f"why_attention wall time: {wall:.0f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = tmp_path / "demo" / "report"
    md = (report / "report.md").read_text()
    assert "failed" not in md.split("## What the results show")[0]
    assert (report / "report.html").is_file() and (report / "figures" / "accuracy_vs_length_copy.png").is_file()
    assert len(list((tmp_path / "demo").glob("*_rope_*/attention.html"))) >= 3
    # The bar for the demo: the transformer copies every length it trained on, and answers the seed's
    # question at the training length, on each seed.
    rows = list(csv.DictReader((report / "results.csv").open()))
    for task, lengths in (("copy", (4, 8)), ("qa", (16, 32))):
        ours = [r for r in rows if r["task"] == task and r["model"] == "transformer"]
        assert len(ours) == 2 and all(float(r[f"seq_acc@{n}"]) >= 0.95 for r in ours for n in lengths), ours
    assert wall < 600
