"""A real sweep over a model setting: the report keeps one cell per configuration and puts the setting on an axis."""

from __future__ import annotations

import csv
from pathlib import Path


def test_a_layers_by_seeds_sweep_reports_two_cells_of_two_seeds(cli, tmp_path: Path):
    sweep = tmp_path / "multirun"
    proc = cli(["compare.train", "-m", "model=gru", "model.num_layers=1,2", "seed=0,1", "task.length=4",
                "model.param_budget=3000", "trainer.max_steps=6", "trainer.val_check_interval=3",
                "trainer.log_every_n_steps=3", "data.val_size=16", "eval.num_samples=16", "progress_bar=none",
                "threads=1", "~callbacks.attention", f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = sweep / "report"
    with open(report / "results.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    assert sorted((line["cell"], line["model.num_layers"], line["seed"], line["cell_seeds"]) for line in lines) == [
        ("gru 1 layer", "1", "0", "2"), ("gru 1 layer", "1", "1", "2"),
        ("gru 2 layers", "2", "0", "2"), ("gru 2 layers", "2", "1", "2")]
    md = (report / "report.md").read_text()
    for label in ("gru 1 layer", "gru 2 layers"):
        assert f"| copy | 4 | {label} | no |" in md  # its own row of the mechanism table, as 2 seeds
    mechanism = [line for line in md.splitlines() if line.startswith("| copy | 4 | gru")]
    assert len(mechanism) == 2 and all(line.split("|")[7].strip() == "2" for line in mechanism)
    assert "### copy: accuracy against model.num_layers" in md
    assert "| gru | 4 |" in md.split("### copy: accuracy against model.num_layers")[1]
    png = report / "figures" / "accuracy_vs_model.num_layers_copy.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
