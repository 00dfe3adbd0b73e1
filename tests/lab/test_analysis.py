"""compare-lab's analysis on untrained models (the mechanics, not the accuracy): copy decoding, parity, the curve."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from compare.live import render
from compare.live.analysis import analyse, distance_curve
from compare.live.runs import LiveModel, TaskGroup
from compare.models import RecurrentLM, TransformerLM
from compare.tasks.copy import CopyTask
from compare.tasks.parity import ParityTask
from compare.tasks.qa import QATask


def group_of(task, max_positions: int = 64) -> TaskGroup:
    torch.manual_seed(0)
    models = {"lstm": RecurrentLM(task.num_tokens, "lstm", num_layers=1, hidden_size=8),
              "transformer": TransformerLM(task.num_tokens, num_layers=2, n_heads=2, d_model=8,
                                           max_positions=max_positions)}
    return TaskGroup(task.name, [LiveModel(k, Path(k), m.eval(), task, {"model": k, "params": 1, "steps": 0},
                                           Path("best-0.ckpt")) for k, m in models.items()])


def test_copy_writes_as_many_symbols_as_given_and_explains_the_chosen_one():
    a = analyse(group_of(CopyTask(length=4, vocab_size=8)), "3 1 4 1 5", position=2)
    for v in a.views:
        assert v.error is None and len(v.answer) == 5
        assert v.tokens[:6] == [3, 1, 4, 1, 5, 8] and v.tokens[6:] == v.answer[:4]  # its own symbols, fed back
        assert v.query == 6  # SEP (index 5) predicts symbol 1, index 6 predicts symbol 2
        assert all(x == 0.0 for x in v.influence[7:]) and v.influence[6] != 0.0
        assert v.correct == (v.answer == [3, 1, 4, 1, 5])
        assert 0.0 < v.prob <= 1.0
    assert render.cards(a).count("What symbol 2 of the copy depends on") == 2
    assert distance_curve(group_of(CopyTask(length=4)), "3 1") is None


def test_parity_scores_against_the_count_of_ones():
    a = analyse(group_of(ParityTask(length=8)), "0111")
    assert a.live.expected == [1]
    for v in a.views:
        assert v.query == 3 and v.correct == (v.answer == [1]) and len(v.influence) == 4


def test_longer_than_training_is_a_warning_longer_than_the_table_an_error():
    group = group_of(ParityTask(length=8), max_positions=12)
    lstm, transformer = analyse(group, "01" * 5).views  # 10 tokens: past training (8), within the table (12)
    assert "longer than the 8 it trained on" in lstm.warning and transformer.error is None
    lstm, transformer = analyse(group, "01" * 7).views
    assert lstm.error is None and "learned position table of 12 positions" in transformer.error


def test_curve_needs_an_answer_in_the_story():
    group = group_of(QATask(length=8))
    curve = distance_curve(group, "mary drank water. who ate apple?")
    assert curve.distances == [] and "no sentence answers" in curve.note
    curve = distance_curve(group, "mary drank water. who drank water?", current=3, most=4)
    assert curve.distances == [4, 8, 12, 16, 20] and curve.current == 3
    assert set(curve.probs) == {"lstm", "transformer"} and all(len(p) == 5 for p in curve.probs.values())
    assert 'class="lab-curve"' in render.curve_svg(curve)


@pytest.mark.parametrize("mean", [False, True])
def test_attention_caption_and_row(mean):
    a = analyse(group_of(QATask(length=8)), "mary drank water. who drank water?")
    html = render.cards(a, layer=2, head=2, mean=mean)
    assert ("layer 2 of 2, mean over 2 heads" if mean else "layer 2 of 2, head 2 of 2") in html
    assert html.count('data-kind="attention"') == 1 and 'data-query="7"' in html
