"""TensorBoard as the dashboard: the events of a real sweep read back (HParams, images, custom scalars)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import plugin_data_pb2

from compare.models import TransformerLM
from compare.training.attention_callback import attention_maps
from compare.reporting.attention_html import render_attention_html


def events(logdir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def session_hparams(acc: EventAccumulator) -> dict:
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {k: v.string_value or v.number_value for k, v in info.hparams.items()}


@pytest.mark.parametrize("job,model", [("0_copy_lstm_L4", "lstm"), ("2_copy_transformer_L4", "transformer")])
def test_hparams_session_per_run(tiny_sweep: Path, job: str, model: str):
    acc = events(tiny_sweep / job / "tb")
    hp = session_hparams(acc)
    row = json.loads((tiny_sweep / job / "results.json").read_text())
    assert hp["model"] == model and hp["task"] == "copy" and hp["train_length"] == 4 and hp["params"] == row["params"]
    assert hp["lr"] == pytest.approx(3e-3) and hp["seed"] == 0
    # No per-run experiment summary: TensorBoard then builds the table from the union of all runs' sessions.
    assert "_hparams_/experiment" not in acc.PluginTagToContent("hparams")
    scalars = acc.Tags()["scalars"]
    for tag in ("final/val_seq_acc", "final/extrapolation_seq_acc", "final/train_tokens_per_s",
                "by_task/copy/val_seq_acc", "by_task/copy/seq_acc_vs_length", "length/seq_acc"):
        assert tag in scalars, tag
    assert acc.Scalars("final/val_seq_acc")[-1].value == pytest.approx(row["val_seq_acc"], abs=1e-6)
    assert [e.step for e in acc.Scalars("length/seq_acc")] == [2, 4, 8, 16]


def test_attention_images_only_for_the_transformer(tiny_sweep: Path):
    tf = events(tiny_sweep / "2_copy_transformer_L4" / "tb")
    assert tf.Tags()["images"] == ["attention/layer_1", "attention/layer_2"]
    assert tf.Images("attention/layer_1")[-1].encoded_image_string[:4] == b"\x89PNG"
    assert events(tiny_sweep / "0_copy_lstm_L4" / "tb").Tags()["images"] == []
    assert (tiny_sweep / "2_copy_transformer_L4" / "attention.html").is_file()
    assert not (tiny_sweep / "0_copy_lstm_L4" / "attention.html").exists()


def test_sweep_dashboard_has_layout_and_figures(tiny_sweep: Path):
    acc = events(tiny_sweep / "report" / "tb")
    layout = layout_pb2.Layout.FromString(acc.Tensors("custom_scalars__config__")[0].tensor_proto.string_val[0])
    (category,) = layout.category
    assert category.title == "copy"
    regexes = [tag for chart in category.chart for tag in chart.multiline.tag]
    assert "^by_task/copy/val_seq_acc$" in regexes and "^by_task/copy/seq_acc_vs_length$" in regexes
    figures = sorted(p.stem for p in (tiny_sweep / "report" / "figures").glob("*.png"))
    assert sorted(acc.Tags()["images"]) == sorted(f"report/{f}" for f in figures)


def test_attention_json_matches_the_model_and_the_page():
    torch.manual_seed(0)
    model = TransformerLM(vocab_size=7, num_layers=2, n_heads=2, d_model=16, max_positions=32)
    tokens = torch.randint(0, 7, (1, 9))
    maps = attention_maps(model, tokens)
    assert [m.shape for m in maps] == [(2, 9, 9)] * 2
    for m in maps:
        assert torch.allclose(m.sum(-1), torch.ones(2, 9), atol=1e-5)
        assert (m.triu(1) == 0).all()  # causal: nothing from the future
    from compare.reporting.attention_html import attention_payload
    payload = attention_payload([f"t{i}</script>" for i in range(9)], [m.tolist() for m in maps], {"model": "x"})
    page = render_attention_html(payload, "probe")
    embedded = page.split('id="attention-data">')[1].split("</script>")[0]
    assert json.loads(embedded) == payload  # "</" inside tokens is escaped, not ending the script
    assert "http" not in page.replace("http-equiv", "")


def test_no_attention_maps_for_recurrent_models():
    from compare.models import RecurrentLM

    assert attention_maps(RecurrentLM(vocab_size=5, cell="lstm", hidden_size=8), torch.zeros(1, 4, dtype=torch.long)) is None
