"""Recurrent language models: embedding -> torch.nn.LSTM / GRU / RNN (cuDNN on GPU) -> linear head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from compare.errors import UserError
from compare.models.contract import SequenceModel
from compare.models.sizing import fit_width

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
#: The gates ``trace`` shows per cell, each with what 1 means (torch's LSTM gates are i, f, g, o; GRU's r, z, n).
TRACED_GATES = {"lstm": (("f", "forget gate f (1 = keep the cell)"), ("i", "input gate i (1 = write)")),
                "gru": (("z", "update gate z (1 = keep the state)"),), "rnn": ()}


class RecurrentLM(SequenceModel):
    """Token ids (batch, time) -> logits (batch, time, vocab) through a stack of recurrent layers.

    Give either ``hidden_size`` or ``param_budget``; with a budget the hidden size is chosen so the
    trainable parameter count is as close to it as a whole number of units allows. ``cell`` picks the
    model (its ``name``), so it has no default; the other defaults are conf/model/lstm.yaml's.
    """

    max_positions = None  # a recurrence has no position table: any length can be fed

    def __init__(
        self,
        vocab_size: int,
        cell: str,
        num_layers: int = 2,
        hidden_size: int | None = None,
        param_budget: int | None = 200_000,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise UserError(f"cell={cell!r} is not a recurrent cell; choose one of {sorted(CELLS)}")
        if num_layers < 1:
            raise UserError(f"num_layers={num_layers} must be >= 1")
        if hidden_size is None:
            if param_budget is None:
                raise UserError(f"{cell}: set model.hidden_size or model.param_budget")
            hidden_size = fit_width(
                lambda h: RecurrentLM(vocab_size, cell, num_layers, hidden_size=h, dropout=dropout),
                param_budget,
                what=f"a {num_layers}-layer {cell}",
            )
        elif hidden_size < 1:
            raise UserError(f"hidden_size={hidden_size} must be >= 1")
        self.name = cell
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.embed = nn.Embedding(vocab_size, hidden_size)
        # Elman RNN uses tanh; the torch default, stated for the reader.
        extra = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            hidden_size, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0, **extra,
        )
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out)

    def settings(self) -> dict:
        """Width and depth, for the HParams table."""
        return {"hidden_size": self.hidden_size, "num_layers": self.rnn.num_layers}

    def analytic_flops(self, length: int) -> dict[str, int]:
        """The recurrent layer's matmuls over ``length`` tokens, forward and backward: FlopCounterMode cannot see
        inside the fused oneDNN (CPU) and cuDNN (GPU) kernels. Per token and layer the gates (4 for an LSTM, 3 for
        a GRU, 1 for an Elman RNN) take 2 x gates x hidden x (input + hidden) FLOPs forward; the backward takes as
        many for the weights' gradients and as many for the inputs' and the previous states', less one step's
        state gradient (the initial state is zeros and needs none). The element-wise gate arithmetic is not
        counted, as for every other model (compare.training.flops)."""
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[self.name]
        h = self.hidden_size  # every layer's input is h wide: the embedding has the hidden size
        per_layer = 3 * length * 2 * gates * h * (h + h) - 2 * gates * h * h
        return {"rnn": per_layer * self.rnn.num_layers}

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        per_layer = 2 * self.hidden_size if self.name == "lstm" else self.hidden_size  # an LSTM carries h and c
        return {"parallel_over_time": False, "sequential_depth": length * self.rnn.num_layers,
                "state_size": per_layer * self.rnn.num_layers}

    @torch.no_grad()
    def gate_states(self, tokens: Tensor) -> list[dict[str, Tensor]]:
        """Per layer, the gates and states of reading one sequence, recomputed one token at a time from the
        layer's own weights in torch's equations: {"h": (time, hidden), and "c", "i", "f" (LSTM) or "z" (GRU)}.
        Their last layer's "h" is what forward feeds the head (tested against it)."""
        x = self.embed(torch.as_tensor(tokens).reshape(-1))
        layers = []
        for layer in range(self.rnn.num_layers):
            w_ih, w_hh = getattr(self.rnn, f"weight_ih_l{layer}"), getattr(self.rnn, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(self.rnn, f"bias_ih_l{layer}"), getattr(self.rnn, f"bias_hh_l{layer}")
            h = x.new_zeros(self.hidden_size)
            c = x.new_zeros(self.hidden_size)
            seen: dict[str, list[Tensor]] = {}
            for gi in x @ w_ih.T + b_ih:  # the input's share of every gate, all tokens at once
                gh = h @ w_hh.T + b_hh
                if self.name == "lstm":
                    i, f, g, o = (gi + gh).chunk(4)
                    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
                    c = f * c + i * torch.tanh(g)
                    h = o * torch.tanh(c)
                    step = {"i": i, "f": f, "c": c, "h": h}
                elif self.name == "gru":
                    (r_i, z_i, n_i), (r_h, z_h, n_h) = gi.chunk(3), gh.chunk(3)
                    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
                    h = (1 - z) * torch.tanh(n_i + r * n_h) + z * h
                    step = {"z": z, "h": h}
                else:
                    h = torch.tanh(gi + gh)
                    step = {"h": h}
                for k, v in step.items():
                    seen.setdefault(k, []).append(v)
            layers.append({k: torch.stack(v) for k, v in seen.items()})
            x = layers[-1]["h"]  # dropout between layers is off in eval, as here
        return layers

    def trace(self, tokens: Tensor) -> dict[str, list[float]]:
        """Each layer's gates (mean over units) and the norm of what it carries (c for an LSTM, h otherwise)."""
        out: dict[str, list[float]] = {}
        for n, layer in enumerate(self.gate_states(tokens), start=1):
            for key, label in TRACED_GATES[self.name]:
                out[f"layer {n} {label}"] = layer[key].mean(-1).tolist()
            state = "c" if self.name == "lstm" else "h"
            out[f"layer {n} |{state}| (state norm)"] = layer[state].norm(dim=-1).tolist()
        return out
