"""TaskDataModule: a seeded stream of fresh training batches and a fixed validation set for any task."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from compare.tasks.base import Task, check_positive, stream_seed


def loader_generator() -> torch.Generator:
    """A DataLoader's own generator: without one, each new iterator draws a seed from the global RNG, so a resumed
    run (which makes its iterators at other moments) would see different dropout masks than an uninterrupted one."""
    return torch.Generator().manual_seed(0)


class TaskStream(IterableDataset):
    """Endless training batches; batch k is a pure function of (seed, k), so a resumed run continues the stream."""

    def __init__(self, task: Task, batch_size: int, seed: int, device: torch.device, start: int = 0) -> None:
        self.task, self.batch_size, self.seed, self.device, self.start = task, batch_size, seed, device, start

    def __iter__(self):
        # Generating on the training device avoids a host-to-device copy every step on GPU.
        generator = torch.Generator(device=self.device)
        step = self.start
        while True:
            generator.manual_seed(stream_seed(self.seed, step, self.task.length))
            yield self.task.sample(self.batch_size, self.task.length, generator)
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

    def train_dataloader(self) -> DataLoader:
        rank = self.trainer.global_rank if self.trainer is not None else 0
        start = self.trainer.global_step if self.trainer is not None else 0
        # Each DDP rank draws its own stream; rank 0 of a one-process run is seed-identical to before.
        stream = TaskStream(self.task, self.batch_size, self.seed + 1_000_003 * rank, self._device(), start)
        return DataLoader(stream, batch_size=None, num_workers=0, generator=loader_generator())

    def val_dataloader(self) -> DataLoader:
        if self._val is None:
            self._val = self.task.validation_set(self.val_size)
        return DataLoader(TensorDataset(self._val.inputs, self._val.targets), batch_size=self.eval_batch_size,
                          generator=loader_generator())
