"""compare-lab without a browser: loading a trained pair, and what the page shows for good and bad inputs."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import torch

from compare.lab import main
from compare.live.page import Page
from compare.live.runs import load_lab

STORY = "mary drank water. john ate apple. who drank water?"
CARD = re.compile(r'data-model="(\w+)" data-run="[^"]*" data-answer="([^"]*)" data-prob="([\d.]+)"')


@pytest.fixture(scope="module")
def page(lab_sweep):
    return Page(load_lab(lab_sweep))


def attention_row(cards: str) -> list[float]:
    strip = cards[cards.index('data-kind="attention"'):]
    strip = strip[:strip.index("</div>")]
    return [float(w) for w in re.findall(r'data-w="([^"]+)"', strip)]


def test_the_pair_is_found_and_its_weights_loaded(lab_sweep):
    lab = load_lab(lab_sweep)
    assert [g.label for g in lab.groups] == ["qa · length 8"] and lab.skipped == []
    models = lab.groups[0].models
    assert [m.kind for m in models] == ["lstm", "transformer"] and [m.attends for m in models] == [False, True]
    for m in models:
        saved = torch.load(m.checkpoint, map_location="cpu", weights_only=True)["state_dict"]
        torch.testing.assert_close(m.model.embed.weight, saved["model.embed.weight"])
        assert m.checkpoint.name.startswith("best-") and not m.model.training


def test_every_model_answers_the_story(page):
    message, cards, curve = page.update(page.choices()[0], STORY)
    assert message == ""
    found = CARD.findall(cards)
    assert [f[0] for f in found] == ["lstm", "transformer"]
    live = page.lab.groups[0].task.parse_text(STORY)
    for (kind, answer, prob), m in zip(found, page.lab.groups[0].models):
        with torch.no_grad():
            probs = m.model(torch.tensor([live.tokens]))[0, -1].softmax(-1)
        assert answer == m.task.words[int(probs.argmax())]
        assert float(prob) == pytest.approx(float(probs.max()), abs=1e-5)
    assert cards.count('data-kind="influence"') == 2 and cards.count('data-kind="attention"') == 1
    assert 'class="lab-map"' in cards and "no attention: lstm reads one token at a time" in cards
    lines = re.findall(r'<polyline [^>]*data-model="(\w+)" data-probs="([^"]*)"', curve)
    assert [name for name, _ in lines] == ["lstm", "transformer"]
    assert all(len(values.split(",")) == 13 for _, values in lines)


def test_sliders_redraw_the_attention(page):
    label = page.choices()[0]
    _, first, _ = page.update(label, STORY, layer=1, head=1)
    _, second_layer, _ = page.update(label, STORY, layer=2, head=1)
    _, mean, _ = page.update(label, STORY, layer=2, head=1, mean=True)
    assert "layer 1 of 2, head 1 of 4" in first and "layer 2 of 2, head 1 of 4" in second_layer
    assert "layer 2 of 2, mean over 4 heads" in mean
    assert attention_row(first) != attention_row(second_layer) != attention_row(mean)
    # A layer past this model's last is clamped to it, not an error.
    assert "layer 2 of 2" in page.update(label, STORY, layer=9)[1]


def test_moving_the_fact_back_marks_the_inserted_sentences(page):
    _, cards, curve = page.update(page.choices()[0], STORY, distractors=2)
    assert cards.count("lab-tok added") == 3 * 8  # 2 sentences of 4 tokens, in the 3 strips (2 influence, 1 attention)
    assert "lab-tok q" in cards and 'data-distances="[8, 12, 16' in curve


@pytest.mark.parametrize("text, shown", [
    ("mary drank tea. who drank water?", "unknown word &#x27;tea&#x27;"),
    ("", "the story is empty"),
    ("who drank water?", "the story is empty"),
])
def test_bad_input_is_a_message_and_the_last_panels_stay(page, text, shown):
    message, cards, curve = page.update(page.choices()[0], text)
    assert shown in message and 'id="lab-error-text"' in message
    assert cards is None and curve is None


def test_a_story_longer_than_the_position_table(page):
    limit = page.lab.groups[0].models[1].max_tokens
    story = " ".join(["mary drank water."] * (limit // 4 + 1)) + " who drank water?"
    message, cards, curve = page.update(page.choices()[0], story)
    assert message == ""
    assert re.search(r'data-model="lstm" data-run="[^"]*" data-answer="\w+"', cards)
    assert f"learned position table of {limit} positions" in cards
    assert re.search(r'data-model="transformer" data-run="[^"]*" data-error="1"', cards)
    values = dict(re.findall(r'data-model="(\w+)" data-probs="([^"]*)"', curve))
    assert values["transformer"].split(",")[0] == "" and values["lstm"].split(",")[0] != ""


def test_runs_that_cannot_load_are_listed(lab_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(lab_sweep, sweep)
    shutil.rmtree(sweep / "1_qa_transformer_L8" / "checkpoints")
    failed = sweep / "2_qa_gru_L8"
    failed.mkdir()
    row = json.loads((sweep / "0_qa_lstm_L8" / "results.json").read_text())
    row.update(status="failed", error="task.length=0 is not accepted")
    (failed / "results.json").write_text(json.dumps(row))
    lab = load_lab(sweep)
    assert [m.kind for g in lab.groups for m in g.models] == ["lstm"]
    reasons = dict(lab.skipped)
    assert "no checkpoint" in reasons["1_qa_transformer_L8"]
    assert "status failed: task.length=0" in reasons["2_qa_gru_L8"]
    assert "not loaded: 2_qa_gru_L8" in Page(lab).setup(Page(lab).choices()[0]).models


def test_cli_reports_a_bad_folder_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "missing")])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == f"compare-lab: error: {tmp_path / 'missing'}: no such folder"
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--port", "0"])
    assert e.value.code == 2 and "--port=0 is not accepted" in capsys.readouterr().err


def test_the_report_points_to_compare_lab(lab_sweep):
    from compare.reporting.blocks import explorer_blocks
    from compare.runs.records import load_runs

    blocks = explorer_blocks(load_runs(lab_sweep), lab_sweep / "report")
    assert blocks[-1] == ("p", f"To type your own inputs and watch every model answer live: compare-lab {lab_sweep}")


def test_the_gradio_app_builds_with_every_control(lab_sweep):
    pytest.importorskip("gradio", reason="gradio is not installed (pip install -e '.[lab]')")
    from compare.live.app import build_app

    app = build_app(load_lab(lab_sweep))
    ids = {getattr(block, "elem_id", None) for block in app.blocks.values()}
    assert {"lab-task", "lab-input", "lab-distract", "lab-layer", "lab-head", "lab-mean", "lab-message",
            "lab-cards", "lab-curve"} <= ids
    app.close()
