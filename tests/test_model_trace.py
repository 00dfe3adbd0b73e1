"""SequenceModel.trace: the recurrent models' gates and state norms per token, recomputed from their own weights; a
model without a trace shows nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from compare.config.build import build_model

from compare.models.minrnn import MinRNNLM
from compare.models.recurrent import RecurrentLM
from compare.models.transformer import TransformerLM
from compare.train import CONF_DIR

VOCAB = 11


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_recurrent_gates_reproduce_the_models_forward(cell):
    torch.manual_seed(0)
    model = RecurrentLM(VOCAB, cell, num_layers=2, hidden_size=12).eval()
    tokens = torch.randint(0, VOCAB, (1, 15))
    with torch.no_grad():
        out, _ = model.rnn(model.embed(tokens))
    layers = model.gate_states(tokens)
    # The gates recomputed token by token are the ones that made the model's output: its h comes out the same.
    torch.testing.assert_close(layers[-1]["h"], out[0], atol=1e-5, rtol=1e-4)
    trace = model.trace(tokens)
    assert all(len(v) == 15 for v in trace.values())
    if cell == "lstm":
        assert trace["layer 1 forget gate f (1 = keep the cell)"] == pytest.approx(layers[0]["f"].mean(-1).tolist())
        assert trace["layer 2 |c| (state norm)"] == pytest.approx(layers[1]["c"].norm(dim=-1).tolist())
    if cell == "gru":
        assert trace["layer 2 update gate z (1 = keep the state)"] == pytest.approx(layers[1]["z"].mean(-1).tolist())
    if cell == "rnn":
        assert list(trace) == ["layer 1 |h| (state norm)", "layer 2 |h| (state norm)"]
    assert all(0 <= x <= 1 for name, v in trace.items() if "gate" in name for x in v)


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_minimal_rnn_gates_are_the_layers_own_coefficients(cell):
    torch.manual_seed(0)
    model = MinRNNLM(VOCAB, cell, num_layers=2, hidden_size=12).eval()
    tokens = torch.randint(0, VOCAB, (1, 10))
    layers = model.gate_states(tokens)
    with torch.no_grad():
        x = model.embed(tokens)
        block = model.blocks[0]
        h = block.rnn(block.ln1(x))  # the parallel scan the model trains with
        log_a, _ = block.rnn.coefficients(block.ln1(x))
    torch.testing.assert_close(layers[0]["h"], h[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(layers[0]["a"], log_a.exp()[0])
    trace = model.trace(tokens)
    gate = next(v for name, v in trace.items() if name.startswith("layer 1") and "gate" in name)
    kept = layers[0]["a"].mean(-1)
    assert gate == pytest.approx((1 - kept if cell == "mingru" else kept).tolist())


def test_a_model_without_a_trace_shows_nothing():
    model = TransformerLM(VOCAB, d_model=16, n_heads=2, num_layers=1, param_budget=None).eval()
    assert model.trace(torch.randint(0, VOCAB, (1, 5))) == {}


MODEL_DIR = Path(CONF_DIR) / "model"
CHOICES = sorted(p.relative_to(MODEL_DIR).with_suffix("").as_posix() for p in MODEL_DIR.rglob("*.yaml"))


@pytest.mark.parametrize("choice", CHOICES)
def test_every_models_trace_is_per_token_series(choice, make_cfg):
    """Whatever a model's trace returns, the lab can draw it: one finite value per token, gates within [0, 1]."""
    torch.manual_seed(0)
    model = build_model(make_cfg([f"model={choice}", "model.param_budget=20000"]).model, vocab_size=VOCAB).eval()
    tokens = torch.randint(0, VOCAB, (7,))
    trace = model.trace(tokens)
    assert isinstance(trace, dict) and all(isinstance(name, str) for name in trace)
    for name, values in trace.items():
        assert len(values) == 7 and all(math.isfinite(x) for x in values), name
        assert "gate" not in name or all(0 <= x <= 1 for x in values), name
