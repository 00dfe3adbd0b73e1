"""Reverse string (Delétang et al. 2023, deterministic context-free): read a string, write it backwards.

The answer is a string: the model reads x_1..x_n and n BLANKs, and writes x_n..x_1 at the BLANKs, all at once.
A stack solves it (push while reading, pop at the blanks); no finite-state machine does."""

from __future__ import annotations

from torch import Tensor

from compare.tasks.transduction import TransductionTask, bits_task_symbols


class ReverseStringTask(TransductionTask):
    """Symbols x_1..x_n (binary in the paper), n BLANKs; the answer at the BLANKs: x_n..x_1."""

    name = "reverse_string"
    title = "Reverse String"
    level = "DCF"

    def __init__(self, length: int = 40, vocab_size: int = 2, seed: int = 0, min_length: int | None = None) -> None:
        self.vocab_size = len(bits_task_symbols(vocab_size))
        super().__init__(length, seed, min_length)

    def input_symbols(self) -> list[str]:
        return bits_task_symbols(self.vocab_size)

    def output_symbols(self) -> list[str]:
        return bits_task_symbols(self.vocab_size)

    def output_length(self, n: int) -> int:
        return n

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return symbols.flip(1), None

    def format_answer(self, tokens: list[int]) -> str:
        return self.format_tokens(tokens)

    def describe(self) -> dict:
        return {**super().describe(), "vocab_size": self.vocab_size}
