"""Induction heads as Gu & Dao 2023 pose it (Mamba, arXiv:2312.00752, §4.1.2 and Table 11).

The sequence is the one of the H3 paper's synthetic (Dao, Fu, Saab et al. 2023; HazyResearch/safari
src/dataloaders/synthetics.py, ``generate_induction_head``): ``length`` random symbols, one of them replaced by
a special token ``=>`` at a position p in [0, length - 2), then ``=>`` once more at the end. The answer, scored
at that final ``=>``, is the symbol that followed the first one (position p + 1): the model must find the
earlier ``=>`` by its content and copy what came next, the two-step circuit of an induction head.

inputs : x_0 .. x_{p-1} => x_{p+1} .. x_{length-1} =>        (length + 1 tokens)
targets: IGNORE everywhere but the last position, which holds x_{p+1}.

Only the answer is scored, in training too (safari's test sets score only it; its training loss also covers the
random symbols, which no model can predict). "length" is the region of random symbols, so a model trained at
one length is asked at 2x ... 16x it by the ladder. Accuracy is also reported against the distance from the
answer symbol to the end (key "distance": power-of-two bins named by their lower edge).
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.assoc_recall import power_of_two_bin
from compare.tasks.base import IGNORE
from compare.tasks.live_input import LiveInput
from compare.tasks.symbols import SymbolTask

#: At least one random symbol between the answer and the final trigger, as in safari (p < length - 2).
SMALLEST = 3


class InductionHeadsTask(SymbolTask):
    """Random symbols with one ``=>`` among them; after the final ``=>``, recall the symbol that followed the first."""

    name = "induction_heads"
    specials = ("=>",)

    def __init__(self, length: int = 64, vocab_size: int = 16, seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, vocab_size, "vocab_size", seed, min_length, smallest=SMALLEST)
        self.vocab_size, self.trigger = vocab_size, self.special_id("=>")

    def supports(self, length: int) -> bool:
        return length >= SMALLEST

    def sequence_length(self, length: int) -> int:
        return length + 1

    def trigger_positions(self, batch_size: int, length: int, generator: torch.Generator) -> Tensor:
        """(batch, 1) position p of the first trigger, uniform over [0, length - 2)."""
        return torch.randint(0, length - 2, (batch_size, 1), generator=generator, device=generator.device)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        device = generator.device
        region = self.random_symbols(batch_size, length, generator)
        p = self.trigger_positions(batch_size, length, generator)
        region.scatter_(1, p, self.trigger)
        inputs = torch.cat([region, self.constant(batch_size, 1, self.trigger, device)], dim=1)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, -1] = region.gather(1, p + 1)[:, 0]
        return inputs, targets

    def eval_slices(self, inputs: Tensor, targets: Tensor, length: int) -> dict[str, Tensor]:
        # The first trigger is the only one before the end: its position gives the answer's distance back.
        first = (inputs[:, :-1] == self.trigger).float().argmax(1)
        return {"distance": power_of_two_bin(length - (first + 1)).cpu()}

    def parse_words(self, text: str) -> LiveInput:
        """Symbols and ``=>`` separated by spaces; the rule's answer is the symbol after the first ``=>``."""
        live = super().parse_words(text)
        t = live.tokens
        if t[-1] == self.trigger and self.trigger in t[:-1]:
            first = t.index(self.trigger)
            if first + 1 < len(t) - 1 and t[first + 1] != self.trigger:
                live.expected = [t[first + 1]]
        return live

    def input_help(self) -> str:
        return (f"Symbols 0 to {self.vocab_size - 1} separated by spaces, with `=>` once among them and once at the "
                "end: the answer is the symbol that followed the first `=>`.")
