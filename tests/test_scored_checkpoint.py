"""eval.checkpoint: a run is scored with its best validation checkpoint (default) or its last weights."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from compare.config.build import build, build_model
from compare.errors import UserError
from compare.evaluation import evaluate_ladder, ladder_lengths
from compare.train import train

#: A small LSTM that learns copy of 3 symbols from 4 quickly; validated every 10 steps, at one length so
#: Lightning's val/loss (a mean over batches) and the row's (a mean over tokens) are the same number.
TINY = ["model=lstm", "model.param_budget=null", "model.hidden_size=32", "task.length=3", "task.min_length=3",
        "task.vocab_size=4", "optimizer.lr=0.01", "trainer.max_steps=40", "trainer.val_check_interval=10",
        "trainer.log_every_n_steps=10", "data.val_size=64", "eval.num_samples=64"]
# The checkpoint callback keeps the weights of the *highest* validation loss: the least trained ones, so
# the best checkpoint is certain to be an early step and differs from the last weights.
WORST_IS_BEST = ["callbacks.checkpoint.monitor=val/loss", "callbacks.checkpoint.mode=max"]


def weights_of(cfg, path: Path):
    """The model of ``cfg`` with the weights stored in checkpoint ``path``."""
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict({k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")})
    return task, model, ckpt


def ladder_scores(cfg, task, model) -> list[float]:
    lengths = ladder_lengths(task.length, cfg.eval.multipliers, cfg.eval.lengths)
    return [r.token_acc for r in evaluate_ladder(model, task, lengths, cfg.eval.num_samples)]


def test_the_best_checkpoint_is_scored_not_the_last_weights(make_cfg, tmp_path):
    cfg = make_cfg([*TINY, *WORST_IS_BEST])
    row = train(cfg)
    best = Path(row["scored_checkpoint"])
    assert row["steps"] == 40 and row["scored_step"] == 10 and best.name == "best-10.ckpt" and best.is_file()
    task, best_model, ckpt = weights_of(cfg, best)
    # The row's validation loss is the one the checkpoint callback recorded for these weights during training.
    recorded = ckpt["callbacks"][next(k for k in ckpt["callbacks"] if k.startswith("BestCheckpoint{'monitor': 'val/loss'"))]
    assert row["val_loss"] == pytest.approx(float(recorded["best_model_score"]), rel=1e-5)
    # The ladder was evaluated with the same weights: re-evaluating them gives the row's numbers.
    assert [r["token_acc"] for r in row["ladder"]] == pytest.approx(ladder_scores(cfg, task, best_model))
    # last.ckpt holds the weights training ended with (the best were loaded into a copy), and they score otherwise.
    _, last_model, last_ckpt = weights_of(cfg, tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last_ckpt["global_step"] == 40
    assert ladder_scores(cfg, task, last_model) != pytest.approx(ladder_scores(cfg, task, best_model))


def val_series(run_dir: Path, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tb"))
    acc.Reload()
    return {e.step: e.value for e in acc.Scalars(tag)}


def test_a_tie_on_accuracy_goes_to_the_lower_validation_loss(make_cfg, tmp_path):
    # Copy of 3 symbols from 4 is solved early: validation accuracy then reads 1.00 at every later check, and
    # plain ModelCheckpoint would keep the first of them. The kept one must be the tied check with the lowest loss.
    row = train(make_cfg([*TINY, "trainer.max_steps=120"], sub="tie"))
    acc, loss = val_series(tmp_path / "tie", "val/seq_acc"), val_series(tmp_path / "tie", "val/loss")
    tied = [step for step, a in acc.items() if a == max(acc.values())]
    assert len(tied) >= 3, acc  # the task saturates, so the rule is exercised
    expected = min(tied, key=lambda step: loss[step])
    assert expected != tied[0]
    # TensorBoard steps are 0-based; checkpoint names and scored_step count steps done.
    assert row["scored_step"] == expected + 1 and Path(row["scored_checkpoint"]).name == f"best-{expected + 1}.ckpt"
    assert row["val_loss"] == pytest.approx(loss[expected], rel=1e-5)
    off = train(make_cfg([*TINY, "trainer.max_steps=120", "callbacks.checkpoint.tie_break=null"], sub="first"))
    assert off["scored_step"] == tied[0] + 1


def test_a_misspelled_tie_break_metric_is_a_clear_error(make_cfg):
    with pytest.raises(UserError, match=r"callbacks.checkpoint.tie_break='val/los' is not a logged metric; logged: .*val/loss"):
        train(make_cfg([*TINY, "trainer.max_steps=10", "callbacks.checkpoint.tie_break=val/los"], sub="typo"))


def test_last_weights_on_request_and_when_the_checkpoint_callback_is_off(make_cfg, tmp_path, caplog):
    last = train(make_cfg([*TINY, *WORST_IS_BEST, "eval.checkpoint=last"], sub="last"))
    assert last["scored_checkpoint"] == "last" and last["scored_step"] == last["steps"] == 40
    with caplog.at_level(logging.WARNING, logger="compare"):
        off = train(make_cfg([*TINY, "callbacks.checkpoint=null"], sub="off"))
    assert off["scored_checkpoint"] == "last" and off["scored_step"] == 40
    warnings = [r.getMessage() for r in caplog.records if "eval.checkpoint=best" in r.getMessage()]
    assert len(warnings) == 1 and "callbacks.checkpoint is off" in warnings[0]
    # Same seed, same training: scoring the last weights gives the same numbers with or without the callback.
    assert off["val_loss"] == last["val_loss"] and off["acc_by_length"] == last["acc_by_length"]


def test_an_unknown_choice_stops_the_run_before_training(make_cfg):
    with pytest.raises(UserError, match=r"eval.checkpoint='worst' is not accepted; choose one of \['best', 'last'\]"):
        train(make_cfg(["eval.checkpoint=worst", "trainer.max_steps=2"]))


def test_dashboard_and_attention_explorer_show_the_scored_weights_not_the_last(make_cfg, tmp_path):
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from compare.training.attention_callback import attention_maps

    tiny_transformer = ["model=transformer", "model.param_budget=null", "model.d_model=16", "model.n_heads=2",
                        *TINY[3:]]
    cfg = make_cfg([*tiny_transformer, *WORST_IS_BEST])
    row = train(cfg)
    assert row["scored_step"] == 10 and row["steps"] == 40
    events = [p for p in (tmp_path / "run" / "tb").rglob("events.out.tfevents.*")]
    final = {}
    for path in events:
        acc = EventAccumulator(str(path))
        acc.Reload()
        for tag in ("final/val_loss", "final/val_seq_acc"):
            if tag in acc.Tags()["scalars"]:
                final[tag] = acc.Scalars(tag)[-1].value
    # The HParams tab's final metrics are the row's: those of the best checkpoint, not of the last weights.
    assert final["final/val_loss"] == pytest.approx(row["val_loss"], rel=1e-5)
    assert final["final/val_seq_acc"] == pytest.approx(row["val_seq_acc"], abs=1e-6)
    # The explorer's maps are the best checkpoint's too.
    payload = json.loads((tmp_path / "run" / "attention.json").read_text())
    assert payload["meta"]["step"] == 10
    task, best_model, _ = weights_of(cfg, Path(row["scored_checkpoint"]))
    _, last_model, _ = weights_of(cfg, tmp_path / "run" / "checkpoints" / "last.ckpt")
    tokens, _ = task.probe()
    best_maps, last_maps = attention_maps(best_model, tokens), attention_maps(last_model, tokens)
    shown = torch.tensor(payload["weights"])  # rounded for the page
    assert torch.allclose(shown, torch.stack(best_maps), atol=1e-3)
    assert not torch.allclose(shown, torch.stack(last_maps), atol=1e-3)
