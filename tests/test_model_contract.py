"""The model contract: every conf/model yaml builds a model that honours SequenceModel, defaults have one home,
and a model that forgets a part fails at build time naming the part."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from hydra.utils import get_object
from omegaconf import OmegaConf
from torch import Tensor, nn

from compare.config.build import MODEL_RUN_KEYS, build_model
from compare.errors import UserError
from compare.models import MECHANISM_KEYS, SequenceModel
from compare.train import CONF_DIR

VOCAB, BATCH, T = 13, 2, 9
MODEL_DIR = Path(CONF_DIR) / "model"
#: Every model choice: conf/model/<name>.yaml as ``<name>``, conf/model/positions/<name>.yaml as ``positions/<name>``.
CHOICES = sorted(p.relative_to(MODEL_DIR).with_suffix("").as_posix() for p in MODEL_DIR.rglob("*.yaml"))


def test_every_model_yaml_is_covered():
    assert {"lstm", "gru", "rnn", "transformer", "mingru", "minlstm", "linear_attention", "mamba",
            "deltanet"} <= set(CHOICES)
    assert "positions/rope" in CHOICES and "positions/learned" in CHOICES


@pytest.mark.parametrize("choice", CHOICES)
def test_every_model_yaml_builds_a_model_that_honours_the_contract(choice, make_cfg):
    cfg = make_cfg([f"model={choice}", "model.param_budget=20000"])
    torch.manual_seed(0)
    model = build_model(cfg.model, vocab_size=VOCAB).eval()  # build_model runs check_model_contract
    assert isinstance(model, SequenceModel)
    assert isinstance(model.name, str) and model.name
    limit = model.max_positions
    assert limit is None or (type(limit) is int and limit >= 1)
    assert isinstance(model.embed, nn.Embedding) and model.embed.num_embeddings == VOCAB

    length = min(T, limit or T)
    tokens = torch.randint(0, VOCAB, (BATCH, length))
    logits = model(tokens)
    assert logits.shape == (BATCH, length, VOCAB)

    mech = model.mechanism(length)
    assert tuple(mech) == MECHANISM_KEYS
    assert type(mech["parallel_over_time"]) is bool
    assert all(type(mech[k]) is int and mech[k] >= 1 for k in ("sequential_depth", "state_size"))

    settings = model.settings()
    assert isinstance(settings, dict)
    assert all(v is None or isinstance(v, (int, float, str, bool)) for v in settings.values())
    assert isinstance(model.runs_sdpa, bool)

    if model.returns_attention:
        layers, heads = model.attention_layout
        with torch.no_grad():
            same_logits, maps = model(tokens, return_attention=True)
        torch.testing.assert_close(same_logits, logits)
        assert len(maps) == layers
        for m in maps:
            assert m.shape == (BATCH, heads, length, length)
            torch.testing.assert_close(m.sum(-1), torch.ones(BATCH, heads, length))
    else:
        assert model.attention_layout is None


@pytest.mark.parametrize("path", sorted(MODEL_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_each_model_default_has_one_home(path):
    """conf/model/<name>.yaml lists every constructor setting, and a constructor default is the yaml's value.

    (conf/model/positions/*.yaml inherit conf/model/transformer.yaml and set only the key that makes them a variant.)
    """
    node = OmegaConf.to_container(OmegaConf.load(path))
    target = node.pop("_target_")
    for key in MODEL_RUN_KEYS:
        node.pop(key, None)
    params = {n: p for n, p in inspect.signature(get_object(target)).parameters.items() if n != "vocab_size"}
    unlisted = sorted(set(params) - set(node))
    assert not unlisted, f"{path.name} does not list {target}'s settings {unlisted}: its yaml is where defaults live"
    for key, value in node.items():
        default = params[key].default
        assert default is inspect.Parameter.empty or default == value, (
            f"{path.name} sets {key}: {value!r} but {target}'s constructor defaults it to {default!r}; "
            f"one home per default: make them the same")


# Models that forget one part of the contract each (built through build_model, as a user's model would be).

class Complete(SequenceModel):
    name = "complete"
    max_positions = None

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 4)
        self.head = nn.Linear(4, vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.head(self.embed(tokens))

    def mechanism(self, length: int) -> dict:
        return {"parallel_over_time": True, "sequential_depth": 1, "state_size": 4 * length}


class NoEmbed(Complete):
    def __init__(self, vocab_size: int) -> None:
        super().__init__(vocab_size)
        self.tokens = self.embed
        del self.embed


class NoName(Complete):
    name = None


class NoMaxPositions(Complete):
    def __getattribute__(self, attr):  # hides the inherited class attribute, as if it had never been written
        if attr == "max_positions":
            raise AttributeError(attr)
        return super().__getattribute__(attr)


class WrongMechanism(Complete):
    def mechanism(self, length: int) -> dict:
        return {"parallel": True}


class NoMechanism(SequenceModel):
    name = "no_mechanism"
    max_positions = None

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 4)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.embed(tokens)


class AttentionWithoutLayout(Complete):
    returns_attention = True

    def forward(self, tokens: Tensor, return_attention: bool = False):
        return super().forward(tokens)


class PlainModule(nn.Module):
    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 4)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.embed(tokens)


@pytest.mark.parametrize("cls, missing", [
    (NoEmbed, r"embed: missing"),
    (NoName, r"name: missing"),
    (NoMaxPositions, r"max_positions: missing"),
    (WrongMechanism, r"mechanism\(1\) returned \['parallel'\]"),
    (NoMechanism, r"abstract method '?mechanism"),  # Python's own words, which vary a little by version
    (AttentionWithoutLayout, r"attention_layout=None"),
    (PlainModule, r"does not derive from compare\.models\.SequenceModel"),
], ids=lambda v: v.__name__ if isinstance(v, type) else None)
def test_a_model_missing_a_part_fails_naming_it(cls, missing):
    with pytest.raises(UserError, match=missing) as caught:
        build_model(OmegaConf.create({"_target_": f"{__name__}.{cls.__name__}", "compile": False}), vocab_size=VOCAB)
    if cls is PlainModule:  # every missing part at once, not only the first
        assert "name: missing" in str(caught.value) and "mechanism(length)" in str(caught.value)


def test_a_complete_model_builds():
    model = build_model(OmegaConf.create({"_target_": f"{__name__}.Complete"}), vocab_size=VOCAB)
    assert model(torch.zeros(1, 3, dtype=torch.long)).shape == (1, 3, VOCAB)
