"""Decide what a run does with its output dir: start, continue from the last checkpoint, or keep a finished result.

``resume=false`` (the default) starts a run, and refuses a dir that already holds a finished result or a
checkpoint, so nothing finished is overwritten by accident. ``resume=true`` keeps a finished result
(status ``ok`` or ``diverged``: the same config and seed would give the same again), continues an unfinished
one (``running``, ``preempted``, ``failed``) from ``last.ckpt`` if there is one, and otherwise starts afresh.

A SLURM job that was preempted and requeued runs again with the overrides it was submitted with; when its
results row names the same job (``cluster_job``), it continues as if ``resume=true`` had been given.

A damaged ``last.ckpt`` (truncated by a full disk or a writer from before checkpoint writes were atomic)
is never loaded: the newest readable checkpoint in the same folder is used instead, or the run starts
afresh, with one warning naming the file either way.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError
from compare.runs.atomic import stale_temp_files
from compare.runs.results import RESULTS_FILE, read_results

log = logging.getLogger("compare")

#: Statuses of a run that finished: re-running it would compute the same thing again.
FINISHED = ("ok", "diverged")
#: Statuses a requeued cluster job continues from without resume=true (its own earlier attempt was cut short).
CUT_SHORT = ("running", "preempted")
LAST_CHECKPOINT = "last.ckpt"
#: Top-level keys that may differ between a run and its resumption (they do not change what is computed).
NOT_COMPARED = frozenset({"resume", "progress_bar", "write_results", "preemption"})


@dataclass
class ResumePlan:
    """What to do with an output dir: ``skip`` (keep ``previous``), continue from ``checkpoint``, or start."""

    previous: dict | None = None
    skip: bool = False
    checkpoint: Path | None = None
    #: The global step ``checkpoint`` was saved at.
    step: int | None = None

    @property
    def purge_from(self) -> int | None:
        """The first TensorBoard step to drop from an earlier attempt's events (None: there are none).

        Events after the checkpoint (or all of them, when an unfinished run restarts from scratch) are
        logged again, so no curve shows a step twice.
        """
        if self.checkpoint is not None:
            return (self.step if self.step is not None else resumed_step(self.checkpoint)) + 1
        return 0 if self.previous is not None else None


def resumed_step(checkpoint: Path) -> int:
    """The global step a checkpoint was saved at (memory-mapped: the weights are not read)."""
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["global_step"])


def checkpoint_step(checkpoint: Path) -> tuple[int | None, str]:
    """(global step, "") for a checkpoint torch can open, else (None, why not): never raises."""
    try:
        step = resumed_step(checkpoint)
    except Exception as e:  # torch.load of a truncated zip, a pickle error, EOF, a missing key: all mean "damaged"
        first = (str(e).strip().splitlines() or [""])[0][:160]
        return None, f"{type(e).__name__}: {first}" if first else type(e).__name__
    return step, ""


def newest_readable_checkpoint(last: Path) -> tuple[Path | None, int | None]:
    """``last`` if it can be read, else the readable checkpoint with the highest step beside it (warned once)."""
    step, why = checkpoint_step(last)
    if step is not None:
        return last, step
    others = [(s, p) for p in sorted(last.parent.glob("*.ckpt")) if p != last
              for s, _ in [checkpoint_step(p)] if s is not None]
    if others:
        step, path = max(others, key=lambda sp: sp[0])
        log.warning("%s cannot be read (%s); continuing from %s (step %d) instead", last, why, path.name, step)
        return path, step
    log.warning("%s cannot be read (%s) and no other checkpoint in %s can; this run starts again from step 0",
                last, why, last.parent)
    return None, None


def cluster_job_id() -> str | None:
    """This process's cluster job, which a requeued job keeps: submitit's job id inside a submitit job (SLURM
    or local), else SLURM's (array jobs as JOB_TASK); None outside both."""
    if os.environ.get("SUBMITIT_FOLDER"):  # set by submitit in the job process only
        try:
            import submitit

            return str(submitit.JobEnvironment().job_id)
        except Exception:  # an unknown executor's environment: fall back to SLURM's variables
            pass
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID") or None


def last_checkpoint(cfg: DictConfig, out: Path) -> Path:
    """Where the run's rolling checkpoint lives (the ``resume_checkpoint`` callback's dir, else out/checkpoints)."""
    dirpath = OmegaConf.select(cfg, "callbacks.resume_checkpoint.dirpath", default=None)
    return Path(dirpath or out / "checkpoints") / LAST_CHECKPOINT


def is_requeued_attempt(previous: dict | None) -> bool:
    """True when ``previous`` is this very cluster job's earlier attempt, cut short (preempted, or killed)."""
    job = cluster_job_id()
    return bool(previous and job and previous.get("cluster_job") == job and previous["status"] in CUT_SHORT)


def plan_resume(cfg: DictConfig, out: Path) -> ResumePlan:
    """Read what ``out`` holds and the ``resume`` switch; raise a UserError rather than lose or mix results."""
    resume = cfg.get("resume", False)
    if not isinstance(resume, bool):
        raise UserError(f"resume={resume!r} is not accepted: use resume=true or resume=false")
    results = out / RESULTS_FILE
    previous = read_results(results) if results.exists() else None
    status = previous["status"] if previous else None
    ckpt = last_checkpoint(cfg, out)
    if not resume and is_requeued_attempt(previous):
        log.info("%s: cluster job %s was requeued after it stopped (status %s); continuing it", out,
                 previous["cluster_job"], status)
        resume = True
    if not resume:
        if status in FINISHED or ckpt.exists():
            what = f"a finished run (status {status})" if status in FINISHED else f"a checkpoint ({ckpt})"
            raise UserError(f"{out} already holds {what}; pass resume=true to keep or continue it, "
                            f"or choose another output dir")
        return ResumePlan(previous)
    if previous is not None:
        check_same_config(previous["config"], OmegaConf.to_container(cfg, resolve=True), results)
    if status in FINISHED:
        return ResumePlan(previous, skip=True)
    for partial in stale_temp_files(ckpt.parent):  # a checkpoint write that SIGKILL cut off; never readable
        log.info("removing %s, a checkpoint write that did not finish", partial)
        partial.unlink(missing_ok=True)
    if not ckpt.exists():
        return ResumePlan(previous)
    path, step = newest_readable_checkpoint(ckpt)
    return ResumePlan(previous, checkpoint=path, step=step)


def flatten(node, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict = {}
    for key, value in node.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def check_same_config(before: dict, now: dict, source: Path) -> None:
    """Refuse to continue a run under a different config: the result would belong to neither."""
    a = {k: v for k, v in flatten(before).items() if k.split(".")[0] not in NOT_COMPARED}
    b = {k: v for k, v in flatten(now).items() if k.split(".")[0] not in NOT_COMPARED}
    diff = sorted(k for k in a.keys() | b.keys() if a.get(k, "<unset>") != b.get(k, "<unset>"))
    if diff:
        shown = ", ".join(f"{k}={b.get(k, '<unset>')!r} (was {a.get(k, '<unset>')!r})" for k in diff[:3])
        more = f" and {len(diff) - 3} more" if len(diff) > 3 else ""
        raise UserError(f"resume=true: the config differs from the run in {source}: {shown}{more}; "
                        f"pass the same overrides as that run, or choose another output dir")
