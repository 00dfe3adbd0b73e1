"""experiment=recall_frontier: MQAR as Zoology poses it, every model at several sizes, and the report's frontier."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf
from preset_jobs import job_config, sweep_jobs

from compare.config.build import build, build_model
from compare.reporting.frontier import ZOOLOGY_READINGS


def test_the_preset_sweeps_every_model_at_two_sizes_on_zoologys_mqar_with_states_30x_apart():
    jobs = sweep_jobs("recall_frontier")
    models = {o.split("=", 1)[1] for job in jobs for o in job if o.startswith("model=")}
    assert models == {"positions/rope", "sliding_window/w8", "sliding_window/w32", "short_conv/linear_attention",
                      "deltanet", "mamba", "mingru", "lstm"}
    budgets = {int(o.split("=", 1)[1]) for job in jobs for o in job if o.startswith("model.param_budget=")}
    assert len(budgets) >= 2 and len(jobs) == len(models) * len(budgets)

    def state(model: str, budget: int) -> int:
        cfg = OmegaConf.create(job_config("recall_frontier", [f"model={model}", f"model.param_budget={budget}"]))
        task = build(cfg.task)
        return build_model(cfg.model, vocab_size=task.num_tokens).mechanism(task.sequence_length(task.length))[
            "state_size"]

    # The figure's x runs from the smallest LSTM's state to the largest transformer's key-value cache: over 30x.
    smallest, largest = state("lstm", min(budgets)), state("positions/rope", max(budgets))
    assert largest / smallest >= 30, (smallest, largest)
    # Each model at its own learning rate and steps (per_model), whatever its size; the gaps between the
    # queries hold the noise token, as Zoology's Figure 2 configs.
    for model in models:
        runs = [job_config("recall_frontier", [f"model={model}", f"model.param_budget={b}"]) for b in budgets]
        assert {(r["optimizer"]["lr"], r["trainer"]["max_steps"]) for r in runs} == {
            (runs[0]["per_model"][model]["lr"], runs[0]["per_model"][model]["max_steps"])}
        assert runs[0]["task"]["random_non_queries"] is False
    conv = job_config("recall_frontier", ["model=short_conv/linear_attention"])
    assert conv["model"]["conv_size"] == 4 and conv["model"]["_target_"].endswith("LinearAttentionLM")
    for rung, (seq_len, pairs) in {"t64": (64, 4), "t128": (128, 8)}.items():
        cfg = job_config("recall_frontier", ["model=sliding_window/w8", f"rung={rung}"])
        task = cfg["task"]
        assert (task["placement"], task["num_queries"], task["length"], task["seq_len"]) == \
            ("power_law", None, pairs, seq_len)
        assert task["min_length"] == pairs and (seq_len, pairs) in ZOOLOGY_READINGS
        assert cfg["model"]["window"] == 8 and cfg["model"]["pos_encoding"] == "rope"


def test_a_size_sweep_reports_recall_against_state_size_beside_zoology(cli, tmp_path: Path):
    sweep = tmp_path / "multirun"
    proc = cli(["compare.train", "experiment=recall_frontier", "model=sliding_window/w8,lstm",
                "model.param_budget=12000,30000", "optimizer.lr=3e-3", "trainer.max_steps=4",
                "trainer.val_check_interval=2", "data.val_size=16", "eval.num_samples=16",
                "hydra/launcher=basic", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in sweep.rglob("results.json")]
    assert len(rows) == 4 and {r["task"] for r in rows} == {"mqar"}
    md = (sweep / "report" / "report.md").read_text()
    section = md.split("### mqar: recall against state size")[1]
    for r in rows:
        label = "transformer-rope-w8" if r["model"] == "transformer" else "lstm"
        # The window caps the transformer's cache at 8 tokens: 2 (keys, values) x d_model x 8 per layer.
        line = next(s for s in section.splitlines()
                    if f"| {label} {r['config']['model']['param_budget'] / 1000:g}k |" in s)
        assert f"| {r['state_size']:,} |" in line and line.startswith("| 4 | 64 |")
    assert rows and all(r["train_sequence_tokens"] == 64 for r in rows)
    assert "Zoology Fig. 2 at 64 input tokens, 4 pairs" in section and "arXiv:2312.04927" in section
    assert "| attention | 0.97 |" in section
    png = sweep / "report" / "figures" / "accuracy_vs_state_size_mqar.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy_vs_state_size_mqar.png" in md
    # Beside our panel, Zoology's published curves at the same 64 tokens and 4 pairs, against its model dimension.
    assert "the panel marked Zoology Fig. 2: the published curves at the same input length and pairs" in md
