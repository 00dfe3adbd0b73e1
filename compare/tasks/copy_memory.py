"""Copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): remember symbols across a long blank gap.

inputs : s_1..s_K, blank x (T-1), DELIM, blank x K          (T + 2K tokens; "length" is the gap T)
targets: IGNORE for the first T + K positions, then s_1..s_K at the K recall positions.

A model that remembers nothing can only guess among the alphabet at the recall positions: its
cross-entropy there is ln(alphabet), or K ln(alphabet) / (T + 2K) averaged over the whole sequence
the way the original papers report it (10 ln 8 / (T + 20) for the classic K=10, alphabet 8).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from compare.evaluation import evaluate_set
from compare.tasks.base import IGNORE, check_positive
from compare.tasks.symbols import SymbolTask


class CopyMemoryTask(SymbolTask):
    """K symbols from an alphabet, a gap of T blanks ending in a delimiter, then recall the K symbols."""

    name = "copy_memory"
    specials = ("_", ":")

    def __init__(self, length: int = 20, num_symbols: int = 10, alphabet: int = 8, seed: int = 0,
                 min_length: int | None = None) -> None:
        check_positive("task.num_symbols", num_symbols)
        super().__init__(length, alphabet, "alphabet", seed, min_length)
        self.num_symbols, self.alphabet = num_symbols, alphabet
        self.blank, self.delim = self.special_id("_"), self.special_id(":")

    def sequence_length(self, length: int) -> int:
        return length + 2 * self.num_symbols

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        k = self.num_symbols
        symbols = self.random_symbols(batch_size, k, generator)
        inputs = self.constant(batch_size, length + 2 * k, self.blank, generator.device)
        inputs[:, :k] = symbols
        inputs[:, length + k - 1] = self.delim
        targets = torch.full_like(inputs, IGNORE)
        targets[:, length + k:] = symbols
        return inputs, targets

    def baseline_loss(self, length: int) -> float:
        """Cross-entropy per position of the memoryless guess: K ln(alphabet) / (T + 2K)."""
        return self.num_symbols * math.log(self.alphabet) / self.sequence_length(length)

    def extra_metrics(self, model: torch.nn.Module, batch_size: int = 128) -> dict:
        """The model's recall loss next to the memoryless baseline, per recalled symbol and per position."""
        recall = evaluate_set(model, self.validation_set(256), batch_size)["loss"]  # over scored (recall) positions
        per_position = recall * self.num_symbols / self.sequence_length(self.length)
        return {
            "recall_loss": recall, "baseline_recall_loss": math.log(self.alphabet),
            "loss_per_position": per_position, "baseline_loss_per_position": self.baseline_loss(self.length),
            "beats_baseline": per_position < self.baseline_loss(self.length),
        }

    def describe(self) -> dict:
        return {**super().describe(), "num_symbols": self.num_symbols, "baseline_loss": self.baseline_loss(self.length)}
