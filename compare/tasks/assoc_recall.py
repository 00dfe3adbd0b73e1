"""Multi-query associative recall (MQAR, Arora et al. 2023): look up the values of several keys.

inputs : NOISE x (max_gap - g), k_1 v_1 ... k_N v_N, NOISE x g, q_1 ... q_Q
targets: the value bound to q_j at the position of q_j, IGNORE elsewhere.

"length" is the number of pairs N (the ladder asks for more pairs than training saw); each row draws
its own gap g in [0, max_gap] between the pairs and the queries, and accuracy is also reported
against g (key "gap": power-of-two bins named by their lower edge). Queries never show a value,
so nothing in the input gives the answer away except the pair itself.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import IGNORE, Task, check_positive


def power_of_two_bin(x: Tensor) -> Tensor:
    """0 for 0, else the largest power of two <= x: bins [0], [1], [2,3], [4,7], ... named by lower edge."""
    x = x.long()
    return torch.where(x > 0, 2 ** torch.floor(torch.log2(x.clamp(min=1).double())).long(), torch.zeros_like(x))


class AssocRecallTask(Task):
    """N key-value pairs with distinct keys, a gap of noise, then Q of the keys to recall the values of."""

    name = "assoc_recall"

    def __init__(self, length: int = 4, num_queries: int = 4, num_keys: int = 16, num_values: int = 16,
                 max_gap: int = 4, seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, seed, min_length)
        check_positive("task.num_queries", num_queries)
        check_positive("task.num_keys", num_keys, minimum=2)
        check_positive("task.num_values", num_values, minimum=2)
        check_positive("task.max_gap", max_gap, minimum=0)
        self.num_queries, self.num_keys, self.num_values, self.max_gap = num_queries, num_keys, num_values, max_gap
        self.noise = num_keys + num_values  # keys 0..num_keys-1, values num_keys..num_keys+num_values-1
        self._check_pairs(length)

    def _check_pairs(self, pairs: int) -> None:
        if pairs > self.num_keys:
            raise UserError(f"assoc_recall with {pairs} pairs needs task.num_keys >= {pairs} (distinct keys); "
                            f"it is {self.num_keys}")

    def supports(self, length: int) -> bool:
        return length <= self.num_keys  # more pairs than keys cannot all have distinct keys

    @property
    def num_tokens(self) -> int:
        return self.num_keys + self.num_values + 1

    def queries(self, length: int) -> int:
        """Queries per sample at ``length`` pairs (never more than there are pairs)."""
        return min(self.num_queries, length)

    def sequence_length(self, length: int) -> int:
        return 2 * length + self.max_gap + self.queries(length)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        self._check_pairs(length)
        device, n, q = generator.device, length, self.queries(length)
        b = batch_size
        keys = torch.rand(b, self.num_keys, generator=generator, device=device).argsort(1)[:, :n]
        values = torch.randint(self.num_keys, self.num_keys + self.num_values, (b, n), generator=generator,
                               device=device)
        asked = torch.rand(b, n, generator=generator, device=device).argsort(1)[:, :q]
        gap = torch.randint(0, self.max_gap + 1, (b, 1), generator=generator, device=device)
        total = self.sequence_length(n)
        inputs = torch.full((b, total), self.noise, dtype=torch.long, device=device)
        start = self.max_gap - gap  # pairs begin after the unused part of the gap, so every row has one length
        pair_pos = start + torch.arange(2 * n, device=device)
        inputs.scatter_(1, pair_pos, torch.stack([keys, values], dim=2).reshape(b, 2 * n))
        inputs[:, total - q:] = keys.gather(1, asked)
        targets = torch.full_like(inputs, IGNORE)
        targets[:, total - q:] = values.gather(1, asked)
        return inputs, targets

    def eval_slices(self, inputs: Tensor, targets: Tensor, length: int) -> dict[str, Tensor]:
        # The pairs start after (max_gap - gap) noise tokens: the first non-noise position gives the gap back.
        first = (inputs != self.noise).float().argmax(1)
        return {"gap": power_of_two_bin(self.max_gap - first).cpu()}

    def token_names(self) -> list[str]:
        return ([f"k{i}" for i in range(self.num_keys)] + [f"v{i}" for i in range(self.num_values)] + ["·"])

    def describe(self) -> dict:
        return {**super().describe(), "num_queries": self.num_queries, "num_keys": self.num_keys,
                "num_values": self.num_values, "max_gap": self.max_gap}
