"""What copy, selective copy and copy memory share: random symbols 0..n-1, then a few special tokens.

Each of these tasks reads symbols drawn uniformly from an alphabet of n (n >= 2), with its own special
tokens (separator, noise, blank, delimiter) numbered after the symbols, and is scored only where the
symbols come back.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.base import IGNORE, Task, check_positive


class SymbolTask(Task):
    """A task over ``symbols`` random symbols (ids 0..symbols-1) and the special tokens after them."""

    #: Display names of the special tokens; their ids follow the symbols in this order.
    specials: tuple[str, ...] = ()

    def __init__(self, length: int, symbols: int, symbols_key: str, seed: int = 0, min_length: int | None = None,
                 smallest: int = 1) -> None:
        check_positive(f"task.{symbols_key}", symbols, minimum=2)
        super().__init__(length, seed, min_length, smallest)
        self.symbol_count, self.symbols_key = int(symbols), symbols_key

    def special_id(self, name: str) -> int:
        """Token id of the special token ``name``."""
        return self.symbol_count + self.specials.index(name)

    @property
    def num_tokens(self) -> int:
        return self.symbol_count + len(self.specials)

    def token_names(self) -> list[str]:
        return [str(i) for i in range(self.symbol_count)] + list(self.specials)

    def random_symbols(self, batch_size: int, count: int, generator: torch.Generator) -> Tensor:
        """(batch_size, count) symbols drawn uniformly with ``generator``, on its device."""
        return torch.randint(0, self.symbol_count, (batch_size, count), generator=generator, device=generator.device)

    def constant(self, batch_size: int, count: int, token: int, device) -> Tensor:
        """(batch_size, count) copies of ``token``."""
        return torch.full((batch_size, count), token, dtype=torch.long, device=device)

    def describe(self) -> dict:
        return {**super().describe(), self.symbols_key: self.symbol_count}


def next_token_pairs(full: Tensor, unscored: int) -> tuple[Tensor, Tensor]:
    """(inputs, targets) for predicting each next token of ``full``; the first ``unscored`` targets are IGNORE."""
    inputs, targets = full[:, :-1], full[:, 1:].clone()
    targets[:, :unscored] = IGNORE
    return inputs, targets
