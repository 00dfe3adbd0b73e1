"""Modular arithmetic, the simple form (Delétang et al. 2023, regular): evaluate ``1 + 2 * 3 - 4`` modulo 5.

Numbers and the operators + - * alternate, with no brackets; * binds before + and -, and ``a - b * c`` is
a + (-b) * c, as the reference code evaluates it (``tasks/regular/modular_arithmetic.py``). A 5-state machine
reads it left to right. Expressions have an odd number of symbols: at an even length the reference code drops one
(the paper's text says it adds one), so lengths 2k and 2k - 1 make the same expressions, as there.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import check_positive
from compare.tasks.transduction import TransductionTask

OPERATORS = ("+", "-", "*")
PLUS, MINUS, TIMES = range(3)


class ModularArithmeticTask(TransductionTask):
    """n_0 op_1 n_1 ... op_k n_k (numbers in 0..modulus-1), one BLANK; the answer: its value modulo ``modulus``."""

    name = "modular_arithmetic"
    title = "Modular Arithmetic (Simple)"
    level = "R"
    spaced = True

    def __init__(self, length: int = 40, modulus: int = 5, seed: int = 0, min_length: int | None = None) -> None:
        check_positive("task.modulus", modulus, minimum=2)
        self.modulus = int(modulus)
        super().__init__(length, seed, min_length)

    def input_symbols(self) -> list[str]:
        return [str(i) for i in range(self.modulus)] + list(OPERATORS)

    def output_symbols(self) -> list[str]:
        return [str(i) for i in range(self.modulus)]

    def input_length(self, length: int) -> int:
        return length if length % 2 else length - 1

    def draw(self, batch_size: int, length: int, generator: torch.Generator) -> Tensor:
        n = self.input_length(length)
        numbers = torch.randint(0, self.modulus, (batch_size, n), generator=generator, device=generator.device)
        ops = torch.randint(0, len(OPERATORS), (batch_size, n), generator=generator, device=generator.device)
        odd = torch.arange(n, device=generator.device) % 2 == 1
        return torch.where(odd, ops + self.modulus, numbers)

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        numbers, ops = symbols[:, 0::2], symbols[:, 1::2] - self.modulus
        # Left to right: `total` holds the finished terms, `term` the product being built (signed by a minus).
        total, term = torch.zeros_like(numbers[:, 0]), numbers[:, 0]
        for i in range(ops.shape[1]):
            op, x = ops[:, i], numbers[:, i + 1]
            times = op == TIMES
            total = torch.where(times, total, total + term)
            term = torch.where(times, term * x, torch.where(op == MINUS, -x, x)) % self.modulus
        return ((total + term) % self.modulus)[:, None], None

    def check_symbols(self, symbols: list[int]) -> None:
        for i, s in enumerate(symbols):
            if (s >= self.modulus) != (i % 2 == 1):
                raise UserError(f"symbol {i + 1} should be {'an operator (+, -, *)' if i % 2 else 'a number'}: "
                                f"numbers 0 to {self.modulus - 1} and operators alternate, e.g. 1 + 2 * 3")
        if len(symbols) % 2 == 0:
            raise UserError("the expression ends with an operator: end it with a number, e.g. 1 + 2 * 3")

    def input_help(self) -> str:
        return (f"An expression of numbers 0 to {self.modulus - 1} and the operators + - * (no brackets), e.g. "
                f"1 + 2 * 3 - 4. The answer, at the blank after it: its value modulo {self.modulus}.")

    def describe(self) -> dict:
        return {**super().describe(), "modulus": self.modulus}
