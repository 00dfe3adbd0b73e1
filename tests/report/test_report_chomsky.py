"""The Chomsky-hierarchy table: our score (mean over seeds and best seed) beside Delétang et al. 2023's Table 2."""

from __future__ import annotations

from compare.reporting.page import to_markdown
from compare.reporting.published import CHOMSKY_PUBLISHED, TABLE2_ORDER, chomsky_published_blocks, published_score
from compare.train import CONF_DIR

LEVEL = {"parity_check": ("R", "Parity Check"), "reverse_string": ("DCF", "Reverse String")}


def row(task="parity_check", model="lstm", seed=0, beyond=(1.0, 1.0), exact=None, val=1.0) -> dict:
    """A finished results row with what the table reads: trained on 1-20, scored at 20 and at 21 and 80."""
    exact = exact or beyond
    level, title = LEVEL[task]
    ladder = [{"length": 20, "seq_acc": val, "token_acc": val, "supported": True}]
    ladder += [{"length": n, "seq_acc": e, "token_acc": b, "supported": True}
               for n, b, e in zip((21, 80), beyond, exact)]
    return {"task": task, "model": model, "seed": seed, "train_length": 20, "train_lengths": [1, 20],
            "val_seq_acc": val, "val_token_acc": val, "ladder": ladder,
            "task_settings": {"name": task, "level": level, "title": title},
            "config": {"model": {"pos_encoding": "alibi"} if model == "transformer" else {}, "optimizer": {"lr": 3e-3}}}


def table(blocks):
    return next(b for b in blocks if b[0] == "table")


def test_best_seed_and_mean_side_by_side_and_beside_the_paper():
    rows = [row(seed=0, beyond=(1.0, 1.0)), row(seed=1, beyond=(0.6, 0.5)),
            row(model="transformer", beyond=(0.7, 0.5)),
            row(task="reverse_string", model="rnn", beyond=(0.7, 0.6), exact=(0.1, 0.0), val=0.9),
            {"task": "copy", "model": "lstm", "seed": 0, "train_length": 4, "task_settings": {"name": "copy"}}]
    blocks = chomsky_published_blocks(rows)
    headers, cells = table(blocks)[1:]
    assert headers[7:] == ["score (mean)", "score (best seed)", "all symbols right", "Delétang et al. 2023"]
    by = {(r[1], r[2]): dict(zip(headers, r)) for r in cells}
    assert list(by) == [("Parity Check", "lstm"), ("Parity Check", "transformer-alibi"), ("Reverse String", "rnn")]
    lstm = by[("Parity Check", "lstm")]
    # Per seed: the mean over lengths beyond 20 (1.00 and 0.55); then over seeds, and the best seed.
    assert (lstm["seeds"], lstm["score (mean)"], lstm["score (best seed)"]) == (2, "0.78 (1.00, 0.55)", "1.00")
    assert lstm["trained on"] == "1–20" and lstm["tested on"] == "21–80 (2 lengths)" and lstm["level"] == "R"
    assert lstm["Delétang et al. 2023"] == "1.00 [1]"
    # One seed: the best seed is the mean.
    one = by[("Parity Check", "transformer-alibi")]
    assert one["score (mean)"] == one["score (best seed)"] == "0.60" and one["Delétang et al. 2023"] == "0.52 [1]"
    rnn = by[("Reverse String", "rnn")]
    assert (rnn["score (mean)"], rnn["all symbols right"], rnn["in range"]) == ("0.65", "0.05", "0.90")
    md = to_markdown(blocks)
    assert "## Chomsky hierarchy beside Delétang et al. 2023" in md and "arXiv:2207.02098, Table 2" in md
    assert "DeltaFormer" in md and "[1] Delétang et al. 2023" in md
    # Where ours differs: the transformer's 0.60 is within 0.10 of 0.52; the LSTM's best seed is 1.00 as the
    # paper's; the RNN's 0.65 on reverse string is within 0.10 of 0.62: no sentence. A second LSTM below the line:
    assert "Where ours differs" not in md
    worse = chomsky_published_blocks([row(beyond=(0.5, 0.5))])
    assert "Parity Check, lstm: our best seed scores 0.50 (mean 0.50) where the paper has 1.00." in to_markdown(worse)


def test_no_transduction_rows_no_table():
    assert chomsky_published_blocks([{"task": "copy", "model": "lstm", "seed": 0, "train_length": 4}]) == []


def test_every_published_score_names_a_task_a_model_and_its_source():
    from pathlib import Path

    tasks = {p.stem for p in Path(CONF_DIR, "task").glob("*.yaml")}
    assert set(TABLE2_ORDER) <= tasks
    assert {(p.task_id, p.model) for p in CHOMSKY_PUBLISHED} == {
        (t, m) for t in TABLE2_ORDER for m in ("RNN", "LSTM", "Transformer")}
    assert all("arXiv:2207.02098" in p.source and 0 <= p.test_acc <= 1 for p in CHOMSKY_PUBLISHED)
    assert published_score("parity_check", "transformer").text() == "0.52"
    assert published_score("even_pairs", "transformer").text() == "≥ 0.90"
    assert published_score("parity_check", "mingru") is None
