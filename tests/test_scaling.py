"""Scaling: the power-law fit, the scaling and scaling_gpu presets as composed, and the report of a size sweep."""

from __future__ import annotations

import random

import pytest

from compare.config.build import build, build_model
from compare.reporting.build import build_report
from compare.reporting.power_law import fit_power_law
from compare.reporting.scaling import frontier
from compare.train import train
from compare.training.budget import plan_budget
from compare.training.module import SequenceModule
from preset_jobs import composed, sweep_jobs


@pytest.mark.parametrize("a, b, c", [(1.5, 1.2, 0.5), (2.0, 0.8, 1.2), (0.9, 2.5, 0.25)])
def test_power_law_fit_recovers_its_parameters_from_noisy_losses(a, b, c):
    rng = random.Random(0)
    ts = list(range(1, 257))
    ys = [a + b * t ** -c + rng.gauss(0, 0.03) for t in ts]
    fit = fit_power_law(ts, ys)
    assert fit.a == pytest.approx(a, abs=0.05) and fit.b == pytest.approx(b, rel=0.05)
    assert fit.c == pytest.approx(c, rel=0.1) and fit.rmse == pytest.approx(0.03, rel=0.2)


def test_power_law_fit_needs_three_positions():
    with pytest.raises(ValueError, match="three distinct"):
        fit_power_law([1, 1, 2], [1.0, 1.0, 0.5])


def test_frontier_is_the_best_so_far_over_all_sizes():
    small = [(1.0, 3.0), (2.0, 2.5), (4.0, 2.4)]
    large = [(2.0, 2.8), (4.0, 2.2), (8.0, 1.9)]
    assert frontier([small, large], lower_is_better=True) == [(1.0, 3.0), (2.0, 2.5), (4.0, 2.2), (8.0, 1.9)]
    assert frontier([[(1.0, 0.2), (3.0, 0.1)], [(2.0, 0.5)]], lower_is_better=False) == [
        (1.0, 0.2), (2.0, 0.5), (3.0, 0.5)]


PRESET_SIZES = {"scaling": {"p25k": 25_000, "p64k": 64_000, "p160k": 160_000, "p400k": 400_000},
                "scaling_gpu": {"p1500k": 1_500_000, "p4m": 4_000_000, "p10m": 10_000_000, "p24m": 24_000_000}}


@pytest.mark.parametrize("preset", sorted(PRESET_SIZES))
def test_scaling_presets_build_every_model_at_every_size_within_budget(make_cfg, preset):
    sizes = PRESET_SIZES[preset]
    assert max(sizes.values()) / min(sizes.values()) >= 16
    for model in ("lstm", "mingru", "positions/rope"):
        for size, params in sizes.items():
            cfg = make_cfg([f"experiment={preset}", f"model={model}", f"size={size}", "hydra/launcher=basic"])
            tokens = 600_000 * (params / 25_000) ** 0.25 if preset == "scaling" else 10_000_000
            assert cfg.budget.flops == pytest.approx(6 * params * tokens, rel=0.01)
            assert cfg.task._target_.endswith("TextLMTask") and cfg.task.length >= 256
            model_ = build_model(cfg.model, vocab_size=256)
            n = sum(p.numel() for p in model_.parameters())
            assert abs(n - params) <= 0.05 * params, (model, size, n)
            assert model_.max_positions is None  # rotary positions: no table bounds the context
    if preset == "scaling_gpu":
        assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
        assert cfg.task.length >= 1024 and cfg.task.files == "stdlib" and max(sizes.values()) >= 10_000_000


def test_scaling_preset_gives_every_model_of_a_size_the_same_flops_at_its_own_rate():
    # The largest CPU size: each model's steps reach 6 x 400k x 1.2M FLOPs at its own cost per step.
    steps, rates = {}, {}
    for model in ("lstm", "mingru", "positions/rope"):
        cfg = composed("experiment=scaling", f"model={model}", "size=p400k", "hydra/launcher=basic")
        rates[model] = cfg.optimizer.lr  # resolved inside the job, from the preset's plan for this size
        task = build(cfg.task)
        module = SequenceModule(build_model(cfg.model, vocab_size=task.num_tokens), build(cfg.optimizer))
        plan = plan_budget(cfg, module, build(cfg.data, task=task, seed=0))
        steps[model] = plan.trainer_overrides["max_steps"]
        per_step = cfg.data.batch_size * module.flops_per_sequence(256)
        assert (steps[model] - 1) * per_step < cfg.budget.flops <= steps[model] * per_step
    assert steps["positions/rope"] < steps["lstm"]  # attention's T^2 costs the transformer steps
    assert rates == dict(cfg.plan.p400k.lr) and rates["positions/rope"] < rates["lstm"]
    jobs = sweep_jobs("scaling")
    assert len(jobs) == 24 and {j[0] for j in jobs} == {"seed=0", "seed=1"}


def test_report_of_a_two_size_sweep_draws_loss_against_parameters_and_flops(make_cfg, tmp_path):
    sweep = tmp_path / "sweep"
    for i, (model, size, flops) in enumerate([(m, s, f) for m in ("lstm", "positions/rope")
                                              for s, f in ((8000, 6e9), (32000, 2.4e10))]):
        cfg = make_cfg([f"model={model}", f"model.param_budget={size}", f"budget.flops={flops}", "budget.validations=2",
                        "task=text_lm", "task.length=32", "task.files=[data/text/tiny_shakespeare.txt]",
                        f"task.cache_dir={tmp_path / 'hf'}", "data.batch_size=16", "data.val_size=32",
                        "eval.lengths=[32]", "eval.num_samples=32", "callbacks.attention=null", "threads=1"],
                       sub=f"sweep/{i}_{model.replace('/', '_')}_{size}")
        assert train(cfg)["status"] == "ok"
    build_report(sweep)
    figures = {p.name for p in (sweep / "report" / "figures").iterdir()}
    assert {"loss_vs_params_text_lm.png", "loss_vs_state_size_text_lm.png", "loss_vs_train_flops_text_lm.png",
            "loss_vs_train_seconds_text_lm.png", "loss_by_position_text_lm.png"} <= figures
    assert "accuracy_vs_state_size_text_lm.png" not in figures  # the recall frontier is for accuracy tasks
    report = (sweep / "report" / "report.md").read_text()
    assert "compute held equal: every model of a size trained for the same training FLOPs (6e+09, 2.4e+10" in report
    assert "validation loss at 8k parameters" in report and "validation loss at 32k parameters" in report
    assert "the order" in report and "L(t) = a + b t^-c" in report
    # Scored by its loss: no finding compares exact-sequence accuracies (every 32-byte window scores 0), and the
    # mechanism table and the task's table give the validation loss.
    assert "exact-sequence accuracy" not in report.split("## What the results show")[1].split("## Task")[0]
    assert "| val loss " in report and "| text_lm | 32 | lstm 8k" in report
    assert "| brackets" not in report  # Shakespeare has no brackets: no column of zeros
    csv = (sweep / "report" / "results.csv").read_text().splitlines()
    assert "train_flops" in csv[0].split(",") and "budget.flops" in csv[0].split(",")
