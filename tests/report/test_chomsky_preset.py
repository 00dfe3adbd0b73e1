"""experiment=chomsky: the preset composes into its sweep, and a few-step run of it makes its report with the
table beside Delétang et al. 2023."""

from __future__ import annotations

import csv
from pathlib import Path

from compare.config.build import build
from compare.tasks.transduction import TransductionTask
from preset_jobs import composed, job_config, sweep_jobs


def test_the_preset_sweeps_the_papers_models_over_transduction_tasks_and_seeds():
    cfg = composed("experiment=chomsky")
    assert cfg.hydra.mode.name == "MULTIRUN" and "joblib" in cfg.hydra.launcher._target_
    params = cfg.hydra.sweeper.params
    assert set(params.model.split(",")) == {"lstm", "rnn", "positions/alibi", "mingru"}
    assert len(params.seed.split(",")) >= 3  # best seed and mean over seeds
    jobs = sweep_jobs("chomsky")
    assert len(jobs) == 4 * len(params.task.split(",")) * len(params.seed.split(","))
    # One job per task (each model on the first task): composing all of them takes minutes on a busy machine.
    firsts = {j[1]: (i, j) for i, j in reversed(list(enumerate(jobs)))} | {j[0]: (i, j) for i, j in
                                                                           reversed(list(enumerate(jobs)))}
    budgets = set()
    for i, job in firsts.values():
        config = job_config("chomsky", job, num=i)
        task = build(composed("experiment=chomsky", *job).task)
        assert isinstance(task, TransductionTask) and task.level in ("R", "DCF")
        n = config["task"]["length"]
        assert (config["task"]["min_length"], n) == (1, 20)  # the paper's uniform 1..N
        # The ladder: the training length, then lengths past it up to at least 4N.
        assert min(config["eval"]["lengths"]) == n and max(config["eval"]["lengths"]) >= 4 * n
        assert config["trainer"]["max_steps"] > 0 and config["threads"] == 1
        # The paper's LSTM and RNN have one layer; each model trains at its own rate (per_model in the preset).
        model = job[0].removeprefix("model=")
        assert config["model"]["num_layers"] == (1 if model in ("lstm", "rnn") else 2)
        assert config["optimizer"]["lr"] == {"lstm": 1e-2}.get(model, 3e-3)
        budgets.add(config["model"]["param_budget"])
    assert budgets == {50000} and len(firsts) == 4 + len(params.task.split(","))
    job = composed("experiment=chomsky", "model=positions/alibi", "task=reverse_string", "seed=1", job_num=7)
    assert job.model.pos_encoding == "alibi" and job.hydra.sweep.subdir == "7_reverse_string_alibi_s1"


def test_a_few_steps_of_the_preset_make_its_report_with_the_table(tmp_path: Path, cli):
    sweep = tmp_path / "chomsky"
    # Two jobs one after another (the basic launcher starts no worker processes): a few seconds each.
    proc = cli(["compare.train", "experiment=chomsky", "model=lstm,positions/alibi", "task=reverse_string", "seed=0",
                "hydra/launcher=basic", "trainer.max_steps=4", "trainer.val_check_interval=2",
                "model.param_budget=8000", "task.length=4", "eval.lengths=[4,5,16]", "data.val_size=16",
                "eval.num_samples=16", f"hydra.sweep.dir={sweep}"], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (sweep / "report" / "report.md").read_text()
    table = md.split("## Chomsky hierarchy beside Delétang et al. 2023")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| DCF ")]
    assert [r.split(" | ")[1:3] for r in rows] == [["Reverse String", "lstm"], ["Reverse String", "transformer-alibi"]]
    assert all(" | 1–4 | 5–16 (2 lengths) | 1 | " in r for r in rows)
    assert "arXiv:2207.02098" in table
    csv_rows = list(csv.DictReader((sweep / "report" / "results.csv").open()))
    assert [r["task"] for r in csv_rows] == ["reverse_string"] * 2
