"""Parity: read bits, say after every bit whether the number of ones so far is odd.

The task where recurrence wins (Delétang et al. 2023, "Neural Networks and the Chomsky Hierarchy"):
a two-state machine solves it at any length, so a recurrent network that learns the flip-flop
keeps it beyond the training length, while attention has to average over all positions and a
learned position table has never seen the positions past training.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import IGNORE, Task
from compare.tasks.live_input import ONE_TOKEN, LiveInput

SCORED = ("all", "last")


class ParityTask(Task):
    """Bits b_1..b_L; the target at t is (b_1 + ... + b_t) mod 2 (every t, or only t = L)."""

    name = "parity"

    def __init__(self, length: int = 16, scored: str = "all", seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, seed, min_length)
        if scored not in SCORED:
            raise UserError(f"task.scored={scored!r} is not accepted; choose one of {list(SCORED)}")
        # "all" supervises every prefix, so one training length teaches every shorter length too.
        self.scored = scored

    @property
    def num_tokens(self) -> int:
        return 2

    def sequence_length(self, length: int) -> int:
        return length

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        bits = torch.randint(0, 2, (batch_size, length), generator=generator, device=generator.device)
        targets = bits.cumsum(1) % 2
        if self.scored == "last":
            targets[:, :-1] = IGNORE
        return bits, targets

    def token_names(self) -> list[str]:
        return ["0", "1"]

    # --- compare-lab: a bit string -------------------------------------------------------------------
    def parse_words(self, text: str) -> LiveInput:
        """Bits; the answer is the parity of the whole string, read at the last bit."""
        bits = "".join(text.split())
        if not bits:
            raise UserError("no bits: type a string of 0 and 1, e.g. 0110")
        bad = sorted(set(bits) - {"0", "1"})
        if bad:
            raise UserError(f"{', '.join(map(repr, bad))} {'is not a bit' if len(bad) == 1 else 'are not bits'}: "
                            "parity reads a string of 0 and 1")
        tokens = [int(b) for b in bits]
        return LiveInput(tokens, list(bits), ONE_TOKEN, [sum(tokens) % 2])

    def format_tokens(self, tokens: list[int]) -> str:
        return "".join(self.token_names()[t] for t in tokens)

    def input_help(self) -> str:
        return "A string of bits (0 and 1; spaces are ignored). The answer: is the count of ones odd (1) or even (0)?"

    def describe(self) -> dict:
        return {**super().describe(), "scored": self.scored}
