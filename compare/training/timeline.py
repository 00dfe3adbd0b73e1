"""A few snapshots of the model's weights over training, for compare-lab's training timeline.

``callbacks.timeline.points=8`` keeps the weights at step 0 (untrained) and at ``points - 1`` steps spaced evenly
on a log scale from ``first`` to ``trainer.max_steps``: learning moves fastest early, so the snapshots are
densest there. Each is ``<run dir>/timeline/step-<n>.pt`` (the plain model's state_dict, a few hundred kB at the
presets' sizes), listed with its step in ``timeline/index.json``. ``points: 0`` (the default) keeps none.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch

from compare.errors import UserError
from compare.runs.atomic import atomic_write_text, atomic_writer

TIMELINE_DIR = "timeline"
INDEX = "index.json"


def timeline_steps(max_steps: int, points: int, first: int = 10) -> list[int]:
    """Step 0, then ``points - 1`` steps log-spaced from ``first`` to ``max_steps`` (rounded, each once)."""
    if points <= 0 or max_steps <= 0:
        return []
    if points == 1:
        return [0]
    first = max(1, min(first, max_steps))
    n = points - 1
    spaced = [first * (max_steps / first) ** (i / (n - 1)) if n > 1 else max_steps for i in range(n)]
    return sorted({0, *(min(max_steps, max(1, round(s))) for s in spaced)})


def read_timeline(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, weights file) of a run's saved snapshots, in step order ([] when it kept none)."""
    index = Path(run_dir) / TIMELINE_DIR / INDEX
    if not index.is_file():
        return []
    saved = json.loads(index.read_text()).get("saved", [])
    return [(int(s["step"]), index.parent / s["file"]) for s in saved if (index.parent / s["file"]).is_file()]


class TimelineCallback(L.Callback):
    """Save the plain model's weights at ``timeline_steps(trainer.max_steps, points, first)`` (rank zero only)."""

    def __init__(self, dirpath: str, points: int = 0, first: int = 10) -> None:
        if isinstance(points, bool) or not isinstance(points, int) or points < 0:
            raise UserError(f"callbacks.timeline.points={points!r} is not accepted: an integer >= 0 (0 keeps none)")
        if isinstance(first, bool) or not isinstance(first, int) or first < 1:
            raise UserError(f"callbacks.timeline.first={first!r} is not accepted: an integer >= 1")
        self.dirpath = Path(dirpath) / TIMELINE_DIR
        self.points, self.first = points, first
        self.steps: list[int] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self.steps = timeline_steps(trainer.max_steps, self.points, self.first)
        if trainer.global_step == 0:
            self._save(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._save(trainer, pl_module)

    def _save(self, trainer, pl_module) -> None:
        step = trainer.global_step
        if step not in self.steps or not trainer.is_global_zero:
            return
        self.dirpath.mkdir(parents=True, exist_ok=True)
        name = f"step-{step}.pt"
        state = {k: v.detach().cpu().clone() for k, v in pl_module.model.state_dict().items()}
        with atomic_writer(self.dirpath / name) as f:
            torch.save(state, f)
        index = self.dirpath / INDEX
        saved = json.loads(index.read_text())["saved"] if index.is_file() else []
        saved = [s for s in saved if s["step"] != step] + [{"step": step, "file": name}]
        atomic_write_text(index, json.dumps({"steps": self.steps, "saved": sorted(saved, key=lambda s: s["step"])},
                                            indent=1) + "\n")

