"""A real Trainer run: TensorBoard events and a results row come out, and a transformer learns copy."""

import json

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from compare.runs.results import REQUIRED_KEYS, read_results
from compare.train import train


def test_short_run_writes_tensorboard_events_and_results(make_cfg, tmp_path):
    cfg = make_cfg(["model=lstm", "task.length=6", "model.param_budget=20000", "trainer.max_steps=30",
                    "trainer.val_check_interval=10", "trainer.log_every_n_steps=5", "eval.num_samples=32"])
    row = train(cfg)
    run = tmp_path / "run"
    saved = read_results(run / "results.json")
    assert saved["status"] == "ok" and row["status"] == "ok"
    for key in REQUIRED_KEYS:
        assert key in saved
    assert saved["model"] == "lstm" and saved["task"] == "copy" and saved["train_length"] == 6
    assert abs(saved["params"] - 20000) <= 1000 and saved["steps"] == 30
    assert set(saved["acc_by_length"]) == {"3", "6", "12", "24"}
    assert [r["in_train_range"] for r in saved["ladder"]] == [True, True, False, False]
    assert saved["train_tokens_per_s"] > 0 and saved["peak_mem_mb"] > 0
    assert saved["config"]["task"]["length"] == 6

    events = EventAccumulator(str(run / "tb")).Reload()
    scalars = events.Tags()["scalars"]
    assert {"train/loss", "val/seq_acc", "val/token_acc", "length/seq_acc"} <= set(scalars)
    assert [e.step for e in events.Scalars("length/seq_acc")] == [3, 6, 12, 24]
    assert len(events.Scalars("val/seq_acc")) == 3
    assert (run / "checkpoints" / "last.ckpt").exists()


def test_unsupported_lengths_are_reported_not_dropped(make_cfg, tmp_path):
    cfg = make_cfg(["model=transformer", "task.length=8", "model.max_positions=20", "model.param_budget=20000",
                    "trainer.max_steps=5", "eval.lengths=[4,8,16]", "eval.num_samples=16"])
    row = train(cfg)
    assert row["unsupported_lengths"] == [16]
    assert row["acc_by_length"]["16"] is None and row["acc_by_length"]["8"] is not None
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["ladder"][-1] == {**on_disk["ladder"][-1], "supported": False, "tokens": 32, "seq_acc": None}


def test_transformer_learns_copy_within_a_minute(make_cfg):
    cfg = make_cfg(["model=transformer", "task.length=8", "task.min_length=8", "model.param_budget=100000", "trainer.max_steps=400",
                    "trainer.val_check_interval=400", "eval.lengths=[8]", "eval.num_samples=256"])
    # 400 steps of batch 32 take well under a minute on one idle CPU core; speed is the benchmark's job, not a test's.
    row = train(cfg)
    assert row["val_seq_acc"] >= 0.99, row["val_seq_acc"]
    assert row["acc_by_length"]["8"] >= 0.99


def test_same_seed_same_metrics(make_cfg):
    overrides = ["model=gru", "task.length=5", "model.param_budget=10000", "trainer.max_steps=15",
                 "eval.num_samples=32", "~logger", "callbacks.checkpoint=null"]
    a = train(make_cfg(overrides, sub="a"))
    b = train(make_cfg(overrides, sub="b"))
    for key in ("val_loss", "val_token_acc", "acc_by_length"):
        assert a[key] == b[key], key
