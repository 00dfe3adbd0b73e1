"""data.curriculum: easier settings of the run's task first, then the task itself; scores stay on the run's task."""

from __future__ import annotations

import pytest
import torch

from compare.config.build import build
from compare.errors import UserError
from compare.report import main as report_main
from compare.reporting.figure_set import curriculum_stage_ends
from compare.runs.results import read_results
from compare.tasks.base import IGNORE
from compare.train import train
from compare.training.curriculum import build_curriculum
from compare.training.datamodule import TaskStream

CPU = torch.device("cpu")
# The seed's question among two facts of one verb, then the lookup among facts of five verbs.
STAGE = "{steps: 3, task: {length: 8, min_length: 8, verbs: [drank], questions: [who], place_prob: 0.0}}"
RUN_TASK = ["task=qa", "task.length=16", "task.place_prob=0.25"]


def datamodule_of(cfg):
    task = build(cfg.task)
    dm = build(cfg.data, task=task, seed=cfg.seed)
    dm.use_curriculum(build_curriculum(cfg.data.curriculum, cfg.task, task, cfg.trainer.max_steps))
    return task, dm


def take(stream, n: int) -> list:
    it = iter(stream)
    return [next(it) for _ in range(n)]


def test_stage_batches_are_the_stage_task_in_the_run_vocabulary_then_the_run_task(make_cfg):
    cfg = make_cfg([*RUN_TASK, f"data.curriculum=[{STAGE}]", "trainer.max_steps=20"])
    task, dm = datamodule_of(cfg)
    words = task.token_names()
    batches = take(dm.train_stream(), 8)
    for step, (x, y) in enumerate(batches[:3]):
        # Stage 1: two facts of "drank", a "who" question; the answer is the agent of the fact the object picks.
        assert x.shape[1] == 12 and dm.task_at(step) is not task
        assert (x[:, [1, 5, 9]] == words.index("drank")).all() and (x[:, 8] == words.index("who")).all()
        picked = torch.where(x[:, 2] == x[:, 10], x[:, 0], x[:, 4])
        assert (y[:, -1] == picked).all() and (y[:, :-1] == IGNORE).all()
    # After the stage: the run's own task (stories of 4-16 tokens, other verbs, both questions).
    later = torch.cat([x.flatten() for x, _ in batches[3:]])
    assert dm.task_at(3) is task
    assert any(int(t) in {words.index(v) for v in ("ate", "took", "dropped", "found")} for t in later)
    assert all(8 <= x.shape[1] <= 20 for x, _ in batches[3:])  # stories of 4-16 tokens and the 4-token question
    # Batch k depends on (seed, k) only, in a stage too: a resumed stream continues it exactly.
    for k in (1, 4):
        x, y = take(TaskStream(task, dm.batch_size, dm.seed, CPU, start=k, curriculum=dm.curriculum), 1)[0]
        assert torch.equal(x, batches[k][0]) and torch.equal(y, batches[k][1])


def test_a_curriculum_run_trains_and_scores_on_the_run_task(make_cfg, tmp_path):
    cfg = make_cfg([*RUN_TASK, f"data.curriculum=[{STAGE}]", "model=transformer", "model.param_budget=12000",
                    "trainer.max_steps=6", "trainer.val_check_interval=3", "data.batch_size=8", "data.val_size=16",
                    "eval.num_samples=16", "progress_bar=none"])
    train(cfg)
    row = read_results(tmp_path / "run" / "results.json")
    assert row["status"] == "ok" and row["steps"] == 6
    # Scored on the run's task: its training range and its ladder, not the stage's one length.
    assert row["train_lengths"] == [4, 16] and [p["length"] for p in row["ladder"]] == [8, 16, 32, 64]
    assert row["config"]["data"]["curriculum"][0]["steps"] == 3
    # The report's validation curves mark where the stage hands over to the task itself, and say so.
    assert report_main([str(tmp_path / "run")]) == 0
    report = tmp_path / "run" / "report"
    assert (report / "figures" / "validation_curves_qa.png").is_file()
    assert "Dotted vertical lines: where a curriculum stage" in (report / "report.md").read_text()
    assert curriculum_stage_ends(row) == [3] and curriculum_stage_ends({"config": {"data": {}}}) == []


@pytest.mark.parametrize("stages,max_steps,message", [
    ("[{steps: 2, task: {verbz: [drank]}}]", 10, "data.curriculum[0].task.verbz is not a setting of task=qa"),
    ("[{steps: 2, task: {agents: [zed, mary]}}]", 10, "the stage's tokens ['zed'] are not in the run's qa vocabulary"),
    ("[{steps: 0}]", 10, "data.curriculum[0].steps=0 is not accepted"),
    ("[{step: 2}]", 10, "a stage is {steps: N, task: {<task settings>}}"),
    ("[{steps: 6}, {steps: 4}]", 10, "stages take 10 steps, trainer.max_steps=10"),
])
def test_a_bad_curriculum_fails_before_training_naming_the_stage(make_cfg, stages, max_steps, message):
    cfg = make_cfg([*RUN_TASK, f"data.curriculum={stages}", f"trainer.max_steps={max_steps}"])
    with pytest.raises(UserError) as e:
        datamodule_of(cfg)
    assert message in str(e.value)


def test_a_curriculum_and_a_fixed_training_pool_do_not_mix(make_cfg):
    cfg = make_cfg([*RUN_TASK, f"data.curriculum=[{STAGE}]", "data.train_size=64", "trainer.max_steps=10"])
    with pytest.raises(UserError, match="data.curriculum with data.train_size=64"):
        datamodule_of(cfg)
