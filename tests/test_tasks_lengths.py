"""Training lengths drawn per batch from [task.min_length, task.length]: coverage, reproducibility, resume, bad ranges."""

from __future__ import annotations

import pytest
import torch

from compare.config.build import build
from compare.errors import UserError
from compare.tasks import CopyTask
from compare.tasks.qa import QATask
from compare.tasks.selective_copy import SelectiveCopyTask
from compare.train import train
from compare.training.datamodule import TaskDataModule, TaskStream

CPU = torch.device("cpu")
#: Each synthetic task's default range as conf/task/<name>.yaml sets it: (min_length, length).
DEFAULT_RANGES = {"copy": (1, 16), "parity": (1, 16), "copy_memory": (1, 20), "assoc_recall": (1, 4),
                  "selective_copy": (4, 32), "qa": (4, 32)}


def drawn_lengths(task, batches: list) -> list[int]:
    """The length each batch was drawn at, read back from its width."""
    widths = {task.sequence_length(n): n for n in range(task.min_length, task.length + 1)}
    return [widths[x.shape[1]] for x, _ in batches]


def take(stream: TaskStream, n: int) -> list:
    it = iter(stream)
    return [next(it) for _ in range(n)]


@pytest.mark.parametrize("name", sorted(DEFAULT_RANGES))
def test_every_length_of_the_default_range_is_drawn(make_cfg, name):
    task = build(make_cfg([f"task={name}"]).task)
    assert (task.min_length, task.length) == DEFAULT_RANGES[name]
    batches = take(TaskStream(task, batch_size=2, seed=0, device=CPU), 400)
    lengths = drawn_lengths(task, batches)
    assert set(lengths) == set(range(task.min_length, task.length + 1))
    for (x, y), n in zip(batches[:20], lengths):  # one length per batch, no padding
        assert x.shape == y.shape == (2, task.sequence_length(n))


def test_batch_k_depends_only_on_seed_and_k():
    task = CopyTask(length=8, min_length=2)
    full = take(TaskStream(task, batch_size=4, seed=5, device=CPU), 60)
    for k in (0, 1, 17, 59):  # a stream that starts at k (as a resumed run does) gives the same batch k
        x, y = take(TaskStream(task, batch_size=4, seed=5, device=CPU, start=k), 1)[0]
        assert torch.equal(x, full[k][0]) and torch.equal(y, full[k][1])
    other = take(TaskStream(task, batch_size=4, seed=6, device=CPU), 60)
    assert drawn_lengths(task, other) != drawn_lengths(task, full)


def test_fixed_length_training_is_min_length_equal_to_length(make_cfg):
    task = build(make_cfg(["task=qa", "task.length=12", "task.min_length=${task.length}"]).task)
    assert set(drawn_lengths(task, take(TaskStream(task, 2, 0, CPU), 30))) == {12}
    assert [(n, c) for n, c in task.validation_lengths(64)] == [(12, 64)]


def test_validation_spreads_equal_shares_over_the_training_range():
    task = CopyTask(length=8, min_length=1)
    assert task.validation_lengths(64) == [(n, 8) for n in range(1, 9)]
    wide = QATask(length=64, min_length=4)  # 61 lengths: 16 evenly spaced, both ends included
    lengths = wide.validation_lengths(100)
    assert len(lengths) == 16 and lengths[0][0] == 4 and lengths[-1][0] == 64
    assert sum(c for _, c in lengths) == 100 and {c for _, c in lengths} <= {6, 7}
    sets = wide.validation_sets(100)
    assert [s.length for s in sets] == [n for n, _ in lengths] and [len(s.inputs) for s in sets] == [c for _, c in lengths]
    again = QATask(length=64, min_length=4).validation_sets(100)
    assert all(torch.equal(a.inputs, b.inputs) for a, b in zip(sets, again))
    # The data module serves them as batches of one length each.
    dm = TaskDataModule(task, val_size=64, eval_batch_size=5)
    widths = [x.shape[1] for x, _ in dm.val_dataloader()]
    assert sorted(set(widths)) == [task.sequence_length(n) for n in range(1, 9)] and len(widths) == 16


@pytest.mark.parametrize("make, bad", [
    (lambda: CopyTask(length=8, min_length=9), r"task.min_length=9 is above task.length=8"),
    (lambda: CopyTask(length=8, min_length=0), r"task.min_length=0 is below 1.*\[1, task.length=8\]"),
    (lambda: QATask(length=16, min_length=2), r"task.min_length=2 is below 4.*qa.*\[4, task.length=16\]"),
    (lambda: SelectiveCopyTask(length=16, num_marked=5, min_length=3),
     r"task.min_length=3 is below 5.*selective_copy.*\[5, task.length=16\]"),
])
def test_bad_ranges_name_both_values(make, bad):
    with pytest.raises(UserError, match=bad) as err:
        make()
    assert "\n" not in str(err.value)


def test_min_length_above_length_stops_the_run_before_training(make_cfg):
    with pytest.raises(UserError, match=r"task.min_length=5 is above task.length=4"):
        train(make_cfg(["task.length=4", "task.min_length=5", "trainer.max_steps=2"]))


#: A tiny LSTM on copy lengths 2..6, checkpointed every 10 steps.
TINY = ["model=lstm", "model.param_budget=null", "model.hidden_size=16", "task.length=6", "task.min_length=2",
        "trainer.max_steps=30", "trainer.val_check_interval=15", "trainer.log_every_n_steps=10",
        "callbacks.resume_checkpoint.every_n_train_steps=10", "callbacks.resume_checkpoint.save_top_k=-1",
        "data.val_size=30", "eval.num_samples=32"]
METRICS = ("val_loss", "val_token_acc", "val_seq_acc", "val_acc_by_length", "acc_by_length", "steps", "scored_step")


def test_resumed_run_with_a_length_range_ends_as_the_uninterrupted_one(killed_and_resumed):
    reference, resumed = killed_and_resumed(TINY, step=10)
    for key in METRICS:
        assert resumed[key] == reference[key], key
    assert reference["train_lengths"] == [2, 6] and reference["train_length"] == 6
    assert list(reference["val_acc_by_length"]) == ["2", "3", "4", "5", "6"]
    # The ladder (3, 6, 12, 24) marks the rungs inside [2, 6].
    assert [(r["length"], r["in_train_range"]) for r in reference["ladder"]] == [
        (3, True), (6, True), (12, False), (24, False)]
