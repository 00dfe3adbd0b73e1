"""Per-token influence (gradient x input): exactly zero where the answer cannot see the token, for every model."""

from __future__ import annotations

import pytest
import torch

from compare.live.influence import attention_maps, gradient_x_input
from compare.models import DeltaNetLM, MambaLM, RecurrentLM, TransformerLM

VOCAB, T = 11, 12


def tokens() -> torch.Tensor:
    return torch.randint(0, VOCAB, (1, T), generator=torch.Generator().manual_seed(0))


MODELS = {
    "lstm": lambda: RecurrentLM(VOCAB, "lstm", num_layers=2, hidden_size=16),
    "gru": lambda: RecurrentLM(VOCAB, "gru", num_layers=1, hidden_size=16),
    "transformer-sdpa": lambda: TransformerLM(VOCAB, num_layers=2, n_heads=2, d_model=16, max_positions=32),
    "transformer-explicit": lambda: TransformerLM(VOCAB, num_layers=2, n_heads=2, d_model=16, max_positions=32,
                                                  attention="explicit"),
    "mamba": lambda: MambaLM(VOCAB, num_layers=2, d_model=16, d_state=4),
    "deltanet": lambda: DeltaNetLM(VOCAB, num_layers=2, n_heads=2, d_model=16),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("position", [0, 5, T - 1])
def test_tokens_after_the_answer_get_exactly_zero(name, position):
    torch.manual_seed(0)
    model = MODELS[name]().eval()
    influence = gradient_x_input(model, tokens(), position, target=3)
    assert influence.shape == (T,)
    assert torch.all(influence[position + 1:] == 0.0), influence  # a causal model cannot see ahead
    assert torch.all(influence[:position + 1] != 0.0), influence  # and everything up to the answer reaches it
    assert all(p.grad is None for p in model.parameters())  # the weights' gradients are left alone


def test_tokens_outside_a_sliding_window_get_exactly_zero():
    torch.manual_seed(0)
    model = TransformerLM(VOCAB, num_layers=1, n_heads=2, d_model=16, window=3, pos_encoding="none").eval()
    influence = gradient_x_input(model, tokens(), position=8, target=3)
    assert torch.all(influence[:6] == 0.0) and torch.all(influence[9:] == 0.0), influence
    assert torch.all(influence[6:9] != 0.0), influence  # the window: tokens 6, 7 and 8 itself


def test_influence_is_gradient_times_embedding():
    torch.manual_seed(0)
    model = MODELS["lstm"]().eval()
    x = tokens()
    emb = model.embed(x).detach().requires_grad_(True)
    out, _ = model.rnn(emb)
    logp = model.head(out)[0, 7].log_softmax(-1)[2]
    (grad,) = torch.autograd.grad(logp, emb)
    torch.testing.assert_close(gradient_x_input(model, x, 7, 2), (grad * emb)[0].sum(-1).detach())


def test_position_outside_the_input_is_a_user_error():
    from compare.errors import UserError

    with pytest.raises(UserError, match="outside the input of 12 tokens"):
        gradient_x_input(MODELS["lstm"]().eval(), tokens(), T, 0)


def test_attention_maps_only_for_attention_models():
    assert attention_maps(MODELS["lstm"]().eval(), tokens()) is None
    maps = attention_maps(MODELS["transformer-sdpa"]().eval(), tokens())
    assert len(maps) == 2 and maps[0].shape == (2, T, T)
    torch.testing.assert_close(maps[1].sum(-1), torch.ones(2, T))
    assert torch.all(maps[0].triu(1) == 0)
