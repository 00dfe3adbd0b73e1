"""Cycle navigation (Delétang et al. 2023, regular): walk a cycle of 5 positions from position 0 and say where the
walk ends. A 5-state machine solves it; it is a sum modulo 5, so the order of the moves does not matter."""

from __future__ import annotations

from torch import Tensor

from compare.tasks.base import check_positive
from compare.tasks.transduction import TransductionTask


class CycleNavigationTask(TransductionTask):
    """Moves (``left`` -1, ``stay`` 0, ``right`` +1), one BLANK; the answer: the end position, their sum mod
    ``cycle``. The reference code draws the moves as 0, 1, 2 and sums (move - 1): left, stay, right here."""

    name = "cycle_navigation"
    title = "Cycle Navigation"
    level = "R"

    def __init__(self, length: int = 40, cycle: int = 5, seed: int = 0, min_length: int | None = None) -> None:
        check_positive("task.cycle", cycle, minimum=2)
        self.cycle = int(cycle)
        super().__init__(length, seed, min_length)

    def input_symbols(self) -> list[str]:
        return ["left", "stay", "right"]

    def output_symbols(self) -> list[str]:
        return [str(i) for i in range(self.cycle)]

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return (symbols - 1).sum(1, keepdim=True) % self.cycle, None

    def input_help(self) -> str:
        return (f"Moves separated by spaces: left, stay or right, e.g. right right left stay. The walk starts at "
                f"position 0 of a cycle of {self.cycle}; the answer, at the blank after the moves, is where it ends.")

    def describe(self) -> dict:
        return {**super().describe(), "cycle": self.cycle}
