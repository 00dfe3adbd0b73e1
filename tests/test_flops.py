"""Training compute: FLOP counts against hand counts, and what a run records and logs of them."""

from __future__ import annotations

import copy

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from compare.config.build import build, build_model
from compare.models import LinearAttentionLM, MinRNNLM, RecurrentLM, TransformerLM
from compare.models.contract import SequenceModel
from compare.runs.results import read_results
from compare.train import train
from compare.training.datamodule import step_tokens
from compare.training.flops import counted_flops, sequence_flops


class LinearLM(SequenceModel):
    """Embedding and one linear layer: the smallest model with a hand-countable step."""

    name = "linear"
    max_positions = None

    def __init__(self, vocab: int, width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens):
        return self.head(self.embed(tokens))

    def mechanism(self, length):
        return {"parallel_over_time": True, "sequential_depth": 1, "state_size": 0}


def test_linear_layer_counts_six_flops_per_weight_per_token():
    # Forward x W: 2 d V per token; backward: the input's gradient and the weight's, 2 d V each.
    vocab, width, length = 50, 24, 17
    assert sequence_flops(LinearLM(vocab, width), length) == 6 * length * width * vocab


def transformer_hand_count(m: TransformerLM, t: int) -> int:
    d, f, v = m.d_model, m.d_ff, m.vocab_size
    per_token_weights = m.num_layers * (3 * d * d + d * d + 2 * d * f) + d * v  # qkv, out, MLP; head
    # Attention per layer: q k^T and weights x v, 2 t^2 d each forward (all heads together), twice that backward.
    attention = m.num_layers * 3 * (2 * t * t * d + 2 * t * t * d)
    return 6 * t * per_token_weights + attention


@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
@pytest.mark.parametrize("t", [1, 16, 100])
def test_transformer_count_is_the_hand_count_with_attention(attention, t):
    m = TransformerLM(64, num_layers=2, n_heads=4, d_model=32, d_ff=80, attention=attention)
    assert sequence_flops(m, t) == transformer_hand_count(m, t)


def test_sdpa_on_cpu_would_count_no_attention_without_the_math_path():
    # Why the count forces the math path: the CPU flash kernel has no formula in torch's counter.
    from torch.utils.flop_counter import FlopCounterMode

    m = TransformerLM(64, num_layers=1, n_heads=2, d_model=32, d_ff=64)
    tokens = torch.zeros(1, 64, dtype=torch.long)
    with FlopCounterMode(display=False) as plain:
        m(tokens).sum().backward()
    assert sequence_flops(m, 64) - plain.get_total_flops() == transformer_hand_count(m, 64) - 6 * 64 * (
        4 * 32 * 32 + 2 * 32 * 64 + 32 * 64)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
def test_recurrent_layer_count_equals_its_matmuls_counted_step_by_step(cell, layers):
    # On the CPU torch runs the LSTM as one fused oneDNN kernel, invisible to the counter (the GRU and RNN as
    # matmuls it sees); on the meta device each layer runs as per-step matmuls, which it counts: the model's
    # analytic count must equal those, and replace whatever the CPU run showed.
    m = RecurrentLM(40, cell, num_layers=layers, hidden_size=12)
    t = 9
    if cell == "lstm":
        assert "RecurrentLM.rnn" not in counted_flops(copy.deepcopy(m), torch.zeros(1, t, dtype=torch.long))
    stepwise = counted_flops(copy.deepcopy(m).to("meta"), torch.zeros(1, t, dtype=torch.long, device="meta"))
    assert m.analytic_flops(t)["rnn"] == stepwise["RecurrentLM.rnn"]
    assert sequence_flops(m, t) == stepwise["Global"]


@pytest.mark.parametrize("make", [lambda: MinRNNLM(64, "mingru", hidden_size=16),
                                  lambda: LinearAttentionLM(64, d_model=16, n_heads=2)])
def test_scan_and_linear_attention_counts_grow_linearly_and_cover_every_weight(make):
    m = make()
    weights = sum(p.numel() for name, p in m.named_parameters() if p.dim() == 2 and not name.startswith("embed"))
    per_token = sequence_flops(m, 64) / 64
    assert sequence_flops(m, 128) == 2 * sequence_flops(m, 64)  # no T^2 term: a fixed state per position
    assert per_token >= 6 * weights  # every weight matrix is counted (plus linear attention's state products)


def test_run_records_training_flops_and_logs_validation_against_compute(make_cfg, tmp_path):
    cfg = make_cfg(["model=transformer", "model.param_budget=20000", "task=copy", "task.length=6",
                    "task.min_length=2", "trainer.max_steps=20", "trainer.val_check_interval=10",
                    "data.batch_size=8", "data.val_size=16", "eval.num_samples=16", "callbacks.attention=null"])
    row = train(cfg)
    # Each step's length is drawn from [2, 6]: the run's FLOPs are the sum over its steps of batch x the count
    # at that step's input length.
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    lengths = [step_tokens(task, cfg.seed, k) for k in range(20)]
    assert len(set(lengths)) > 1
    assert row["train_flops"] == sum(8 * sequence_flops(model, n) for n in lengths)
    assert row["train_tokens"] == 8 * sum(lengths)
    assert row["flops_per_token"] == pytest.approx(row["train_flops"] / row["train_tokens"])
    assert row["train_seconds"] > 0
    saved = read_results(tmp_path / "run" / "results.json")
    assert saved["train_flops"] == row["train_flops"] and [p["step"] for p in saved["val_history"]] == [10, 20]
    assert saved["val_history"][-1]["train_flops"] == row["train_flops"]
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert [e.step for e in events.Scalars("val_vs_flops/loss")] == [p["train_flops"] for p in saved["val_history"]]
    assert [e.value for e in events.Scalars("val_vs_flops/loss")] == pytest.approx(
        [p["val_loss"] for p in saved["val_history"]])
    assert [e.step for e in events.Scalars("val_vs_train_ms/loss")] == [
        round(1000 * p["train_seconds"]) for p in saved["val_history"]]
