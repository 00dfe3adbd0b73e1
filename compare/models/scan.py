"""The linear recurrence h_t = a_t * h_{t-1} + b_t (elementwise, h_0 = 0) over all positions at once.

minGRU/minLSTM (:mod:`compare.models.minrnn`) join their chunks' states with it, and the selective SSM
(:mod:`compare.models.mamba`) runs its whole recurrence with it. It works in linear space, so b may have either
sign (the SSM's input term Δ B x does; minGRU's log-space scan needs b > 0), and it only multiplies and adds:
a product of decays that underflows to 0 is a state that really is forgotten, nothing cancels.

The form is a chunked scan. Within chunks of ``chunk`` positions the recurrence is stepped, every chunk at once
(one fused multiply-add a step over all chunks); the states at the chunks' ends are then joined by Blelloch's
work-efficient scan (Blelloch 1990, "Prefix sums and their applications": pair neighbours, scan the half-length
sequence of pairs, fill in the first of each pair, 2 ceil(log2 n) rounds for n chunks); last, each position adds
what survives of the state entering its chunk. That is ``chunk`` + 2 ceil(log2(T / chunk)) rounds one after
another, and about 3 T combines, where Blelloch alone over all T positions (``chunk=1``) takes 2 ceil(log2 T)
rounds but stacks, pads and strides through its halves at every level. Backward is the same recurrence run backwards in
time (``_LinearScan``), so only a and h are kept for it.

``python scripts/bench_linear_scan.py`` times it, forward and backward, in CPU ms (1 thread, 2026-12-06, load 4-7 on
2 cores): at (batch 64, 64 tokens, 68 x 16 states), a 50k-parameter Mamba layer, 85 ms, against 160 for Blelloch
over every position, 619 for recursive doubling and 899 for a Python loop under autograd; at 1,024 tokens
(8 x 64 x 16) 249, 492, 3,231 and 53,961 ms. All agree with a float64 loop to 1.2e-6.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

#: Positions stepped one after another inside a chunk. Chunks of 8 to 32 all took about half Blelloch's CPU time
#: over every position at the shapes Mamba trains here (scripts/bench_linear_scan.py, 2026-12-06); 16 keeps the
#: rounds one after another near Blelloch's for a GPU (15 + 2 log2(T/16) + 1 against 2 log2 T).
SCAN_CHUNK = 16


def linear_scan(a: Tensor, b: Tensor, chunk: int = SCAN_CHUNK) -> Tensor:
    """h with h_t = a_t h_{t-1} + b_t from h_0 = 0, for a and b of shape (batch, time, ...), along dim 1.

    ``chunk=1`` is Blelloch's scan over every position. Runs in float32 at least (a bf16 product of many decays
    is off by whole percents) and returns b's dtype.
    """
    dtype = b.dtype
    work = torch.promote_types(dtype, torch.float32)
    return _LinearScan.apply(a.to(work), b.to(work), chunk).to(dtype)


def scan_depth(length: int, chunk: int = SCAN_CHUNK) -> int:
    """Rounds one after another that ``linear_scan`` takes over ``length`` positions: the steps inside a chunk,
    then, with several chunks, up Blelloch's tree over them and down again, and one to add the entering states."""
    within = min(chunk, length)
    chunks = math.ceil(length / within)
    return max(1, within - 1 + (2 * math.ceil(math.log2(chunks)) + 1 if chunks > 1 else 0))


class _LinearScan(torch.autograd.Function):
    """The scan with its own backward. With g_t the gradient reaching h_t through every later state,
    g_t = dL/dh_t + a_{t+1} g_{t+1}: the same recurrence backwards in time; then dL/db_t = g_t and
    dL/da_t = g_t h_{t-1}. Autograd through the steps would keep every step's tensors and, for each strided slice,
    a full-size zero tensor in backward."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, chunk: int) -> Tensor:
        h = _chunked_scan(a, b, chunk)
        ctx.save_for_backward(a, h)
        ctx.chunk = chunk
        return h

    @staticmethod
    def backward(ctx, grad_h: Tensor):
        a, h = ctx.saved_tensors
        later = F.pad(a[:, 1:], _time_pad(a, 0, 1))  # a_{t+1}; nothing follows the last position
        g = _chunked_scan(later, grad_h.contiguous(), ctx.chunk, reverse=True)
        grad_a = torch.zeros_like(g)  # h_0 = 0: the first decay multiplies nothing
        torch.mul(g[:, 1:], h[:, :-1], out=grad_a[:, 1:])
        return grad_a, g, None


def _time_pad(x: Tensor, front: int, back: int) -> tuple[int, ...]:
    """F.pad's argument that pads dim 1 of ``x`` by ``front`` and ``back`` positions."""
    return (0, 0) * (x.dim() - 2) + (front, back)


def _chunked_scan(a: Tensor, b: Tensor, chunk: int, reverse: bool = False) -> Tensor:
    """The recurrence without autograd: h_t = a_t h_{t-1} + b_t, or with ``reverse`` h_t = a_t h_{t+1} + b_t."""
    batch, t = b.shape[:2]
    c = max(1, min(chunk, t))
    pad = -t % c
    # A no-op step (a = 1, b = 0) after the last position makes the chunks whole; its outputs are cut off, and in
    # reverse, where the recurrence starts there, it hands on a zero state.
    if pad:
        a, b = F.pad(a, _time_pad(a, 0, pad), value=1.0), F.pad(b, _time_pad(b, 0, pad))
    a, b = (x.reshape(batch, -1, c, *x.shape[2:]) for x in (a, b))
    h, decay = torch.empty_like(b), torch.empty_like(a)  # decay: the product of a from the chunk's start to here
    steps = range(c - 1, -1, -1) if reverse else range(c)
    first = steps[0]
    h[:, :, first], decay[:, :, first] = b[:, :, first], a[:, :, first]
    for prev, i in zip(steps, steps[1:]):
        torch.addcmul(b[:, :, i], a[:, :, i], h[:, :, prev], out=h[:, :, i])
        torch.mul(decay[:, :, prev], a[:, :, i], out=decay[:, :, i])
    last = steps[-1]
    if reverse:  # states leaving each chunk at its first position, joined from the last chunk backwards
        ends = _blelloch(decay[:, :, last].flip(1), h[:, :, last].flip(1)).flip(1)
        entering = F.pad(ends[:, 1:], _time_pad(ends, 0, 1))
    else:
        ends = _blelloch(decay[:, :, last], h[:, :, last])
        entering = F.pad(ends[:, :-1], _time_pad(ends, 1, 0))  # the first chunk starts from h_0 = 0
    h.addcmul_(decay, entering[:, :, None])
    return h.reshape(batch, -1, *h.shape[3:])[:, :t]


def _blelloch(a: Tensor, b: Tensor) -> Tensor:
    """Blelloch's scan along dim 1, without autograd: pair neighbours, scan the pairs, fill in the first of each."""
    t = a.shape[1]
    if t == 1:
        return b
    if t % 2:  # a no-op step (a = 1, b = 0) after the last position makes the pairs whole; its output is cut off
        a, b = F.pad(a, _time_pad(a, 0, 1), value=1.0), F.pad(b, _time_pad(b, 0, 1))
    a0, a1, b0, b1 = a[:, 0::2], a[:, 1::2], b[:, 0::2], b[:, 1::2]
    h_odd = _blelloch(a1 * a0, torch.addcmul(b1, a1, b0))  # the state after each pair: positions 1, 3, 5, ...
    h_even = torch.addcmul(b0, a0, F.pad(h_odd[:, :-1], _time_pad(h_odd, 1, 0)))  # from the state entering the pair
    return torch.stack([h_even, h_odd], dim=2).flatten(1, 2)[:, :t]
