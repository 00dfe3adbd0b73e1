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
from compare.tasks.base import IGNORE, Task, check_positive


class SelectiveCopyTask(Task):
    """K data symbols hidden at random positions of a noise region; reproduce them in order after SEP."""

    name = "selective_copy"

    def __init__(self, length: int = 32, num_marked: int = 4, vocab_size: int = 8, seed: int = 0) -> None:
        super().__init__(length, seed)
        check_positive("task.num_marked", num_marked)
        check_positive("task.vocab_size", vocab_size, minimum=2)
        if num_marked > length:
            raise UserError(f"task.num_marked={num_marked} cannot exceed task.length={length} (the region size)")
        self.num_marked, self.vocab_size = num_marked, vocab_size
        self.noise, self.sep = vocab_size, vocab_size + 1  # data symbols are 0..vocab_size-1

    def supports(self, length: int) -> bool:
        return length >= self.num_marked  # the region must hold every marked token

    @property
    def num_tokens(self) -> int:
        return self.vocab_size + 2

    def sequence_length(self, length: int) -> int:
        return length + self.num_marked

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        k = self.num_marked
        if k > length:
            raise UserError(f"selective_copy length {length} is shorter than num_marked={k}")
        device = generator.device
        data = torch.randint(0, self.vocab_size, (batch_size, k), generator=generator, device=device)
        # K distinct positions per row, in increasing order: the first K of a random permutation, sorted.
        where = torch.rand(batch_size, length, generator=generator, device=device).argsort(1)[:, :k].sort(1).values
        region = torch.full((batch_size, length), self.noise, dtype=torch.long, device=device)
        region.scatter_(1, where, data)
        sep = torch.full((batch_size, 1), self.sep, dtype=torch.long, device=device)
        full = torch.cat([region, sep, data], dim=1)
        inputs, targets = full[:, :-1], full[:, 1:].clone()
        targets[:, :length] = IGNORE
        return inputs, targets

    def token_names(self) -> list[str]:
        return [str(i) for i in range(self.vocab_size)] + ["·", "SEP"]

    def describe(self) -> dict:
        return {**super().describe(), "num_marked": self.num_marked, "vocab_size": self.vocab_size}
