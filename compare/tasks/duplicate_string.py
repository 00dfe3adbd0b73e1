"""Duplicate string (Delétang et al. 2023, context-sensitive): read a string w, write ww.

The model reads x_1..x_n and 2n BLANKs and writes x_1..x_n x_1..x_n at the BLANKs, all at once. The language
{ww} is context-sensitive: a stack gives the string back reversed, so this needs a tape (or attention)."""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.transduction import StringTask


class DuplicateStringTask(StringTask):
    """Symbols x_1..x_n (binary in the paper), 2n BLANKs; the answer at the BLANKs: x_1..x_n x_1..x_n."""

    name = "duplicate_string"
    title = "Duplicate String"
    level = "CS"

    def output_length(self, n: int) -> int:
        return 2 * n

    def answer(self, symbols: Tensor) -> tuple[Tensor, None]:
        return torch.cat([symbols, symbols], dim=1), None
