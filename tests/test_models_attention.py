"""Transformer position encodings and sliding-window attention: every combination means what it says."""

import math

import pytest
import torch

from compare.errors import UserError
from compare.models import TransformerLM, count_params, explicit_attention
from compare.models.positions import (
    POSITIONAL_ENCODINGS,
    AttentionPattern,
    Rotary,
    alibi_slopes,
    default_hard_alibi_windows,
)
from compare.tasks import CopyTask

VOCAB = 13
WINDOWS = [None, 3]


def tiny(pos, window=None, attention="sdpa", num_layers=2, seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("max_positions", 32)
    return TransformerLM(VOCAB, num_layers=num_layers, n_heads=4, d_model=32, pos_encoding=pos,
                         window=window, attention=attention, **kw).eval()


def twins(pos, window=None, **kw):
    """The same weights behind the SDPA and the explicit path."""
    sdpa = tiny(pos, window, "sdpa", **kw)
    explicit = tiny(pos, window, "explicit", **kw)
    explicit.load_state_dict(sdpa.state_dict())
    return sdpa, explicit


def allowed(pos, window, n_heads, t):
    """(heads, t, t): where query i may attend key j, written out from the definitions."""
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    heads = default_hard_alibi_windows(n_heads) if pos == "hard_alibi" else [None] * n_heads
    out = []
    for w in heads:
        ok = j <= i
        for limit in (window, w):
            if limit is not None:
                ok = ok & (i - j < limit)
        out.append(ok)
    return torch.stack(out)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("pos", POSITIONAL_ENCODINGS)
def test_sdpa_equals_explicit_and_maps_keep_to_the_band(pos, window):
    sdpa, explicit = twins(pos, window)
    tokens = torch.randint(0, VOCAB, (3, 12))
    torch.testing.assert_close(explicit(tokens), sdpa(tokens), atol=1e-5, rtol=1e-5)
    logits, maps = sdpa(tokens, return_attention=True)
    torch.testing.assert_close(logits, sdpa(tokens), atol=1e-5, rtol=1e-5)
    band = allowed(pos, window, 4, 12)
    for m in maps:
        assert m.shape == (3, 4, 12, 12)
        torch.testing.assert_close(m.sum(-1), torch.ones(3, 4, 12))
        assert torch.all(m[:, ~band] == 0), "attention outside the band"
        assert torch.all(m[:, band] > 0), "a key inside the band got no weight"


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("pos", POSITIONAL_ENCODINGS)
def test_causal(pos, window):
    model = tiny(pos, window)
    tokens = torch.randint(0, VOCAB, (2, 14))
    changed = tokens.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % VOCAB
    a, b = model(tokens), model(changed)
    torch.testing.assert_close(a[:, :8], b[:, :8])
    assert not torch.allclose(a[:, 8:], b[:, 8:])


@pytest.mark.parametrize("pos", POSITIONAL_ENCODINGS)
def test_a_window_at_least_the_length_is_full_attention(pos):
    tokens = torch.randint(0, VOCAB, (2, 10))
    full = tiny(pos, None)
    for w in (10, 25):
        banded = tiny(pos, w)
        banded.load_state_dict(full.state_dict())
        torch.testing.assert_close(banded(tokens), full(tokens))
    narrow = tiny(pos, 4)
    narrow.load_state_dict(full.state_dict())
    assert not torch.allclose(narrow(tokens), full(tokens))


@pytest.mark.parametrize("attention", ["sdpa", "explicit"])
@pytest.mark.parametrize("pos", POSITIONAL_ENCODINGS)
def test_one_layer_sees_exactly_the_last_window_tokens(pos, attention):
    w, t, at = 3, 12, 9
    model = tiny(pos, w, attention, num_layers=1)
    tokens = torch.randint(0, VOCAB, (2, t))
    base = model(tokens)[:, at]
    older = tokens.clone()
    older[:, : at - w + 1] = (older[:, : at - w + 1] + 1) % VOCAB  # every key older than the window
    torch.testing.assert_close(model(older)[:, at], base)
    oldest_seen = tokens.clone()
    oldest_seen[:, at - w + 1] = (oldest_seen[:, at - w + 1] + 1) % VOCAB
    # For hard_alibi only the NoPE heads reach back that far, which is enough.
    assert not torch.allclose(model(oldest_seen)[:, at], base)


def test_layers_widen_the_window_by_window_minus_one_each():
    w, layers, at = 3, 2, 11
    model = tiny("none", w, num_layers=layers)
    reach = layers * (w - 1)  # position at - reach is the oldest that can still matter
    tokens = torch.randint(0, VOCAB, (2, 12))
    base = model(tokens)[:, at]
    beyond = tokens.clone()
    beyond[:, : at - reach] = (beyond[:, : at - reach] + 1) % VOCAB
    torch.testing.assert_close(model(beyond)[:, at], base)
    edge = tokens.clone()
    edge[:, at - reach] = (edge[:, at - reach] + 1) % VOCAB
    assert not torch.allclose(model(edge)[:, at], base)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("pos", [p for p in POSITIONAL_ENCODINGS if p != "learned"])
def test_table_free_encodings_run_far_beyond_any_length_seen(pos, window):
    model = tiny(pos, window, max_positions=16)
    assert model.max_positions is None
    out = model(torch.randint(0, VOCAB, (1, 4 * 16)))
    assert out.shape == (1, 64, VOCAB) and torch.isfinite(out).all()


def test_learned_positions_refuse_beyond_their_table():
    model = tiny("learned", 3, max_positions=16)
    with pytest.raises(UserError, match="max_positions=16"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_unknown_encoding_is_named_with_the_choices():
    with pytest.raises(UserError, match=r"pos_encoding='xpos' is not known.*'rope'.*'hard_alibi'"):
        TransformerLM(VOCAB, d_model=16, n_heads=2, pos_encoding="xpos")


@pytest.mark.parametrize("bad", [0, -2, True, 2.5])
def test_a_bad_window_is_a_clear_error(bad):
    with pytest.raises(UserError, match="window="):
        TransformerLM(VOCAB, d_model=16, n_heads=2, window=bad)


@pytest.mark.parametrize("budget", [50_000, 200_000])
@pytest.mark.parametrize("pos", POSITIONAL_ENCODINGS)
def test_budget_is_met_for_every_encoding(pos, budget):
    model = TransformerLM(VOCAB, param_budget=budget, pos_encoding=pos, window=16, max_positions=512)
    n = count_params(model)
    assert abs(n - budget) <= 0.05 * budget, (pos, n, budget)
    if pos == "rope":
        assert (model.d_model // model.n_heads) % 2 == 0


def test_alibi_slopes_are_the_papers():
    torch.testing.assert_close(alibi_slopes(8), torch.tensor([2.0 ** -k for k in range(1, 9)]))
    # Not a power of two: the 4-head slopes, then every other one of the 8-head slopes.
    torch.testing.assert_close(alibi_slopes(6), torch.tensor([2.0 ** -k for k in (2, 4, 6, 8, 1, 3)]))


def test_alibi_bias_is_minus_slope_times_distance():
    heads, t = 8, 6
    bias = AttentionPattern(heads, None, alibi_slopes(heads))(t, torch.device("cpu"), torch.float32)
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    for h in range(heads):
        m = 2.0 ** -(h + 1)
        expected = torch.where(j <= i, -m * (i - j).float(), torch.tensor(float("-inf")))
        torch.testing.assert_close(bias[h], expected)
    # With equal scores, the weights fall off as exp(-m * distance).
    q = torch.zeros(1, heads, t, 4)
    _, weights = explicit_attention(q, q, torch.randn(1, heads, t, 4), causal=False, mask=bias)
    row = torch.exp(-0.5 * torch.arange(t - 1, -1, -1.0))
    torch.testing.assert_close(weights[0, 0, -1], row / row.sum())


def test_hard_alibi_default_windows_and_configured_ones():
    assert default_hard_alibi_windows(4) == [1, 2, None, None]
    assert default_hard_alibi_windows(16) == list(range(1, 9)) + [None] * 8
    model = tiny("hard_alibi")
    _, maps = model(torch.randint(0, VOCAB, (1, 8)), return_attention=True)
    torch.testing.assert_close(maps[0][0, 0], torch.eye(8))  # a window of one: only itself
    assert torch.all(maps[0][0, 1].tril(-2) == 0) and torch.all(maps[0][0, 1].diagonal(-1)[1:] > 0)
    past = torch.ones(8, 8, dtype=torch.bool).tril()
    assert torch.all(maps[0][0, 2:][:, past] > 0)  # NoPE heads see all of the past
    custom = tiny("hard_alibi", hard_alibi_windows=[None, 5, 3, None])
    assert custom.hard_alibi_windows == [None, 5, 3, None]
    _, maps = custom(torch.randint(0, VOCAB, (1, 8)), return_attention=True)
    assert torch.all(maps[0][0, 1].tril(-5) == 0) and torch.all(maps[0][0, 2].tril(-3) == 0)
    for bad in ([1, 2], [0, 1, 2, 3], [1, 2, "x", None]):
        with pytest.raises(UserError, match="hard_alibi_windows="):
            tiny("hard_alibi", hard_alibi_windows=bad)
    with pytest.raises(UserError, match="only read with pos_encoding=hard_alibi"):
        tiny("alibi", hard_alibi_windows=[1, 2, None, None])


def test_rope_scores_depend_only_on_the_offset():
    rotary = Rotary(8)
    q, k = torch.randn(8), torch.randn(8)
    seq = torch.zeros(1, 20, 8)

    def score(i, j):
        qs, ks = seq.clone(), seq.clone()
        qs[0, i], ks[0, j] = q, k
        return rotary(qs)[0, i] @ rotary(ks)[0, j]

    torch.testing.assert_close(score(5, 2), score(17, 14))
    assert not torch.isclose(score(5, 2), score(5, 4))
    with pytest.raises(UserError, match="even width per head"):
        TransformerLM(VOCAB, d_model=12, n_heads=4, pos_encoding="rope")


def test_full_attention_keeps_the_unmasked_flash_path_and_masks_are_built_once():
    cpu = torch.device("cpu")
    assert AttentionPattern(4, None)(50, cpu, torch.float32) is None
    assert AttentionPattern(4, 64)(50, cpu, torch.float32) is None  # a window longer than the sequence
    assert AttentionPattern(4, None, head_windows=[None] * 4)(50, cpu, torch.float32) is None
    banded = AttentionPattern(4, 3)
    first = banded(50, cpu, torch.float32)
    assert first.dtype == torch.bool and first.shape == (50, 50)
    assert banded(50, cpu, torch.float32) is first
    alibi = AttentionPattern(4, None, alibi_slopes(4))
    assert alibi(50, cpu, torch.float32) is alibi(50, cpu, torch.float32)
    assert alibi(50, cpu, torch.bfloat16).dtype == torch.bfloat16


@pytest.mark.parametrize("window", WINDOWS)
def test_mechanism_counts_the_kv_cache(window):
    model = tiny("rope", window)
    for length in (2, 3, 100):
        visible = min(length, window or length)
        assert model.mechanism(length) == {"parallel_over_time": True, "sequential_depth": 2,
                                           "state_size": 2 * 2 * 32 * visible}


def test_rope_transformer_learns_to_copy():
    torch.manual_seed(0)
    task = CopyTask(length=8, vocab_size=8)
    model = TransformerLM(task.num_tokens, num_layers=2, n_heads=4, d_model=32, pos_encoding="rope")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(100):
        inputs, targets = task.sample(16, 8, gen)
        loss = torch.nn.functional.cross_entropy(model(inputs).flatten(0, 1), targets.flatten(), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start, end = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert start > 0.9 * math.log(8), losses[:10]
    assert end < 0.5 * start, (start, end)
