"""Transduction tasks as Delétang et al. 2023 pose them ("Neural Networks and the Chomsky Hierarchy"): read a
string, then answer once at its end.

The reference code (google-deepmind/neural_networks_chomsky_hierarchy, ``experiments/utils.py``
``make_model_with_empty_targets``) appends as many empty tokens to the input string as the answer has symbols and
reads the answer at those positions, all at once: not autoregressively, and nothing is asked before the string
has ended. Tasks with a one-symbol answer (even pairs, parity check, ...) are classifications read at the one
empty token after the string. Here the empty token is BLANK, its own token id; the targets are IGNORE at every
position but the answer's, so the loss and both accuracies see the answer alone.

Token ids: the input alphabet first (0..n-1), then BLANK, then the answer symbols that are not input symbols
(an answer symbol named like an input symbol shares its id, e.g. the bits of reverse_string).

Scoring: the paper's per-sequence accuracy is the share of answer symbols right (``token_acc`` here, pooled over
a batch as the reference code's ``accuracy_fn`` does); ``seq_acc`` is the stricter all-symbols-right. For a
one-symbol answer they are the same number.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import IGNORE, Task, check_positive
from compare.tasks.live_input import FILL, ONE_TOKEN, LiveInput, listing

#: The empty token the answer is read at (the paper's ∅).
BLANK = "_"
#: Chomsky levels as Delétang et al. name them: regular, deterministic context-free, context-sensitive.
LEVELS = ("R", "DCF", "CS")


class TransductionTask(Task):
    """Input symbols x_1..x_n, then one BLANK per answer symbol; the answer is scored at the BLANKs only.

    A subclass names its alphabets (``input_symbols``, ``output_symbols``), its Chomsky ``level`` and ``title``
    (the paper's name), and implements ``answer``: the rule, vectorised over a batch. ``draw`` (uniform symbols by
    default) and ``input_length`` / ``output_length`` change where the paper's task does.
    """

    #: The paper's name of the task, for reports beside its Table 2.
    title: str = "transduction"
    #: Its level in the Chomsky hierarchy (one of LEVELS).
    level: str = "R"
    #: Whether the lab writes the input symbols with spaces between them (one-character symbols run together).
    spaced: bool = False

    def __init__(self, length: int = 40, seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, seed, min_length)
        names = list(self.input_symbols())
        self.blank = len(names)
        names.append(BLANK)
        outputs = []
        for symbol in self.output_symbols():
            if symbol not in names:
                names.append(symbol)
            outputs.append(names.index(symbol))
        self._names = names
        # Output alphabet index -> token id.
        self._output_ids = torch.tensor(outputs, dtype=torch.long)

    # --- what each task defines --------------------------------------------------------------------------
    @abstractmethod
    def input_symbols(self) -> list[str]:
        """Names of the input symbols, in id order."""

    @abstractmethod
    def output_symbols(self) -> list[str]:
        """Names of the answer symbols, in the order ``answer`` numbers them."""

    @abstractmethod
    def answer(self, symbols: Tensor) -> tuple[Tensor, Tensor | None]:
        """The rule: (batch, n) input symbol indices -> ((batch, m) answer symbol indices, a (batch, m) bool mask of
        the scored answer positions, or None when all are), m = ``output_length(n)``."""

    def draw(self, batch_size: int, length: int, generator: torch.Generator) -> Tensor:
        """(batch, input_length(length)) input symbol indices: uniform over the input alphabet by default."""
        return torch.randint(0, len(self.input_symbols()), (batch_size, self.input_length(length)),
                             generator=generator, device=generator.device)

    def input_length(self, length: int) -> int:
        """Input symbols in a sample at ``length`` (the paper's string length)."""
        return length

    def output_length(self, n: int) -> int:
        """Answer symbols (and BLANKs) after ``n`` input symbols: one for a classification."""
        return 1

    # --- the Task interface ------------------------------------------------------------------------------
    @property
    def answer_kind(self) -> str:
        """ONE_TOKEN for a classification; FILL for a string answer (read at once at its BLANKs)."""
        return ONE_TOKEN if self.output_length(2) == 1 else FILL

    @property
    def num_tokens(self) -> int:
        return len(self._names)

    def token_names(self) -> list[str]:
        return list(self._names)

    def sequence_length(self, length: int) -> int:
        n = self.input_length(length)
        return n + self.output_length(n)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        symbols = self.draw(batch_size, length, generator)
        return self.layout(symbols)

    def layout(self, symbols: Tensor) -> tuple[Tensor, Tensor]:
        """(inputs, targets) for input symbol indices: the string, BLANKs, and the answer at the BLANKs only."""
        batch, n = symbols.shape
        m = self.output_length(n)
        answers, scored = self.answer(symbols)
        blanks = torch.full((batch, m), self.blank, dtype=torch.long, device=symbols.device)
        inputs = torch.cat([symbols, blanks], dim=1)
        targets = torch.full_like(inputs, IGNORE)
        ids = self._output_ids.to(symbols.device)[answers]
        targets[:, n:] = ids if scored is None else torch.where(scored, ids, torch.full_like(ids, IGNORE))
        return inputs, targets

    def describe(self) -> dict:
        return {**super().describe(), "level": self.level, "title": self.title}

    # --- compare-lab: the string in the task's own symbols; the answer at the BLANKs --------------------------
    def parse_words(self, text: str) -> LiveInput:
        """Input symbols (separated by spaces, or run together when every symbol is one character); the answer is
        read at the BLANKs the lab appends, as in training."""
        names = self.input_symbols()
        parts = text.replace(",", " ").split()
        if len(parts) == 1 and all(len(n) == 1 for n in names):
            parts = list(parts[0])
        if not parts:
            raise UserError(f"the input is empty: type {self.name} symbols ({listing(names)}), e.g. "
                            f"{self.example_text()}")
        bad = sorted({p for p in parts if p not in names})
        if bad:
            raise UserError(f"{', '.join(map(repr, bad))} {'is not a symbol' if len(bad) == 1 else 'are not symbols'} "
                            f"of {self.name}: it reads {listing(names)}")
        symbols = [names.index(p) for p in parts]
        self.check_symbols(symbols)
        x = torch.tensor([symbols])
        inputs, targets = self.layout(x)
        answer = targets[0, len(symbols):]
        expected = answer[answer != IGNORE].tolist()
        m = inputs.shape[1] - len(symbols)
        kind = ONE_TOKEN if m == 1 else FILL
        return LiveInput(inputs[0].tolist(), [*parts, *[BLANK] * m], kind, expected, answer_at=len(symbols))

    def check_symbols(self, symbols: list[int]) -> None:
        """A UserError when a typed string is not one the task makes (wrong order of parts); any string by default."""

    def format_tokens(self, tokens: list[int]) -> str:
        """The input symbols before the first BLANK, as ``parse_words`` reads them."""
        names = self._names
        symbols = tokens[:tokens.index(self.blank)] if self.blank in tokens else tokens
        joiner = " " if self.spaced or any(len(n) > 1 for n in self.input_symbols()) else ""
        return joiner.join(names[t] for t in symbols)

    def input_help(self) -> str:
        return (f"A string of {self.name} symbols ({listing(self.input_symbols())}). The models read it and "
                f"{'one blank' if self.output_length(2) == 1 else 'as many blanks as the answer has symbols'} after "
                "it, and answer at the blank" + ("" if self.output_length(2) == 1 else "s, all at once") + ".")


class EvenOddTask(TransductionTask):
    """A bit string in, ``even`` or ``odd`` out (parity check, even pairs)."""

    def input_symbols(self) -> list[str]:
        return ["0", "1"]

    def output_symbols(self) -> list[str]:
        return ["even", "odd"]


class StringTask(TransductionTask):
    """A string of symbols 0..vocab_size-1 in, a string of the same symbols out (the paper's strings are binary)."""

    def __init__(self, length: int = 40, vocab_size: int = 2, seed: int = 0, min_length: int | None = None) -> None:
        check_positive("task.vocab_size", vocab_size, minimum=2)
        self.vocab_size = int(vocab_size)
        super().__init__(length, seed, min_length)

    def input_symbols(self) -> list[str]:
        return [str(i) for i in range(self.vocab_size)]

    def output_symbols(self) -> list[str]:
        return self.input_symbols()

    def format_answer(self, tokens: list[int]) -> str:
        return self.format_tokens(tokens)

    def describe(self) -> dict:
        return {**super().describe(), "vocab_size": self.vocab_size}
