"""One run over several processes with Lightning DDP, started without re-entering Hydra.

Lightning's own ``ddp`` launcher re-runs the command line for every extra rank; inside a Hydra
multirun that re-runs the sweep and scatters extra output folders (lightning-hydra-template issue
393). Here the job that Hydra started becomes rank 0 and starts ranks 1..N-1 itself, each calling
``train`` on the already composed config; Lightning sees ``LOCAL_RANK`` set and only joins them up.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError

#: Environment variables that say another tool (torchrun, SLURM, Lightning) already started the ranks.
MANAGED_ENV = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")
RANK_ENV = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "NODE_RANK", "LOCAL_RANK")


def processes_to_start(cfg: DictConfig) -> int:
    """How many processes this job must start itself for its DDP run (1: none, just train here)."""
    trainer = cfg.get("trainer") or {}
    strategy, devices = str(trainer.get("strategy", "auto")), trainer.get("devices", 1)
    if not strategy.startswith("ddp") or "spawn" in strategy or not isinstance(devices, int) or devices < 2:
        return 1
    if any(k in os.environ for k in MANAGED_ENV) or int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        return 1  # ranks already exist: Lightning picks them up from the environment
    if int(trainer.get("num_nodes", 1)) > 1:
        raise UserError(f"trainer.num_nodes={trainer.num_nodes}: several machines need a cluster launcher "
                        "(hydra/launcher=submitit_slurm, or torchrun), not a single job")
    return devices


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(train: Callable, config: dict, rank: int) -> None:
    """Entry of rank >= 1: join the group and train on the same config (results are rank 0's to write)."""
    os.environ["LOCAL_RANK"] = str(rank)
    from lightning.fabric.utilities.rank_zero import rank_zero_only as fabric_rank_zero
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    rank_zero_only.rank = fabric_rank_zero.rank = rank
    train(OmegaConf.create(config))


def run_ranks(train: Callable[[DictConfig], dict], cfg: DictConfig, nprocs: int) -> dict:
    """Run ``train(cfg)`` as rank 0 here and as ranks 1..nprocs-1 in fresh processes; rank 0's row."""
    config = OmegaConf.to_container(cfg, resolve=True)  # ${hydra:...} resolves only in this process
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(nprocs),
           "NODE_RANK": "0", "LOCAL_RANK": "0"}
    saved = {k: os.environ.get(k) for k in RANK_ENV}
    os.environ.update(env)
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_rank_main, args=(train, config, r), daemon=False) for r in range(1, nprocs)]
    finished = False
    try:
        for p in children:
            p.start()
        row = train(OmegaConf.create(config))
        finished = True
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()  # the next job of a sweep in this process builds its own group
        for p in children:
            p.join(timeout=120 if finished else 5)  # after a failure here, ranks may wait forever in a collective
            if p.is_alive():
                p.kill()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    failed = [p.exitcode for p in children if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"DDP ranks exited with codes {failed}")
    return row
