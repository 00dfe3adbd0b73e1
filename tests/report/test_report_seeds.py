"""Seeds pooled into mean ± 95% Student's t intervals, the "beats" / "no clear difference" rule, the learning-rate
choice on validation (reported on the evaluation sets) and the experiment=tuned preset."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import stdev

import pytest
from hydra import compose, initialize_config_dir
from matplotlib.container import ErrorbarContainer
from omegaconf import OmegaConf

from compare.reporting import figure_set
from compare.reporting.blocks import findings_blocks
from compare.reporting.findings import (Interval, cells_of, choose_lr, compare_pair, comparison_sentence,
                                        lr_sentences, t_interval, t_quantile_975)
from compare.reporting.intervals import UNIT, metric_bounds
from compare.runs.records import load_runs
from compare.train import CONF_DIR


def row(model="lstm", seed=0, acc=0.5, loss=1.0, lr=3e-3, ladder=None, length=8, **extra) -> dict:
    """A finished results row with only what the report reads."""
    return {"task": "copy", "model": model, "train_length": length, "seed": seed, "val_seq_acc": acc,
            "val_loss": loss, "train_tokens_per_s": 1000.0 + seed, "config": {"optimizer": {"lr": lr}, "model": {}},
            "ladder": ladder or [], **extra}


def test_t_quantiles_are_the_table_and_join_the_expansion():
    assert t_quantile_975(1) == 12.706 and t_quantile_975(2) == 4.303 and t_quantile_975(30) == 2.042
    assert abs(t_quantile_975(31) - 2.0395) < 1e-3 and abs(t_quantile_975(1000) - 1.9623) < 1e-3
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_t_interval_on_seed_means():
    iv = t_interval([1.0, 2.0, 3.0])  # mean 2, sample sd 1
    assert iv.mean == 2.0 and iv.n == 3 and math.isclose(iv.half, 4.303 / math.sqrt(3))
    # Up to 4 seeds the text shows each seed; the t interval stays for comparisons and error bars.
    assert iv.text() == "2.00 (1.00, 2.00, 3.00)" and iv.best == 3.0
    assert iv.range_text() == f"[{2 - 4.303 / math.sqrt(3):.2f}, {2 + 4.303 / math.sqrt(3):.2f}]"
    one = t_interval([0.7])
    assert one.half is None and one.text() == "0.70" and t_interval([]).mean is None
    assert t_interval([1.0, 1.0]).text() == "1.00 (both seeds)" and t_interval([0.5] * 3).text() == "0.50 (all 3 seeds)"
    five = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert five.text() == f"3.00 ± {2.776 * stdev([1, 2, 3, 4, 5]) / math.sqrt(5):.2f}"


def test_an_accuracy_interval_never_leaves_0_to_1():
    # Two seeds at 0.64 and 0.91: t(0.975, 1) = 12.706 makes the half-width 1.72, far past both ends.
    iv = t_interval([0.64, 0.91], UNIT)
    assert math.isclose(iv.half, 12.706 * stdev([0.64, 0.91]) / math.sqrt(2))
    assert (iv.lo, iv.hi) == (0.0, 1.0) and iv.clipped and iv.range_text() == "[0.00, 1.00]"
    assert iv.text() == "0.78 (0.64, 0.91)" and "±" not in iv.text()
    six = t_interval([0.9, 0.95, 1.0, 1.0, 1.0, 0.98], UNIT)
    assert six.hi == 1.0 and six.text() == f"0.97 [{six.lo:.2f}, 1.00]"
    # A loss or a rate is cut at 0 only.
    rate = t_interval([10.0, 100.0], metric_bounds("train_tokens_per_s"))
    assert rate.lo == 0.0 and rate.hi == 55.0 + rate.half
    assert metric_bounds("val_seq_acc") == UNIT and metric_bounds("test_support_lost_share") == UNIT


def test_beats_only_when_intervals_do_not_overlap():
    high, low = Interval(0.9, 0.05, 3), Interval(0.5, 0.1, 3)
    assert compare_pair("transformer", high, "lstm", low).startswith(
        "transformer beats lstm (0.90 ± 0.05, 95% interval [0.85, 0.95], vs 0.50 ± 0.10, [0.40, 0.60]")
    assert compare_pair("lstm", low, "transformer", high).startswith("transformer beats lstm")  # best one first
    close = Interval(0.8, 0.06, 3)
    assert compare_pair("transformer", high, "gru", close).startswith("no clear difference between transformer and gru")
    touching = Interval(0.8, 0.05, 3)  # 0.85 = 0.85: a shared point is an overlap
    assert "no clear difference" in compare_pair("transformer", high, "gru", touching)
    single = compare_pair("transformer", Interval(0.9, None, 1), "lstm", Interval(0.1, None, 1))
    assert "rests on one seed" in single and "beats" not in single
    sentence = comparison_sentence("copy", 8, {"lstm": low, "transformer": high, "gru": close})
    assert sentence == ("copy at training length 8, exact-sequence accuracy: no clear difference between transformer "
                        "and gru (0.90 ± 0.05, 95% interval [0.85, 0.95], vs 0.80 ± 0.06, [0.74, 0.86]: the 95% "
                        "intervals overlap); transformer beats lstm (0.90 ± 0.05, 95% interval [0.85, 0.95], vs "
                        "0.50 ± 0.10, [0.40, 0.60]: the 95% intervals do not overlap).")


def test_findings_say_beats_or_no_clear_difference_from_rows():
    rows = [row("transformer", s, a) for s, a in enumerate([0.90, 0.92, 0.91])]
    rows += [row("lstm", s, a) for s, a in enumerate([0.30, 0.32, 0.31])]
    rows += [row("gru", s, a) for s, a in enumerate([0.5, 0.95, 0.7])]
    cells = cells_of(rows)
    assert cells["copy"]["lstm"][8].seeds == 3
    text = " ".join(findings_blocks(cells, rows, "cpu", 0.9)[-1][1])
    assert "transformer beats lstm" in text and "no clear difference between transformer and gru" in text
    assert "(mean over 3 seeds, each seed's value in brackets)" in text
    assert "gru 0.72 (0.50, 0.95, 0.70)" in text


def test_best_rate_is_chosen_on_validation_and_ties_go_to_the_lower_loss():
    rates = {1e-3: [row(acc=0.4, seed=s) for s in (0, 1)], 3e-3: [row(acc=0.8, loss=0.9, seed=s) for s in (0, 1)],
             1e-2: [row(acc=0.8, loss=0.5, seed=s) for s in (0, 1)], 3e-2: [row(acc=0.1, seed=s) for s in (0, 1)]}
    search = choose_lr(rates)
    assert search.chosen == 1e-2 and search.edge is None and search.grid == [1e-3, 3e-3, 1e-2, 3e-2]
    assert choose_lr({1e-3: [row(acc=0.9)], 1e-2: [row(acc=0.2)]}).edge == "lowest"
    assert choose_lr({1e-3: [row(acc=0.2)], 1e-2: [row(acc=0.9)]}).edge == "highest"


def test_models_are_compared_at_their_best_rate_on_the_evaluation_set():
    def ladder(acc):  # the evaluation set at the training length differs from validation on purpose
        return [{"length": 8, "seq_acc": acc, "supported": True}, {"length": 16, "seq_acc": acc / 2, "supported": True}]
    rows = []
    for lr, val, test in ((1e-3, 0.3, 0.25), (1e-2, 0.9, 0.7), (3e-2, 0.5, 0.45)):
        rows += [row("lstm", s, val, lr=lr, ladder=ladder(test + 0.01 * s)) for s in (0, 1)]
    for lr, val, test in ((1e-3, 0.95, 0.85), (1e-2, 0.6, 0.5), (3e-2, 0.2, 0.1)):
        rows += [row("transformer", s, val, lr=lr, ladder=ladder(test)) for s in (0, 1)]
    cells = cells_of(rows)
    lstm, tf = cells["copy"]["lstm"][8], cells["copy"]["transformer"][8]
    assert lstm.lr == 1e-2 and tf.lr == 1e-3 and len(lstm.rows) == 2
    assert lstm.accuracy_source == "evaluation" and math.isclose(lstm.accuracy().mean, 0.705)
    sentences = lr_sentences("copy", cells["copy"])
    assert sentences[0] == ("copy at training length 8, learning rate chosen on the validation set (highest "
                            "exact-sequence accuracy, ties to the lower loss): lstm 0.01 (of 3: 0.001–0.03); "
                            "transformer 0.001 (of 3: 0.001–0.03).")
    assert sentences[1].startswith("Warning: transformer's best rate on copy at length 8, 0.001, is the lowest one "
                                   "searched") and len(sentences) == 2
    blocks = findings_blocks(cells, rows, "cpu", 0.9)
    text = " ".join(blocks[blocks.index(("h2", "What the results show")) + 2][1])
    assert "transformer 0.85 (both seeds), lstm 0.70 (0.70, 0.71) on the evaluation set" in text
    search = blocks[blocks.index(("h2", "Learning-rate search")):]
    assert "different random stream" in search[1][1]
    assert [r[3] for r in search[2][2] if r[-1] == "chosen"] == ["0.01", "0.001"]


def test_tuned_preset_composes_as_a_learning_rate_grid():
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["experiment=tuned"], return_hydra_config=True)
        # One job as the sweeper composes it: the preset plus one value of each swept key.
        job = compose("config", overrides=["experiment=tuned", "model=transformer", "optimizer.lr=1e-2",
                                           "task.length=8", "seed=1"])
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = cfg.hydra.sweeper.params
    lrs = [float(x) for x in params["optimizer.lr"].split(",")]
    assert len(lrs) == 5 and lrs == sorted(lrs) and lrs[0] < cfg.optimizer.lr < lrs[-1]
    assert set(params.model.split(",")) == {"lstm", "transformer"} and params.seed == "0,1"
    assert "lr${optimizer.lr}_s${seed}" in OmegaConf.to_container(cfg.hydra.sweep)["subdir"]  # unresolved: no job yet
    assert job.optimizer.lr == 0.01 and job.task.length == 8 and job.model.param_budget == 50000


def test_two_seeds_give_intervals_in_csv_figures_and_findings(two_seed_sweep: Path):
    report = two_seed_sweep / "report"
    with open(report / "results.csv", newline="") as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 4 and {line["cell_seeds"] for line in lines} == {"2"}
    for model in ("lstm", "transformer"):
        mine = [line for line in lines if line["model"] == model]
        rates = [float(line["train_tokens_per_s"]) for line in mine]
        iv = t_interval(rates)
        for line in mine:
            assert math.isclose(float(line["cell_train_tokens_per_s_mean"]), iv.mean)
            assert math.isclose(float(line["cell_train_tokens_per_s_ci95"]), iv.half)
            assert line["cell_val_seq_acc_ci95"] != "" and line["cell_seq_acc@8_ci95"] != ""

    md = (report / "report.md").read_text()
    # The fixture's runs train on copy's default range, lengths 1 to 4, and are scored at 4 on the evaluation set.
    line = next(s for s in md.splitlines() if s.startswith("- copy, trained on lengths 1–4, tested at 4:"))
    assert "(mean over 2 seeds, each seed's value in brackets)" in line
    compared = next(s for s in md.splitlines() if s.startswith("- copy at training length 4, exact-sequence accuracy:"))
    assert ("beats" in compared) != ("no clear difference" in compared) and "one seed" not in compared
    assert "Student's t" in md

    class Kept(figure_set.FigureSet):
        """The report's own figure code, keeping each figure instead of writing a PNG."""

        def save(self, name, fig, caption):
            self.made[name] = (fig, caption)

    records = load_runs(two_seed_sweep)
    cells = cells_of([r.row for r in records if r.usable])
    kept = Kept(report / "unused")
    figure_set.task_figures(kept, "copy", cells["copy"], records)
    figure_set.summary_figures(kept, cells)
    for name in ("accuracy_vs_length_copy.png", "accuracy_at_train_length.png", "throughput_vs_length.png"):
        fig, caption = kept.made[name]
        bars = [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(bars) == 2, name  # one set of bars per model
        assert "95% Student's t interval over seeds" in caption
    fig, _ = kept.made["throughput_vs_length.png"]
    # Models are drawn in sorted order, so the first bars are the LSTM's.
    lstm_bars = next(c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer))
    (low, high), = [seg[:, 1] for seg in lstm_bars.lines[2][0].get_segments()]
    expected = cells["copy"]["lstm"][4].stat("train_tokens_per_s")
    # The two seeds' throughputs differ; the bar is the t interval, cut at 0 tokens/s where it reaches below.
    assert high > low and math.isclose(low, expected.lo) and math.isclose(high, expected.hi)


def test_a_length_with_no_evaluation_sample_is_not_called_one_the_model_cannot_take():
    """bAbI's test file has no story of 256 tokens: an empty bucket, said as such, apart from a model's limit."""
    def point(length, acc, supported=True):
        return {"length": length, "seq_acc": acc, "supported": supported, "in_train_range": length <= 64}
    rows = [row(model=m, seed=s, length=64, ladder=[point(64, 0.9), point(128, 0.5), point(256, None),
                                                      point(512, None, supported=m == "lstm")])
            for m in ("lstm", "transformer") for s in (0, 1)]
    cells = cells_of(rows)
    ladder = {p["length"]: p for p in cells["copy"]["transformer"][64].ladder()}
    assert ladder[256]["supported"] and not ladder[512]["supported"]
    text = " ".join(findings_blocks(cells, rows, "cpu", 0.9)[-1][1])
    assert "copy: the evaluation set has no sample at length 256" in text
    assert "transformer cannot take 1 of its 3 longer lengths (from length 512)" in text
    assert "lstm cannot take" not in text
