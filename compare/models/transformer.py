"""A small decoder-only transformer: pre-LayerNorm blocks, causal multi-head self-attention, MLP.

Attention runs through ``F.scaled_dot_product_attention`` (flash / memory-efficient kernels on GPU)
or through the explicit formula softmax(QK^T / sqrt(d_k)) V, which can hand back the weights.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.sizing import fit_width, params_of

ATTENTION_IMPLS = ("sdpa", "explicit")
POSITIONAL_ENCODINGS = ("learned", "sinusoidal", "none")


def explicit_attention(q: Tensor, k: Tensor, v: Tensor, causal: bool = True) -> tuple[Tensor, Tensor]:
    """softmax(QK^T / sqrt(d_k)) V, with -inf above the diagonal when causal; returns (output, weights)."""
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if causal:
        t_q, t_k = scores.shape[-2:]
        future = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


def sinusoidal_table(length: int, d_model: int, device=None) -> Tensor:
    """The fixed sine/cosine position code of Vaswani et al. (2017), shape (length, d_model)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model, device=device)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with a fused QKV projection."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, impl: str) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.impl = impl
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        weights = None
        if self.impl == "sdpa" and not return_weights:
            y = F.scaled_dot_product_attention(
                q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
            )
        else:
            y, weights = explicit_attention(q, k, v, causal=True)
            if self.training and self.dropout:
                y = F.dropout(weights, self.dropout) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d)), weights


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, impl: str) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout, impl)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout))

    def forward(self, x: Tensor, return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attn(self.ln1(x), return_weights)
        x = x + a
        return x + self.mlp(self.ln2(x)), weights


class TransformerLM(nn.Module):
    """Token ids (batch, time) -> logits (batch, time, vocab) through causal transformer blocks.

    Give either ``d_model`` or ``param_budget``. With a budget, ``d_model`` is the multiple of
    ``n_heads`` nearest the budget at ``mlp_ratio``, then the MLP width is trimmed to land on it.
    """

    name = "transformer"

    def __init__(
        self,
        vocab_size: int,
        num_layers: int = 2,
        n_heads: int = 4,
        d_model: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = None,
        pos_encoding: str = "learned",
        max_positions: int | None = 1024,
        attention: str = "sdpa",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if attention not in ATTENTION_IMPLS:
            raise UserError(f"attention={attention!r} is not known; choose one of {list(ATTENTION_IMPLS)}")
        if pos_encoding not in POSITIONAL_ENCODINGS:
            raise UserError(f"pos_encoding={pos_encoding!r} is not known; choose one of {list(POSITIONAL_ENCODINGS)}")
        if num_layers < 1 or n_heads < 1:
            raise UserError(f"num_layers={num_layers} and n_heads={n_heads} must both be >= 1")
        if pos_encoding == "learned" and (max_positions is None or max_positions < 1):
            raise UserError(f"max_positions={max_positions}: a learned position table needs a size >= 1")
        if d_model is not None and d_model % n_heads:
            raise UserError(f"d_model={d_model} must be a multiple of n_heads={n_heads}")
        if d_model is None:
            if param_budget is None:
                raise UserError("transformer: set model.d_model or model.param_budget")

            def make(d: int, f: int | None = None) -> TransformerLM:
                return TransformerLM(vocab_size, num_layers, n_heads, d, f or max(1, round(mlp_ratio * d)),
                                     pos_encoding=pos_encoding, max_positions=max_positions,
                                     attention=attention, dropout=dropout)

            what = f"a {num_layers}-layer transformer with {n_heads} heads"
            d_model = fit_width(make, param_budget, step=n_heads, what=what)
            if d_ff is None and params_of(make, d_model) != param_budget:
                d_ff = fit_width(lambda f: make(d_model, f), param_budget, what=what)
        d_ff = d_ff or max(1, round(mlp_ratio * d_model))

        self.vocab_size = vocab_size
        self.d_model, self.d_ff, self.n_heads = d_model, d_ff, n_heads
        self.pos_encoding = pos_encoding
        self.attention = attention
        # Only a learned table bounds the length; the fixed codes extend to any position.
        self.max_positions = max_positions if pos_encoding == "learned" else None
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_positions, d_model) if pos_encoding == "learned" else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout, attention) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """Logits (batch, time, vocab); with ``return_attention`` also one (batch, heads, time, time) map per layer."""
        t = tokens.shape[1]
        if self.max_positions is not None and t > self.max_positions:
            raise UserError(
                f"a sequence of {t} tokens is longer than this transformer's max_positions={self.max_positions}; "
                f"raise model.max_positions or use model.pos_encoding=sinusoidal"
            )
        x = self.embed(tokens)
        if self.pos_encoding == "learned":
            x = x + self.pos(torch.arange(t, device=tokens.device))
        elif self.pos_encoding == "sinusoidal":
            x = x + sinusoidal_table(t, self.d_model, tokens.device).to(x.dtype)
        x = self.drop(x)
        maps = []
        for block in self.blocks:
            x, w = block(x, return_attention)
            maps.append(w)
        logits = self.head(self.ln_f(x))
        return (logits, maps) if return_attention else logits
