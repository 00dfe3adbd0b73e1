"""Parity check (Delétang et al. 2023, regular): read a bit string, say at its end whether it holds an odd number of
ones. The published form of ``task=parity``, which is asked after every bit instead."""

from __future__ import annotations

from torch import Tensor

from compare.tasks.transduction import EvenOddTask


class ParityCheckTask(EvenOddTask):
    """Bits b_1..b_n, one BLANK; the answer at the BLANK: ``odd`` when b_1 + ... + b_n is odd, else ``even``."""

    name = "parity_check"
    title = "Parity Check"
    level = "R"

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return (symbols.sum(1, keepdim=True) % 2), None

    def input_help(self) -> str:
        return "A string of bits, e.g. 0110. The answer, at the blank after it: is the number of ones even or odd?"
