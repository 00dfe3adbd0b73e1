"""The Chomsky-hierarchy transduction tasks (Delétang et al. 2023): answers for hand-made strings at lengths 1, 2
and a long one, sampled batches against plain-Python rules, scoring only at the answer, and their lab words."""

from __future__ import annotations

import pytest
import torch

from compare.errors import UserError
from compare.evaluation.metrics import SequenceAccuracy
from compare.tasks.base import IGNORE
from compare.tasks.cycle_navigation import CycleNavigationTask
from compare.tasks.duplicate_string import DuplicateStringTask
from compare.tasks.even_pairs import EvenPairsTask
from compare.tasks.live_input import FILL, ONE_TOKEN
from compare.tasks.modular_arithmetic import ModularArithmeticTask
from compare.tasks.parity_check import ParityCheckTask
from compare.tasks.reverse_string import ReverseStringTask
from compare.tasks.stack_manipulation import StackManipulationTask
from compare.training.module import sequence_loss

TASKS = (ParityCheckTask, EvenPairsTask, CycleNavigationTask, ModularArithmeticTask, ReverseStringTask,
         StackManipulationTask, DuplicateStringTask)
LONG = "1101001110010111010001101100101101011"  # 37 bits


def laid_out(task, words: list[str]) -> tuple[list[str], list[str]]:
    """(input token names, answer token names at the scored positions) of a hand-made string."""
    names = task.token_names()
    inputs, targets = task.layout(torch.tensor([[task.input_symbols().index(w) for w in words]]))
    n = len(words)
    assert (targets[0, :n] == IGNORE).all()  # nothing is asked while the string is read
    assert inputs[0, :n].tolist() == [task.input_symbols().index(w) for w in words]
    assert set(inputs[0, n:].tolist()) == {task.blank}
    return [names[t] for t in inputs[0].tolist()], [names[t] for t in targets[0, n:].tolist() if t != IGNORE]


# ---- hand-made cases: length 1, 2 and a long one ------------------------------------------------------------

@pytest.mark.parametrize("bits,answer", [("1", "odd"), ("0", "even"), ("11", "even"), ("10", "odd"),
                                         (LONG, "odd"), ("1" * 40, "even")])
def test_parity_check_answers_the_parity_of_the_whole_string_at_one_blank(bits, answer):
    task = ParityCheckTask(length=40)
    tokens, got = laid_out(task, list(bits))
    assert got == [answer] and tokens == [*bits, "_"]
    assert LONG.count("1") % 2 == 1


@pytest.mark.parametrize("bits,answer", [("0", "even"), ("1", "even"), ("01", "odd"), ("11", "even"),
                                         ("00110", "even"), ("0101001", "odd"), (LONG, "even"), (LONG + "0", "odd")])
def test_even_pairs_counts_01_and_10_and_matches_first_equals_last(bits, answer):
    # 00110 and 0101001 are the reference code's docstring examples (class 0 = even, class 1 = odd).
    _, got = laid_out(EvenPairsTask(length=40), list(bits))
    assert got == [answer] and (answer == "even") == (bits[0] == bits[-1])


@pytest.mark.parametrize("moves,answer", [(["right"], "1"), (["left"], "4"), (["stay", "stay"], "0"),
                                          (["right", "left"], "0"), (["left", "left"], "3"),
                                          (["right"] * 37, "2"), (["left"] * 36 + ["stay"], "4")])
def test_cycle_navigation_ends_where_the_walk_ends_mod_5(moves, answer):
    _, got = laid_out(CycleNavigationTask(length=40), moves)
    assert got == [answer]


@pytest.mark.parametrize("expr,answer", [("3", "3"), ("1+2*3", "2"), ("1-1-1", "4"), ("0*1+4*3-2", "0"),
                                         ("4-2*3", "3"), ("2*" * 18 + "2", "3")])
def test_modular_arithmetic_evaluates_with_times_first_mod_5(expr, answer):
    # The reference code's docstring examples: 1 + 2 * 3 = 2, 1 - 1 - 1 = 4, 0 * 1 + 4 * 3 - 2 = 0; 2^19 = 8 = 3 mod 5.
    _, got = laid_out(ModularArithmeticTask(length=40), list(expr))
    assert got == [answer]


def test_modular_arithmetic_keeps_expressions_odd_as_the_reference_code():
    task = ModularArithmeticTask(length=40)
    assert [task.input_length(n) for n in (1, 2, 3, 4, 40)] == [1, 1, 3, 3, 39]
    assert task.sequence_length(2) == 2 and task.sequence_length(40) == 40
    x, _ = task.sample(8, 2, torch.Generator().manual_seed(0))
    assert x.shape == (8, 2) and (x[:, 0] < 5).all() and (x[:, 1] == task.blank).all()


@pytest.mark.parametrize("bits", ["1", "10", "0110100", LONG])
def test_reverse_string_writes_the_string_backwards_at_as_many_blanks(bits):
    tokens, got = laid_out(ReverseStringTask(length=40), list(bits))
    assert "".join(got) == bits[::-1] and tokens == [*bits, *"_" * len(bits)]


@pytest.mark.parametrize("bits", ["1", "10", "101", LONG])
def test_duplicate_string_writes_it_twice_at_twice_as_many_blanks(bits):
    tokens, got = laid_out(DuplicateStringTask(length=40), list(bits))
    assert "".join(got) == bits + bits and len(tokens) == 3 * len(bits)


@pytest.mark.parametrize("words,answer", [
    (["1"], ["1", "end"]),
    (["0", "pop"], ["end"]),
    (["1", "push0"], ["0", "1", "end"]),
    # The reference code's docstring examples: 0 1 1 0 PUSH 1 POP POP -> 1 1 0 end; 1 1 0 POP POP POP -> end.
    (["0", "1", "1", "0", "push1", "pop", "pop"], ["1", "1", "0", "end"]),
    (["1", "1", "0", "pop", "pop", "pop"], ["end"]),
    (["1", "0", "pop", "pop", "pop", "push1"] + ["push0", "push1"] * 15 + ["pop"],
     ["0"] + ["1", "0"] * 14 + ["1", "end"]),
])
def test_stack_manipulation_leaves_the_stack_top_first_then_end_scored_up_to_end(words, answer):
    task = StackManipulationTask(length=40)
    tokens, got = laid_out(task, words)
    assert got == answer and len(tokens) == 2 * len(words) + 1  # n + 1 blanks; the padding after end is unscored


# ---- sampled batches against the rules written here in plain Python ------------------------------------------

def rule(task, words: list[str]) -> list[str]:
    """The answer of each task, computed from the words by plain Python (independently of the task's code)."""
    if isinstance(task, ParityCheckTask):
        return ["odd" if words.count("1") % 2 else "even"]
    if isinstance(task, EvenPairsTask):
        return ["odd" if sum(a != b for a, b in zip(words, words[1:])) % 2 else "even"]
    if isinstance(task, CycleNavigationTask):
        return [str(sum({"left": -1, "stay": 0, "right": 1}[w] for w in words) % 5)]
    if isinstance(task, ModularArithmeticTask):
        return [str(eval("".join(words)) % 5)]  # Python's own precedence: * before + and -
    if isinstance(task, ReverseStringTask):
        return words[::-1]
    if isinstance(task, DuplicateStringTask):
        return words + words
    stack = []
    for w in words:
        if w in ("0", "1"):
            stack.append(w)
        elif w == "pop":
            stack = stack[:-1]
        else:
            stack.append(w[-1])
    return stack[::-1] + ["end"]


@pytest.mark.parametrize("task_class", TASKS, ids=lambda c: c.name)
@pytest.mark.parametrize("length", [1, 2, 37])
def test_sampled_answers_follow_the_rule_and_only_the_answer_is_scored(task_class, length):
    task = task_class(length=40)
    x, y = task.sample(64, length, torch.Generator().manual_seed(length))
    names, n = task.token_names(), task.input_length(length)
    assert x.shape == y.shape == (64, task.sequence_length(length))
    assert 0 <= int(x.min()) <= int(x.max()) < task.num_tokens
    assert (y[:, :n] == IGNORE).all() and (x[:, n:] == task.blank).all()
    for row_x, row_y in zip(x.tolist(), y.tolist()):
        words = [names[t] for t in row_x[:n]]
        assert [names[t] for t in row_y[n:] if t != IGNORE] == rule(task, words)
        if isinstance(task, StackManipulationTask):  # a stack of at least one bit, then actions only
            first = next((i for i, w in enumerate(words) if w not in ("0", "1")), n)
            assert first >= 1 and all(w not in ("0", "1") for w in words[first:]) and (length == 1) == (first == n)
    x2, _ = task.sample(64, length, torch.Generator().manual_seed(length))
    assert torch.equal(x, x2)


def test_answers_vary_over_a_batch():
    # A rule that always gave one class would pass the hand cases by chance only: every class shows up.
    for task, classes in ((ParityCheckTask(), 2), (EvenPairsTask(), 2), (CycleNavigationTask(), 5),
                          (ModularArithmeticTask(), 5)):
        _, y = task.sample(256, 21, torch.Generator().manual_seed(0))
        assert len(set(y[:, -1].tolist())) == classes, task.name


def test_stack_lengths_and_actions_are_drawn_as_the_reference_code_draws_them():
    task = StackManipulationTask(length=40)
    x, _ = task.sample(2000, 10, torch.Generator().manual_seed(0))
    stacks = (x[:, :10] < 2).sum(1)
    assert set(stacks.tolist()) == set(range(1, 10))  # uniform over 1..length-1
    actions = x[:, :10][x[:, :10] >= 2]
    counts = torch.bincount(actions - 2, minlength=3).float() / actions.numel()
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.02)


# ---- scoring: the answer and nothing else --------------------------------------------------------------------

@pytest.mark.parametrize("task_class", TASKS, ids=lambda c: c.name)
def test_scoring_ignores_every_position_but_the_answer(task_class):
    task = task_class(length=40)
    x, y = task.sample(16, 12, torch.Generator().manual_seed(3))
    scored = y != IGNORE
    right = torch.nn.functional.one_hot(y.clamp(min=0), task.num_tokens).float() * 10
    noise = torch.randn(right.shape, generator=torch.Generator().manual_seed(4)) * 10
    # Right at the answer, anything at all elsewhere: accuracy 1 and the same loss as with nothing elsewhere.
    anything = torch.where(scored[..., None], right, noise)
    metric = SequenceAccuracy()
    metric.update(anything, y)
    assert {k: float(v) for k, v in metric.compute().items()} == {"token_acc": 1.0, "seq_acc": 1.0}
    assert torch.isclose(sequence_loss(anything, y), sequence_loss(torch.where(scored[..., None], right, 0.0), y))
    # One answer symbol wrong in one row: that row is wrong, and one token of all the scored ones.
    wrong = anything.clone()
    row, col = scored.nonzero()[0].tolist()
    wrong[row, col] = wrong[row, col].roll(1)
    metric = SequenceAccuracy()
    metric.update(wrong, y)
    got = metric.compute()
    assert float(got["seq_acc"]) == pytest.approx(15 / 16)
    assert float(got["token_acc"]) == pytest.approx(1 - 1 / int(scored.sum()))


# ---- lab words ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task_class,text,kind,answer", [
    (ParityCheckTask, "0111", ONE_TOKEN, "odd"),
    (EvenPairsTask, "00110", ONE_TOKEN, "even"),
    (CycleNavigationTask, "right right left stay", ONE_TOKEN, "1"),
    (ModularArithmeticTask, "1 + 2 * 3 - 4", ONE_TOKEN, "3"),
    (ReverseStringTask, "0111", FILL, "1110"),
    (DuplicateStringTask, "01", FILL, "0101"),
    (StackManipulationTask, "0110 push1 pop pop", FILL, "1 1 0 end"),
])
def test_the_lab_reads_the_task_in_its_own_words(task_class, text, kind, answer):
    task = task_class(length=8)
    live = task.parse_text(text)
    assert live.kind == kind and task.format_answer(live.expected) == answer
    assert live.answer_at == len(live.tokens) - task.output_length(live.answer_at)
    assert task.parse_text(task.format_tokens(live.tokens)).tokens == live.tokens
    assert task.parse_text(task.example_text()).tokens == task.probe()[0][0].tolist()


@pytest.mark.parametrize("task_class,text,words", [
    (ParityCheckTask, "0120", "'2' is not a symbol of parity_check"),
    (ParityCheckTask, " ", "the input is empty"),
    (CycleNavigationTask, "right up", "'up' is not a symbol of cycle_navigation"),
    (ModularArithmeticTask, "1 + + 2", "symbol 3 should be a number"),
    (ModularArithmeticTask, "1 + 2 *", "ends with an operator"),
    (StackManipulationTask, "pop 01", "the stack is missing"),
    (StackManipulationTask, "01 pop 1", "a bit after an action"),
])
def test_a_bad_lab_input_is_one_line_naming_the_problem(task_class, text, words):
    with pytest.raises(UserError, match=words) as e:
        task_class(length=8).parse_text(text)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kwargs,words", [({"cycle": 1}, "task.cycle=1"), ({"length": 0}, "task.length=0")])
def test_bad_settings_name_the_key(kwargs, words):
    with pytest.raises(UserError, match=words):
        CycleNavigationTask(**kwargs)
    with pytest.raises(UserError, match="task.vocab_size=1"):
        ReverseStringTask(vocab_size=1)
    with pytest.raises(UserError, match="task.modulus=1"):
        ModularArithmeticTask(modulus=1)
