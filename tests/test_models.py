"""Models: one interface, fair sizes, and attention that means what it says."""

import math

import pytest
import torch

from compare.errors import UserError
from compare.models import RecurrentLM, TransformerLM, count_params, explicit_attention

VOCAB = 17


def all_models(budget=50_000, **tf):
    return [RecurrentLM(VOCAB, cell, param_budget=budget) for cell in ("lstm", "gru", "rnn")] + [
        TransformerLM(VOCAB, param_budget=budget, **tf)
    ]


@pytest.mark.parametrize("model", all_models(), ids=lambda m: m.name)
def test_tokens_in_logits_out(model):
    tokens = torch.randint(0, VOCAB, (3, 11))
    assert model(tokens).shape == (3, 11, VOCAB)


@pytest.mark.parametrize("budget", [50_000, 200_000, 1_000_000])
@pytest.mark.parametrize("pos", ["learned", "sinusoidal"])
def test_parameter_budget_is_met_within_five_percent(budget, pos):
    for model in all_models(budget, pos_encoding=pos):
        n = count_params(model)
        assert abs(n - budget) <= 0.05 * budget, (model.name, n, budget)


def test_explicit_widths_still_work():
    assert RecurrentLM(VOCAB, "gru", hidden_size=33).hidden_size == 33
    tf = TransformerLM(VOCAB, d_model=48, n_heads=4, d_ff=100)
    assert (tf.d_model, tf.d_ff) == (48, 100)


@pytest.mark.parametrize("d_ff", [16, 64, 128])
def test_an_explicit_mlp_width_with_a_budget_keeps_both(d_ff):
    # The width is fitted around the given MLP, so the comparison stays at one parameter count.
    from compare.models import LinearAttentionLM, MinRNNLM

    for model in (TransformerLM(VOCAB, d_ff=d_ff, param_budget=50_000), LinearAttentionLM(VOCAB, d_ff=d_ff, param_budget=50_000),
                  MinRNNLM(VOCAB, "mingru", d_ff=d_ff, param_budget=50_000)):
        assert model.d_ff == d_ff
        assert abs(count_params(model) - 50_000) <= 0.05 * 50_000, (model.name, count_params(model))


def test_an_mlp_width_that_cannot_meet_the_budget_is_a_clear_error():
    # 512 hidden units per layer: one width step moves the count by ~8k, past the 5% the comparison allows.
    with pytest.raises(UserError, match=r"model.d_ff=512 with model.param_budget=50000: .* off the budget.*d_ff=null"):
        TransformerLM(VOCAB, d_ff=512, param_budget=50_000)


def test_budget_too_small_is_a_clear_error():
    with pytest.raises(UserError, match="param_budget=10 is too small"):
        RecurrentLM(VOCAB, "lstm", param_budget=10)
    with pytest.raises(UserError, match="param_budget=100 is too small"):
        TransformerLM(VOCAB, param_budget=100)


@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "none"])
def test_explicit_attention_equals_sdpa(pos):
    torch.manual_seed(0)
    sdpa = TransformerLM(VOCAB, num_layers=2, n_heads=4, d_model=32, pos_encoding=pos, attention="sdpa").eval()
    explicit = TransformerLM(VOCAB, num_layers=2, n_heads=4, d_model=32, pos_encoding=pos, attention="explicit").eval()
    explicit.load_state_dict(sdpa.state_dict())
    tokens = torch.randint(0, VOCAB, (4, 19))
    torch.testing.assert_close(explicit(tokens), sdpa(tokens), atol=1e-5, rtol=1e-5)
    logits, maps = sdpa(tokens, return_attention=True)
    torch.testing.assert_close(logits, sdpa(tokens), atol=1e-5, rtol=1e-5)
    assert len(maps) == 2 and maps[0].shape == (4, 4, 19, 19)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(4, 4, 19))
    assert torch.all(maps[0].triu(1) == 0), "a position attends to the future"


@pytest.mark.parametrize("model", all_models(20_000), ids=lambda m: m.name)
def test_changing_a_future_token_changes_no_earlier_output(model):
    model.eval()
    tokens = torch.randint(0, VOCAB, (2, 16))
    changed = tokens.clone()
    changed[:, 10] = (changed[:, 10] + 1) % VOCAB
    a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :10], b[:, :10])
    assert not torch.allclose(a[:, 10:], b[:, 10:])


def test_learned_positions_refuse_longer_sequences():
    model = TransformerLM(VOCAB, d_model=16, n_heads=2, max_positions=8)
    assert model.max_positions == 8
    with pytest.raises(UserError, match="max_positions=8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    assert TransformerLM(VOCAB, d_model=16, n_heads=2, pos_encoding="sinusoidal").max_positions is None


def test_worked_attention_example_from_the_seed_post():
    """'2+2' with 2-d embeddings (shared/seeds/001): recompute what the formula gives.

    The post's Q is right; its K is given with third row [-8, 10] in the text and [-8, -10] in the
    product. Tokens 1 and 3 are the same ("2"), so their keys must be equal: [-8, -10] is the right one.
    Its printed softmax values are wrong; we assert what the formula gives.
    """
    x = torch.tensor([[1.0, -3.0], [13.0, -2.0], [1.0, -3.0]])
    w_q = torch.tensor([[-1.0, 1.0], [2.0, -1.0]])
    q = x @ w_q
    assert q.tolist() == [[-7, 4], [-17, 15], [-7, 4]]
    k = torch.tensor([[-8.0, -10.0], [7.0, 18.0], [-8.0, -10.0]])
    v = torch.tensor([[-10.0, -8.0], [18.0, 7.0], [-10.0, 8.0]])
    assert (q @ k.T).tolist() == [[16, 23, 16], [-14, 151, -14], [16, 23, 16]]

    out, weights = explicit_attention(q[None, None], k[None, None], v[None, None], causal=False)
    scores = (q @ k.T) / math.sqrt(2)
    expected = torch.exp(scores - scores.max(-1, keepdim=True).values)
    expected = expected / expected.sum(-1, keepdim=True)
    torch.testing.assert_close(weights[0, 0], expected)
    # What the formula gives (not the post's 3.49e-42 etc.): row 1 puts ~0.986 on "+", row 2 all on "+".
    assert weights[0, 0, 0, 1].item() == pytest.approx(1 / (1 + 2 * math.exp(-7 / math.sqrt(2))), rel=1e-6)
    assert weights[0, 0, 1, 1].item() == pytest.approx(1.0, abs=1e-30)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 1, 3))
    torch.testing.assert_close(out[0, 0], weights[0, 0] @ v)
    # Causal: the first token can only attend to itself.
    _, causal = explicit_attention(q[None, None], k[None, None], v[None, None], causal=True)
    assert causal[0, 0, 0].tolist() == [1.0, 0.0, 0.0]
