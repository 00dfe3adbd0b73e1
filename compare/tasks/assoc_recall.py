"""Multi-query associative recall (MQAR, Arora et al. 2023): look up the values of several keys.

Two placements of the queries (``placement``):

- ``packed`` (this project's first form): NOISE x (max_gap - g), k_1 v_1 ... k_N v_N, NOISE x g, q_1 ... q_Q;
  each row draws its own gap g in [0, max_gap] and accuracy is also reported against g (key "gap":
  power-of-two bins named by their lower edge).
- ``power_law`` (Zoology's ``multiquery_ar``, HazyResearch/zoology zoology/data/multiquery_ar.py): the N pairs,
  then a query region of 2-token slots; every key is asked once, in a slot drawn without replacement with
  probability proportional to power_a * s^(power_a - 1) (s = 1, 2, ...: most queries come soon after the pairs,
  a few far away, as repeated bigrams do in text), and every other token of the region is a random token of
  the vocabulary (``random_non_queries``, Zoology's switch, on by default there; off, they are the noise token, as
  in Zoology's Figure 2 configs). Inputs are ``seq_len`` tokens long for every number of pairs up to seq_len / 4, and 4N past it
  (Zoology's test sets grow the same way: 64 tokens up to 16 pairs, 128 for 32, ...).

targets: the value bound to each query at the position of the query, IGNORE elsewhere. "length" is the number
of pairs N (the ladder asks for more pairs than training saw, so accuracy reads against the number of pairs).
Keys and values come from disjoint vocabularies; queries never show a value.
"""

from __future__ import annotations

import torch
from torch import Tensor

from compare.errors import UserError
from compare.tasks.base import IGNORE, Task, check_positive

PLACEMENTS = ("packed", "power_law")


def power_of_two_bin(x: Tensor) -> Tensor:
    """0 for 0, else the largest power of two <= x: bins [0], [1], [2,3], [4,7], ... named by lower edge."""
    x = x.long()
    return torch.where(x > 0, 2 ** torch.floor(torch.log2(x.clamp(min=1).double())).long(), torch.zeros_like(x))


def power_law_slots(batch: int, slots: int, picks: int, power_a: float, generator: torch.Generator) -> Tensor:
    """(batch, picks) distinct slot indices in [0, slots), drawn without replacement with p(s) ~ (s+1)^(power_a-1).

    Gumbel top-k: the k largest of log p + Gumbel noise are a sample without replacement in proportion to p,
    which is what Zoology's per-row ``np.random.choice(replace=False, p=p)`` draws, for a whole batch at once.
    """
    device = generator.device
    log_p = (power_a - 1) * torch.log(torch.arange(1, slots + 1, device=device, dtype=torch.float64))
    u = torch.rand(batch, slots, generator=generator, device=device, dtype=torch.float64).clamp(1e-300, 1.0)
    gumbel = -torch.log(-torch.log(u))
    return (log_p + gumbel).topk(picks, dim=1).indices


class AssocRecallTask(Task):
    """N key-value pairs with distinct keys, then queries: Q keys after a gap (packed), or all N in Zoology's form."""

    name = "assoc_recall"

    def __init__(self, length: int = 4, num_queries: int | None = 4, num_keys: int = 16, num_values: int = 16,
                 max_gap: int = 4, placement: str = "packed", seq_len: int = 64, power_a: float = 0.01,
                 random_non_queries: bool = True, seed: int = 0, min_length: int | None = None) -> None:
        super().__init__(length, seed, min_length)
        if placement not in PLACEMENTS:
            raise UserError(f"task.placement={placement!r} is not accepted: use one of {', '.join(PLACEMENTS)}")
        if num_queries is not None:
            check_positive("task.num_queries", num_queries)
        check_positive("task.num_keys", num_keys, minimum=2)
        check_positive("task.num_values", num_values, minimum=2)
        check_positive("task.max_gap", max_gap, minimum=0)
        check_positive("task.seq_len", seq_len, minimum=4)
        if not 0 < power_a <= 1:
            raise UserError(f"task.power_a={power_a} is not accepted: use 0 < power_a <= 1 (1: uniform placement)")
        if placement == "power_law" and num_queries is not None:
            raise UserError(f"task.num_queries={num_queries} is not accepted with task.placement=power_law, which "
                            "asks every key once as Zoology does: set task.num_queries=null")
        self.num_queries, self.num_keys, self.num_values, self.max_gap = num_queries, num_keys, num_values, max_gap
        self.placement, self.seq_len, self.power_a = placement, int(seq_len), float(power_a)
        self.random_non_queries = bool(random_non_queries)
        self.noise = num_keys + num_values  # keys 0..num_keys-1, values num_keys..num_keys+num_values-1
        self._check_pairs(length)

    def _check_pairs(self, pairs: int) -> None:
        if pairs > self.num_keys:
            raise UserError(f"assoc_recall with {pairs} pairs needs task.num_keys >= {pairs} (distinct keys); "
                            f"it is {self.num_keys}")
        if self.placement == "power_law" and pairs > self.num_values:
            raise UserError(f"assoc_recall with {pairs} pairs and task.placement=power_law needs "
                            f"task.num_values >= {pairs} (distinct values, as Zoology draws them); it is "
                            f"{self.num_values}")

    def supports(self, length: int) -> bool:
        # More pairs than keys (or values, in Zoology's form) cannot all be distinct.
        return length <= self.num_keys and (self.placement == "packed" or length <= self.num_values)

    @property
    def num_tokens(self) -> int:
        return self.num_keys + self.num_values + 1

    def queries(self, length: int) -> int:
        """Queries per sample at ``length`` pairs (never more than there are pairs)."""
        return length if self.num_queries is None else min(self.num_queries, length)

    def sequence_length(self, length: int) -> int:
        if self.placement == "power_law":
            return max(self.seq_len, 4 * length)
        return 2 * length + self.max_gap + self.queries(length)

    def sample(self, batch_size: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        self._check_pairs(length)
        if self.placement == "power_law":
            return self._sample_power_law(batch_size, length, generator)
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

    def _sample_power_law(self, b: int, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        device, total = generator.device, self.sequence_length(n)
        keys = torch.rand(b, self.num_keys, generator=generator, device=device).argsort(1)[:, :n]
        values = self.num_keys + torch.rand(b, self.num_values, generator=generator, device=device).argsort(1)[:, :n]
        # Random tokens everywhere first (Zoology's random_non_queries), or the noise token, then the pairs and the
        # queries on top.
        if self.random_non_queries:
            inputs = torch.randint(0, self.num_keys + self.num_values, (b, total), generator=generator, device=device)
        else:
            inputs = torch.full((b, total), self.noise, dtype=torch.long, device=device)
        inputs[:, :2 * n] = torch.stack([keys, values], dim=2).reshape(b, 2 * n)
        slots = power_law_slots(b, (total - 2 * n) // 2, n, self.power_a, generator)
        query_pos = 2 * n + 2 * slots  # each key once, in its own 2-token slot
        inputs.scatter_(1, query_pos, keys)
        targets = torch.full_like(inputs, IGNORE)
        targets.scatter_(1, query_pos, values)
        return inputs, targets

    def eval_slices(self, inputs: Tensor, targets: Tensor, length: int) -> dict[str, Tensor]:
        if self.placement == "power_law":
            return {}  # every key is asked at its own distance: a per-sample gap does not exist
        # The pairs start after (max_gap - gap) noise tokens: the first non-noise position gives the gap back.
        first = (inputs != self.noise).float().argmax(1)
        return {"gap": power_of_two_bin(self.max_gap - first).cpu()}

    @property
    def label(self) -> str:
        # Zoology's form is another task than the packed one: its own report section, never pooled with it.
        return "mqar" if self.placement == "power_law" else self.name

    def token_names(self) -> list[str]:
        return ([f"k{i}" for i in range(self.num_keys)] + [f"v{i}" for i in range(self.num_values)] + ["·"])

    def describe(self) -> dict:
        return {**super().describe(), "num_queries": self.num_queries, "num_keys": self.num_keys,
                "num_values": self.num_values, "max_gap": self.max_gap, "placement": self.placement,
                "seq_len": self.seq_len, "power_a": self.power_a, "random_non_queries": self.random_non_queries}
