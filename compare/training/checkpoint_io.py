"""Checkpoint files that appear whole or not at all, and the Trainer plugins that make a run's checkpoints so."""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.plugins.environments import SLURMEnvironment
from lightning.pytorch.plugins.io import TorchCheckpointIO

from compare.runs.atomic import atomic_writer


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's TorchCheckpointIO, but a local checkpoint is written to a temp file beside it and renamed.

    TorchCheckpointIO serialises to memory first but then writes over the old file in place, so a full disk,
    a SIGKILL or a power cut mid-write leaves a truncated ``last.ckpt`` and no older one to fall back on.
    Here the previous file stays whole until the new one is complete and fsynced.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):  # remote storage: fsspec's own transaction
            return super().save_checkpoint(checkpoint, path, storage_options)
        try:
            with atomic_writer(path) as f:
                torch.save(checkpoint, f)
        except RuntimeError as e:
            # torch's zip writer turns a failed write (ENOSPC, EFBIG) into "enforce fail ... unexpected pos".
            if isinstance(e.__context__, OSError):
                err = e.__context__
                raise OSError(err.errno, f"{err.strerror}: could not write the checkpoint {path}") from e
            raise


def checkpoint_plugins() -> list:
    """Trainer plugins of every run: atomic checkpoint writes; inside SLURM, Lightning's auto-requeue switched off.

    Lightning's SLURM environment requeues a job itself on SIGUSR1 (``scontrol requeue`` plus an
    ``hpc_ckpt_*.ckpt`` that the resume plan does not know). Requeueing is left to one mechanism, submitit's
    (``hydra/launcher=submitit_slurm``) or the cluster's own, and the run's stop on a signal is
    compare.training.preemption's, which saves the ``last.ckpt`` that ``resume`` continues from.
    """
    plugins: list = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return plugins
