"""The mechanism table that opens the sweep report, the training-range shading, and the new models' colours."""

from __future__ import annotations

from pathlib import Path

from compare.reporting import figures
from compare.reporting.blocks import mechanism_blocks
from compare.reporting.findings import cells_of, model_label
from compare.runs.results import read_results

HEADERS = "| task | train length T | model | parallel over time | sequential depth | state size | seeds |"


def test_report_opens_with_the_mechanism_table(two_seed_sweep: Path):
    md = (two_seed_sweep / "report" / "report.md").read_text()
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[:3] == ["## In short", "## Mechanism and result, per model", "## What the results show"]
    assert md.index("4 runs: 4 finished.") < md.index(HEADERS)
    for job, parallel in (("0_copy_lstm_L4", "no"), ("2_copy_transformer_L4", "yes")):
        row = read_results(two_seed_sweep / job / "results.json")
        layers = row["config"]["model"]["num_layers"]
        # build_parts wrote the model's own account of itself into the row.
        assert row["parallel_over_time"] is (parallel == "yes")
        # Of one training input: copy of 4 symbols reads 2 x 4 tokens, one after another in an LSTM.
        assert row["train_sequence_tokens"] == 8
        assert row["sequential_depth"] == (8 * layers if parallel == "no" else layers)
        line = next(s for s in md.splitlines() if s.startswith(f"| copy | 4 | {row['model']} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[3:7] == [parallel, f"{row['sequential_depth']:,}", f"{row['state_size']:,}", "2"]
        # accuracy at T, beyond T, tokens/s: two seeds, each seed's value beside the mean
        assert all(c.count("(") == 1 for c in (cells[7], cells[9], cells[10])), cells
        assert float(cells[8]) == max(float(v) for v in cells[7].split("(")[1].rstrip(")").split(", ")) \
            if "seeds)" not in cells[7] else float(cells[8]) == float(cells[7].split()[0])
    assert "⌈log2 N⌉ × layers for a parallel scan" in md and "numbers carried per sequence while reading" in md


def test_rows_without_mechanism_fields_show_n_a():
    rows = [{"task": "copy", "model": "gru", "train_length": 8, "seed": 0, "val_seq_acc": 0.5,
             "train_tokens_per_s": 900.0, "ladder": [{"length": 8, "seq_acc": 0.5}, {"length": 16, "seq_acc": 0.25}]}]
    blocks = mechanism_blocks(cells_of(rows), "cpu")
    assert blocks[1][0] == "table"
    assert blocks[1][2] == [["copy", 8, "gru", "n/a", "n/a", "n/a", 1, "0.50", "", "0.25", "900"]]


def test_shading_covers_the_lengths_trained_on_and_only_those():
    ladder = [{"length": n, "seq_acc": 0.5, "seq_acc_half": None, "beyond": n > 8} for n in (2, 4, 8, 16)]
    one = figures.accuracy_vs_length("copy", {8: {"lstm": ladder}})
    (x0, x1), = [(p.get_x(), p.get_x() + p.get_width()) for p in one.axes[0].patches]
    assert 7 < x0 < 8 < x1 < 9  # a band at 8 alone: 2 and 4 were not trained on
    ranged = figures.accuracy_vs_length("copy", {8: {"lstm": ladder}}, {8: (4, 8)})
    (x0, x1), = [(p.get_x(), p.get_x() + p.get_width()) for p in ranged.axes[0].patches]
    assert 3.5 < x0 < 4 and 8 < x1 < 9 and "trained at lengths 4–8" in ranged.axes[0].get_title()


def test_training_range_comes_from_train_lengths():
    point = {"length": 4, "seq_acc": 1.0}
    rows = [{"task": "copy", "model": "lstm", "train_length": 8, "seed": 0, "val_seq_acc": 1.0,
             "train_lengths": [4, 8], "ladder": [point, {"length": 2, "seq_acc": 1.0}, {"length": 16, "seq_acc": 0.0}]}]
    cell = cells_of(rows)["copy"]["lstm"][8]
    assert cell.train_range == (4, 8)
    assert [(p["length"], p["in_training_range"], p["beyond"]) for p in cell.ladder()] == [
        (2, False, False), (4, True, False), (16, False, True)]
    assert cell.beyond_accuracy().mean == 0.0


def test_new_models_have_their_own_colours():
    names = ["lstm", "gru", "rnn", "transformer", "mingru", "minlstm", "linear_attention"]
    window = model_label({"model": "transformer", "config": {"model": {"window": 16}}})
    assert window == "transformer-w16"
    assert model_label({"model": "transformer", "config": {"model": {"window": None}}}) == "transformer"
    # Position encodings are other models too (experiment=positions): never pooled as seeds.
    assert model_label({"model": "transformer", "config": {"model": {"pos_encoding": "rope"}}}) == "transformer-rope"
    assert model_label({"model": "transformer", "config": {"model": {"pos_encoding": "learned"}}}) == "transformer"
    # So is linear attention with a short convolution (experiment=recall_frontier); DeltaNet always has one.
    assert model_label({"model": "linear_attention", "config": {"model": {"conv_size": 4}}}) == "linear_attention-conv4"
    assert model_label({"model": "linear_attention", "config": {"model": {"conv_size": 1}}}) == "linear_attention"
    assert model_label({"model": "deltanet", "config": {"model": {"conv_size": 4}}}) == "deltanet"
    colours = [figures.model_colour(m) for m in names + [window, "transformer-w32"]]
    assert len(set(colours)) == len(colours)
    assert figures.model_colour(window) == figures.MODEL_COLOURS["transformer-window"]
