"""Copy: read a random sequence, see a separator, write the sequence again."""

from __future__ import annotations

import torch
from torch import Tensor

from compare.tasks.base import IGNORE, Task, check_positive


class CopyTask(Task):
    """Symbols x_1..x_L, SEP, then the model reproduces x_1..x_L (scored only on the copy).

    The full sequence is x_1..x_L SEP x_1..x_L; inputs drop its last token and targets are the
    same sequence shifted by one, so the position of SEP predicts x_1 and so on: 2L inputs.
    """

    name = "copy"

    def __init__(self, length: int = 16, vocab_size: int = 16, seed: int = 0) -> None:
        super().__init__(length, seed)
        check_positive("task.vocab_size", vocab_size, minimum=2)
        self.vocab_size = vocab_size
        self.sep = vocab_size  # symbols are 0..vocab_size-1

    @property
    def num_tokens(self) -> int:
        return self.vocab_size + 1

    def sequence_length(self, length: int) -> int:
        return 2 * length

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        device = generator.device
        symbols = torch.randint(0, self.vocab_size, (batch_size, length), generator=generator, device=device)
        sep = torch.full((batch_size, 1), self.sep, dtype=torch.long, device=device)
        full = torch.cat([symbols, sep, symbols], dim=1)
        inputs, targets = full[:, :-1], full[:, 1:].clone()
        # Predicting the random symbols (or the separator after them) is not the task.
        targets[:, :length] = IGNORE
        return inputs, targets

    def token_names(self) -> list[str]:
        return [str(i) for i in range(self.vocab_size)] + ["SEP"]

    def describe(self) -> dict:
        return {**super().describe(), "vocab_size": self.vocab_size}
