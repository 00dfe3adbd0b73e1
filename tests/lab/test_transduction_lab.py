"""compare-lab on the transduction tasks (Delétang et al. 2023): a string answer is read at once at the blanks
that end the input, a one-symbol answer at the one blank (real tiny models, untrained: the mechanics)."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from compare.live.analysis import analyse
from compare.live.page import Page
from compare.live.runs import Lab, LiveModel, TaskGroup
from compare.models import RecurrentLM, TransformerLM
from compare.tasks.parity_check import ParityCheckTask
from compare.tasks.stack_manipulation import StackManipulationTask


def page_of(task) -> tuple[Page, str]:
    torch.manual_seed(0)
    models = {"lstm": RecurrentLM(task.num_tokens, "lstm", num_layers=1, hidden_size=8),
              "transformer": TransformerLM(task.num_tokens, num_layers=1, n_heads=2, d_model=8, max_positions=64)}
    group = TaskGroup(task.name, [LiveModel(k, Path(k), m.eval(), task, {"model": k, "params": 1, "steps": 0},
                                            Path("best-0.ckpt")) for k, m in models.items()])
    return Page(Lab(Path("."), [group])), group.label


def test_a_string_answer_is_read_at_the_blanks_up_to_what_is_scored():
    task = StackManipulationTask(length=6)
    page, label = page_of(task)
    assert page.setup(label).generates  # a slider picks which symbol of the answer to explain
    analysis = analyse(page.lab.groups[0], "0110 push1 pop pop", position=3)
    live = analysis.live
    assert live.answer_at == 7 and len(live.tokens) == 15 and live.expected == [1, 1, 0, 6]
    for v in analysis.views:
        logits = v.model.model(torch.tensor([live.tokens]))[0, 7:11]
        assert v.error is None and v.answer == logits.argmax(-1).tolist()  # the first 4 blanks: up to `end`
        assert v.correct == (v.answer == [1, 1, 0, 6]) and v.query == 9 and len(v.influence) == 15
    cards = page.update(label, "0110 push1 pop pop", position=3)[1]
    assert "What symbol 3 of the answer depends on" in cards and "(all 4 symbols)" in cards
    if not all(v.correct for v in analysis.views):
        assert "should be 1 1 0 end" in cards


def test_a_one_symbol_answer_is_read_at_the_one_blank():
    task = ParityCheckTask(length=6)
    page, label = page_of(task)
    setup = page.setup(label)
    assert not setup.generates and re.fullmatch(r"[01]{6}", setup.text)
    analysis = analyse(page.lab.groups[0], "0111")
    assert analysis.live.tokens == [0, 1, 1, 1, 2] and analysis.live.expected == [4]
    for v in analysis.views:
        assert v.query == 4 and len(v.answer) == 1 and v.answer_text == task.token_names()[v.answer[0]]
