"""data.train_size: a fixed pool of training samples reused epoch after epoch (null: fresh batches every step)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from compare.config.build import build
from compare.errors import UserError
from compare.tasks.copy import CopyTask
from compare.tasks.parity_check import ParityCheckTask
from compare.training.datamodule import PoolStream, TaskDataModule, TaskStream

CPU = torch.device("cpu")


def take(stream, n: int) -> list:
    it = iter(stream)
    return [next(it) for _ in range(n)]


def rows(batches) -> Counter:
    """Every sample of ``batches`` as a hashable (inputs, targets) pair, counted."""
    return Counter((tuple(x.tolist()), tuple(y.tolist())) for bx, by in batches for x, y in zip(bx, by))


def test_every_epoch_visits_the_pool_once_in_a_new_order_and_draws_nothing_else():
    task = CopyTask(length=6, min_length=1)
    pool_stream = PoolStream(task, batch_size=4, seed=3, device=CPU, train_size=40)
    epochs = [take(pool_stream, 30)[i * 10:(i + 1) * 10] for i in range(3)]
    pool = rows(take(TaskStream(task, batch_size=4, seed=3, device=CPU), 10))  # the first 10 fresh batches
    assert sum(pool.values()) == 40
    for batches in epochs:
        assert rows(batches) == pool  # each sample once per epoch, nothing from outside the pool
        assert all(x.shape[0] == 4 and len({tuple(x.shape)}) == 1 for x, _ in batches)  # full batches, one length
    order = [[tuple(x[0].tolist()) for x, _ in batches] for batches in epochs]
    assert order[0] != order[1] != order[2]
    # Samples of one length are mixed across batches from one epoch to the next, not only the batch order.
    firsts = [{tuple(sorted(tuple(r) for r in x.tolist())) for x, _ in batches} for batches in epochs]
    assert firsts[0] != firsts[1]


def test_a_stream_started_at_batch_k_continues_the_pool_exactly():
    task = ParityCheckTask(length=12)
    full = take(PoolStream(task, batch_size=8, seed=1, device=CPU, train_size=48), 20)
    for k in (0, 5, 6, 13, 19):  # inside the first epoch, at the boundary, inside later epochs
        x, y = take(PoolStream(task, batch_size=8, seed=1, device=CPU, train_size=48, start=k), 1)[0]
        assert torch.equal(x, full[k][0]) and torch.equal(y, full[k][1])


def test_null_keeps_fresh_batches_and_the_config_builds_a_pool(make_cfg):
    task = CopyTask(length=4)
    assert isinstance(TaskDataModule(task).train_stream(), TaskStream)
    assert not isinstance(TaskDataModule(task).train_stream(), PoolStream)
    cfg = make_cfg(["data.train_size=64", "task=parity_check"])
    dm = build(cfg.data, task=build(cfg.task), seed=cfg.seed)
    stream = dm.train_stream()
    assert isinstance(stream, PoolStream) and stream.batches_per_epoch == 2


@pytest.mark.parametrize("size,words", [(0, "data.train_size=0 is not accepted: it must be an integer >= 1"),
                                        (50, "data.train_size=50 is not accepted: .* multiple of data.batch_size=32, "
                                             "e.g. 32 or 64")])
def test_a_train_size_that_is_not_whole_batches_is_one_line(size, words):
    with pytest.raises(UserError, match=words):
        TaskDataModule(CopyTask(length=4), train_size=size)


TINY = ["model=lstm", "model.param_budget=null", "model.hidden_size=16", "task=parity_check", "task.length=6",
        "data.train_size=64", "data.batch_size=16", "trainer.max_steps=30", "trainer.val_check_interval=15",
        "trainer.log_every_n_steps=10", "callbacks.resume_checkpoint.every_n_train_steps=10",
        "callbacks.resume_checkpoint.save_top_k=-1", "data.val_size=32", "eval.num_samples=32"]
METRICS = ("val_loss", "val_token_acc", "val_seq_acc", "val_acc_by_length", "acc_by_length", "steps", "scored_step")


def test_a_resumed_run_on_a_pool_ends_as_the_uninterrupted_one(killed_and_resumed):
    # 4 batches an epoch: the kill at step 10 falls inside the third epoch.
    reference, resumed = killed_and_resumed(TINY, step=10)
    for key in METRICS:
        assert resumed[key] == reference[key], key
    assert reference["config"]["data"]["train_size"] == 64
