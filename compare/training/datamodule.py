"""TaskDataModule: a seeded stream of fresh training batches (or a fixed pool of them, ``data.train_size``) and a
fixed validation set for any task."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset

from compare.errors import UserError
from compare.evaluation import evaluate_set
from compare.tasks.base import IGNORE, EvalSet, Task, check_positive, stream_seed
from compare.training.curriculum import CurriculumStage, stage_at


def loader_generator() -> torch.Generator:
    """A DataLoader's own generator: without one, each new iterator draws a seed from the global RNG, so a resumed
    run (which makes its iterators at other moments) would see different dropout masks than an uninterrupted one."""
    return torch.Generator().manual_seed(0)


def step_seed_of(task: Task, seed: int, step: int) -> int:
    """The seed of training batch ``step``: its contents and its length come from it alone."""
    return stream_seed(seed, step, task.length)


def step_tokens(task: Task, seed: int, step: int) -> int:
    """Tokens in one input of training batch ``step`` (its length is drawn from the seed, so known in advance)."""
    return task.sequence_length(task.draw_length(step_seed_of(task, seed, step)))


class TaskStream(IterableDataset):
    """Endless training batches; batch k is a pure function of (seed, k), so a resumed run continues the stream.

    Each batch has one length, drawn uniformly from the task's training range [min_length, length]. With a
    curriculum (compare.training.curriculum), batch k comes from the stage that covers step k, in the task's tokens.

    Under DDP every rank draws the same global batch of ``batch_size`` rows and keeps its own
    contiguous ``batch_size / world_size`` rows, so one run over N devices sees exactly the samples
    of the one-device run and (gradients being averaged) takes the same steps.
    """

    def __init__(self, task: Task, batch_size: int, seed: int, device: torch.device, start: int = 0,
                 rank: int = 0, world_size: int = 1, curriculum: list[CurriculumStage] | None = None) -> None:
        if batch_size % world_size:
            raise UserError(f"data.batch_size={batch_size} (the global batch) must divide evenly over "
                            f"{world_size} DDP processes")
        self.task, self.batch_size, self.seed, self.device, self.start = task, batch_size, seed, device, start
        self.rank, self.world_size = rank, world_size
        self.curriculum = [stage.on(device) for stage in curriculum or []]

    def __iter__(self):
        # Generating on the training device avoids a host-to-device copy every step on GPU.
        generator = torch.Generator(device=self.device)
        step = self.start
        share = self.batch_size // self.world_size
        rows = slice(self.rank * share, (self.rank + 1) * share)
        while True:
            stage = stage_at(self.curriculum, step)
            task = self.task if stage is None else stage.task
            step_seed = step_seed_of(task, self.seed, step)
            generator.manual_seed(step_seed)
            # One length per batch, drawn from the same per-step seed: batch k still depends on (seed, k) only.
            inputs, targets = task.sample(self.batch_size, task.draw_length(step_seed), generator)
            if stage is not None:
                inputs, targets = stage.remap(inputs, targets)
            yield (inputs, targets) if self.world_size == 1 else (inputs[rows], targets[rows])
            step += 1


class PoolStream(TaskStream):
    """Batches from a fixed pool of ``train_size`` samples, visited once per epoch: a finite training set.

    The pool is the first ``train_size / batch_size`` batches of the fresh stream (so its lengths are drawn as
    training draws them). Each epoch shuffles the samples of each length among themselves (a seeded shuffle per
    epoch), cuts them into batches of ``batch_size`` and visits those in a seeded order. Batch k is still a pure
    function of (seed, k), so a resumed run continues the same epoch at the same batch.
    """

    def __init__(self, task: Task, batch_size: int, seed: int, device: torch.device, train_size: int,
                 start: int = 0, rank: int = 0, world_size: int = 1) -> None:
        check_train_size(train_size, batch_size)
        super().__init__(task, batch_size, seed, device, start, rank, world_size)
        self.batches_per_epoch = train_size // batch_size

    def pool(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The pool's samples, one (inputs, targets) pair of stacked rows per length."""
        fresh = iter(TaskStream(self.task, self.batch_size, self.seed, self.device))
        by_width: dict[int, list] = {}
        for _ in range(self.batches_per_epoch):
            x, y = next(fresh)
            by_width.setdefault(x.shape[1], []).append((x, y))
        return [(torch.cat([x for x, _ in b]), torch.cat([y for _, y in b])) for _, b in sorted(by_width.items())]

    def epoch(self, pool: list, index: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Epoch ``index``'s batches: each length's samples shuffled and cut into batches, in a shuffled order."""
        # Length -1 keeps these shuffles apart from every batch and evaluation set drawn from the run's seed.
        g = torch.Generator().manual_seed(stream_seed(self.seed, index, -1))
        batches = []
        for x, y in pool:
            order = torch.randperm(len(x), generator=g).to(x.device)
            batches += [(x[i], y[i]) for i in order.split(self.batch_size)]
        return [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def __iter__(self):
        pool = self.pool()
        share = self.batch_size // self.world_size
        rows = slice(self.rank * share, (self.rank + 1) * share)
        step = self.start
        while True:
            batches = self.epoch(pool, step // self.batches_per_epoch)
            for inputs, targets in batches[step % self.batches_per_epoch:]:
                yield (inputs, targets) if self.world_size == 1 else (inputs[rows], targets[rows])
                step += 1


def check_train_size(train_size: int, batch_size: int) -> None:
    """A UserError unless ``train_size`` is a positive multiple of ``batch_size`` (the pool is whole batches)."""
    check_positive("data.train_size", train_size)
    if train_size % batch_size:
        lower = max(batch_size, train_size // batch_size * batch_size)
        raise UserError(f"data.train_size={train_size} is not accepted: the training pool is whole batches, so it "
                        f"must be a multiple of data.batch_size={batch_size}, e.g. {lower} or {lower + batch_size}")


class TaskDataModule(L.LightningDataModule):
    """Wraps a Task: training batches drawn fresh each step (or from a fixed pool of ``train_size`` samples, reused
    epoch after epoch), validation on a fixed seeded set."""

    def __init__(self, task: Task, batch_size: int = 32, val_size: int = 256, eval_batch_size: int = 128,
                 seed: int = 0, generate_on_device: bool = True, train_size: int | None = None,
                 curriculum: list | None = None) -> None:
        super().__init__()
        check_positive("data.batch_size", batch_size)
        check_positive("data.val_size", val_size)
        check_positive("data.eval_batch_size", eval_batch_size)
        if train_size is not None:
            check_train_size(train_size, batch_size)
        # ``curriculum`` is the config's list of stages; they need the task's config to build, so the run builds them
        # (compare.training.curriculum.build_curriculum) and hands them over with use_curriculum.
        self.curriculum: list[CurriculumStage] = []
        self.task = task
        self.batch_size, self.val_size, self.eval_batch_size = batch_size, val_size, eval_batch_size
        self.train_size = train_size
        self.seed = seed
        self.generate_on_device = generate_on_device
        self._val = None

    def _device(self) -> torch.device:
        if self.generate_on_device and self.trainer is not None:
            return self.trainer.strategy.root_device
        return torch.device("cpu")

    def train_stream(self) -> TaskStream:
        """This process's stream of training batches (``data.batch_size`` is the global batch under DDP)."""
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        start = trainer.global_step if trainer is not None else 0
        if self.train_size is not None:
            return PoolStream(self.task, self.batch_size, self.seed, self._device(), self.train_size, start, rank,
                              world)
        return TaskStream(self.task, self.batch_size, self.seed, self._device(), start, rank, world, self.curriculum)

    def use_curriculum(self, stages: list[CurriculumStage]) -> None:
        """Train on these stages' tasks first (data.curriculum, built)."""
        if stages and self.train_size is not None:
            raise UserError(f"data.curriculum with data.train_size={self.train_size}: a fixed training pool holds "
                            "one task's samples; set data.train_size=null or data.curriculum=null")
        self.curriculum = list(stages)

    def task_at(self, step: int) -> Task:
        """The task training batch ``step`` is drawn from: its curriculum stage's, or the run's own."""
        stage = stage_at(self.curriculum, step)
        return self.task if stage is None else stage.task

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_stream(), batch_size=None, num_workers=0, generator=loader_generator())

    def validation_sets(self) -> list[EvalSet]:
        """The fixed validation sets: ``data.val_size`` samples in equal shares over the training lengths."""
        if self._val is None:
            self._val = self.task.validation_sets(self.val_size)
        return self._val

    def val_dataloader(self) -> DataLoader:
        # Batches of one length each (no padding): the sets are cut into chunks of eval_batch_size.
        batches = [(s.inputs[i:i + self.eval_batch_size], s.targets[i:i + self.eval_batch_size])
                   for s in self.validation_sets() for i in range(0, len(s.inputs), self.eval_batch_size)]
        return DataLoader(batches, batch_size=None, generator=loader_generator())

    def score_validation(self, model: torch.nn.Module) -> dict:
        """Loss, token and exact-sequence accuracy of ``model`` over the validation sets, and seq_acc by length."""
        totals = {"tokens": 0, "rows": 0, "loss": 0.0, "token_hits": 0.0, "row_hits": 0.0}
        by_length = {}
        for s in self.validation_sets():
            scores = evaluate_set(model, s, self.eval_batch_size)
            if not scores["samples"]:
                continue
            tokens = int((s.targets != IGNORE).sum())
            by_length[str(s.length)] = scores["seq_acc"]
            totals["tokens"] += tokens
            totals["rows"] += scores["samples"]
            totals["loss"] += scores["loss"] * tokens
            totals["token_hits"] += scores["token_acc"] * tokens
            totals["row_hits"] += scores["seq_acc"] * scores["samples"]
        tokens, rows = max(1, totals["tokens"]), max(1, totals["rows"])
        return {"loss": totals["loss"] / tokens, "token_acc": totals["token_hits"] / tokens,
                "seq_acc": totals["row_hits"] / rows, "by_length": by_length}
