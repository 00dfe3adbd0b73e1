"""compare-train: train one model on one task from Hydra config and write its results row.

    compare-train model=transformer task=copy task.length=16
    compare-train -m model=lstm,gru,transformer task.length=8,16
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from compare.build import build, build_model
from compare.errors import UserError
from compare.evaluation import evaluate_set
from compare.results import library_versions, write_results
from compare.training.callbacks import LengthLadderCallback, ThroughputCallback
from compare.training import ddp
from compare.training.datamodule import TaskDataModule
from compare.training.module import SequenceModule
from compare.training.threads import apply_threads

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
log = logging.getLogger("compare")


def check_model_fits_task(model, task) -> None:
    """Fail before training when the model cannot read a training sequence at all."""
    limit = getattr(model, "max_positions", None)
    need = task.sequence_length(task.length)
    if limit is not None and need > limit:
        raise UserError(
            f"task.length={task.length} makes sequences of {need} tokens, more than the model's "
            f"max_positions={limit}; set model.max_positions>={need} or model.pos_encoding=sinusoidal"
        )


def progress_bar_callbacks(mode: str) -> tuple[bool, list]:
    """(enable_progress_bar, callbacks): a rich bar on an interactive terminal, none in logs and CI."""
    if mode not in ("auto", "rich", "none"):
        raise UserError(f"progress_bar={mode!r} is not accepted; choose auto, rich or none")
    rich = mode == "rich" or (mode == "auto" and sys.stderr.isatty())
    return (True, [RichProgressBar()]) if rich else (False, [])


def train(cfg: DictConfig) -> dict:
    """Run one experiment described by ``cfg``; returns the results row (also written to results.json)."""
    if (nprocs := ddp.processes_to_start(cfg)) > 1:
        return ddp.run_ranks(train, cfg, nprocs)  # this process becomes rank 0 and comes back here
    apply_threads(cfg)
    out = Path(cfg.output_dir)
    t_start = time.time()
    row: dict = {
        "status": "running", "model": OmegaConf.select(cfg, "model._target_"), "task": None,
        "train_length": OmegaConf.select(cfg, "task.length"), "params": None, "seed": cfg.seed, "steps": 0,
        "val_token_acc": None, "val_seq_acc": None, "val_loss": None, "acc_by_length": {}, "ladder": [],
        "train_tokens_per_s": None, "step_time_s": None, "wall_s": None, "peak_mem_mb": None,
        "output_dir": str(out), "versions": library_versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    try:
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        task = build(cfg.task)
        row["task"] = task.name
        model = build_model(cfg.model, vocab_size=task.num_tokens)
        check_model_fits_task(model, task)
        module = SequenceModule(model, build(cfg.optimizer), build(cfg.scheduler) if cfg.get("scheduler") else None,
                                compile=bool(cfg.model.get("compile", False)))
        row.update(model=model.name, params=module.num_params, task_settings=task.describe())
        log.info("%s on %s (length %d): %d trainable parameters", model.name, task.name, task.length, module.num_params)
        datamodule = build(cfg.data, task=task, seed=cfg.seed)

        # A callback or logger set to null (e.g. `callbacks.checkpoint=null`) is switched off.
        callbacks = [build(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
        show_bar, bar = progress_bar_callbacks(cfg.progress_bar)
        loggers = [build(c) for c in (cfg.get("logger") or {}).values() if c is not None] or False
        trainer: L.Trainer = build(cfg.trainer, callbacks=callbacks + bar, logger=loggers,
                                   enable_progress_bar=show_bar)
        for lg in trainer.loggers:
            lg.log_hyperparams({"params": module.num_params})

        trainer.fit(module, datamodule=datamodule)

        row["steps"] = trainer.global_step
        val = evaluate_set(model, datamodule.task.validation_set(datamodule.val_size), datamodule.eval_batch_size)
        row.update(val_token_acc=val["token_acc"], val_seq_acc=val["seq_acc"], val_loss=val["loss"])
        for cb in callbacks:
            if isinstance(cb, ThroughputCallback):
                row.update(cb.summary)
            if isinstance(cb, LengthLadderCallback):
                row["ladder"] = [r.as_row() for r in cb.results]
                row["acc_by_length"] = {str(r.length): r.seq_acc for r in cb.results}
                row["unsupported_lengths"] = [r.length for r in cb.results if not r.supported]
        row["status"] = "ok"
        ladder = ", ".join(f"{k}: {'unsupported' if v is None else f'{v:.2f}'}" for k, v in row["acc_by_length"].items())
        log.info("done in %d steps: val exact-sequence accuracy %.3f; by length {%s}; results in %s",
                 row["steps"], row["val_seq_acc"], ladder, out / "results.json")
        return row
    except BaseException as e:
        row["status"] = "failed"
        row["error"] = f"{type(e).__name__}: {e}"
        raise
    finally:
        row["wall_s"] = time.time() - t_start
        if cfg.get("write_results", True) and rank_zero_only.rank == 0:  # one row per run, also under DDP
            write_results(out, row)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """Hydra's entry point: one job of a run or a sweep."""
    try:
        row = train(cfg)
    except UserError as e:
        print(f"compare-train: error: {e}", file=sys.stderr)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            return None  # the failed row is written; the rest of the sweep goes on
        sys.exit(2)
    return row["val_seq_acc"]


def quiet_library_chatter() -> None:
    """Keep the console to what the user asked for: Lightning's hardware banner and tips go to DEBUG."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")


def main() -> None:
    """Console script ``compare-train``."""
    torch.set_float32_matmul_precision("high")
    # conf/hydra/launcher/*.yaml pin the plugins' settings under the plugins' own names; Hydra warns about that.
    warnings.filterwarnings("ignore", message=".*validated against ConfigStore schema", category=UserWarning)
    quiet_library_chatter()
    hydra_main()


if __name__ == "__main__":
    main()
