"""compare-lab's teaching views without a browser: every head at once, what a recurrent model keeps (its own
gates), a text model's next-token distribution and samples, and the training timeline's snapshots."""

from __future__ import annotations

import json
import re

import pytest
import torch

from compare.live.analysis import Sampling
from compare.live.page import Page
from compare.live.runs import load_lab
from compare.training.timeline import read_timeline, timeline_steps

#: The snapshots the lab's runs keep (tests/lab/conftest.py: 4 points over 20 steps).
TIMELINE = [0, 10, 14, 20]
STORY = "mary drank water. john ate apple. who drank water?"


@pytest.fixture(scope="module")
def page(lab_sweep):
    return Page(load_lab(lab_sweep))


def card_of(cards: str, kind: str) -> str:
    start = cards.index(f'data-model="{kind}"')
    nxt = cards.find('<div class="lab-card"', start)
    return cards[start:nxt if nxt > 0 else len(cards)]


def test_timeline_steps_are_zero_then_log_spaced():
    assert timeline_steps(20, 4) == TIMELINE
    assert timeline_steps(800, 8) == [0, 10, 21, 43, 89, 186, 385, 800]
    assert timeline_steps(800, 0) == [] and timeline_steps(5, 8) == [0, 5]


def test_the_timeline_keeps_the_snapshots_it_says(lab_sweep):
    for run in sorted(lab_sweep.iterdir()):
        index = json.loads((run / "timeline" / "index.json").read_text())
        assert index["steps"] == TIMELINE
        saved = read_timeline(run)
        assert [s for s, _ in saved] == TIMELINE
        last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
        final = torch.load(saved[-1][1], map_location="cpu", weights_only=True)
        first = torch.load(saved[0][1], map_location="cpu", weights_only=True)
        for key, value in final.items():  # the last snapshot is the weights training ended with
            torch.testing.assert_close(value, last[f"model.{key}"])
        assert not torch.equal(first["embed.weight"], final["embed.weight"])  # step 0 is the untrained model


def test_each_snapshot_answers_with_its_own_weights(page):
    label = page.choices()[0]
    group = page.lab.group(label)
    assert page.setup(label).timeline == TIMELINE
    live = group.task.parse_text(STORY)
    for position, step in enumerate(TIMELINE):
        _, cards, _ = page.update(label, STORY, snapshot=position)
        assert f'data-step="{step}"' in cards.split(">", 1)[0]
        for m in group.models:
            weights = torch.load(dict(m.timeline)[step], map_location="cpu", weights_only=True)
            net = m.at_step(step).model
            torch.testing.assert_close(net.embed.weight, weights["embed.weight"])
            with torch.no_grad():
                p = net(torch.tensor([live.tokens]))[0, -1].softmax(-1).max().item()
            shown = re.search(r'data-prob="([\d.]+)"', card_of(cards, m.kind)).group(1)
            assert float(shown) == pytest.approx(p, abs=1e-5)
            assert f"as it was at step {step}" in card_of(cards, m.kind)
    _, end, _ = page.update(label, STORY, snapshot=len(TIMELINE))  # the right end: the scored checkpoints
    assert 'data-step=""' in end.split(">", 1)[0] and "best-" in end
    plot = page.timeline(label, 1)
    assert f'data-step="{TIMELINE[1]}"' in plot and plot.count("<polyline") == 2


def test_every_head_at_once(page):
    _, cards, _ = page.update(page.choices()[0], STORY)
    transformer = page.lab.groups[0].models[1]
    layers, heads = transformer.model.attention_layout
    card = card_of(cards, "transformer")
    assert f'data-layers="{layers}" data-heads="{heads}"' in card
    thumbs = re.findall(r'class="lab-map lab-mv-thumb"[^>]*data-layer="(\d+)" data-head="(\d+)"', card)
    assert thumbs == [(str(la), str(h)) for la in range(1, layers + 1) for h in range(1, heads + 1)]
    assert "lab-mv" not in card_of(cards, "lstm")


def test_the_gate_view_shows_the_models_own_gates(page):
    _, cards, _ = page.update(page.choices()[0], STORY)
    lstm = page.lab.groups[0].models[0]
    live = lstm.task.parse_text(STORY)
    gates = lstm.model.gate_states(torch.tensor(live.tokens))
    shown: dict[str, list[float]] = {}
    for name, value in re.findall(r'data-series="([^"]+)" data-i="\d+" data-v="([^"]+)"', card_of(cards, "lstm")):
        shown.setdefault(name, []).append(float(value))
    assert list(shown) == list(lstm.model.trace(torch.tensor(live.tokens)))
    forget = gates[0]["f"].mean(-1).tolist()
    assert shown["layer 1 forget gate f (1 = keep the cell)"] == pytest.approx(forget, abs=1e-5)
    assert shown["layer 2 |c| (state norm)"] == pytest.approx(gates[1]["c"].norm(dim=-1).tolist(), abs=1e-5)
    assert "data-series" not in card_of(cards, "transformer")  # no trace: nothing shown


def test_a_text_model_samples_with_temperature_and_top_k(text_sweep):
    page = Page(load_lab(text_sweep))
    (label,) = page.choices()
    assert page.setup(label).samples and page.setup(label).vocab == 256
    prompt = "the cat sat on "
    _, greedy, _ = page.update(label, prompt, top_k=1, sample_length=12, seed=3)
    group = page.lab.group(label)
    for m in group.models:
        seq = list(prompt.encode())
        with torch.no_grad():
            for _ in range(12):
                seq.append(int(m.model(torch.tensor([seq]))[0, -1].argmax()))
        sample = re.search(r'data-sample="([^"]*)"', card_of(greedy, m.kind)).group(1)
        assert sample == bytes(seq[len(prompt):]).decode("utf-8", errors="replace")  # top-1 is greedy
    _, three, _ = page.update(label, prompt, temperature=0.7, top_k=3, sample_length=20, seed=1)
    card = card_of(three, "transformer")
    probs = [float(p) for p in re.findall(r'class="lab-next-tok" data-p="([\d.]+)"', card)]
    assert len(probs) == 3 and sum(probs) == pytest.approx(1.0, abs=1e-4)
    net = group.models[0].model
    with torch.no_grad():
        logits = net(torch.tensor([list(prompt.encode())]))[0, -1]
    want = Sampling(0.7, 3).distribution(logits).topk(3).values.tolist()
    assert probs == pytest.approx(want, abs=1e-5)
    _, again, _ = page.update(label, prompt, temperature=0.7, top_k=3, sample_length=20, seed=1)
    assert card_of(again, "transformer") == card  # the same seed draws the same text
