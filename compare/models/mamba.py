"""A Mamba-style selective state-space model (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective
State Spaces", arXiv:2312.00752), in plain PyTorch after the reference ``mamba_ssm/modules/mamba_simple.py`` and
``selective_scan_ref`` of state-spaces/mamba.

One mixer, per layer: the input is projected to a branch x and a gate z (each ``expand`` x d_model wide); x goes
through a short causal depthwise convolution and SiLU; from it, per token, come Δ (softplus of a rank-``dt_rank``
projection plus a bias), B and C (``d_state`` numbers each). Every channel e of x then drives ``d_state`` states:

    h_t[e, n] = exp(Δ_t[e] A[e, n]) h_{t-1}[e, n] + Δ_t[e] B_t[n] x_t[e],   y_t[e] = sum_n C_t[n] h_t[e, n] + D[e] x_t[e]

with A = -exp(A_log) diagonal and negative (S4D-real initialisation: A[e, n] = -(n + 1)), D a skip, and the output
y * SiLU(z) projected back to d_model. Δ, B and C read the token, so what the state keeps and what it forgets is
chosen by content (the "selection"); with A < 0 and Δ > 0 each decay is in (0, 1).

Both forms run that recurrence: ``mode="scan"`` all positions at once with the linear-space scan of
:mod:`compare.models.scan`, ``mode="sequential"`` one token at a time (the convolution stepped from its last
inputs, the state from the one before), as a trained model reads a stream; they agree to float rounding.
The minGRU scan's log-space trick (:mod:`compare.models.minrnn`) does not apply here: it needs b > 0 to take
log b, and Δ B x has either sign. The closed form exp(cumsum log a) cumsum(b / exp(cumsum log a)) overflows once the
decays over a chunk pass e^-88 (at A = -16 and Δ = 0.1 that is 55 tokens; Δ of a few makes it one or two). So the
scan is Blelloch's, in linear space: only products of decays in (0, 1) and sums, any sign, nothing to overflow.

The blocks are the project's pre-LayerNorm residual blocks with an MLP (:mod:`compare.models.blocks`), as the
transformer, minGRU and linear attention here are, so the models differ only in how a layer mixes positions
(Mamba's own language model stacks mixer-only blocks, its gated branch standing in for the MLP).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.blocks import BlockStackLM, PreNormBlock, check_mode, check_stack
from compare.models.scan import linear_scan, scan_depth
from compare.models.short_conv import ShortConv
from compare.models.sizing import fit_block_widths

MODES = ("scan", "sequential")
#: The reference's floor on the initial Δ (``dt_init_floor``): the inverse softplus below needs Δ > 0.
DT_FLOOR = 1e-4


class SelectiveSSM(nn.Module):
    """Mamba's mixer: (batch, time, d_model) -> (batch, time, d_model); ``mode`` picks scan or sequential."""

    def __init__(self, d_model: int, d_state: int, d_conv: int, expand: int, dt_rank: int,
                 dt_min: float, dt_max: float) -> None:
        super().__init__()
        d_inner = expand * d_model
        self.d_inner, self.d_state, self.dt_rank = d_inner, d_state, dt_rank
        self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)  # the branch x and the gate z
        self.conv = ShortConv(d_inner, d_conv)
        self.x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False)  # Δ (low rank), B and C, per token
        self.dt_proj = nn.Linear(dt_rank, d_inner)
        # As the reference: Δ's projection keeps the variance of its input, and its bias puts softplus(bias),
        # the initial Δ, log-uniformly in [dt_min, dt_max]: at A = -1, memories of 10 to 1,000 tokens to start with.
        bound = dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -bound, bound)
        dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=DT_FLOOR)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # the inverse of softplus
        # S4D-real: A[e, n] = -(n + 1), stored as its log so A stays negative whatever the optimiser does.
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def coefficients(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(a, b, C) of h_t = a_t h_{t-1} + b_t, y_t = h_t C_t, from the convolved branch u (batch, time, d_inner):
        a = exp(Δ A) and b = Δ B u of shape (batch, time, d_inner, d_state), C of (batch, time, d_state); float32."""
        dt, b, c = self.x_proj(u).float().split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(self.dt_proj(dt.to(u.dtype)).float())
        # Outer products as einsums: their backward is a batched matmul, where a broadcast product's would
        # materialise the (batch, time, d_inner, d_state) product once more and then sum it.
        a = torch.exp(torch.einsum("bte,en->bten", dt, -torch.exp(self.A_log.float())))
        return a, torch.einsum("bte,btn->bten", dt * u.float(), b), c

    def forward(self, x: Tensor, mode: str) -> Tensor:
        branch, gate = self.in_proj(x).chunk(2, dim=-1)
        u = F.silu(self.conv(branch) if mode == "scan" else self.conv.stepped(branch))
        a, b, c = self.coefficients(u)
        if mode == "scan":
            h = linear_scan(a, b)
            y = torch.einsum("bten,btn->bte", h, c)
        else:
            h, ys = torch.zeros_like(b[:, 0]), []
            for t in range(b.shape[1]):
                h = a[:, t] * h + b[:, t]
                ys.append(torch.einsum("ben,bn->be", h, c[:, t]))
            y = torch.stack(ys, dim=1)
        y = y + u.float() * self.D.float()
        return self.out_proj((y * F.silu(gate.float())).to(x.dtype))

    def state_size(self) -> int:
        """Numbers carried per sequence while reading: d_inner x d_state states and the convolution's last inputs."""
        return self.d_inner * self.d_state + self.conv.state_size()


class MambaBlock(PreNormBlock):
    """Pre-LayerNorm residual block: x + ssm(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, **ssm) -> None:
        super().__init__(d_model, d_ff, dropout, ssm=SelectiveSSM(d_model, **ssm), drop=nn.Dropout(dropout))

    def forward(self, x: Tensor, mode: str) -> Tensor:
        x = x + self.drop(self.ssm(self.ln1(x), mode))
        return x + self.mlp(self.ln2(x))


class MambaLM(BlockStackLM):
    """Token ids (batch, time) -> logits (batch, time, vocab) through a stack of selective-SSM blocks.

    Give either ``d_model`` or ``param_budget``. With a budget, ``d_model`` is the width nearest the budget at
    ``mlp_ratio``, then the MLP width is trimmed to land on it. ``d_state`` states per inner channel, a
    convolution over ``d_conv`` tokens, inner width ``expand`` x d_model, Δ through a rank-``dt_rank`` projection
    (None: ceil(d_model / 16), the reference's "auto"), initial Δ in [``dt_min``, ``dt_max``]. ``mode`` picks
    the form ("scan": all positions at once, for training; "sequential": one token at a time);
    ``forward(tokens, mode=...)`` overrides it for one call. No position code: any length can be fed. The
    defaults are conf/model/mamba.yaml's (the reference's: d_state 16, d_conv 4, expand 2).
    """

    name = "mamba"
    max_positions = None

    def __init__(
        self,
        vocab_size: int,
        num_layers: int = 2,
        d_model: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = 200_000,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        mode: str = "scan",
        dropout: float = 0.0,
    ) -> None:
        check_mode(mode, MODES)
        check_stack(num_layers, mlp_ratio, d_ff, dropout)
        for key, value in (("d_state", d_state), ("d_conv", d_conv), ("expand", expand)):
            if value < 1:
                raise UserError(f"{key}={value} must be >= 1")
        if dt_rank is not None and dt_rank < 1:
            raise UserError(f"dt_rank={dt_rank} must be >= 1, or null for ceil(d_model / 16)")
        if not 0 < dt_min <= dt_max:
            raise UserError(f"dt_min={dt_min}, dt_max={dt_max}: the initial step sizes need 0 < dt_min <= dt_max")
        ssm = dict(d_state=d_state, d_conv=d_conv, expand=expand, dt_min=dt_min, dt_max=dt_max)
        if d_model is None:
            if param_budget is None:
                raise UserError("mamba: set model.d_model or model.param_budget")
            d_model, d_ff = fit_block_widths(
                lambda w, f: MambaLM(vocab_size, num_layers, w, f, dt_rank=dt_rank, dropout=dropout, **ssm),
                param_budget, mlp_ratio=mlp_ratio, d_ff=d_ff, what=f"a {num_layers}-layer mamba")
        elif d_model < 1:
            raise UserError(f"d_model={d_model} must be >= 1")
        d_ff = d_ff or max(1, round(mlp_ratio * d_model))
        rank = dt_rank or math.ceil(d_model / 16)
        super().__init__(vocab_size, d_model, num_layers, lambda: MambaBlock(d_model, d_ff, dropout, dt_rank=rank, **ssm),
                         dropout)
        self.d_model, self.d_ff, self.d_state, self.d_conv, self.expand = d_model, d_ff, d_state, d_conv, expand
        self.mode = mode

    def forward(self, tokens: Tensor, mode: str | None = None) -> Tensor:
        """Logits (batch, time, vocab); ``mode`` runs this one call in the other form."""
        return self.run_blocks(self.embed(tokens), check_mode(mode or self.mode, MODES))

    def settings(self) -> dict:
        """Widths, state, depth and mode, for the HParams table."""
        return {"d_model": self.d_model, "d_ff": self.d_ff, "d_state": self.d_state, "d_conv": self.d_conv,
                "expand": self.expand, "num_layers": self.num_layers, "mode": self.mode}

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        parallel = self.mode == "scan"
        steps = scan_depth(length) if parallel else length
        return {"parallel_over_time": parallel, "sequential_depth": steps * self.num_layers,
                "state_size": sum(block.ssm.state_size() for block in self.blocks)}
