"""Duplicate string (Delétang et al. 2023, context-sensitive): read a string w, write ww.

The model reads x_1..x_n and 2n BLANKs and writes x_1..x_n x_1..x_n at the BLANKs, all at once. The language
{ww} is context-sensitive: a stack gives the string back reversed, so this needs a tape (or attention)."""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.transduction import TransductionTask, bits_task_symbols


class DuplicateStringTask(TransductionTask):
    """Symbols x_1..x_n (binary in the paper), 2n BLANKs; the answer at the BLANKs: x_1..x_n x_1..x_n."""

    name = "duplicate_string"
    title = "Duplicate String"
    level = "CS"

    def __init__(self, length: int = 40, vocab_size: int = 2, seed: int = 0, min_length: int | None = None) -> None:
        self.vocab_size = len(bits_task_symbols(vocab_size))
        super().__init__(length, seed, min_length)

    def input_symbols(self) -> list[str]:
        return bits_task_symbols(self.vocab_size)

    def output_symbols(self) -> list[str]:
        return bits_task_symbols(self.vocab_size)

    def output_length(self, n: int) -> int:
        return 2 * n

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return torch.cat([symbols, symbols], dim=1), None

    def format_answer(self, tokens: list[int]) -> str:
        return self.format_tokens(tokens)

    def describe(self) -> dict:
        return {**super().describe(), "vocab_size": self.vocab_size}
