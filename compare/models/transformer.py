"""A small decoder-only transformer: pre-LayerNorm blocks, causal multi-head self-attention, MLP.

The block and LM shell around the attention are shared with the other block-stacked models
(:mod:`compare.models.blocks`); what is the transformer's own is here.

Attention runs through ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels on GPU)
or through the explicit formula softmax(QK^T / sqrt(d_k) + bias) V, which can hand back the weights.
Both take the same mask or bias from :class:`~compare.models.positions.AttentionPattern`, so they
compute the same function. Position codes and windows are in :mod:`compare.models.positions`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.blocks import BlockStackLM, PreNormBlock, check_heads, check_stack
from compare.models.positions import (
    POSITIONAL_ENCODINGS,
    AttentionPattern,
    Rotary,
    alibi_slopes,
    check_hard_alibi_windows,
    default_hard_alibi_windows,
    sinusoidal_table,
)
from compare.models.sizing import fit_block_widths

ATTENTION_IMPLS = ("sdpa", "explicit")


def explicit_attention(q: Tensor, k: Tensor, v: Tensor, causal: bool = True,
                       mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """softmax(QK^T / sqrt(d_k)) V, with -inf above the diagonal when causal; returns (output, weights).

    ``mask`` is an AttentionPattern: boolean (True = may attend) or an additive bias, broadcast over the scores.
    """
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if causal:
        t_q, t_k = scores.shape[-2:]
        future = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with a fused QKV projection."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, impl: str) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.impl = impl
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, pattern: AttentionPattern, rotary: Rotary | None = None,
                return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        if rotary is not None:
            q, k = rotary(q), rotary(k)
        mask = pattern(t, q.device, q.dtype)
        weights = None
        if self.impl == "sdpa" and not return_weights:
            # No mask for plain causal attention: an explicit mask rules out the flash kernel.
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=mask is None, dropout_p=self.dropout if self.training else 0.0
            )
        else:
            y, weights = explicit_attention(q, k, v, causal=mask is None, mask=mask)
            if self.training and self.dropout:
                y = F.dropout(weights, self.dropout) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d)), weights


class Block(PreNormBlock):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, impl: str) -> None:
        super().__init__(d_model, d_ff, dropout, attn=CausalSelfAttention(d_model, n_heads, dropout, impl))

    def forward(self, x: Tensor, pattern: AttentionPattern, rotary: Rotary | None = None,
                return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attn(self.ln1(x), pattern, rotary, return_weights)
        x = x + a
        return x + self.mlp(self.ln2(x)), weights


def check_attention(attention: str, pos_encoding: str, n_heads: int, max_positions: int | None,
                    window: int | None, hard_alibi_windows: Sequence[int | None] | None) -> list[int | None] | None:
    """UserError for an attention setting TransformerLM cannot build; else the checked ``hard_alibi_windows``."""
    if attention not in ATTENTION_IMPLS:
        raise UserError(f"attention={attention!r} is not known; choose one of {list(ATTENTION_IMPLS)}")
    if pos_encoding not in POSITIONAL_ENCODINGS:
        raise UserError(f"pos_encoding={pos_encoding!r} is not known; choose one of {list(POSITIONAL_ENCODINGS)}")
    if pos_encoding == "learned" and (max_positions is None or max_positions < 1):
        raise UserError(f"max_positions={max_positions}: a learned position table needs a size >= 1")
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1):
        raise UserError(f"window={window!r}: give how many latest tokens each query sees (>= 1), or null for all")
    if hard_alibi_windows is None:
        return None
    if pos_encoding != "hard_alibi":
        raise UserError(f"hard_alibi_windows is only read with pos_encoding=hard_alibi, not {pos_encoding!r}")
    return check_hard_alibi_windows(hard_alibi_windows, n_heads)


class TransformerLM(BlockStackLM):
    """Token ids (batch, time) -> logits (batch, time, vocab) through causal transformer blocks.

    Give either ``d_model`` or ``param_budget``. With a budget, ``d_model`` is the multiple of
    ``n_heads`` (of ``2 * n_heads`` for rope) nearest the budget at ``mlp_ratio``, then the MLP width
    is trimmed to land on it. The search builds the whole model, so encodings with no table get the
    parameters a learned table would have taken.

    ``pos_encoding``: ``learned`` (a table of ``max_positions`` rows: the only one that bounds the
    length), ``sinusoidal``, ``none`` (NoPE), ``rope`` (rotary, on q and k in every layer),
    ``alibi`` (bias -m_h * (i - j) on the scores, Press et al. 2022) or ``hard_alibi`` (some heads
    see only the last ``hard_alibi_windows[h]`` tokens, the rest are NoPE; Jelassi et al. 2024).

    ``window``: causal sliding-window attention. Query i sees keys j with i - window < j <= i, that
    is the last ``window`` tokens including itself (fewer near the start); None sees all of 0..i.
    Across L layers information still travels up to L * (window - 1) positions.

    ``forward(tokens, return_attention=True)`` also returns the attention maps (through the explicit
    formula, whichever ``attention`` is set). The defaults are conf/model/transformer.yaml's.
    """

    name = "transformer"
    returns_attention = True

    def __init__(
        self,
        vocab_size: int,
        num_layers: int = 2,
        n_heads: int = 4,
        d_model: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = 200_000,
        pos_encoding: str = "learned",
        max_positions: int | None = 512,
        attention: str = "sdpa",
        dropout: float = 0.0,
        window: int | None = None,
        hard_alibi_windows: Sequence[int | None] | None = None,
    ) -> None:
        check_heads(n_heads, d_model)
        hard_alibi_windows = check_attention(attention, pos_encoding, n_heads, max_positions, window, hard_alibi_windows)
        check_stack(num_layers, mlp_ratio, d_ff, dropout)
        if d_model is None:
            if param_budget is None:
                raise UserError("transformer: set model.d_model or model.param_budget")
            d_model, d_ff = fit_block_widths(
                lambda d, f: TransformerLM(vocab_size, num_layers, n_heads, d, f, pos_encoding=pos_encoding,
                                           max_positions=max_positions, attention=attention, dropout=dropout,
                                           window=window, hard_alibi_windows=hard_alibi_windows),
                param_budget, mlp_ratio=mlp_ratio, d_ff=d_ff,
                # Rotating pairs of dimensions needs an even width per head.
                step=2 * n_heads if pos_encoding == "rope" else n_heads,
                what=f"a {num_layers}-layer transformer with {n_heads} heads")
        d_ff = d_ff or max(1, round(mlp_ratio * d_model))
        learned = pos_encoding == "learned"
        super().__init__(vocab_size, d_model, num_layers, lambda: Block(d_model, n_heads, d_ff, dropout, attention),
                         dropout, position_table=max_positions if learned else None)
        self.d_model, self.d_ff, self.n_heads = d_model, d_ff, n_heads
        self.pos_encoding = pos_encoding
        self.attention = attention
        self.window = window
        # Only a learned table bounds the length; every other encoding extends to any position.
        self.max_positions = max_positions if learned else None
        self._set_attention_positions(hard_alibi_windows)

    def _set_attention_positions(self, hard_alibi_windows: list[int | None] | None) -> None:
        """The position codes that act inside attention (rope, alibi, hard_alibi) and the window, for every layer."""
        pos, n_heads = self.pos_encoding, self.n_heads
        self.rotary = Rotary(self.d_model // n_heads) if pos == "rope" else None
        if pos == "hard_alibi" and hard_alibi_windows is None:
            hard_alibi_windows = default_hard_alibi_windows(n_heads)
        self.hard_alibi_windows = hard_alibi_windows
        self.pattern = AttentionPattern(n_heads, self.window, alibi_slopes(n_heads) if pos == "alibi" else None,
                                        hard_alibi_windows)

    @property
    def attention_layout(self) -> tuple[int, int]:
        """(layers, heads) of the maps ``forward(..., return_attention=True)`` returns."""
        return self.num_layers, self.n_heads

    @property
    def runs_sdpa(self) -> bool:
        """Whether forward runs ``F.scaled_dot_product_attention`` (``attention=sdpa``)."""
        return self.attention == "sdpa"

    def settings(self) -> dict:
        """Widths, depth, heads, positions, window and attention path, for the HParams table."""
        return {"d_model": self.d_model, "d_ff": self.d_ff, "n_heads": self.n_heads, "num_layers": self.num_layers,
                "pos_encoding": self.pos_encoding, "window": self.window, "attention": self.attention}

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        # The KV cache: a key and a value of d_model numbers per layer for every token still visible.
        visible = min(length, self.window or length)
        return {"parallel_over_time": True, "sequential_depth": self.num_layers,
                "state_size": 2 * self.num_layers * self.d_model * visible}

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """Logits (batch, time, vocab); with ``return_attention`` also one (batch, heads, time, time) map per layer."""
        t = tokens.shape[1]
        if self.max_positions is not None and t > self.max_positions:
            raise UserError(
                f"a sequence of {t} tokens is longer than this transformer's max_positions={self.max_positions}; "
                f"raise model.max_positions or use a model.pos_encoding without a table "
                f"({', '.join(p for p in POSITIONAL_ENCODINGS if p != 'learned')})"
            )
        x = self.embed(tokens)
        if self.pos_encoding == "learned":
            x = x + self.pos(torch.arange(t, device=tokens.device))
        elif self.pos_encoding == "sinusoidal":
            x = x + sinusoidal_table(t, self.d_model, tokens.device).to(x.dtype)
        x = self.drop(x)
        maps = []
        for block in self.blocks:
            x, w = block(x, self.pattern, self.rotary, return_attention)
            maps.append(w)
        logits = self.head(self.ln_f(x))
        return (logits, maps) if return_attention else logits
