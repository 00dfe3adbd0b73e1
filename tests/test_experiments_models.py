"""The positions, context_window and qa_lookup presets: each is a sweep by itself, every job composes to a config that
builds, and one job of each trains a few steps through the real entry point."""

from __future__ import annotations

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from compare.config.build import MODEL_RUN_KEYS, build, build_model
from compare.config.check import check_config
from compare.config.run_settings import check_model_fits_task
from compare.models import RecurrentLM, TransformerLM
from compare.models.positions import POSITIONAL_ENCODINGS
from compare.training.curriculum import build_curriculum
from compare.train import CONF_DIR, train
from preset_jobs import composed, sweep_jobs

TINY = ["model.param_budget=6000", "trainer.max_steps=3", "trainer.val_check_interval=3",
        "trainer.log_every_n_steps=1", "data.batch_size=4", "data.val_size=8", "eval.num_samples=8",
        "~logger", "callbacks.checkpoint=null"]


def check_job(preset: str, overrides: list[str], num: int):
    """Compose one job, check it as compare-train would, build its task and model; returns (cfg, task, model)."""
    cfg = composed(f"experiment={preset}", *overrides, job_num=num)
    assert cfg.hydra.mode.name == "MULTIRUN"
    # What the job itself receives: everything but the hydra node, with the output dir Hydra would give it.
    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    job.output_dir = "unused"
    check_config(job, extra_keys={"model": MODEL_RUN_KEYS})
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    check_model_fits_task(model, task)
    return cfg, task, model


def test_positions_sweeps_every_encoding_and_the_lstm():
    jobs = sweep_jobs("positions")
    assert len(jobs) == len(POSITIONAL_ENCODINGS) + 1
    seen, subdirs, budgets = set(), set(), set()
    for num, overrides in enumerate(jobs):
        cfg, task, model = check_job("positions", overrides, num)
        assert (task.name, task.min_length, task.length) == ("copy", 1, 16)
        assert max(cfg.eval.lengths) == 8 * task.length and task.length in cfg.eval.lengths
        budgets.add(cfg.model.param_budget)
        subdirs.add(cfg.hydra.sweep.subdir)
        if isinstance(model, TransformerLM):
            seen.add(model.pos_encoding)
            if model.pos_encoding == "learned":  # the table ends at the longest training sequence
                assert model.max_positions == task.sequence_length(task.length)
        else:
            assert isinstance(model, RecurrentLM) and model.name == "lstm"
            seen.add("lstm")
    assert seen == {*POSITIONAL_ENCODINGS, "lstm"}
    assert len(budgets) == 1
    assert len(subdirs) == len(jobs) and not any("/" in s for s in subdirs), subdirs


def test_context_window_sweeps_windows_by_fact_distance():
    jobs = sweep_jobs("context_window")
    windows, distances = set(), set()
    for num, overrides in enumerate(jobs):
        cfg, task, model = check_job("context_window", overrides, num)
        assert isinstance(model, TransformerLM) and task.name == "qa"
        assert task.fact_position == "distance" and task.min_length == task.length
        windows.add(model.window)
        distances.add(task.fact_distance)
        assert "/" not in cfg.hydra.sweep.subdir
    assert windows == {8, 16, 32, None}
    assert len(jobs) == len(windows) * len(distances)
    # Every window is inside the story at least once and beyond the fact at least once (full attention aside).
    token_distance = {4 * (k + 1) for k in distances}
    assert all(min(token_distance) < w <= max(token_distance) for w in windows if w is not None)


def run_tiny(tmp_path, preset: str, overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"experiment={preset}", f"output_dir={tmp_path}", *overrides, *TINY])
    with open_dict(cfg):
        cfg.trainer.enable_model_summary = False
    return train(cfg)


def test_one_positions_job_trains_and_reports_the_learned_table_unsupported_past_it(tmp_path):
    row = run_tiny(tmp_path, "positions", ["model=positions/learned", "eval.lengths=[8,16,32]"])
    assert row["status"] == "ok" and row["model"] == "transformer" and row["steps"] == 3
    assert row["train_lengths"] == [1, 16]
    assert row["unsupported_lengths"] == [32] and row["acc_by_length"]["32"] is None
    assert all(0.0 <= row["acc_by_length"][n] <= 1.0 for n in ("8", "16"))


def test_one_context_window_job_trains_and_reports_accuracy_by_fact_distance(tmp_path):
    row = run_tiny(tmp_path, "context_window", ["model.window=8", "task.fact_distance=3"])
    assert row["status"] == "ok" and row["task"] == "qa" and row["steps"] == 3
    (point,) = row["ladder"]
    assert point["length"] == 32
    # The fact sits 3 sentences back in every story: its '.' is 16 tokens before the question.
    assert list(point["by"]["fact_distance"]) == ["16"]


def test_qa_lookup_asks_for_one_fact_among_several_at_one_budget_after_a_curriculum():
    jobs = sweep_jobs("qa_lookup")
    models, budgets = set(), set()
    for num, overrides in enumerate(jobs):
        cfg, task, model = check_job("qa_lookup", overrides, num)
        # The measured task: the lookup among facts of five verbs, both questions, stories of 4-16 tokens.
        assert task.name == "qa" and 0 < task.place_prob < 1 and (task.min_length, task.length) == (4, 16)
        assert len(task.verbs) == 5 and task.questions == ["who", "what"]
        assert task.summary().startswith("qa, a lookup by content among facts: 75% of the other sentences are facts")
        budgets.add(cfg.model.param_budget)
        models.add(model.pos_encoding if isinstance(model, TransformerLM) else model.name)
        assert "/" not in cfg.hydra.sweep.subdir
        assert (cfg.optimizer.lr, cfg.optimizer.weight_decay) == (1e-3, 0.1)
        # The transformer with 3 layers (with 2 it stopped at 0.80-0.84 on four facts), the LSTM with its own 2.
        assert cfg.model.num_layers == (3 if isinstance(model, TransformerLM) else 2)
        stages = build_curriculum(cfg.data.curriculum, cfg.task, task, cfg.trainer.max_steps)
        assert sum(s.steps for s in stages) < cfg.trainer.max_steps
        # Stage 1: two facts of the one verb, and only the object the question names picks the answer.
        first = stages[0]
        x, y = first.remap(*first.task.sample(64, first.task.length, torch.Generator().manual_seed(num)))
        verb = task.words.index("drank")
        assert (x[:, [1, 5]] == verb).all() and (x[:, 8] == task.words.index("who")).all()
        picked = torch.where(x[:, 2] == x[:, 10], x[:, 0], x[:, 4])
        assert (picked == y[:, -1]).all() and (x[:, 2] != x[:, 6]).all()
        # Stage 2: the one verb over the whole range, both questions.
        assert stages[1].task.verbs == ["drank"] and stages[1].task.questions == ["who", "what"]
        assert (stages[1].task.min_length, stages[1].task.length) == (4, 16)
    assert models == {"rope", "lstm"} and len(budgets) == 1


def test_one_qa_lookup_job_trains_through_its_curriculum_and_is_scored_on_the_lookup(tmp_path):
    row = run_tiny(tmp_path, "qa_lookup", ["model=positions/rope", "data.curriculum.0.steps=1",
                                           "data.curriculum.1.steps=1"])
    assert row["status"] == "ok" and row["steps"] == 3 and row["train_lengths"] == [4, 16]
    assert row["task_settings"]["place_prob"] == 0.25
    assert "fact_distance" in row["ladder"][0]["by"]
