"""Throughput figures: one StepTimer for runs and benchmark; logged to TensorBoard and results.json."""

import time

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from compare.train import train
from compare.training.step_timer import StepTimer


def test_step_timer_leaves_paused_time_out():
    timer = StepTimer("cpu")
    t0 = time.perf_counter()
    timer.start()
    timer.count(10)
    time.sleep(0.02)
    timer.pause()
    time.sleep(0.1)  # paused: e.g. validation
    timer.count(10)  # not counted while paused
    timer.start()
    time.sleep(0.02)
    timer.count(10)
    timer.pause()
    total = time.perf_counter() - t0
    assert timer.steps == 2 and timer.tokens == 20
    assert 0.04 <= timer.elapsed() <= total - 0.1
    summary = timer.summary()
    assert summary["train_tokens_per_s"] == 20 / timer.elapsed() and summary["timed_steps"] == 2


def test_run_logs_throughput_to_tensorboard_and_results(make_cfg, tmp_path):
    cfg = make_cfg(["model=gru", "model.param_budget=5000", "task.length=4", "task.min_length=4", "data.batch_size=8",
                    "trainer.max_steps=20", "trainer.val_check_interval=10", "trainer.log_every_n_steps=5",
                    "callbacks.throughput.warmup_steps=3", "data.val_size=16", "eval.num_samples=16"])
    row = train(cfg)
    # Validation (at step 10) is outside the window; the 17 steps after warm-up are all inside it.
    assert row["timed_steps"] == 17
    tokens_per_step = 8 * 8  # batch 8 x copy length 4 -> 8 input tokens
    assert abs(row["train_tokens_per_s"] * row["step_time_s"] - tokens_per_step) < 1e-6 * tokens_per_step
    assert row["peak_mem_mb"] > 0 and row["torch_threads"] >= 1

    events = EventAccumulator(str(tmp_path / "run" / "tb")).Reload()
    tags = set(events.Tags()["scalars"])
    assert {"perf/tokens_per_s", "perf/step_time_ms", "perf/peak_mem_mb", "train/loss"} <= tags
    # The points Lightning always wrote (step = batches done before the logged one), now without a self.log per step.
    assert [e.step for e in events.Scalars("train/loss")] == [4, 9, 14, 19]
    assert len(events.Scalars("perf/tokens_per_s")) == 3  # after 5, 10, 15 timed steps
