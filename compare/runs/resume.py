"""Decide what a run does with its output dir: start, continue from the last checkpoint, or keep a finished result.

``resume=false`` (the default) starts a run, and refuses a dir that already holds a finished result or a
checkpoint, so nothing finished is overwritten by accident. ``resume=true`` keeps a finished result
(status ``ok`` or ``diverged``: the same config and seed would give the same again), continues from
``last.ckpt`` if there is one, and otherwise starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from compare.errors import UserError
from compare.runs.results import RESULTS_FILE, read_results

#: Statuses of a run that finished: re-running it would compute the same thing again.
FINISHED = ("ok", "diverged")
LAST_CHECKPOINT = "last.ckpt"
#: Top-level keys that may differ between a run and its resumption (they do not change what is computed).
NOT_COMPARED = frozenset({"resume", "progress_bar", "write_results"})


@dataclass
class ResumePlan:
    """What to do with an output dir: ``skip`` (keep ``previous``), continue from ``checkpoint``, or start."""

    previous: dict | None = None
    skip: bool = False
    checkpoint: Path | None = None

    @property
    def purge_from(self) -> int | None:
        """The first TensorBoard step to drop from an earlier attempt's events (None: there are none).

        Events after the checkpoint (or all of them, when an unfinished run restarts from scratch) are
        logged again, so no curve shows a step twice.
        """
        if self.checkpoint is not None:
            return resumed_step(self.checkpoint) + 1
        return 0 if self.previous is not None else None


def resumed_step(checkpoint: Path) -> int:
    """The global step a checkpoint was saved at (memory-mapped: the weights are not read)."""
    return int(torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)["global_step"])


def last_checkpoint(cfg: DictConfig, out: Path) -> Path:
    """Where the run's rolling checkpoint lives (the ``resume_checkpoint`` callback's dir, else out/checkpoints)."""
    dirpath = OmegaConf.select(cfg, "callbacks.resume_checkpoint.dirpath", default=None)
    return Path(dirpath or out / "checkpoints") / LAST_CHECKPOINT


def plan_resume(cfg: DictConfig, out: Path) -> ResumePlan:
    """Read what ``out`` holds and the ``resume`` switch; raise a UserError rather than lose or mix results."""
    resume = cfg.get("resume", False)
    if not isinstance(resume, bool):
        raise UserError(f"resume={resume!r} is not accepted: use resume=true or resume=false")
    results = out / RESULTS_FILE
    previous = read_results(results) if results.exists() else None
    status = previous["status"] if previous else None
    ckpt = last_checkpoint(cfg, out)
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
    return ResumePlan(previous, checkpoint=ckpt if ckpt.exists() else None)


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
