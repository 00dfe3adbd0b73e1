"""Selective copy (Gu & Dao 2023): copy only the data tokens scattered through a run of noise, in order.

inputs : a region of `length` tokens, K of them data symbols at random places and the rest NOISE, SEP,
         then the first K-1 data symbols (teacher forcing)          (length + K tokens)
targets: the K data symbols in order at the K positions from SEP on, IGNORE elsewhere.

Unlike plain copy, where each symbol sits is random: the model has to select by content, not by offset.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import check_positive
from compare.tasks.symbols import SymbolTask, next_token_pairs


class SelectiveCopyTask(SymbolTask):
    """K data symbols hidden at random positions of a noise region; reproduce them in order after SEP."""

    name = "selective_copy"
    specials = ("·", "SEP")

    def __init__(self, length: int = 32, num_marked: int = 4, vocab_size: int = 8, seed: int = 0,
                 min_length: int | None = None) -> None:
        check_positive("task.num_marked", num_marked)
        if num_marked > length:
            raise UserError(f"task.num_marked={num_marked} cannot exceed task.length={length} (the region size)")
        # The region must hold every marked token: num_marked is the shortest length.
        super().__init__(length, vocab_size, "vocab_size", seed, min_length, smallest=num_marked)
        self.num_marked, self.vocab_size = num_marked, vocab_size
        self.noise, self.sep = self.special_id("·"), self.special_id("SEP")

    def supports(self, length: int) -> bool:
        return length >= self.num_marked

    def sequence_length(self, length: int) -> int:
        return length + self.num_marked

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        k, device = self.num_marked, generator.device
        if k > length:
            raise UserError(f"selective_copy length {length} is shorter than num_marked={k}")
        data = self.random_symbols(batch_size, k, generator)
        # K distinct positions per row, in increasing order: the first K of a random permutation, sorted.
        where = torch.rand(batch_size, length, generator=generator, device=device).argsort(1)[:, :k].sort(1).values
        region = self.constant(batch_size, length, self.noise, device).scatter_(1, where, data)
        sep = self.constant(batch_size, 1, self.sep, device)
        return next_token_pairs(torch.cat([region, sep, data], dim=1), unscored=length)

    def describe(self) -> dict:
        return {**super().describe(), "num_marked": self.num_marked}
