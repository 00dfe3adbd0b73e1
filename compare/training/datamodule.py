"""TaskDataModule: a seeded stream of fresh training batches and a fixed validation set for any task."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from compare.errors import UserError
from compare.tasks.base import Task, check_positive, stream_seed


def loader_generator() -> torch.Generator:
    """A DataLoader's own generator: without one, each new iterator draws a seed from the global RNG, so a resumed
    run (which makes its iterators at other moments) would see different dropout masks than an uninterrupted one."""
    return torch.Generator().manual_seed(0)


class TaskStream(IterableDataset):
    """Endless training batches; batch k is a pure function of (seed, k), so a resumed run continues the stream.

    Under DDP every rank draws the same global batch of ``batch_size`` rows and keeps its own
    contiguous ``batch_size / world_size`` rows, so one run over N devices sees exactly the samples
    of the one-device run and (gradients being averaged) takes the same steps.
    """

    def __init__(self, task: Task, batch_size: int, seed: int, device: torch.device, start: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        if batch_size % world_size:
            raise UserError(f"data.batch_size={batch_size} (the global batch) must divide evenly over "
                            f"{world_size} DDP processes")
        self.task, self.batch_size, self.seed, self.device, self.start = task, batch_size, seed, device, start
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        # Generating on the training device avoids a host-to-device copy every step on GPU.
        generator = torch.Generator(device=self.device)
        step = self.start
        share = self.batch_size // self.world_size
        rows = slice(self.rank * share, (self.rank + 1) * share)
        while True:
            generator.manual_seed(stream_seed(self.seed, step, self.task.length))
            inputs, targets = self.task.sample(self.batch_size, self.task.length, generator)
            yield (inputs, targets) if self.world_size == 1 else (inputs[rows], targets[rows])
            step += 1


class TaskDataModule(L.LightningDataModule):
    """Wraps a Task: training batches drawn fresh each step, validation on a fixed seeded set."""

    def __init__(self, task: Task, batch_size: int = 32, val_size: int = 256, eval_batch_size: int = 128,
                 seed: int = 0, generate_on_device: bool = True) -> None:
        super().__init__()
        check_positive("data.batch_size", batch_size)
        check_positive("data.val_size", val_size)
        check_positive("data.eval_batch_size", eval_batch_size)
        self.task = task
        self.batch_size, self.val_size, self.eval_batch_size = batch_size, val_size, eval_batch_size
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
        return TaskStream(self.task, self.batch_size, self.seed, self._device(), start, rank, world)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_stream(), batch_size=None, num_workers=0, generator=loader_generator())

    def val_dataloader(self) -> DataLoader:
        if self._val is None:
            self._val = self.task.validation_set(self.val_size)
        return DataLoader(TensorDataset(self._val.inputs, self._val.targets), batch_size=self.eval_batch_size,
                          generator=loader_generator())
