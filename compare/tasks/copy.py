"""Copy: read a random sequence, see a separator, write the sequence again."""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.symbols import SymbolTask, next_token_pairs


class CopyTask(SymbolTask):
    """Symbols x_1..x_L, SEP, then the model reproduces x_1..x_L (scored only on the copy).

    The full sequence is x_1..x_L SEP x_1..x_L; inputs drop its last token and targets are the
    same sequence shifted by one, so the position of SEP predicts x_1 and so on: 2L inputs.
    """

    name = "copy"
    specials = ("SEP",)

    def __init__(self, length: int = 16, vocab_size: int = 16, seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, vocab_size, "vocab_size", seed, min_length)
        self.vocab_size, self.sep = vocab_size, self.special_id("SEP")

    def sequence_length(self, length: int) -> int:
        return 2 * length

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        symbols = self.random_symbols(batch_size, length, generator)
        sep = self.constant(batch_size, 1, self.sep, generator.device)
        # Predicting the random symbols (or the separator after them) is not the task.
        return next_token_pairs(torch.cat([symbols, sep, symbols], dim=1), unscored=length)
