"""Recurrent language models: embedding -> torch.nn.LSTM / GRU / RNN (cuDNN on GPU) -> linear head."""

from __future__ import annotations

from torch import Tensor, nn

from compare.errors import UserError
from compare.models.contract import SequenceModel
from compare.models.sizing import fit_width

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


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

    def mechanism(self, length: int) -> dict:
        """Sequential steps one forward pass over ``length`` tokens takes, and numbers carried per sequence while reading."""
        if length < 1:
            raise UserError(f"length={length} must be >= 1")
        per_layer = 2 * self.hidden_size if self.name == "lstm" else self.hidden_size  # an LSTM carries h and c
        return {"parallel_over_time": False, "sequential_depth": length * self.rnn.num_layers,
                "state_size": per_layer * self.rnn.num_layers}
