"""The report's "In short": the winners the numbers give, by the report's own rule, what each model cost, and what
the numbers cannot carry; and the detailed findings folded below it in report.html."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compare.config import CONF_DIR
from compare.models import TransformerLM
from compare.reporting.findings import cells_of
from compare.reporting.headline import in_short, is_attention
from compare.reporting.page import to_html, to_markdown


def target(model: str) -> str:
    """The model class conf/model/<model>.yaml builds, as a results row's config names it."""
    return yaml.safe_load((Path(CONF_DIR) / "model" / f"{model}.yaml").read_text())["_target_"]


def row(model: str, seed: int, acc: float, task: str = "copy", length: int = 8, rate: float = 1000.0,
        params: int = 50_000, steps: int = 800) -> dict:
    """A finished results row with what the report reads."""
    return {"task": task, "model": model, "train_length": length, "seed": seed, "val_seq_acc": acc,
            "val_loss": 1.0 - acc, "train_tokens_per_s": rate + seed, "params": params, "steps": steps,
            "config": {"optimizer": {"lr": 1e-3}, "model": {"_target_": target(model)}}, "ladder": []}


def seeds(model: str, accs: list[float], **kw) -> list[dict]:
    return [row(model, s, a, **kw) for s, a in enumerate(accs)]


def headline(rows: list[dict], device: str = "cpu") -> str:
    return " ".join(in_short(cells_of(rows), device))


def test_the_lstm_winning_is_said_so():
    text = headline(seeds("lstm", [0.95, 0.97, 0.96], rate=30_000) + seeds("transformer", [0.30, 0.35, 0.32],
                                                                            rate=20_000))
    assert text.startswith("Recurrence (a fixed-size state) wins on copy at length 8 (lstm 0.96 against transformer "
                           "0.32, the best attention model: 0.64 ahead).")
    assert "Attention wins" not in text and "No clear winner" not in text
    assert "lstm 30.0k, transformer 20.0k tokens/s" in text  # fastest first


def test_each_task_gets_its_winner_and_ties_are_not_called():
    rows = (seeds("transformer", [0.98, 0.97, 0.99]) + seeds("lstm", [0.55, 0.57, 0.56])
            + seeds("linear_attention", [0.25, 0.30, 0.28])  # a fixed-size state, though named attention
            + seeds("transformer", [0.0, 0.01, 0.0], task="parity", length=32)
            + seeds("lstm", [1.0, 1.0, 1.0], task="parity", length=32)
            + seeds("transformer", [1.0, 0.9, 1.0], task="qa", length=32)
            + seeds("linear_attention", [0.92, 0.6, 0.95], task="qa", length=32))
    sentences = in_short(cells_of(rows), "cpu")
    assert sentences[0] == ("Attention wins on copy at length 8 (transformer 0.98 against lstm 0.56, the best model "
                            "with a fixed-size state: 0.42 ahead).")
    assert sentences[1] == ("Recurrence (a fixed-size state) wins on parity at length 32 (lstm 1.00 against "
                            "transformer 0.00, the best attention model: 1.00 ahead).")
    assert sentences[2] == ("No clear winner on qa at length 32 (transformer 0.97 against linear_attention 0.82): "
                            "the 95% intervals overlap.")
    assert "say nothing about a GPU" in sentences[3]
    assert sentences[4].startswith("These are models of about 50k parameters and 800 training steps")
    assert "do not tell the models apart" in sentences[4]
    assert 3 <= len(sentences) <= 6


def test_one_seed_and_a_budget_too_small_are_named():
    rows = seeds("transformer", [0.12], task="copy_memory", length=40) + seeds("gru", [0.05], task="copy_memory",
                                                                               length=40)
    text = headline(rows, device="cuda:NVIDIA H100")
    assert "Ahead on one seed, with no interval to judge it by: transformer on copy_memory at length 40" in text
    assert "a result on one seed is one draw" in text
    assert "no model reached 0.90 on copy_memory at length 40, so this budget may be too small" in text
    assert "GPU" not in text  # the CPU caveat is for CPU numbers only
    assert "Attention wins" not in text and "Recurrence" not in text


def test_one_seed_each_at_the_same_accuracy_is_level_not_ahead():
    text = headline(seeds("transformer", [1.0]) + seeds("lstm", [1.0]) + seeds("transformer", [0.6], task="parity")
                    + seeds("lstm", [0.9], task="parity"))
    assert "Level on one seed: transformer and lstm on copy at length 8 (both 1.00)." in text
    assert "Ahead on one seed, with no interval to judge it by: lstm on parity at length 8 (lstm 0.90" in text
    assert "transformer on copy" not in text


def test_a_sweep_of_one_kind_says_it_does_not_weigh_attention_against_recurrence():
    rows = seeds("transformer", [0.9, 0.95]) + [{**r, "config": {"optimizer": {"lr": 1e-3},
                                                                 "model": {"_target_": target("transformer"),
                                                                           "pos_encoding": "rope"}}}
                                                for r in seeds("transformer", [0.5, 0.4])]
    text = headline(rows)
    assert "Only one kind of model ran on copy (attention models only)" in text


class RenamedAttention(TransformerLM):
    """A model that attends, under a name the report has never seen."""

    name = "hybrid"


@pytest.mark.parametrize("model,attends", [("transformer", True), ("lstm", False), ("gru", False), ("rnn", False),
                                           ("linear_attention", False), ("mingru", False), ("minlstm", False)])
def test_attention_is_what_the_model_class_declares_not_its_name(model, attends):
    # The model contract's returns_attention, read from the class the run's config built: a new model class is
    # placed by what it declares, whatever it is called.
    assert is_attention(cells_of(seeds(model, [0.5, 0.6]))["copy"][model][8]) is attends
    renamed = [{**r, "model": "hybrid", "config": {"optimizer": {"lr": 1e-3},
                                                  "model": {"_target_": f"{__name__}.RenamedAttention"}}}
               for r in seeds("transformer", [0.9, 0.95])]
    text = headline(seeds(model, [0.2, 0.25]) + renamed)
    if attends:
        assert "Only one kind of model ran on copy (attention models only)" in text
    else:
        assert text.startswith(f"Attention wins on copy at length 8 (hybrid 0.93 against {model} 0.23")


def test_report_opens_with_in_short_and_folds_the_findings(two_seed_sweep: Path, tmp_path: Path):
    md = (two_seed_sweep / "report" / "report.md").read_text()
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[:3] == ["## In short", "## Mechanism and result, per model", "## What the results show"]
    short = md.split("## In short")[1].split("## ")[0]
    assert "lstm" in short and "transformer" in short and "tokens/s" in short
    page = (two_seed_sweep / "report" / "report.html").read_text()
    assert page.index("<h2>In short</h2>") < page.index("<details><summary>Every finding")
    # The markdown lists the findings in full, the HTML folds the same list.
    blocks = [("h2", "x"), ("list", ["a < b", "c"], "Every finding (2)")]
    assert to_markdown(blocks) == "## x\n\n- a < b\n- c\n"
    html = to_html(blocks, tmp_path, "t")
    assert "<details><summary>Every finding (2)</summary><ul><li>a &lt; b</li><li>c</li></ul></details>" in html


def test_a_task_scored_by_its_loss_is_judged_by_the_loss_lower_first():
    """text_lm: every exact-sequence accuracy is 0, so the headline must set the validation losses side by side."""
    def lm(model, losses):
        rows = seeds(model, [0.0] * len(losses), task="text_lm", length=256)
        for r, loss in zip(rows, losses):
            r["val_loss"] = loss
            r["task_settings"] = {"scored_by": "loss"}
        return rows
    text = headline(lm("mingru", [1.80, 1.82, 1.81]) + lm("transformer", [2.07, 2.08, 2.09]))
    assert text.startswith("Recurrence (a fixed-size state) wins on text_lm at length 256 (mingru 1.81 against "
                           "transformer 2.08 validation loss, the best attention model: 0.27 ahead).")
    assert "no model reached" not in text  # the accuracy line does not apply to a loss
