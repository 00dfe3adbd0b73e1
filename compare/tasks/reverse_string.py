"""Reverse string (Delétang et al. 2023, deterministic context-free): read a string, write it backwards.

The answer is a string: the model reads x_1..x_n and n BLANKs, and writes x_n..x_1 at the BLANKs, all at once.
A stack solves it (push while reading, pop at the blanks); no finite-state machine does."""

from __future__ import annotations

from torch import Tensor

from compare.tasks.transduction import StringTask


class ReverseStringTask(StringTask):
    """Symbols x_1..x_n (binary in the paper), n BLANKs; the answer at the BLANKs: x_n..x_1."""

    name = "reverse_string"
    title = "Reverse String"
    level = "DCF"

    def output_length(self, n: int) -> int:
        return n

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return symbols.flip(1), None
