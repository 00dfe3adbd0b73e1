"""A task brings its lab input with it: tasks defined only here, with their own words, go through compare-lab's
real analysis and page (real tiny models, untrained: the mechanics, not the accuracy) with no code in compare/live.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import Tensor

from compare.errors import UserError
from compare.live.analysis import analyse, distance_curve
from compare.live.page import Page, intro
from compare.live.runs import Lab, LiveModel, TaskGroup
from compare.models import RecurrentLM, TransformerLM
from compare.tasks.base import IGNORE, Task
from compare.tasks.parity_check import ParityCheckTask
from compare.tasks.stack_manipulation import StackManipulationTask
from compare.tasks.live_input import GENERATE, LiveInput

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class DigitSum(Task):
    """Digits, named in words; the answer at the last digit is their sum mod 10. Typed and answered as figures."""

    name = "digit_sum"

    @property
    def num_tokens(self) -> int:
        return 10

    def token_names(self) -> list[str]:
        return list(DIGITS)

    def sequence_length(self, length: int) -> int:
        return length

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        digits = torch.randint(0, 10, (batch_size, length), generator=generator)
        targets = torch.full_like(digits, IGNORE)
        targets[:, -1] = digits.sum(1) % 10
        return digits, targets

    def parse_words(self, text: str) -> LiveInput:
        figures = "".join(text.split())
        bad = sorted(set(figures) - set("0123456789"))
        if not figures or bad:
            raise UserError(f"{', '.join(map(repr, bad)) or 'nothing'} is not a number: type digits, e.g. 314")
        tokens = [int(c) for c in figures]
        return LiveInput(tokens, [DIGITS[t] for t in tokens], expected=[sum(tokens) % 10])

    def format_tokens(self, tokens: list[int]) -> str:
        return "".join(str(t) for t in tokens)

    def format_answer(self, tokens: list[int]) -> str:
        return f"{tokens[0]} (mod 10)"

    def input_help(self) -> str:
        return "A number; the answer is the sum of its digits mod 10."


class Reverse(Task):
    """Letters a-e, a separator, then the letters backwards (written by the model one at a time)."""

    name = "reverse"
    answer_kind = GENERATE
    letters = "abcde"

    @property
    def num_tokens(self) -> int:
        return len(self.letters) + 1

    def token_names(self) -> list[str]:
        return [*self.letters, "|"]

    def sequence_length(self, length: int) -> int:
        return 2 * length

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        x = torch.randint(0, len(self.letters), (batch_size, length), generator=generator)
        sep = torch.full((batch_size, 1), len(self.letters))
        full = torch.cat([x, sep, x.flip(1)], 1)
        targets = full[:, 1:].clone()
        targets[:, :length] = IGNORE
        return full[:, :-1], targets

    def parse_words(self, text: str) -> LiveInput:
        tokens = [self.letters.index(c) for c in text if c in self.letters]
        return LiveInput([*tokens, len(self.letters)], [*text, "|"], self.answer_kind, tokens[::-1])

    def format_tokens(self, tokens: list[int]) -> str:
        return "".join(self.letters[t] for t in tokens[:tokens.index(len(self.letters))])

    def format_answer(self, tokens: list[int]) -> str:
        return "".join(self.token_names()[t] for t in tokens)


class Recall(Task):
    """One digit 0-3 (the fact), blanks, then '?': the answer is the digit. The lab can push the fact back."""

    name = "recall"
    supports_distractors = True
    BLANK, QUERY = 4, 5

    @property
    def num_tokens(self) -> int:
        return 6

    def token_names(self) -> list[str]:
        return ["0", "1", "2", "3", "_", "?"]

    def sequence_length(self, length: int) -> int:
        return length + 1

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        fact = torch.randint(0, 4, (batch_size, 1), generator=generator)
        inputs = torch.cat([fact, torch.full((batch_size, length - 1), self.BLANK),
                            torch.full((batch_size, 1), self.QUERY)], 1)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = fact[:, 0]
        return inputs, targets

    def parse_text(self, text: str, distractors: int = 0) -> LiveInput:
        names = self.token_names()
        parts = text.split()
        if not parts or parts[0] not in names[:4] or parts[-1] != "?" or any(p != "_" for p in parts[1:-1]):
            raise UserError(f"{text!r} is not a digit, blanks and '?' (e.g. 2 _ _ ?)")
        tokens = [names.index(p) for p in parts]
        tokens[1:1] = [self.BLANK] * distractors
        return LiveInput(tokens, [names[t] for t in tokens], expected=[tokens[0]], question_at=len(tokens) - 1,
                         fact_span=(0, 0), inserted=list(range(1, 1 + distractors)))


def page_of(task: Task) -> tuple[Page, str]:
    """A page over one LSTM and one transformer on ``task`` (as compare-lab builds it from trained runs)."""
    torch.manual_seed(0)
    models = {"lstm": RecurrentLM(task.num_tokens, "lstm", num_layers=1, hidden_size=8),
              "transformer": TransformerLM(task.num_tokens, num_layers=1, n_heads=2, d_model=8, max_positions=64)}
    group = TaskGroup(task.name, [LiveModel(k, Path(k), m.eval(), task, {"model": k, "params": 1, "steps": 0},
                                            Path("best-0.ckpt")) for k, m in models.items()])
    return Page(Lab(Path("."), [group])), group.label


def answers(cards: str) -> dict[str, str]:
    return dict(re.findall(r'data-model="(\w+)" data-run="[^"]*" data-answer="([^"]*)"', cards))


def test_a_task_parses_and_words_its_own_input_and_answer():
    task = DigitSum(length=4)
    page, label = page_of(task)
    setup = page.setup(label)
    assert setup.help == "A number; the answer is the sum of its digits mod 10."
    assert re.fullmatch(r"\d{4}", setup.text) and not setup.distractors and not setup.generates
    message, cards, curve = page.update(label, "3 14")
    assert message == "" and curve == ""
    analysis = analyse(page.lab.groups[0], "314")
    assert analysis.live.tokens == [3, 1, 4] and analysis.live.names == ["three", "one", "four"]
    shown = answers(cards)
    for v in analysis.views:
        assert v.error is None and shown[v.model.kind] == v.answer_text == f"{v.answer[0]} (mod 10)"
        assert v.correct == (v.answer == [8]) and len(v.influence) == 3
    if not all(v.correct for v in analysis.views):
        assert "should be 8 (mod 10)" in cards  # the rule's answer in the task's words too
    message, cards, _ = page.update(label, "3x4")
    assert "Not run: &#x27;x&#x27; is not a number: type digits" in message and cards is None
    message, _, _ = page.update(label, "314", distractors=2)
    assert "moving the fact back works on qa stories only, not on digit_sum" in message
    assert "distractor" not in intro(page.lab)


def test_a_generating_task_gets_the_copy_controls():
    task = Reverse(length=3)
    page, label = page_of(task)
    setup = page.setup(label)
    assert setup.generates and not setup.distractors and re.fullmatch(r"[a-e]{3}", setup.text)
    for v in analyse(page.lab.groups[0], "abc", position=2).views:
        assert v.error is None and len(v.answer) == 3 and v.query == 4
        assert v.answer_text == "".join("abcde|"[t] for t in v.answer) and v.correct == (v.answer == [2, 1, 0])
    assert "What symbol 2 of the copy depends on" in page.update(label, "abc", position=2)[1]


def test_a_task_that_moves_its_fact_back_gets_the_slider_and_the_curve():
    task = Recall(length=3)
    page, label = page_of(task)
    assert page.setup(label).distractors and "can push the deciding fact back (recall)" in intro(page.lab)
    curve = distance_curve(page.lab.groups[0], "2 _ ?", current=1, most=4)
    assert curve.distances == [2, 3, 4, 5, 6] and set(curve.probs) == {"lstm", "transformer"}
    message, cards, svg = page.update(label, "2 _ ?", distractors=3)
    assert message == "" and cards.count("lab-tok added") == 3 * 3  # 3 inserted tokens in 3 strips
    assert 'data-distances="[2, 3, 4' in svg


# Delétang et al.'s transduction tasks: a string answer read at once at the blanks that end the input.
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


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "compare" / "live").glob("*.py")),
                         ids=lambda p: p.name)
def test_the_lab_knows_no_task_by_name(path):
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"\.name\s*[!=]=", source) and "compare.tasks.qa" not in source
