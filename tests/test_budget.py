"""Equal-compute runs: budget.flops and budget.seconds end a run when its compute is spent, and the learning-rate
schedule spans the budget."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from compare.config.build import build, build_model
from compare.errors import UserError
from compare.train import train
from compare.training.datamodule import step_tokens
from compare.training.flops import sequence_flops

LR_MONITOR = ["+callbacks.lr_monitor._target_=lightning.pytorch.callbacks.LearningRateMonitor",
              "+callbacks.lr_monitor.logging_interval=step", "trainer.log_every_n_steps=1"]
QUICK = ["task=copy", "task.length=6", "task.min_length=2", "data.batch_size=8", "data.val_size=16",
         "eval.num_samples=16", "callbacks.attention=null", "scheduler.warmup_steps=3", "optimizer.lr=0.01"]


def learning_rates(run_dir) -> list[float]:
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    tag = next(t for t in events.Tags()["scalars"] if t.startswith("lr-"))
    return [e.value for e in events.Scalars(tag)]


def max_step_flops(cfg) -> int:
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    return cfg.data.batch_size * max(sequence_flops(model, task.sequence_length(n))
                                     for n in range(task.min_length, task.length + 1))


def test_flop_budget_stops_two_models_at_the_same_compute(make_cfg, tmp_path):
    budget = 6e7
    rows, worst = {}, {}
    for model in ("lstm", "transformer"):
        cfg = make_cfg([f"model={model}", "model.param_budget=20000", "budget.flops=6e7", "budget.validations=2",
                        *QUICK, *LR_MONITOR], sub=model)
        rows[model] = train(cfg)
        worst[model] = max_step_flops(cfg)
    for model, row in rows.items():
        # The fewest steps that reach the budget: at least F, less than one more step past it.
        assert budget <= row["train_flops"] < budget + worst[model]
        assert row["budget"] == {"kind": "flops", "value": budget, "steps": row["steps"]}
        assert [p["step"] for p in row["val_history"]] == [row["steps"] // 2, 2 * (row["steps"] // 2)] or \
            row["val_history"][-1]["step"] <= row["steps"]
    # Different costs per step, so different step counts, but the same compute within one step's worth.
    assert rows["lstm"]["steps"] != rows["transformer"]["steps"]
    assert abs(rows["lstm"]["train_flops"] - rows["transformer"]["train_flops"]) < max(worst.values())
    for model in rows:
        lrs = learning_rates(tmp_path / model)
        assert len(lrs) == rows[model]["steps"]
        # Warm-up completed (the base rate is reached) and the decay ends at its minimum (0.1 x) on the last step.
        assert max(lrs) == pytest.approx(0.01)
        assert lrs[-1] == pytest.approx(0.001, rel=0.05)


def test_flop_budget_turns_into_steps_from_the_drawn_lengths(make_cfg):
    from compare.training.budget import plan_budget
    from compare.training.module import SequenceModule

    cfg = make_cfg(["model=lstm", "model.param_budget=20000", "budget.flops=5e7", *QUICK])
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    module = SequenceModule(model, build(cfg.optimizer))
    datamodule = build(cfg.data, task=task, seed=cfg.seed)
    plan = plan_budget(cfg, module, datamodule)
    steps = plan.trainer_overrides["max_steps"]
    spent = [8 * sequence_flops(model, step_tokens(task, cfg.seed, k)) for k in range(steps)]
    assert sum(spent[:-1]) < 5e7 <= sum(spent)


def test_time_budget_stops_the_run_and_the_rate_follows_the_clock(make_cfg, tmp_path):
    cfg = make_cfg(["model=lstm", "model.param_budget=20000", "budget.seconds=4", "trainer.val_check_interval=1000",
                    *QUICK, "scheduler.warmup_steps=1", *LR_MONITOR])
    row = train(cfg)
    assert row["budget"] == {"kind": "seconds", "value": 4.0}
    assert row["status"] == "ok" and row["steps"] >= 2
    assert 4 <= row["wall_s"] < 60  # Lightning's Timer ended the fit (no step limit was set)
    lrs = learning_rates(tmp_path / "run")
    # The decay follows the clock: the rate falls step by step, and the last step starts with most of the 4 s
    # spent, so near the minimum (0.1 x; a step takes well under a second even on a busy machine).
    assert lrs[0] == pytest.approx(0.01) and all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.004


@pytest.mark.parametrize("overrides, message", [
    (["budget.flops=1e9", "budget.seconds=10"], "a run holds one budget"),
    (["budget.flops=-5"], "budget.flops=-5"),
    (["budget.seconds=0"], "budget.seconds=0"),
    (["budget.flops=1e9", "budget.validations=0"], "budget.validations=0"),
])
def test_bad_budgets_are_one_line_errors(make_cfg, overrides, message):
    cfg = make_cfg(["model=lstm", "model.param_budget=20000", *QUICK, *overrides])
    with pytest.raises(UserError, match=message.replace(".", r"\.")):
        train(cfg)
