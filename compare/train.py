"""compare-train: train one model on one task from Hydra config and write its results row.

    compare-train model=transformer task=copy task.length=16
    compare-train -m model=lstm,gru,transformer task.length=8,16
    compare-train ... hydra.run.dir=<run dir> resume=true      # continue a killed run from its last checkpoint
    compare-train -m ... hydra.sweep.dir=<sweep dir> resume=true  # finish a sweep: keeps runs that are done
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
import warnings
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_object
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from compare.build import MODEL_RUN_KEYS, build, build_model
from compare.cli import error_message, run_hydra_app
from compare.config_check import check_config
from compare.errors import RunFailed, UserError
from compare.evaluation import evaluate_set, ladder_lengths
from compare.resume import plan_resume
from compare.results import RESULTS_FILE, library_versions, write_results
from compare.training.callbacks import LengthLadderCallback, ThroughputCallback
from compare.training import ddp
from compare.training.datamodule import TaskDataModule
from compare.training.module import SequenceModule, TrainingDiverged
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


def check_run_settings(cfg: DictConfig, model, task) -> None:
    """Semantic checks on settings no constructor sees on its own, before anything trains."""
    max_steps = OmegaConf.select(cfg, "trainer.max_steps")
    if not OmegaConf.select(cfg, "trainer.fast_dev_run", default=False) and (
            isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        # Batches are endless (max_epochs=-1), so max_steps is what ends a run.
        raise UserError(f"trainer.max_steps={max_steps!r} is not accepted: it must be an integer >= 1")
    every = cfg.get("check_finite_every_n_steps", 0)
    if isinstance(every, bool) or not isinstance(every, int) or every < 0:
        raise UserError(f"check_finite_every_n_steps={every!r} is not accepted: an integer >= 0 (0: never check)")
    limit = getattr(model, "max_positions", None)
    if limit is not None and cfg.get("eval") is not None:
        lengths = ladder_lengths(task.length, cfg.eval.get("multipliers") or (), cfg.eval.get("lengths"))
        too_long = [n for n in lengths if task.sequence_length(n) > limit]
        if too_long:
            log.warning("evaluation lengths %s make sequences longer than %s's max_positions=%d: they will be "
                        "reported as unsupported (results.json: unsupported_lengths)", too_long, model.name, limit)


def check_optimizer(optimizer_factory, model) -> None:
    """Build the optimizer once on the model's parameters, so a bad setting (lr < 0) fails before training."""
    try:
        optimizer_factory(model.parameters())
    except (ValueError, TypeError) as e:
        raise UserError(f"optimizer: {e}") from None


def resumed_step(checkpoint: Path) -> int:
    """The global step a checkpoint was saved at (memory-mapped: the weights are not read)."""
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["global_step"])


def build_loggers(cfg: DictConfig, purge_from: int | None) -> list | bool:
    """The configured loggers (a logger set to null is off). In a run dir that already has TensorBoard events,
    those from step ``purge_from`` on are dropped, so no curve shows a step twice."""
    loggers = []
    for node in (cfg.get("logger") or {}).values():
        if node is None:
            continue
        extra = {}
        if purge_from is not None and issubclass(get_object(node._target_), TensorBoardLogger):
            extra["purge_step"] = purge_from
        loggers.append(build(node, **extra))
    return loggers or False


def train(cfg: DictConfig) -> dict:
    """Run one experiment described by ``cfg``; returns the results row (also written to results.json).

    With ``resume=true`` a run whose results.json says ok or diverged is kept as it is, and an
    unfinished one continues from its last checkpoint.
    """
    if (nprocs := ddp.processes_to_start(cfg)) > 1:
        return ddp.run_ranks(train, cfg, nprocs)  # this process becomes rank 0 and comes back here
    apply_threads(cfg)
    out = Path(cfg.output_dir)
    write = cfg.get("write_results", True)
    # Decided before anything is written, so a refused or mistaken resume never overwrites a result.
    plan = plan_resume(cfg, out)
    if plan.skip:
        log.info("%s already finished (status %s); kept as it is", out, plan.previous["status"])
        return plan.previous
    t_start = time.time()
    row: dict = {
        "status": "running", "model": OmegaConf.select(cfg, "model._target_"), "task": None,
        "train_length": OmegaConf.select(cfg, "task.length"), "params": None, "seed": cfg.seed, "steps": 0,
        "val_token_acc": None, "val_seq_acc": None, "val_loss": None, "acc_by_length": {}, "ladder": [],
        "train_tokens_per_s": None, "step_time_s": None, "wall_s": None, "peak_mem_mb": None,
        "output_dir": str(out), "versions": library_versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if plan.checkpoint is not None:
        row["resumed_from"] = str(plan.checkpoint)
    trainer: L.Trainer | None = None
    try:
        if write:
            write_results(out, row)  # a killed run leaves "running" and its config, which resume checks against
        check_config(cfg, extra_keys={"model": MODEL_RUN_KEYS})
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        task = build(cfg.task)
        row["task"] = task.name
        model = build_model(cfg.model, vocab_size=task.num_tokens)
        check_model_fits_task(model, task)
        check_run_settings(cfg, model, task)
        optimizer = build(cfg.optimizer)
        check_optimizer(optimizer, model)
        module = SequenceModule(model, optimizer, build(cfg.scheduler) if cfg.get("scheduler") else None,
                                compile=bool(cfg.model.get("compile", False)),
                                check_finite_every_n_steps=cfg.get("check_finite_every_n_steps", 0))
        row.update(model=model.name, params=module.num_params, task_settings=task.describe())
        log.info("%s on %s (length %d): %d trainable parameters", model.name, task.name, task.length, module.num_params)
        datamodule = build(cfg.data, task=task, seed=cfg.seed)

        # A callback or logger set to null (e.g. `callbacks.checkpoint=null`) is switched off.
        callbacks = [build(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
        show_bar, bar = progress_bar_callbacks(cfg.progress_bar)
        # Events after the checkpoint (or all, when an unfinished run restarts from scratch) are logged again.
        purge_from = resumed_step(plan.checkpoint) + 1 if plan.checkpoint is not None else (
            0 if plan.previous is not None else None)
        loggers = build_loggers(cfg, purge_from)
        trainer = build(cfg.trainer, callbacks=callbacks + bar, logger=loggers, enable_progress_bar=show_bar)
        for lg in trainer.loggers:
            lg.log_hyperparams({"params": module.num_params})

        if plan.checkpoint is not None:
            log.info("resuming from %s", plan.checkpoint)
        trainer.fit(module, datamodule=datamodule, ckpt_path=plan.checkpoint)

        row["steps"] = trainer.global_step
        val = evaluate_set(model, datamodule.task.validation_set(datamodule.val_size), datamodule.eval_batch_size)
        row.update(val_token_acc=val["token_acc"], val_seq_acc=val["seq_acc"], val_loss=val["loss"])
        row["task_metrics"] = task.extra_metrics(model, datamodule.eval_batch_size)
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
    except TrainingDiverged as e:
        # An outcome, not a crash: recorded, and a sweep goes on to its next run.
        row.update(status="diverged", diverged_at_step=e.step, steps=e.step, error=str(e),
                   check_finite_every_n_steps=cfg.get("check_finite_every_n_steps", 0))
        log.warning("diverged: %s; recorded in %s", e, out / RESULTS_FILE)
        return row
    except BaseException as e:
        row["status"] = "failed"
        if trainer is not None:
            row["steps"] = trainer.global_step
        if isinstance(e, SystemExit):  # Lightning turns Ctrl-C into SystemExit after a graceful shutdown
            row["error"] = "interrupted; continue it with resume=true and the same output dir"
        else:
            row["error"] = error_message(e)
            if not isinstance(e, UserError):
                row["traceback"] = traceback.format_exc()
        raise
    finally:
        row["wall_s"] = time.time() - t_start
        if write and rank_zero_only.rank == 0:  # one row per run, also under DDP
            write_results(out, row)


#: The error of a single (non-sweep) run, handed from the job to ``main`` so it is reported once, in our style.
_run_error: list[BaseException] = []


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """Hydra's entry point: one job of a run or a sweep."""
    try:
        row = train(cfg)
    except Exception as e:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            _run_error.append(e)  # raised by main(); raised here, Hydra would print its own line first
            return None
        # The other jobs still run; Hydra re-raises the first failure once they are done.
        log.error("this run failed: %s (see %s)", error_message(e), Path(cfg.output_dir) / RESULTS_FILE)
        raise RunFailed(f"a run of the sweep failed: {cfg.output_dir}: {error_message(e)} "
                        f"(the other runs went on; each run dir's results.json has its status)") from e
    return row["val_seq_acc"]


def quiet_library_chatter() -> None:
    """Keep the console to what the user asked for: Lightning's hardware banner and tips go to DEBUG."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")


def run_app() -> None:
    """Hydra's app, then the single run's error if it had one."""
    _run_error.clear()
    hydra_main()
    if _run_error:
        raise _run_error.pop()


def main() -> None:
    """Console script ``compare-train``."""
    torch.set_float32_matmul_precision("high")
    # conf/hydra/launcher/*.yaml pin the plugins' settings under the plugins' own names; Hydra warns about that.
    warnings.filterwarnings("ignore", message=".*validated against ConfigStore schema", category=UserWarning)
    quiet_library_chatter()
    run_hydra_app("compare-train", run_app)


if __name__ == "__main__":
    main()
