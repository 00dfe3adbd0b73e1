"""The linear recurrence h_t = a_t * h_{t-1} + b_t (elementwise, h_0 = 0) over all positions at once.

minGRU/minLSTM (:mod:`compare.models.minrnn`) join their chunks' states with it, and the selective SSM
(:mod:`compare.models.mamba`) runs its whole recurrence with it. It works in linear space, so b may have either
sign (the SSM's input term Δ B x does; minGRU's log-space scan needs b > 0), and it only multiplies and adds:
a product of decays that underflows to 0 is a state that really is forgotten, nothing cancels.

Blelloch's work-efficient form (Blelloch 1990, "Prefix sums and their applications"): pair neighbouring positions,
(a_1 a_0, a_1 b_0 + b_1) being the step over both, scan the half-length sequence of pairs, then fill in the first
position of each pair from the state before it. That is 2 x T combines in 2 x ceil(log2 T) rounds. Recursive
doubling (Hillis-Steele) takes half the rounds but T log2 T combines; on a CPU, which works through a round's
elements one after another anyway, the combines are what cost. ``python scripts/bench_linear_scan.py``
(2026-12-06, 1 thread, load 8-12 on 2 cores; forward and backward): at (batch 64, 64 tokens, 64 x 16 states)
Blelloch 211 ms, doubling 833 ms, a Python loop over time 1,202 ms; at 1,024 tokens 0.64 s, 5.5 s and 50 s.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """h with h_t = a_t h_{t-1} + b_t from h_0 = 0, for a and b of shape (batch, time, ...), along dim 1.

    Runs in float32 at least (a bf16 product of many decays is off by whole percents) and returns b's dtype.
    """
    dtype = b.dtype
    work = torch.promote_types(dtype, torch.float32)
    return _LinearScan.apply(a.to(work), b.to(work)).to(dtype)


class _LinearScan(torch.autograd.Function):
    """The scan with its own backward, which is the same recurrence run backwards in time: with g_t the gradient
    reaching h_t through every later state, g_t = dL/dh_t + a_{t+1} g_{t+1}, and then dL/db_t = g_t and
    dL/da_t = g_t h_{t-1}. So backward is one more scan and a product, and only a and h are kept for it; autograd
    through the scan's own steps would keep every round's pairs and pay for their strided slices."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        h = _scan(a, b)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor) -> tuple[Tensor, Tensor]:
        a, h = ctx.saved_tensors
        later = F.pad(a[:, 1:], (0, 0) * (a.dim() - 2) + (0, 1))  # a_{t+1}; nothing follows the last position
        g = _scan(later.flip(1), grad_h.flip(1)).flip(1)
        before = F.pad(h[:, :-1], (0, 0) * (h.dim() - 2) + (1, 0))  # h_{t-1}, with h_0 = 0
        return g * before, g


def _scan(a: Tensor, b: Tensor) -> Tensor:
    t = a.shape[1]
    if t == 1:
        return b
    if t % 2:  # a no-op step (a = 1, b = 0) after the last position makes the pairs whole; its output is cut off
        a = torch.cat([a, torch.ones_like(a[:, :1])], dim=1)
        b = torch.cat([b, torch.zeros_like(b[:, :1])], dim=1)
    a0, a1, b0, b1 = a[:, 0::2], a[:, 1::2], b[:, 0::2], b[:, 1::2]
    h_odd = _scan(a1 * a0, a1 * b0 + b1)  # the state after each pair, i.e. at positions 1, 3, 5, ...
    before = F.pad(h_odd[:, :-1], (0, 0) * (a.dim() - 2) + (1, 0))  # the state entering each pair; h_0 = 0 first
    h_even = a0 * before + b0
    return torch.stack([h_even, h_odd], dim=2).flatten(1, 2)[:, :t]


def scan_depth(length: int) -> int:
    """Rounds one after another that ``linear_scan`` takes over ``length`` positions: up the tree and down again."""
    return 2 * math.ceil(math.log2(length)) if length > 1 else 1
