"""One run, start to end: plan (resume or start), build, check, fit, score, and write the results row."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from compare.config.build import MODEL_RUN_KEYS, build, build_model
from compare.config.check import check_config
from compare.config.run_settings import (check_model_fits_task, check_optimizer, check_output_dir,
                                         check_run_settings)
from compare.errors import UserError, error_message
from compare.runs.resume import ResumePlan, cluster_job_id, last_checkpoint, plan_resume
from compare.runs.results import RESULTS_FILE, library_versions, write_results
from compare.training import ddp
from compare.training.budget import follow_time_budget, plan_budget
from compare.training.callbacks import LengthLadderCallback, ThroughputCallback
from compare.training.compute import ComputeCallback
from compare.training.curriculum import build_curriculum
from compare.training.datamodule import TaskDataModule
from compare.training.module import SequenceModule, TrainingDiverged
from compare.training.preemption import Preemption, PreemptionCallback, preemption_of
from compare.training.scored import scored_model, scored_validation
from compare.training.threads import apply_threads, flush_denormals
from compare.training.trainer import build_callbacks, build_trainer

log = logging.getLogger("compare")


@dataclass
class RunParts:
    """What a run trains and how: built from config and checked, before the Trainer exists."""

    task: object
    model: object
    module: SequenceModule
    datamodule: TaskDataModule
    callbacks: list


def train(cfg: DictConfig) -> dict:
    """Run one experiment described by ``cfg``; returns the results row (also written to results.json).

    With ``resume=true`` a run whose results.json says ok or diverged is kept as it is, and an
    unfinished one continues from its last checkpoint. A stop signal (``preemption.signals``) ends the
    run at the end of its current step with a checkpoint and status preempted, and raises ``Preempted``.
    """
    if (nprocs := ddp.processes_to_start(cfg)) > 1:
        return ddp.run_ranks(train, cfg, nprocs)  # this process becomes rank 0 and comes back here
    apply_threads(cfg)
    flush_denormals()
    out = Path(cfg.output_dir)
    write = cfg.get("write_results", True)
    check_output_dir(out, "output_dir")
    # Decided before anything is written, so a refused or mistaken resume never overwrites a result.
    plan = plan_resume(cfg, out)
    if plan.skip:
        log.info("%s already finished (status %s); kept as it is", out, plan.previous["status"])
        return plan.previous
    t_start = time.time()
    try:
        row = first_row(cfg, out, plan)
    except Exception as e:  # a setting that does not resolve: recorded, or the sweep's report counts it as running
        if write:
            write_results(out, unresolved_row(cfg, out, e))
        raise
    row["cluster_job"] = cluster_job_id()  # how a requeued cluster job recognises its own earlier attempt
    trainer: L.Trainer | None = None

    def write_when_cut_off(fields: dict) -> None:  # the watchdog's row, when a step outlasts the grace time
        if write and rank_zero_only.rank == 0:
            write_results(out, {**row, **fields, "wall_s": time.time() - t_start})

    stop = preemption_of(cfg, last_checkpoint(cfg, out), on_deadline=write_when_cut_off)
    with stop:
        try:
            if write:
                write_results(out, row)  # a killed run leaves "running" and its config, which resume checks against
            parts = build_parts(cfg, row)
            budget = plan_budget(cfg, parts.module, parts.datamodule)
            row["budget"] = budget.row()
            stop.raise_if_requested()
            trainer = build_trainer(cfg, [*parts.callbacks, PreemptionCallback(stop)], plan.purge_from,
                                    parts.module.num_params, budget.trainer_overrides)
            follow_time_budget(trainer, parts.module, budget)
            if plan.checkpoint is not None:
                log.info("resuming from %s", plan.checkpoint)
            trainer.fit(parts.module, datamodule=parts.datamodule, ckpt_path=plan.checkpoint)
            score(row, trainer, parts)
        except TrainingDiverged as e:
            # An outcome, not a crash: recorded, and a sweep goes on to its next run.
            row.update(status="diverged", diverged_at_step=e.step, steps=e.step, error=str(e),
                       check_finite_every_n_steps=cfg.get("check_finite_every_n_steps", 0))
            log.warning("diverged: %s; recorded in %s", e, out / RESULTS_FILE)
        except BaseException as e:
            record_failure(row, e, trainer, stop)
            if stop.stopped_by(e):
                raise stop.exit() from None  # exit status 128 + signal; a sequential sweep stops here too
            raise
        finally:
            row["wall_s"] = time.time() - t_start
            if write and rank_zero_only.rank == 0:  # one row per run, also under DDP
                write_results(out, row)
    if stop.signal is not None:  # it came after the last step: the row is complete, but the process must end
        log.warning("%s came after training ended; %s is complete (status %s)", stop.signal.name,
                    out / RESULTS_FILE, row["status"])
        raise stop.exit()
    return row


def first_row(cfg: DictConfig, out: Path, plan: ResumePlan) -> dict:
    """The row a run starts with (status running): what it is, with every measured value still empty."""
    row: dict = {
        "status": "running", "model": OmegaConf.select(cfg, "model._target_"), "task": None,
        "train_length": OmegaConf.select(cfg, "task.length"),
        # Training draws its lengths from this range; train_length is its top.
        "train_lengths": [OmegaConf.select(cfg, "task.min_length", default=OmegaConf.select(cfg, "task.length")),
                          OmegaConf.select(cfg, "task.length")],
        "params": None, "seed": cfg.seed, "steps": 0, "scored_checkpoint": None, "scored_step": None,
        "val_token_acc": None, "val_seq_acc": None, "val_loss": None, "val_acc_by_length": {},
        "acc_by_length": {}, "ladder": [],
        "train_tokens_per_s": None, "step_time_s": None, "wall_s": None, "peak_mem_mb": None,
        "train_flops": None, "flops_per_token": None, "train_seconds": None,
        "output_dir": str(out), "versions": library_versions(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
    if plan.checkpoint is not None:
        row["resumed_from"] = str(plan.checkpoint)
    return row


def unresolved_row(cfg: DictConfig, out: Path, e: Exception) -> dict:
    """The failed row of a run whose config does not resolve (an interpolation naming a missing key): the config
    as written, the error, and every measured value empty."""
    return {"status": "failed", "model": OmegaConf.select(cfg, "model._target_", throw_on_resolution_failure=False),
            "task": None, "train_length": None, "params": None, "seed": cfg.get("seed"), "steps": 0,
            "val_token_acc": None, "val_seq_acc": None, "acc_by_length": {}, "train_tokens_per_s": None,
            "wall_s": 0.0, "peak_mem_mb": None, "output_dir": str(out), "error": error_message(e),
            "versions": library_versions(), "config": OmegaConf.to_container(cfg, resolve=False)}


def build_parts(cfg: DictConfig, row: dict) -> RunParts:
    """Task, model, LightningModule, data and callbacks from config, each checked before anything trains."""
    check_config(cfg, extra_keys={"model": MODEL_RUN_KEYS})
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    task = build(cfg.task)
    row["task"] = task.label
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    check_model_fits_task(model, task)
    check_run_settings(cfg, model, task)
    optimizer = build(cfg.optimizer)
    check_optimizer(optimizer, model)
    module = SequenceModule(model, optimizer, build(cfg.scheduler) if cfg.get("scheduler") else None,
                            compile=bool(cfg.model.get("compile", False)),
                            check_finite_every_n_steps=cfg.get("check_finite_every_n_steps", 0))
    row.update(model=model.name, params=module.num_params, task_settings=task.describe())
    # The mechanism table's sequential depth and state size are those of one training input: its tokens, not
    # the task's length knob (copy of T symbols reads 2T tokens, mqar seq_len tokens for any pair count).
    tokens = task.sequence_length(task.length)
    row.update(model.mechanism(tokens), train_sequence_tokens=tokens)
    log.info("%s on %s (length %d): %d trainable parameters", model.name, task.label, task.length, module.num_params)
    datamodule = build(cfg.data, task=task, seed=cfg.seed)
    datamodule.use_curriculum(build_curriculum(cfg.data.get("curriculum"), cfg.task, task,
                                               cfg.trainer.get("max_steps")))
    return RunParts(task, model, module, datamodule, build_callbacks(cfg))


def score(row: dict, trainer: L.Trainer, parts: RunParts) -> None:
    """Fill the row of a finished fit from the scored weights (``eval.checkpoint``: best or last): validation
    scores, task metrics and the length ladder, plus throughput."""
    datamodule = parts.datamodule
    row["steps"] = trainer.global_step
    row["train_lengths"] = [parts.task.min_length, parts.task.length]
    choice = (row["config"].get("eval") or {}).get("checkpoint", "best")
    model, which = scored_model(trainer, parts.module, choice)
    row.update(which)
    val = scored_validation(trainer, parts.module, choice)
    row.update(val_token_acc=val["token_acc"], val_seq_acc=val["seq_acc"], val_loss=val["loss"],
               val_acc_by_length=val["by_length"])
    row["task_metrics"] = parts.task.extra_metrics(model, datamodule.eval_batch_size)
    for cb in parts.callbacks:
        if isinstance(cb, (ThroughputCallback, ComputeCallback)):
            row.update(cb.summary)
        if isinstance(cb, LengthLadderCallback):
            if trainer.is_global_zero and cb.scored != which:  # the callback was set to other weights
                cb.evaluate(trainer, model, which)
            row["ladder"] = [r.as_row() for r in cb.results]
            row["acc_by_length"] = {str(r.length): r.seq_acc for r in cb.results}
            row["unsupported_lengths"] = [r.length for r in cb.results if not r.supported]
    row["status"] = "ok"
    ladder = ", ".join(f"{k}: {'unsupported' if v is None else f'{v:.2f}'}" for k, v in row["acc_by_length"].items())
    log.info("done in %d steps: val exact-sequence accuracy %.3f (weights of step %d); by length {%s}; results in %s",
             row["steps"], row["val_seq_acc"], row["scored_step"], ladder, Path(row["output_dir"]) / RESULTS_FILE)


def record_failure(row: dict, e: BaseException, trainer: L.Trainer | None, stop: Preemption | None = None) -> None:
    """Mark the row failed with a message a user can act on (and the traceback when it is not their mistake);
    a run stopped by a signal is marked preempted, with the step its checkpoint continues from."""
    if stop is not None and stop.stopped_by(e):
        row.update(stop.outcome())
        log.warning("%s; recorded in %s", row["error"], Path(row["output_dir"]) / RESULTS_FILE)
        return
    row["status"] = "failed"
    if trainer is not None:
        row["steps"] = trainer.global_step
    if isinstance(e, SystemExit):  # Lightning turns Ctrl-C into SystemExit after a graceful shutdown
        row["error"] = "interrupted; continue it with resume=true and the same output dir"
    else:
        row["error"] = error_message(e)
        if not isinstance(e, UserError):
            row["traceback"] = traceback.format_exc()
