"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv:2410.01201).

Their gates read the current input only, never the previous hidden state, so every layer is the
linear recurrence h_t = a_t * h_{t-1} + b_t with a_t, b_t known for all t before the recurrence
starts. That lets training run over all positions at once with a parallel scan (Heinsen 2023,
arXiv:2311.06281), done in log space so that no product of gates is ever formed; the same
recurrence can also be stepped one token at a time (``mode="sequential"``), which is how a
trained model would read a stream. Both modes give the same outputs from the same weights.

    minGRU:  z = sigmoid(W_z x), h~ = g(W_h x),           h_t = (1 - z) h_{t-1} + z h~
    minLSTM: f = sigmoid(W_f x), i = sigmoid(W_i x), h~ = g(W_h x),
             f' = f / (f + i), i' = i / (f + i),           h_t = f' h_{t-1} + i' h~

g(x) = x + 0.5 for x >= 0 and sigmoid(x) below keeps h~ (and so every h) positive, which is what
makes log h real. Layers are stacked in pre-LayerNorm residual blocks with an MLP, as the
transformer here is (the shared parts are in :mod:`compare.models.blocks`), so the two differ only
in how positions are mixed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.blocks import BlockStackLM, PreNormBlock, check_mode, check_stack
from compare.models.scan import linear_scan, scan_depth
from compare.models.sizing import fit_block_widths

MODES = ("scan", "sequential")


def g(x: Tensor) -> Tensor:
    """The paper's positive activation for the candidate state: continuous, and linear for x >= 0."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


def log_g(x: Tensor) -> Tensor:
    """log g(x), computed without taking the log of a number that may have underflowed."""
    # relu keeps log's argument >= 0.5 on the branch torch.where discards, so its gradient is never NaN.
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


#: Positions per chunk of the log-space scan: its rounding error grows with the chunk, not the sequence.
SCAN_CHUNK = 64


def log_space_scan(log_a: Tensor, log_b: Tensor, chunk: int = SCAN_CHUNK) -> Tensor:
    """h_t = a_t h_{t-1} + b_t from h_0 = 0 for all t at once, given log a and log b of shape (batch, time, dim).

    Heinsen's scan: h_t = sum_{s<=t} b_s prod_{s<r<=t} a_r = exp(A_t + logsumexp_{s<=t}(log b_s - A_s)) with
    A_t = sum_{r<=t} log a_r. The gates' product is only ever a sum of logs, so it cannot underflow, and
    logcumsumexp subtracts its running maximum, so exp cannot overflow. But A_t grows with t (about -0.7 t
    at initialisation, -10 t for a saturated forget gate) and log h_t is the difference of two numbers that
    size: one scan over 16k tokens in float32 is off by ~1.5e-3 (relative, against float64) at
    initialisation and ~7e-3 with saturated gates. So Heinsen's scan runs within chunks of ``chunk``
    positions, where A stays small, and the states the chunks hand on are joined by the linear-space scan of
    :mod:`compare.models.scan` (the same recurrence over chunks: H_n = decay_n H_{n-1} + h_local_n), which only
    multiplies and adds positive numbers and so loses nothing to cancellation; a decay product that underflows
    to 0 is a state that really is forgotten. This brings the 16k error to ~4e-5; the depth is log2(chunk)
    plus that scan's rounds over the chunks (``minrnn_scan_depth``).
    """
    dtype = log_a.dtype
    log_a, log_b = log_a.float(), log_b.float()  # a bf16 sum of logs would be off by whole units
    batch, t, dim = log_a.shape
    c = min(chunk, t)
    pad = -t % c
    # Padding goes after the last token, so no real position reads it; the last chunk's output state is unused.
    log_a, log_b = (F.pad(x, (0, 0, 0, pad)).view(batch, -1, c, dim) for x in (log_a, log_b))

    a_star = log_a.cumsum(dim=2)
    h_local = (a_star + torch.logcumsumexp(log_b - a_star, dim=2)).exp()  # each chunk's states, started from 0
    decay = a_star.exp()  # how much of the state entering a chunk survives to each of its positions

    # State at the end of each chunk, H_n = decay_n H_{n-1} + h_local_n, for all n at once.
    h_n = linear_scan(decay[:, :, -1], h_local[:, :, -1], chunk=1)  # few chunks: Blelloch's scan over them all
    entering = F.pad(h_n[:, :-1], (0, 0, 1, 0))  # the first chunk starts from h_0 = 0
    h = h_local + decay * entering[:, :, None]
    return h.reshape(batch, -1, dim)[:, :t].to(dtype)


def minrnn_scan_depth(length: int, chunk: int = SCAN_CHUNK) -> int:
    """Rounds one after another that ``log_space_scan`` takes over ``length`` positions: Heinsen's scan within a
    chunk (log2 of its length), then the linear-space scan over the chunks' states when there are several."""
    within = max(1, math.ceil(math.log2(min(length, chunk))))
    chunks = math.ceil(length / chunk)
    return within + (scan_depth(chunks, chunk=1) if chunks > 1 else 0)


def sequential_scan(log_a: Tensor, log_b: Tensor) -> Tensor:
    """The same recurrence as ``log_space_scan``, one step per token, as a model reading a stream runs it."""
    dtype = log_a.dtype
    a, b = log_a.float().exp(), log_b.float().exp()
    h = torch.zeros_like(b[:, 0])
    out = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1).to(dtype)


class MinRNN(nn.Module):
    """A minimal RNN layer, (batch, time, hidden) -> (batch, time, hidden); subclasses say how x sets a and b."""

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self, x: Tensor, mode: str = "scan") -> Tensor:
        log_a, log_b = self.coefficients(x)
        return log_space_scan(log_a, log_b) if mode == "scan" else sequential_scan(log_a, log_b)


class MinGRU(MinRNN):
    """One minGRU layer: one update gate interpolates between the old state and the candidate."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.gates = nn.Linear(hidden_size, 2 * hidden_size)  # update gate z and candidate h~, from x alone

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(log a, log b) of h_t = a_t h_{t-1} + b_t: a = 1 - z, b = z h~."""
        k, pre_h = self.gates(x).chunk(2, dim=-1)
        log_z = -F.softplus(-k)  # log sigmoid(k)
        log_one_minus_z = -F.softplus(k)  # log(1 - sigmoid(k)), without the cancellation of 1 - z
        return log_one_minus_z, log_z + log_g(pre_h)


class MinLSTM(MinRNN):
    """One minLSTM layer: forget and input gates normalised to sum to one, so the state stays bounded."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.gates = nn.Linear(hidden_size, 3 * hidden_size)  # forget f, input i and candidate h~, from x alone

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(log a, log b): a = f / (f + i), b = i / (f + i) h~."""
        k_f, k_i, pre_h = self.gates(x).chunk(3, dim=-1)
        # log(i / f) = log sigmoid(k_i) - log sigmoid(k_f); then f' = 1 / (1 + i/f) and i' = 1 / (1 + f/i).
        diff = F.softplus(-k_f) - F.softplus(-k_i)
        return -F.softplus(diff), -F.softplus(-diff) + log_g(pre_h)


CELLS = {"mingru": MinGRU, "minlstm": MinLSTM}


class MinRNNBlock(PreNormBlock):
    """Pre-LayerNorm residual block: x + minrnn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, cell: str, hidden_size: int, d_ff: int, dropout: float) -> None:
        super().__init__(hidden_size, d_ff, dropout, rnn=CELLS[cell](hidden_size), drop=nn.Dropout(dropout))

    def forward(self, x: Tensor, mode: str) -> Tensor:
        x = x + self.drop(self.rnn(self.ln1(x), mode))
        return x + self.mlp(self.ln2(x))


class MinRNNLM(BlockStackLM):
    """Token ids (batch, time) -> logits (batch, time, vocab) through a stack of minGRU or minLSTM blocks.

    Give either ``hidden_size`` or ``param_budget``. With a budget, ``hidden_size`` is the width nearest
    the budget at ``mlp_ratio``, then the MLP width is trimmed to land on it. ``mode`` picks how the
    recurrence runs ("scan": all positions at once, for training; "sequential": one token at a time);
    ``forward(tokens, mode=...)`` overrides it for one call. No position table: any length can be fed.
    ``cell`` picks the model (its ``name``), so it has no default; the other defaults are
    conf/model/mingru.yaml's.
    """

    max_positions = None

    def __init__(
        self,
        vocab_size: int,
        cell: str,
        num_layers: int = 2,
        hidden_size: int | None = None,
        d_ff: int | None = None,
        mlp_ratio: float = 4.0,
        param_budget: int | None = 200_000,
        mode: str = "scan",
        dropout: float = 0.0,
    ) -> None:
        if cell not in CELLS:
            raise UserError(f"cell={cell!r} is not a minimal RNN cell; choose one of {sorted(CELLS)}")
        check_mode(mode, MODES)
        check_stack(num_layers, mlp_ratio, d_ff, dropout)
        if hidden_size is None:
            if param_budget is None:
                raise UserError(f"{cell}: set model.hidden_size or model.param_budget")
            hidden_size, d_ff = fit_block_widths(
                lambda h, f: MinRNNLM(vocab_size, cell, num_layers, h, f, dropout=dropout),
                param_budget, mlp_ratio=mlp_ratio, d_ff=d_ff, what=f"a {num_layers}-layer {cell}")
        elif hidden_size < 1:
            raise UserError(f"hidden_size={hidden_size} must be >= 1")
        d_ff = d_ff or max(1, round(mlp_ratio * hidden_size))
        super().__init__(vocab_size, hidden_size, num_layers, lambda: MinRNNBlock(cell, hidden_size, d_ff, dropout),
                         dropout)
        self.name = cell
        self.hidden_size, self.d_ff = hidden_size, d_ff
        self.mode = mode

    def forward(self, tokens: Tensor, mode: str | None = None) -> Tensor:
        """Logits (batch, time, vocab); ``mode`` runs this one call in the other form."""
        return self.run_blocks(self.embed(tokens), check_mode(mode or self.mode, MODES))

    def settings(self) -> dict:
        """Widths, depth and mode, for the HParams table."""
        return {"hidden_size": self.hidden_size, "d_ff": self.d_ff, "num_layers": self.num_layers, "mode": self.mode}

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        parallel = self.mode == "scan"
        steps = minrnn_scan_depth(length) if parallel else length
        return {"parallel_over_time": parallel, "sequential_depth": steps * self.num_layers,
                "state_size": self.hidden_size * self.num_layers}

    @torch.no_grad()
    def gate_states(self, tokens: Tensor) -> list[dict[str, Tensor]]:
        """Per layer, {"a": (time, hidden), the share of the old state each step keeps (1 - z for minGRU, the
        normalised forget gate f' for minLSTM), "h": the layer's state}, from the layer's own ``coefficients``."""
        x = self.drop(self.embed(torch.as_tensor(tokens).reshape(1, -1)))
        layers = []
        for block in self.blocks:
            log_a, log_b = block.rnn.coefficients(block.ln1(x))
            layers.append({"a": log_a.exp()[0], "h": sequential_scan(log_a, log_b)[0]})
            x = block(x, self.mode)
        return layers

    def trace(self, tokens: Tensor) -> dict[str, list[float]]:
        """Each layer's gate (mean over units) and the norm of its state h."""
        out: dict[str, list[float]] = {}
        for n, layer in enumerate(self.gate_states(tokens), start=1):
            if self.name == "mingru":
                out[f"layer {n} update gate z (1 = overwrite the state)"] = (1 - layer["a"]).mean(-1).tolist()
            else:
                out[f"layer {n} forget gate f' (1 = keep the state)"] = layer["a"].mean(-1).tolist()
            out[f"layer {n} |h| (state norm)"] = layer["h"].norm(dim=-1).tolist()
        return out
