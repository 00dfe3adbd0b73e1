"""DeltaNet: linear attention whose state is written by the delta rule (Schlag et al. 2021, "Linear Transformers Are
Secretly Fast Weight Programmers", arXiv:2102.11174), trained in parallel over chunks (Yang et al. 2024,
"Parallelizing Linear Transformers with the Delta Rule over Sequence Length", arXiv:2406.06484), in plain PyTorch
after fla-org/flash-linear-attention ``fla/ops/delta_rule/naive.py`` and its DeltaNet layer.

Per head, a (d_head x d_head) matrix S maps keys to values. Linear attention only adds v_t k_t^T to it, so a key
written twice returns the sum of its values, and near keys blur into each other. The delta rule first reads what S
holds for the key, then moves it toward the new value by a learned step β_t in (0, 1):

    S_t = S_{t-1} + β_t (v_t - S_{t-1} k_t) k_t^T,     o_t = S_t q_t

With keys of unit length (L2-normalised, as the paper does) and β = 1 that overwrites the value stored under k_t
and leaves every direction orthogonal to it alone: an associative memory that can replace, not only accumulate,
which is what multi-query associative recall asks of a fixed state.

``mode="chunked"`` (training) runs it a chunk of C tokens at a time. Within a chunk the updates are one product of
C rank-one corrections; the WY/UT form writes it with a (C x C) unit lower-triangular solve,
T = (I + strictly_lower(diag(β) K K^T))^{-1}, W = T diag(β) K, U = T diag(β) V, so that the chunk's corrections
are U - W S (S: the state entering the chunk), its outputs Q S + tril(Q K^T)(U - W S), and the state leaving it
S + K^T (U - W S). Only the T / C chunk steps are sequential. ``mode="recurrent"`` steps S one token at a time;
the two agree to float rounding.

Around the rule, as fla's DeltaNet layer: q, k, v projections each through a short causal convolution and SiLU,
q and k L2-normalised, q scaled by d_head^-1/2, β = sigmoid of a projection per head, each head's output
RMS-normalised, then an output projection. No position code: any length can be fed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.blocks import BlockStackLM, PreNormBlock, check_heads, check_mode, check_stack
from compare.models.short_conv import ShortConv
from compare.models.sizing import fit_block_widths

MODES = ("chunked", "recurrent")
#: Guards the RMS norm of an all-zero output (fla's RMSNorm default).
NORM_EPS = 1e-5


def chunked_delta_rule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor, chunk_size: int) -> Tensor:
    """o_t = S_t q_t for all t, chunk by chunk (WY/UT form), for q, k, v of (batch, heads, time, d) and β of
    (batch, heads, time); computed in float32 at least (the triangular solve has no bf16 kernel)."""
    dtype = v.dtype
    work = torch.promote_types(dtype, torch.float32)
    q, k, v, beta = (x.to(work) for x in (q, k, v, beta))
    b, h, t, d = k.shape
    c = min(chunk_size, t)
    pad = -t % c
    # Padded positions have k = 0 and β = 0: they write nothing, and their outputs are cut off.
    q, k, v = (F.pad(x, (0, 0, 0, pad)).view(b, h, -1, c, x.shape[-1]) for x in (q, k, v))
    beta = F.pad(beta, (0, pad)).view(b, h, -1, c, 1)
    k_beta, v_beta = k * beta, v * beta

    eye = torch.eye(c, dtype=work, device=k.device)
    lower = (k_beta @ k.transpose(-1, -2)).tril(-1)  # β_i k_i . k_j for j < i
    t_mat = torch.linalg.solve_triangular(eye + lower, eye.expand_as(lower), upper=False, unitriangular=True)
    w, u = t_mat @ k_beta, t_mat @ v_beta
    scores = (q @ k.transpose(-1, -2)).tril()  # a position reads the writes of itself and the positions before it

    s = k.new_zeros(b, h, d, v.shape[-1])  # keys -> values, as o = q S (fla's orientation)
    out = []
    for n in range(k.shape[2]):
        correction = u[:, :, n] - w[:, :, n] @ s
        out.append(q[:, :, n] @ s + scores[:, :, n] @ correction)
        s = s + k[:, :, n].transpose(-1, -2) @ correction
    return torch.cat(out, dim=2)[:, :, :t].to(dtype)


def recurrent_delta_rule(q: Tensor, k: Tensor, v: Tensor, beta: Tensor) -> Tensor:
    """The same outputs as ``chunked_delta_rule``, one token at a time: read what S holds for k, correct it, read q."""
    dtype = v.dtype
    work = torch.promote_types(dtype, torch.float32)
    q, k, v, beta = (x.to(work) for x in (q, k, v, beta))
    b, h, t, d = k.shape
    s = k.new_zeros(b, h, d, v.shape[-1])
    out = []
    for i in range(t):
        k_i = k[:, :, i]
        correction = beta[:, :, i, None] * (v[:, :, i] - torch.einsum("bhd,bhde->bhe", k_i, s))
        s = s + k_i[..., None] * correction[..., None, :]
        out.append(torch.einsum("bhd,bhde->bhe", q[:, :, i], s))
    return torch.stack(out, dim=2).to(dtype)


class DeltaRuleAttention(nn.Module):
    """Multi-head delta-rule attention: (batch, time, d_model) -> (batch, time, d_model)."""

    def __init__(self, d_model: int, n_heads: int, conv_size: int, chunk_size: int, dropout: float) -> None:
        super().__init__()
        self.n_heads, self.chunk_size = n_heads, chunk_size
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.conv = ShortConv(3 * d_model, conv_size)  # depthwise: q, k and v each have their own filters
        self.beta = nn.Linear(d_model, n_heads, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(d_model // n_heads))
        self.proj = nn.Linear(d_model, d_model, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mode: str) -> Tensor:
        b, t, d = x.shape
        qkv = self.qkv(x)
        qkv = F.silu(self.conv(qkv) if mode == "chunked" else self.conv.stepped(qkv))
        q, k, v = qkv.view(b, t, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        q, k = F.normalize(q, dim=-1) * q.shape[-1] ** -0.5, F.normalize(k, dim=-1)
        beta = torch.sigmoid(self.beta(x)).transpose(1, 2)  # (batch, heads, time)
        if mode == "chunked":
            o = chunked_delta_rule(q, k, v, beta, self.chunk_size)
        else:
            o = recurrent_delta_rule(q, k, v, beta)
        o = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + NORM_EPS) * self.norm_weight
        return self.drop(self.proj(o.transpose(1, 2).reshape(b, t, d)))

    def state_size(self) -> int:
        """Numbers carried per sequence while reading: a d_head x d_head matrix per head, the convolution's inputs."""
        d_head = self.proj.in_features // self.n_heads
        return self.n_heads * d_head * d_head + self.conv.state_size()


class Block(PreNormBlock):
    """Pre-LayerNorm block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, conv_size: int, chunk_size: int) -> None:
        super().__init__(d_model, d_ff, dropout, attn=DeltaRuleAttention(d_model, n_heads, conv_size, chunk_size, dropout))

    def forward(self, x: Tensor, mode: str) -> Tensor:
        x = x + self.attn(self.ln1(x), mode)
        return x + self.mlp(self.ln2(x))


class DeltaNetLM(BlockStackLM):
    """Token ids (batch, time) -> logits (batch, time, vocab) through delta-rule attention blocks.

    Give either ``d_model`` or ``param_budget``. With a budget, ``d_model`` is the multiple of ``n_heads`` nearest
    the budget at ``mlp_ratio``, then the MLP width is trimmed to land on it. ``conv_size``: the short
    convolution's tokens (1: none across time). ``mode`` picks the form ("chunked": ``chunk_size`` tokens at a
    time, for training; "recurrent": one token at a time); ``forward(tokens, mode=...)`` overrides it for one
    call. The defaults are conf/model/deltanet.yaml's (2 heads and a 4-token convolution, as Zoology's DeltaNet).
    """

    name = "deltanet"
    max_positions = None

    def __init__(
        self,
        vocab_size: int,
        num_layers: int = 2,
        n_heads: int = 2,
        d_model: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = 200_000,
        conv_size: int = 4,
        mode: str = "chunked",
        chunk_size: int = 64,
        dropout: float = 0.0,
    ) -> None:
        check_mode(mode, MODES)
        check_heads(n_heads, d_model)
        check_stack(num_layers, mlp_ratio, d_ff, dropout)
        if conv_size < 1:
            raise UserError(f"conv_size={conv_size} must be >= 1 (1: no convolution across time)")
        if chunk_size < 1:
            raise UserError(f"chunk_size={chunk_size} must be >= 1")
        if d_model is None:
            if param_budget is None:
                raise UserError("deltanet: set model.d_model or model.param_budget")
            d_model, d_ff = fit_block_widths(
                lambda dm, f: DeltaNetLM(vocab_size, num_layers, n_heads, dm, f, conv_size=conv_size,
                                         chunk_size=chunk_size, dropout=dropout),
                param_budget, mlp_ratio=mlp_ratio, d_ff=d_ff, step=n_heads,
                what=f"a {num_layers}-layer deltanet with {n_heads} heads")
        d_ff = d_ff or max(1, round(mlp_ratio * d_model))
        super().__init__(vocab_size, d_model, num_layers,
                         lambda: Block(d_model, n_heads, d_ff, dropout, conv_size, chunk_size), dropout)
        self.d_model, self.d_ff, self.n_heads, self.conv_size = d_model, d_ff, n_heads, conv_size
        self.chunk_size = chunk_size
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
        steps = math.ceil(length / self.chunk_size) if parallel else length
        return {"parallel_over_time": parallel, "sequential_depth": steps * self.num_layers,
                "state_size": sum(block.attn.state_size() for block in self.blocks)}
