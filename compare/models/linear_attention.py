"""Causal linear attention (Katharopoulos et al. 2020, "Transformers are RNNs", arXiv:2006.16236).

Softmax attention's exp(q.k) is replaced by phi(q).phi(k) with phi(x) = elu(x) + 1 (positive, so every
weight is), which lets the sum over past positions be regrouped:

    y_t = phi(q_t) S_t / (phi(q_t) . z_t),   S_t = sum_{s<=t} phi(k_s) v_s^T,   z_t = sum_{s<=t} phi(k_s)

So each head is an RNN with a (d_head x d_head) matrix state plus a d_head normaliser; no T x T matrix
is ever needed. ``mode="chunked"`` computes it for all positions at once (for training),
``mode="recurrent"`` steps S and z one token at a time (how it reads a stream); they agree.

``conv_size`` > 1 puts a short causal depthwise convolution on q, k and v before the feature map (as DeltaNet's
and Mamba's here, and as Zoology puts one before every mixer): without it a NoPE layer cannot tell which token
came just before, so it cannot bind a value to the key in front of it, which associative recall needs (README,
experiment=recall_frontier). The default, 1, is the paper's model: no convolution.

Positions: none (NoPE). A causal model can tell positions apart from the causal mask alone, and this is
the usual choice for causal linear attention (the paper's autoregressive experiments add no position code
to the attention); it also leaves the length unbounded, like the recurrent models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.blocks import BlockStackLM, PreNormBlock, check_heads, check_mode, check_stack
from compare.models.short_conv import ShortConv
from compare.models.sizing import fit_block_widths

MODES = ("chunked", "recurrent")
#: Added to the normaliser phi(q).z, as in the paper's code; it is > 0 anyway, this guards float underflow.
EPS = 1e-6


def feature_map(x: Tensor) -> Tensor:
    return F.elu(x) + 1


def chunked_linear_attention(q: Tensor, k: Tensor, v: Tensor, chunk_size: int) -> Tensor:
    """Causal linear attention over (batch, heads, time, d_head) features phi(q), phi(k) and values v.

    Why chunks: the plain parallel form takes a cumulative sum of phi(k_t) v_t^T over time, which keeps a
    (d_head x d_head) state for *every* position, (B, H, T, d, d): d_head times the size of the activations
    (B=32, H=4, T=1024, d=64 is 2 GiB a layer, all kept for backward). Here the state is kept only at chunk
    boundaries, (B, H, T/C, d, d), and positions inside a chunk attend to each other through a masked
    (C x C) score matrix, (B, H, T/C, C, C) = B H T C numbers: C times the size of the activations, never T.
    """
    b, h, t, d = q.shape
    c = min(chunk_size, t)
    pad = -t % c
    # Zero phi(k) on the padded tail adds nothing to any state; the padded outputs are cut off below.
    q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
    n = (t + pad) // c
    q, k, v = (x.view(b, h, n, c, x.shape[-1]) for x in (q, k, v))

    # State from all earlier chunks: an exclusive cumulative sum over chunks of each chunk's sum of phi(k) v^T.
    # (Shifting the sum by one chunk, not subtracting a chunk's own term, keeps later tokens out exactly.)
    kv = torch.einsum("bhncd,bhnce->bhnde", k, v)
    s_before = F.pad(torch.cumsum(kv[:, :, :-1], dim=2), (0, 0, 0, 0, 1, 0))
    z_before = F.pad(torch.cumsum(k[:, :, :-1].sum(dim=3), dim=2), (0, 0, 1, 0))
    num = torch.einsum("bhncd,bhnde->bhnce", q, s_before)
    den = torch.einsum("bhncd,bhnd->bhnc", q, z_before)

    # Within a chunk: the quadratic form, masked so a position sees itself and the positions before it.
    scores = torch.einsum("bhncd,bhnsd->bhncs", q, k).tril()
    num = num + scores @ v
    den = den + scores.sum(dim=-1)
    y = num / (den + EPS)[..., None]
    return y.reshape(b, h, n * c, -1)[:, :, :t]


def recurrent_linear_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """The same outputs as ``chunked_linear_attention``, one token at a time with state S and normaliser z."""
    b, h, t, d = q.shape
    s = q.new_zeros(b, h, d, v.shape[-1])
    z = q.new_zeros(b, h, d)
    out = []
    for i in range(t):
        s = s + k[:, :, i, :, None] * v[:, :, i, None, :]
        z = z + k[:, :, i]
        num = torch.einsum("bhd,bhde->bhe", q[:, :, i], s)
        den = (q[:, :, i] * z).sum(dim=-1)
        out.append(num / (den + EPS)[..., None])
    return torch.stack(out, dim=2)


class CausalLinearAttention(nn.Module):
    """Multi-head causal linear attention with a fused QKV projection (through a short convolution when
    ``conv_size`` > 1)."""

    def __init__(self, d_model: int, n_heads: int, dropout: float, chunk_size: int, conv_size: int = 1) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.chunk_size = chunk_size
        self.qkv = nn.Linear(d_model, 3 * d_model)
        # Built only when asked for, so the paper's model (conv_size 1) keeps its parameters and initial weights.
        self.conv = ShortConv(3 * d_model, conv_size) if conv_size > 1 else None
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mode: str) -> Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x)
        if self.conv is not None:
            qkv = self.conv(qkv) if mode == "chunked" else self.conv.stepped(qkv)
        q, k, v = qkv.view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = feature_map(q), feature_map(k)
        if mode == "chunked":
            y = chunked_linear_attention(q, k, v, self.chunk_size)
        else:
            y = recurrent_linear_attention(q, k, v)
        return self.drop(self.proj(y.transpose(1, 2).reshape(b, t, d)))

    def state_size(self) -> int:
        """Numbers carried per sequence while reading: S and z per head, and the convolution's last inputs."""
        d_head = self.proj.in_features // self.n_heads
        return self.n_heads * (d_head * d_head + d_head) + (self.conv.state_size() if self.conv is not None else 0)


class Block(PreNormBlock):
    """Pre-LayerNorm block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, chunk_size: int,
                 conv_size: int = 1) -> None:
        super().__init__(d_model, d_ff, dropout,
                         attn=CausalLinearAttention(d_model, n_heads, dropout, chunk_size, conv_size))

    def forward(self, x: Tensor, mode: str) -> Tensor:
        x = x + self.attn(self.ln1(x), mode)
        return x + self.mlp(self.ln2(x))


class LinearAttentionLM(BlockStackLM):
    """Token ids (batch, time) -> logits (batch, time, vocab) through causal linear-attention blocks.

    Give either ``d_model`` or ``param_budget``. With a budget, ``d_model`` is the multiple of ``n_heads``
    nearest the budget at ``mlp_ratio``, then the MLP width is trimmed to land on it. ``conv_size``: tokens the
    short convolution on q, k and v reads (1: none, the paper's model). ``mode`` picks the
    form ("chunked": all positions at once, for training; "recurrent": one token at a time);
    ``forward(tokens, mode=...)`` overrides it for one call. No position code (NoPE): any length can be fed.
    Its heads return no attention maps (there is no T x T matrix to show). The defaults are
    conf/model/linear_attention.yaml's.
    """

    name = "linear_attention"
    max_positions = None

    def __init__(
        self,
        vocab_size: int,
        num_layers: int = 2,
        n_heads: int = 4,
        d_model: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = 200_000,
        mode: str = "chunked",
        chunk_size: int = 64,
        conv_size: int = 1,
        dropout: float = 0.0,
    ) -> None:
        check_mode(mode, MODES)
        check_heads(n_heads, d_model)
        check_stack(num_layers, mlp_ratio, d_ff, dropout)
        if chunk_size < 1:
            raise UserError(f"chunk_size={chunk_size} must be >= 1")
        if conv_size < 1:
            raise UserError(f"conv_size={conv_size} must be >= 1 (1: no convolution across time)")
        if d_model is None:
            if param_budget is None:
                raise UserError("linear_attention: set model.d_model or model.param_budget")
            d_model, d_ff = fit_block_widths(
                lambda dm, f: LinearAttentionLM(vocab_size, num_layers, n_heads, dm, f, chunk_size=chunk_size,
                                                conv_size=conv_size, dropout=dropout),
                param_budget, mlp_ratio=mlp_ratio, d_ff=d_ff, step=n_heads,
                what=f"a {num_layers}-layer linear-attention model with {n_heads} heads")
        d_ff = d_ff or max(1, round(mlp_ratio * d_model))
        super().__init__(vocab_size, d_model, num_layers,
                         lambda: Block(d_model, n_heads, d_ff, dropout, chunk_size, conv_size), dropout)
        self.d_model, self.d_ff, self.n_heads, self.conv_size = d_model, d_ff, n_heads, conv_size
        self.mode = mode

    def forward(self, tokens: Tensor, mode: str | None = None) -> Tensor:
        """Logits (batch, time, vocab); ``mode`` runs this one call in the other form."""
        return self.run_blocks(self.embed(tokens), check_mode(mode or self.mode, MODES))

    def settings(self) -> dict:
        """Widths, depth, heads and mode, for the HParams table."""
        return {"d_model": self.d_model, "d_ff": self.d_ff, "n_heads": self.n_heads, "num_layers": self.num_layers,
                "conv_size": self.conv_size, "mode": self.mode}

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        parallel = self.mode == "chunked"
        return {"parallel_over_time": parallel,
                "sequential_depth": self.num_layers if parallel else length * self.num_layers,
                "state_size": sum(block.attn.state_size() for block in self.blocks)}
