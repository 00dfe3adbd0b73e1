"""Parallel-trainable sequence models: minGRU, minLSTM, causal linear attention, Mamba and DeltaNet.

Each has a parallel form for training and a step-by-step form for reading; they must give the same
outputs from the same weights, keep to the parameter budget, and learn.
"""

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from compare.errors import UserError
from compare.models import DeltaNetLM, LinearAttentionLM, MambaLM, MinRNNLM, RecurrentLM, count_params
from compare.models.deltanet import chunked_delta_rule, recurrent_delta_rule
from compare.models.minrnn import MinGRU, MinLSTM, g, log_g, log_space_scan, sequential_scan
from compare.models.scan import linear_scan
from compare.tasks import IGNORE, CopyTask

VOCAB = 17
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")
CELLS = ("mingru", "minlstm")
NAMES = (*CELLS, "linear_attention", "mamba", "deltanet")


def new_models(budget=50_000):
    return [*(MinRNNLM(VOCAB, cell, param_budget=budget) for cell in CELLS), LinearAttentionLM(VOCAB, param_budget=budget),
            LinearAttentionLM(VOCAB, param_budget=budget, conv_size=4), MambaLM(VOCAB, param_budget=budget),
            DeltaNetLM(VOCAB, param_budget=budget)]


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def test_log_g_is_the_log_of_the_papers_g():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    torch.testing.assert_close(log_g(x), g(x).log())
    assert (g(x) > 0).all() and torch.equal(g(torch.tensor([0.0, 2.0])), torch.tensor([0.5, 2.5]))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("length", [1, 7, 64, 150])
def test_min_rnn_scan_equals_sequential(cell, length):
    model = MinRNNLM(VOCAB, cell, num_layers=2, hidden_size=24).eval()
    tokens = torch.randint(0, VOCAB, (3, length))
    scan, seq = model(tokens, mode="scan"), model(tokens, mode="sequential")
    assert scan.shape == (3, length, VOCAB)
    torch.testing.assert_close(scan, seq, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("layer", [MinGRU, MinLSTM])
def test_min_rnn_scan_is_accurate_at_16k_even_with_saturated_gates(layer):
    """Against a float64 step-by-step reference; a single unchunked log-space scan is off by ~1e-2 here."""
    cell = layer(16)
    x = 10 * torch.randn(1, 16384, 16)  # pre-activations of +-10 and more: gates near 0 and 1
    with torch.no_grad():
        log_a, log_b = cell.coefficients(x)
    h = log_space_scan(log_a, log_b)
    reference = sequential_scan(log_a.double(), log_b.double())
    assert torch.isfinite(h).all()
    assert ((h.double() - reference).abs() / reference.abs()).max() < 2e-4


def test_min_rnn_gradients_are_finite_over_a_long_sequence():
    model = MinRNNLM(VOCAB, "minlstm", num_layers=1, hidden_size=16)
    model(torch.randint(0, VOCAB, (1, 4096))).logsumexp(-1).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.blocks[0].rnn.gates.weight.grad.abs().sum() > 0


CHUNKED = {"linear_attention": lambda c: LinearAttentionLM(VOCAB, num_layers=2, n_heads=4, d_model=32, chunk_size=c),
           "linear_attention_conv": lambda c: LinearAttentionLM(VOCAB, num_layers=2, n_heads=4, d_model=32,
                                                                chunk_size=c, conv_size=4),
           "deltanet": lambda c: DeltaNetLM(VOCAB, num_layers=2, n_heads=2, d_model=16, chunk_size=c)}


@pytest.mark.parametrize("length", [1, 7, 64, 100])
@pytest.mark.parametrize("chunk_size", [1, 16, 64])
@pytest.mark.parametrize("name", sorted(CHUNKED))
def test_chunked_attention_equals_recurrent(name, length, chunk_size):
    model = CHUNKED[name](chunk_size).eval()
    tokens = torch.randint(0, VOCAB, (3, length))
    torch.testing.assert_close(model(tokens, mode="chunked"), model(tokens, mode="recurrent"), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("length", [1, 2, 7, 64, 100])
@pytest.mark.parametrize("chunk", [1, 4, 16])
def test_linear_scan_equals_the_loop_with_inputs_of_either_sign(length, chunk):
    """The SSM's b = Δ B x is negative as often as positive: the scan must not assume b > 0 as minGRU's does."""
    a = torch.rand(3, length, 5, 4, dtype=torch.float64)
    b = torch.randn(3, length, 5, 4, dtype=torch.float64)
    h, expected = torch.zeros(3, 5, 4, dtype=torch.float64), []
    for t in range(length):
        h = a[:, t] * h + b[:, t]
        expected.append(h)
    torch.testing.assert_close(linear_scan(a, b, chunk), torch.stack(expected, dim=1))
    assert (b < 0).any() and linear_scan(a.float(), b.float()).dtype == torch.float32


@pytest.mark.parametrize("length", [1, 2, 7, 33])
@pytest.mark.parametrize("chunk", [1, 4, 16])
def test_linear_scan_backward_is_the_gradient(length, chunk):
    """linear_scan has its own backward (the recurrence backwards in time); torch's numerical check in float64."""
    a = torch.rand(2, length, 3, 2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, length, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: linear_scan(a, b, chunk), (a, b))


@pytest.mark.parametrize("length", [1, 7, 64, 100])
def test_mamba_scan_equals_sequential(length):
    model = MambaLM(VOCAB, num_layers=2, d_model=24, d_state=8).eval()
    tokens = torch.randint(0, VOCAB, (3, length))
    scan, seq = model(tokens, mode="scan"), model(tokens, mode="sequential")
    assert scan.shape == (3, length, VOCAB)
    torch.testing.assert_close(scan, seq, atol=1e-5, rtol=1e-5)


def test_mamba_scan_holds_with_large_steps_that_forget_at_once():
    """Δ of several units makes the decays underflow over a few tokens, the regime where a closed form with
    cumulative log-decays overflows; the linear-space scan still equals the step-by-step recurrence."""
    model = MambaLM(VOCAB, num_layers=1, d_model=16, dt_min=2.0, dt_max=8.0).eval()
    tokens = torch.randint(0, VOCAB, (2, 50))
    torch.testing.assert_close(model(tokens, mode="scan"), model(tokens, mode="sequential"), atol=1e-5, rtol=1e-5)


def test_linear_attention_without_a_convolution_is_the_papers_model():
    """conv_size 1 (the default) builds no convolution; 4 adds only the depthwise filters on q, k and v."""
    plain = LinearAttentionLM(VOCAB, d_model=32)
    conv = LinearAttentionLM(VOCAB, d_model=32, conv_size=4)
    assert plain.blocks[0].attn.conv is None and conv.blocks[0].attn.conv.kernel_size == 4
    assert count_params(conv) - count_params(plain) == 2 * (3 * 32) * (4 + 1)  # depthwise weights and biases
    assert plain.settings()["conv_size"] == 1


def test_the_delta_rule_overwrites_a_key_where_linear_attention_adds():
    """Write value 1 then value 2 under one unit key with β = 1: the delta rule returns 2 (the latest), a sum
    of outer products would return 3; and a second, orthogonal key keeps its own value."""
    e0, e1 = torch.eye(2)
    k = torch.stack([e0, e0, e1])[None, None]  # (1, 1, 3, 2)
    v = torch.tensor([[1.0], [2.0], [5.0]])[None, None]
    beta = torch.ones(1, 1, 3)
    q = torch.stack([e0, e0, e0])[None, None]
    for o in (chunked_delta_rule(q, k, v, beta, chunk_size=2), recurrent_delta_rule(q, k, v, beta)):
        torch.testing.assert_close(o[0, 0, :, 0], torch.tensor([1.0, 2.0, 2.0]))
    read_e1 = chunked_delta_rule(torch.stack([e1] * 3)[None, None], k, v, beta, chunk_size=3)
    torch.testing.assert_close(read_e1[0, 0, :, 0], torch.tensor([0.0, 0.0, 5.0]))


@pytest.mark.parametrize("model", new_models(20_000), ids=lambda m: m.name)
def test_changing_later_tokens_changes_no_earlier_output(model):
    model.eval()
    tokens = torch.randint(0, VOCAB, (2, 150))  # more than one chunk of the scan and of linear attention
    changed = tokens.clone()
    changed[:, 70:] = torch.randint(0, VOCAB, (2, 80))
    changed[:, 70] = (tokens[:, 70] + 1) % VOCAB
    a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :70], b[:, :70], atol=0, rtol=0)
    assert not torch.allclose(a[:, 70:], b[:, 70:])
    assert model.max_positions is None


@pytest.mark.parametrize("budget", [50_000, 200_000, 1_000_000])
def test_parameter_budget_is_met_within_five_percent(budget):
    for model in new_models(budget):
        n = count_params(model)
        assert abs(n - budget) <= 0.05 * budget, (model.name, n, budget)


def test_explicit_widths_opt_out_of_the_budget():
    m = MinRNNLM(VOCAB, "minlstm", hidden_size=33, d_ff=70)
    assert (m.hidden_size, m.d_ff, m.name) == (33, 70, "minlstm")
    la = LinearAttentionLM(VOCAB, d_model=48, n_heads=4, d_ff=100)
    assert (la.d_model, la.d_ff, la.name) == (48, 100, "linear_attention")
    mamba = MambaLM(VOCAB, d_model=20, d_ff=50)
    assert (mamba.d_model, mamba.d_ff, mamba.name) == (20, 50, "mamba")
    delta = DeltaNetLM(VOCAB, d_model=20, d_ff=50)
    assert (delta.d_model, delta.d_ff, delta.name) == (20, 50, "deltanet")


@pytest.mark.parametrize(("make", "match"), [
    (lambda: MinRNNLM(VOCAB, "mingru", num_layers=0, hidden_size=8), "num_layers=0"),
    (lambda: MinRNNLM(VOCAB, "mingru", hidden_size=8, mode="parallel"), r"mode='parallel'.*'scan', 'sequential'"),
    (lambda: MinRNNLM(VOCAB, "mingrus", hidden_size=8), r"cell='mingrus'.*'mingru', 'minlstm'"),
    (lambda: MinRNNLM(VOCAB, "minlstm", param_budget=None), "hidden_size or model.param_budget"),
    (lambda: MinRNNLM(VOCAB, "minlstm", param_budget=10), "param_budget=10 is too small"),
    (lambda: LinearAttentionLM(VOCAB, num_layers=0, d_model=8), "num_layers=0"),
    (lambda: LinearAttentionLM(VOCAB, d_model=30, n_heads=4), "d_model=30 must be a positive multiple of n_heads=4"),
    (lambda: LinearAttentionLM(VOCAB, d_model=8, mode="softmax"), r"mode='softmax'.*'chunked', 'recurrent'"),
    (lambda: LinearAttentionLM(VOCAB, d_model=8, chunk_size=0), "chunk_size=0"),
    (lambda: LinearAttentionLM(VOCAB, d_model=8, conv_size=0), "conv_size=0"),
    (lambda: LinearAttentionLM(VOCAB, param_budget=100), "param_budget=100 is too small"),
    (lambda: MambaLM(VOCAB, d_model=8, mode="chunked"), r"mode='chunked'.*'scan', 'sequential'"),
    (lambda: MambaLM(VOCAB, d_model=8, d_state=0), "d_state=0 must be >= 1"),
    (lambda: MambaLM(VOCAB, d_model=8, dt_rank=0), "dt_rank=0 must be >= 1"),
    (lambda: MambaLM(VOCAB, d_model=8, dt_min=0.1, dt_max=0.01), "dt_min=0.1, dt_max=0.01"),
    (lambda: MambaLM(VOCAB, param_budget=None), "d_model or model.param_budget"),
    (lambda: MambaLM(VOCAB, param_budget=100), "param_budget=100 is too small"),
    (lambda: DeltaNetLM(VOCAB, d_model=15, n_heads=2), "d_model=15 must be a positive multiple of n_heads=2"),
    (lambda: DeltaNetLM(VOCAB, d_model=8, mode="scan"), r"mode='scan'.*'chunked', 'recurrent'"),
    (lambda: DeltaNetLM(VOCAB, d_model=8, conv_size=0), "conv_size=0"),
    (lambda: DeltaNetLM(VOCAB, d_model=8, chunk_size=0), "chunk_size=0"),
])
def test_bad_values_are_named(make, match):
    with pytest.raises(UserError, match=match):
        make()


def test_unknown_mode_in_forward_is_named():
    tokens = torch.zeros(1, 3, dtype=torch.long)
    with pytest.raises(UserError, match="mode='fast'"):
        MinRNNLM(VOCAB, "mingru", hidden_size=8)(tokens, mode="fast")
    for model in (LinearAttentionLM(VOCAB, d_model=8), MambaLM(VOCAB, d_model=8), DeltaNetLM(VOCAB, d_model=8)):
        with pytest.raises(UserError, match="mode='fast'"):
            model(tokens, mode="fast")


def test_mechanism_counts_steps_and_state():
    gru = MinRNNLM(VOCAB, "mingru", num_layers=3, hidden_size=10)
    assert gru.mechanism(1) == {"parallel_over_time": True, "sequential_depth": 3, "state_size": 30}
    # Heinsen's scan within 64-token chunks (6 rounds), then Blelloch's over 16 chunks (up and down: 8, and one to
    # add what enters each chunk).
    assert gru.mechanism(64)["sequential_depth"] == 3 * 6
    assert gru.mechanism(1000)["sequential_depth"] == 3 * (6 + 9)
    assert MinRNNLM(VOCAB, "mingru", hidden_size=10, mode="sequential").mechanism(50)["sequential_depth"] == 100
    la = LinearAttentionLM(VOCAB, num_layers=2, n_heads=4, d_model=32)
    assert la.mechanism(500) == {"parallel_over_time": True, "sequential_depth": 2, "state_size": 2 * 4 * (8 * 8 + 8)}
    # With a 4-token convolution: also its last 3 inputs of q, k and v (96 channels) per layer.
    la_conv = LinearAttentionLM(VOCAB, num_layers=2, n_heads=4, d_model=32, conv_size=4)
    assert la_conv.mechanism(500)["state_size"] == 2 * (4 * (8 * 8 + 8) + 3 * 96)
    mamba = MambaLM(VOCAB, num_layers=2, d_model=8, d_state=4, d_conv=3, expand=2)
    # Per layer 16 inner channels x 4 states, and the convolution's last 2 inputs of each inner channel.
    # 15 steps inside 16-token chunks, Blelloch's 2 x 3 rounds over the 7 chunks, 1 to add the entering states.
    assert mamba.mechanism(100) == {"parallel_over_time": True, "sequential_depth": 2 * (15 + 6 + 1),
                                    "state_size": 2 * (16 * 4 + 2 * 16)}
    assert MambaLM(VOCAB, d_model=8, mode="sequential").mechanism(50)["sequential_depth"] == 100
    delta = DeltaNetLM(VOCAB, num_layers=2, n_heads=2, d_model=16, conv_size=4, chunk_size=64)
    # Per layer 2 heads of an 8 x 8 matrix, and the convolution's last 3 inputs of q, k and v (48 channels).
    assert delta.mechanism(100) == {"parallel_over_time": True, "sequential_depth": 2 * 2,
                                    "state_size": 2 * (2 * 8 * 8 + 3 * 48)}
    assert DeltaNetLM(VOCAB, d_model=16, mode="recurrent").mechanism(50)["sequential_depth"] == 100
    lstm = RecurrentLM(VOCAB, "lstm", num_layers=2, hidden_size=10)
    assert lstm.mechanism(7) == {"parallel_over_time": False, "sequential_depth": 14, "state_size": 40}
    assert RecurrentLM(VOCAB, "gru", num_layers=2, hidden_size=10).mechanism(7)["state_size"] == 20
    with pytest.raises(UserError, match="length=0"):
        gru.mechanism(0)


def build_from_config(name: str, vocab_size: int, budget: int):
    """The model that ``model=<name> model.param_budget=<budget>`` describes, from the real Hydra config."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"model={name}", f"model.param_budget={budget}"])
    # compile configures training around the model, not its constructor.
    return instantiate({k: v for k, v in cfg.model.items() if k != "compile"}, vocab_size=vocab_size)


@pytest.mark.parametrize("name", NAMES)
def test_hydra_config_composes_and_builds(name):
    model = build_from_config(name, vocab_size=VOCAB, budget=30_000)
    assert model.name == name
    assert abs(count_params(model) - 30_000) <= 1_500
    assert model(torch.randint(0, VOCAB, (2, 9))).shape == (2, 9, VOCAB)


@pytest.fixture
def one_thread():
    """Two threads on a busy two-core machine make small steps many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", NAMES)
def test_plain_torch_loop_lowers_the_copy_loss(name, one_thread):
    """No Lightning: the model is a plain nn.Module; the loss falls, so gradients reach the whole model."""
    task = CopyTask(length=4, vocab_size=4)
    model = build_from_config(name, vocab_size=task.num_tokens, budget=20_000)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        inputs, targets = task.sample(32, task.length, gen)
        loss = F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), ignore_index=IGNORE)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    # Chance on the copy is log(4) = 1.39; each model reaches about 0.75 in these 60 steps.
    assert math.isfinite(last) and last < 0.7 * first and last < 0.75 * math.log(4), (first, last)


@pytest.mark.parametrize("name", NAMES)
def test_real_training_run_writes_an_ok_row(make_cfg, name):
    from compare.train import train

    cfg = make_cfg([f"model={name}", "task.length=4", "task.vocab_size=4", "model.param_budget=20000",
                    "optimizer.lr=1e-2", "trainer.max_steps=40", "trainer.val_check_interval=40",
                    "trainer.log_every_n_steps=10", "eval.lengths=[4,8]", "eval.num_samples=32",
                    "~logger", "callbacks.checkpoint=null", "threads=1"])
    row = train(cfg)
    assert row["status"] == "ok" and row["model"] == name and row["steps"] == 40
    assert abs(row["params"] - 20_000) <= 1_000
    assert row["val_loss"] < 0.95 * math.log(4), row["val_loss"]  # below chance after 40 steps
    assert set(row["acc_by_length"]) == {"4", "8"}
