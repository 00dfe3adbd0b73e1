"""Even pairs (Delétang et al. 2023, regular): is the number of ``01`` and ``10`` pairs in a bit string even?

It is the same as asking whether the first and the last bit are equal, so only two positions matter: the one
regular task the paper's transformer solved."""

from __future__ import annotations

from torch import Tensor

from compare.tasks.transduction import EvenOddTask


class EvenPairsTask(EvenOddTask):
    """Bits b_1..b_n, one BLANK; the answer: ``even`` when the count of i with b_i != b_(i+1) is even, else ``odd``."""

    name = "even_pairs"
    title = "Even Pairs"
    level = "R"

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        changes = (symbols[:, 1:] != symbols[:, :-1]).sum(1, keepdim=True)
        return changes % 2, None

    def input_help(self) -> str:
        return ("A string of bits, e.g. 00110. The answer, at the blank after it: is the number of 01 and 10 pairs "
                "even or odd? (Even exactly when the first and last bits are equal.)")
