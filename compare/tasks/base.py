"""The Task interface: every task makes batches of (inputs, targets) of a length you ask for.

inputs  (batch, time) long: the token ids the model reads.
targets (batch, time) long: the token expected at each position, IGNORE where nothing is scored.

One batch shape for every task keeps the rest generic: copy scores the answer half, QA scores the
last position, language modelling scores every position. A sample's "length" is the task's own
difficulty knob (copy: number of symbols to copy); ``sequence_length(length)`` says how many
tokens that makes, so a model with a bounded context can tell in advance whether it fits.

Training lengths: each training batch has one length, drawn uniformly from [min_length, length]
(``draw_length``); the validation sets cover that range in equal shares (``validation_lengths``).

compare-lab: a task also reads a user's text in its own words (``parse_text`` -> ``LiveInput``) and writes
tokens back as such text (``format_tokens``, ``format_answer``); the defaults read token names separated by
spaces and answer with the model's next token, so the lab needs no code of its own for a new task.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.live_input import ONE_TOKEN, LiveInput, listing, token_ids, unknown_words

#: Target value for positions that are not scored (the default ignore_index of cross_entropy).
IGNORE = -100
#: At most this many lengths in a validation set over a range: each length is its own batch, and many tiny
#: batches make every validation slow; 16 evenly spaced lengths still cover the range.
MAX_VALIDATION_LENGTHS = 16


@dataclass
class EvalSet:
    """A fixed evaluation set: batches of one length, plus any per-sample key to slice accuracy by."""

    length: int
    inputs: Tensor
    targets: Tensor
    # Optional second axis (e.g. fact distance in QA): name -> (batch,) long tensor of keys.
    slices: dict[str, Tensor] = field(default_factory=dict)


class Task(ABC):
    """A source of (inputs, targets) batches at any requested length."""

    #: Short name used in run directories, results and reports.
    name: str = "task"

    def __init__(self, length: int, seed: int = 0, min_length: int | None = None, smallest: int = 1) -> None:
        check_positive("task.length", length)
        self.length = int(length)
        self.seed = int(seed)
        self.smallest = int(smallest)
        if length < smallest:
            raise UserError(f"task.length={length} is not accepted: {self.name} needs a length >= {smallest}")
        # Training draws one length per batch from [min_length, length]; None: from the smallest length it supports.
        self.min_length = check_length_range(min_length if min_length is not None else smallest, self.length,
                                             smallest, self.name)

    # --- what every task defines -------------------------------------------------------------
    @property
    @abstractmethod
    def num_tokens(self) -> int:
        """Size of the token vocabulary the model must embed and predict (specials included)."""

    @abstractmethod
    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """A batch of (inputs, targets) at ``length``, drawn with ``generator`` on its device."""

    @abstractmethod
    def sequence_length(self, length: int) -> int:
        """Number of tokens in inputs of a sample at ``length``."""

    def supports(self, length: int) -> bool:
        """Whether this task can make samples at ``length`` (the ladder marks other lengths unsupported)."""
        return True

    def token_names(self) -> list[str]:
        """Human-readable name of every token id (for attention maps and reports)."""
        return [str(i) for i in range(self.num_tokens)]

    # --- shared behaviour ----------------------------------------------------------------------
    def draw_length(self, step_seed: int) -> int:
        """The length of the training batch whose generator is seeded with ``step_seed`` (uniform over the range).

        Drawn on the host from the seed itself, so it needs no device sync and batch k stays a function of (seed, k).
        """
        if self.min_length == self.length:
            return self.length
        return random.Random(step_seed).randint(self.min_length, self.length)

    def in_training_range(self, length: int) -> bool:
        """Whether training batches were drawn at ``length``."""
        return self.min_length <= length <= self.length

    def validation_lengths(self, size: int) -> list[tuple[int, int]]:
        """(length, samples) of the validation set: up to MAX_VALIDATION_LENGTHS lengths evenly spaced over the
        training range (both ends included), with equal shares of ``size`` (the remainder to the longest)."""
        span = [n for n in range(self.min_length, self.length + 1) if self.supports(n)]
        k = min(len(span), MAX_VALIDATION_LENGTHS, size)
        picks = sorted({span[round(i * (len(span) - 1) / (k - 1))] for i in range(k)}) if k > 1 else [self.length]
        share, extra = divmod(size, len(picks))
        return [(n, share + (i >= len(picks) - extra)) for i, n in enumerate(picks)]

    def validation_sets(self, size: int) -> list[EvalSet]:
        """The fixed validation sets, one per length of ``validation_lengths`` (each batch has one length)."""
        if self.min_length == self.length:
            return [self.validation_set(size)]
        return [self.eval_set(n, count, salt=0) for n, count in self.validation_lengths(size)]

    def validation_set(self, size: int) -> EvalSet:
        """The fixed validation set at the longest training length (the same for every run with this seed)."""
        return self.eval_set(self.length, size, salt=0)

    def eval_set(self, length: int, size: int, salt: int = 1) -> EvalSet:
        """A fixed, seeded evaluation set at ``length``; ``salt`` keeps it apart from other sets."""
        check_positive("evaluation length", length)
        g = torch.Generator().manual_seed(stream_seed(self.seed, -1 - salt, length))
        inputs, targets = self.sample(size, length, g)
        return EvalSet(length, inputs, targets, self.eval_slices(inputs, targets, length))

    def eval_slices(self, inputs: Tensor, targets: Tensor, length: int) -> dict[str, Tensor]:
        """Per-sample keys for a second difficulty axis; none by default."""
        return {}

    def extra_metrics(self, model: torch.nn.Module, batch_size: int = 128) -> dict:
        """Task-specific numbers computed once after training (stored as ``task_metrics``); none by default."""
        return {}

    def probe(self) -> tuple[Tensor, list[str]]:
        """One short example (1, time) and its token names, for looking at attention maps."""
        g = torch.Generator().manual_seed(stream_seed(self.seed, -7, self.length))
        inputs, _ = self.sample(1, self.length, g)
        names = self.token_names()
        return inputs, [names[i] for i in inputs[0].tolist()]

    # --- compare-lab: the task's input and answer in its own words ------------------------------
    #: How the lab's models answer: ONE_TOKEN (the next token after the input) or GENERATE (a string written one
    #: token at a time after it, as copy does); the lab then lets you pick which generated token to explain.
    answer_kind: str = ONE_TOKEN
    #: Whether ``parse_text`` can push the deciding fact back with ``distractors`` sentences; the lab then shows
    #: the "move the fact back" slider and the confidence curve over the fact's distance.
    supports_distractors: bool = False
    #: Whether the task is language modelling over free text: the lab then samples continuations (temperature,
    #: top-k) and shows the next-token distribution after the input.
    samples_text: bool = False

    def parse_text(self, text: str, distractors: int = 0) -> LiveInput:
        """``text`` in this task's own words -> a LiveInput (a one-line UserError when it does not parse).

        ``distractors`` sentences go between the deciding fact and the question; a task that can do that sets
        ``supports_distractors`` and overrides this method. Any other task overrides ``parse_words``.
        """
        if distractors:
            raise UserError(f"moving the fact back works on qa stories only, not on {self.name}")
        return self.parse_words(text)

    def parse_words(self, text: str) -> LiveInput:
        """Token names separated by spaces; the answer is the model's next token."""
        names = self.token_names()
        parts = text.split()
        if not parts:
            raise UserError(f"the input is empty: type {self.name} tokens separated by spaces")
        tokens = token_ids(parts, {n: i for i, n in enumerate(names)},
                           lambda bad: f"{unknown_words('token', bad)}: {self.name} has {listing(names)}")
        return LiveInput(tokens, parts, self.answer_kind)

    def format_tokens(self, tokens: list[int]) -> str:
        """Token ids as the text ``parse_text`` reads back (token names separated by spaces)."""
        names = self.token_names()
        return " ".join(names[t] for t in tokens)

    def format_answer(self, tokens: list[int]) -> str:
        """A model's answer (or the rule's) as the lab shows it: token names separated by spaces."""
        names = self.token_names()
        return " ".join(names[t] for t in tokens)

    def example_text(self) -> str:
        """The probe example written as an input (the lab's page starts from it)."""
        tokens, _ = self.probe()
        return self.format_tokens(tokens[0].tolist())

    def input_help(self) -> str:
        """How to write an input for this task, with its vocabulary (Markdown, one paragraph)."""
        return (f"Token names separated by spaces ({listing(self.token_names())}). "
                "The answer is each model's next token after the last one.")

    @property
    def label(self) -> str:
        """The task as results rows, reports and dashboards name it: ``name``, plus whatever tells apart runs of
        one task class that are different tasks (bAbI's task id and training set), so they never pool as seeds."""
        return self.name

    def summary(self) -> str:
        """One sentence on what this task, as set, asks of a model (the report prints it under the task's heading).

        The class docstring's first line unless a task's settings change what it tests (qa's place_prob does)."""
        return (type(self).__doc__ or self.name).strip().splitlines()[0]

    def describe(self) -> dict:
        """The task's settings, for results rows."""
        return {"name": self.name, "length": self.length, "min_length": self.min_length, "num_tokens": self.num_tokens,
                "summary": self.summary()}


def stream_seed(seed: int, step: int, length: int = 0) -> int:
    """A distinct 63-bit seed for (run seed, batch index, length): batch k is reproducible on its own."""
    x = (seed * 0x9E3779B97F4A7C15 + step * 0xBF58476D1CE4E5B9 + length * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    return x & (2**63 - 1)


def check_positive(what: str, value, minimum: int = 1) -> None:
    """Raise a UserError naming ``what`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{what}={value!r} is not accepted: it must be an integer >= {minimum}")


def check_length_range(min_length, length: int, smallest: int, task: str) -> int:
    """``min_length`` if it is an integer in [smallest, length], else a UserError naming both ends."""
    if isinstance(min_length, bool) or not isinstance(min_length, int):
        raise UserError(f"task.min_length={min_length!r} is not accepted: it must be an integer")
    if min_length > length:
        raise UserError(f"task.min_length={min_length} is above task.length={length}: training lengths are drawn "
                        f"from [task.min_length, task.length]")
    if min_length < smallest:
        raise UserError(f"task.min_length={min_length} is below {smallest}, the shortest length {task} supports: "
                        f"it must be in [{smallest}, task.length={length}]")
    return int(min_length)
