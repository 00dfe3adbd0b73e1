"""Copy: read a random sequence, see a separator, write the sequence again."""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.live_input import GENERATE, LiveInput, token_ids
from compare.tasks.symbols import SymbolTask, next_token_pairs


class CopyTask(SymbolTask):
    """Symbols x_1..x_L, SEP, then the model reproduces x_1..x_L (scored only on the copy).

    The full sequence is x_1..x_L SEP x_1..x_L; inputs drop its last token and targets are the
    same sequence shifted by one, so the position of SEP predicts x_1 and so on: 2L inputs.
    """

    name = "copy"
    specials = ("SEP",)
    answer_kind = GENERATE

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

    # --- compare-lab: the symbols to copy; the models write the copy ----------------------------
    def parse_words(self, text: str) -> LiveInput:
        """Symbols to copy, then the separator; the model generates the copy."""
        names = self.token_names()[:self.vocab_size]
        parts = text.replace(",", " ").split()
        if len(parts) == 1 and all(len(n) == 1 for n in names):
            parts = list(parts[0])
        if not parts:
            raise UserError(f"nothing to copy: type symbols 0 to {self.vocab_size - 1} separated by spaces, "
                            "e.g. 3 1 4 1 5")
        tokens = token_ids(parts, {n: i for i, n in enumerate(names)}, lambda bad: (
            f"{', '.join(map(repr, bad))} {'is not a symbol' if len(bad) == 1 else 'are not symbols'} of this copy "
            f"task: it copies {names[0]} to {names[-1]}, separated by spaces"))
        tokens.append(self.sep)
        return LiveInput(tokens, [*parts, "SEP"], self.answer_kind, tokens[:-1])

    def format_tokens(self, tokens: list[int]) -> str:
        """The symbols before the separator (the part a user types)."""
        names = self.token_names()
        return " ".join(names[t] for t in tokens[:tokens.index(self.sep)] if t != self.sep)

    def input_help(self) -> str:
        return (f"The symbols to copy, separated by spaces (symbols 0 to {self.vocab_size - 1}). The models read "
                "them and the separator, then write the copy one symbol at a time (greedy decoding).")
