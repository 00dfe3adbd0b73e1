"""A curriculum: easier settings of the run's task first, each for a number of training steps.

``data.curriculum`` lists stages, each ``{steps: N, task: {<task settings>}}``; a stage's task is the run's task
config with those settings changed. Training batches come from stage 1 for its steps, then from stage 2, ..., and
from the run's own task after the last stage. Validation, checkpoints and every score stay on the run's task, so
its curves show what the curriculum buys on the task that is measured. A stage's tokens are mapped into the run's
vocabulary by name (``Task.token_names``): a stage may use fewer words (qa with one verb), never other ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch import Tensor

from compare.config.build import build
from compare.errors import UserError
from compare.tasks.base import IGNORE, Task, check_positive

STAGE_KEYS = ("steps", "task")


@dataclass(frozen=True)
class CurriculumStage:
    """Training steps [first_step, first_step + steps) drawn from ``task``, its token ids mapped by ``token_map``."""

    first_step: int
    steps: int
    task: Task
    token_map: Tensor  # stage token id -> the run's token id

    def remap(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        """A batch of the stage's task in the run's token ids (unscored targets stay IGNORE); ``token_map`` must be
        on the batch's device (``on``)."""
        table = self.token_map
        return table[inputs], torch.where(targets == IGNORE, targets, table[targets.clamp(min=0)])

    def on(self, device: torch.device) -> "CurriculumStage":
        """This stage with its token map on ``device``, moved once rather than every step."""
        return replace(self, token_map=self.token_map.to(device))


def build_curriculum(stages, task_cfg: DictConfig, task: Task, max_steps: int | None) -> list[CurriculumStage]:
    """The stages of ``data.curriculum`` (None or empty: no curriculum), each checked: a clear UserError names
    the stage and the bad key or value."""
    if not stages:
        return []
    if not isinstance(stages, (list, ListConfig)):
        raise UserError(f"data.curriculum={stages!r} is not accepted: give a list of stages "
                        "[{steps: N, task: {<task settings>}}, ...], or null")
    base = OmegaConf.to_container(task_cfg, resolve=True)
    names = task.token_names()
    index = {name: i for i, name in enumerate(names)}
    if len(index) != len(names):
        raise UserError(f"data.curriculum needs a task whose tokens have distinct names; {task.name}'s do not")
    out, first = [], 0
    for i, stage in enumerate(stages):
        where = f"data.curriculum[{i}]"
        if not isinstance(stage, (dict, DictConfig)) or "steps" not in stage or set(stage) - set(STAGE_KEYS):
            raise UserError(f"{where}={stage!r} is not accepted: a stage is {{steps: N, task: {{<task settings>}}}} "
                            f"(keys {list(STAGE_KEYS)})")
        check_positive(f"{where}.steps", stage["steps"])
        changes = stage.get("task") or {}
        unknown = sorted(set(changes) - set(base))
        if unknown:
            raise UserError(f"{where}.task.{unknown[0]} is not a setting of task={task.name}; its settings: "
                            f"{', '.join(sorted(k for k in base if k != '_target_'))}")
        if "_target_" in changes:
            raise UserError(f"{where}.task._target_: a stage changes the run's task's settings, not the task itself")
        settings = OmegaConf.merge(base, OmegaConf.to_container(OmegaConf.create(dict(changes)), resolve=True))
        stage_task = build(settings)
        stage_names = stage_task.token_names()
        others = [n for n in stage_names if n not in index]
        if others or len(set(stage_names)) != len(stage_names):
            raise UserError(f"{where}: the stage's tokens {others[:5] or 'repeat a name'} are not in the run's "
                            f"{task.name} vocabulary; a stage may use fewer of the run's tokens, not others")
        token_map = torch.tensor([index[n] for n in stage_names], dtype=torch.long)
        out.append(CurriculumStage(first, int(stage["steps"]), stage_task, token_map))
        first += int(stage["steps"])
    if max_steps is not None and max_steps >= 0 and first >= max_steps:
        raise UserError(f"data.curriculum's stages take {first:,} steps, trainer.max_steps={max_steps:,}: the run's "
                        "own task would never be trained; give more steps or shorter stages")
    return out


def stage_at(stages: list[CurriculumStage], step: int) -> CurriculumStage | None:
    """The stage that training step ``step`` draws from; None after the last (the run's own task)."""
    return next((s for s in stages if s.first_step <= step < s.first_step + s.steps), None)
