"""How the transformer knows where a token is, and which earlier tokens each query may see.

Encodings come in two kinds. Some are added to the token embeddings once, before the first block:
``learned`` (a table, so it bounds the length) and ``sinusoidal``. The others act inside every
attention layer and have no table, so they take sequences of any length: ``rope`` rotates queries
and keys, ``alibi`` and ``hard_alibi`` change which keys a head sees and how much. ``none`` (NoPE)
gives no position at all beyond what the causal mask implies.

Position i may attend to key j when 0 <= i - j < W, where W is the window of the model
(``model.window``; unset means W = infinity, plain causal attention) and, for Hard-ALiBi, of the head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from compare.errors import UserError

POSITIONAL_ENCODINGS = ("learned", "sinusoidal", "none", "rope", "alibi", "hard_alibi")


def sinusoidal_table(length: int, d_model: int, device=None) -> Tensor:
    """The fixed sine/cosine position code of Vaswani et al. (2017), shape (length, d_model)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi's per-head slopes m_h (Press et al., 2022): 2^(-8h/H) for h = 1..H when H is a power of two.

    For other H, the paper's recipe: the slopes of the nearest smaller power of two n, then every
    other slope of 2n heads to fill the rest (their reference code, ``get_slopes``).
    """
    def powers(n: int) -> list[float]:
        return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]

    n = 2 ** math.floor(math.log2(n_heads))
    slopes = powers(n) + powers(2 * n)[0::2][: n_heads - n]
    return torch.tensor(slopes, dtype=torch.float32)


def default_hard_alibi_windows(n_heads: int) -> list[int | None]:
    """Hard-ALiBi windows as Jelassi et al. (2024) train them: the first half of the heads see the
    last 1, 2, ..., H//2 tokens, the other half see everything with no position code (NoPE).

    The paper ("Repeat After Me", arXiv:2402.01032, Sec. 4) defines a hard bias per head: 0 for the
    last m_h keys, -inf before them, and m_h = infinity for NoPE heads. The split and the windows here
    follow the authors' released code (``num_masked_heads`` = half the heads, head h masked to the
    last h+1 tokens). With a single head this leaves no windowed head, i.e. NoPE.
    """
    masked = n_heads // 2
    return [h + 1 for h in range(masked)] + [None] * (n_heads - masked)


def check_hard_alibi_windows(windows: Sequence[int | None], n_heads: int) -> list[int | None]:
    windows = list(windows)
    if len(windows) != n_heads or any(
        w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1) for w in windows
    ):
        raise UserError(
            f"hard_alibi_windows={windows} must list one window per head ({n_heads} heads): "
            f"an integer >= 1 (the head sees that many latest tokens) or null (the head sees all, NoPE)"
        )
    return windows


class _Cache:
    """Tensors keyed by (length, device, dtype); only the latest few, since evaluation walks through lengths."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self.entries: dict = {}

    def get(self, key, build):
        if key not in self.entries:
            if len(self.entries) >= self.size:
                self.entries.pop(next(iter(self.entries)))
            self.entries[key] = build()
        return self.entries[key]


class Rotary:
    """Rotary position embedding (Su et al., 2021): rotate each (q, k) pair of dimensions by angle
    position * base^(-2i/d), so q_i . k_j depends on the positions only through i - j.

    Dimensions are paired as (x[c], x[c + d/2]) (the GPT-NeoX layout) rather than adjacent ones; the
    two differ by a fixed permutation of the head dimensions, which the q/k projections absorb.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        if head_dim % 2:
            raise UserError(f"pos_encoding=rope needs an even width per head, got d_model/n_heads={head_dim}")
        self.head_dim, self.base = head_dim, base
        self._cache = _Cache()

    def tables(self, length: int, device, dtype) -> tuple[Tensor, Tensor]:
        """cos and sin, each (length, head_dim)."""
        def build():
            dims = torch.arange(0, self.head_dim, 2, device=device, dtype=torch.float32)
            inv_freq = self.base ** (-dims / self.head_dim)
            angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq
            angles = torch.cat([angles, angles], dim=-1)
            return angles.cos().to(dtype), angles.sin().to(dtype)

        return self._cache.get((length, device, dtype), build)

    def __call__(self, x: Tensor) -> Tensor:
        """x (..., time, head_dim) rotated to its positions 0..time-1."""
        cos, sin = self.tables(x.shape[-2], x.device, x.dtype)
        half = self.head_dim // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin


class AttentionPattern:
    """Which keys each query sees, and with what bias; built once per (length, device, dtype) for all layers.

    ``__call__`` gives None when the pattern is plain causal attention (so SDPA can take
    ``is_causal=True`` and its flash kernel), a boolean mask (True = may attend) of shape (T, T) or
    (heads, T, T) for windows, or an additive float bias (heads, T, T), -inf where masked, for ALiBi.
    """

    def __init__(self, n_heads: int, window: int | None, slopes: Tensor | None = None,
                 head_windows: Sequence[int | None] | None = None) -> None:
        self.n_heads, self.window = n_heads, window
        self.slopes = slopes
        self.head_windows = list(head_windows) if head_windows is not None else None
        self._cache = _Cache()

    def windows(self, length: int) -> list[int]:
        """The window of each head at this length; one longer than the sequence means unbounded."""
        unbounded = length + 1
        model = min(self.window or unbounded, unbounded)
        heads = self.head_windows or [None] * self.n_heads
        return [min(model, w or unbounded) for w in heads]

    def __call__(self, length: int, device, dtype) -> Tensor | None:
        windows = self.windows(length)
        if self.slopes is None and all(w >= length for w in windows):
            return None
        return self._cache.get((length, device, dtype), lambda: self._build(length, windows, device, dtype))

    def _build(self, length: int, windows: list[int], device, dtype) -> Tensor:
        pos = torch.arange(length, device=device)
        distance = pos[:, None] - pos[None, :]  # i - j
        if len(set(windows)) == 1 and self.slopes is None:
            return (distance >= 0) & (distance < windows[0])
        w = torch.tensor(windows, device=device)[:, None, None]
        allowed = (distance >= 0) & (distance < w)
        if self.slopes is None:
            return allowed
        bias = -self.slopes.to(device)[:, None, None] * distance.clamp(min=0)
        return bias.masked_fill(~allowed, float("-inf")).to(dtype)
