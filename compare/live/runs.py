"""The trained models under a run or sweep folder, rebuilt from their config and loaded from a checkpoint.

Each finished run (results.json status ok) is rebuilt from the composed config it recorded (results.json
"config", or .hydra/config.yaml), with the same ``build`` calls a run uses, and its LightningModule
checkpoint's ``model.*`` weights are loaded into the plain model. Runs are grouped by task: models that
trained on the same task, at the same length and with the same vocabulary read the same input, so the
page shows them side by side. A run that cannot be loaded is listed with the reason, never dropped silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from compare.config.build import build, build_model
from compare.errors import UserError, error_message
from compare.models import SequenceModel
from compare.reporting.findings import seed_groups
from compare.runs.records import RunRecord, load_runs, read_val_curve
from compare.tasks.base import Task
from compare.training.timeline import read_timeline

CHECKPOINTS = ("best", "last")
PREFIX = "model."


@dataclass
class LiveModel:
    """One trained model, ready to answer: the plain nn.Module in eval mode and the task it was trained on."""

    name: str
    path: Path
    model: SequenceModel
    task: Task
    row: dict
    checkpoint: Path
    #: The run's configuration as the sweep report names it (``lstm 2 layers``), when it was read with its sweep.
    label: str | None = None
    #: Snapshots of the weights over training (callbacks.timeline): (step, file), in step order; [] when none.
    timeline: list[tuple[int, Path]] = field(default_factory=list)
    #: Validation exact-sequence accuracy over training, (step, accuracy), from the run's logs.
    val_curve: list[tuple[int, float]] = field(default_factory=list)
    #: The training step these weights are of, when they are a timeline snapshot; None: the scored checkpoint.
    step: int | None = None
    #: Snapshots loaded so far, by step (loading one takes a file read and a model copy).
    snapshots: dict = field(default_factory=dict, init=False, repr=False)

    def at_step(self, step: int | None) -> LiveModel:
        """This model with the weights of its latest snapshot at or before ``step`` (itself for None, or when it
        kept no snapshot that early)."""
        if step is None:
            return self
        kept = [(s, path) for s, path in self.timeline if s <= step]
        if not kept:
            return self
        at, path = kept[-1]
        cache = self.snapshots
        if at not in cache:
            model = copy.deepcopy(self.model)
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            model.eval()
            cache[at] = LiveModel(self.name, self.path, model, self.task, self.row, path, self.label,
                                  self.timeline, self.val_curve, at)
        return cache[at]

    @property
    def kind(self) -> str:
        """The model as the report names the run's configuration (lstm, transformer-rope, gru 2 layers, ...)."""
        return self.label or str(self.row.get("model") or self.model.name)

    @property
    def attends(self) -> bool:
        """Whether the model has attention maps to show."""
        return self.model.returns_attention

    @property
    def max_tokens(self) -> int | None:
        """The longest input the model can read (a learned position table), or None for any length."""
        return self.model.max_positions

    def summary(self) -> str:
        """One line: model, parameters, training length, validation accuracy, checkpoint (or the timeline step)."""
        acc = self.row.get("val_seq_acc")
        acc_text = "?" if acc is None else f"{acc:.2f}"
        weights = self.checkpoint.name if self.step is None else f"as it was at step {self.step}"
        return (f"{self.kind}: {self.row.get('params') or 0:,} parameters, trained at length {self.task.length} "
                f"for {self.row.get('steps')} steps, validation accuracy {acc_text} "
                f"({self.name}, {weights})")


@dataclass
class TaskGroup:
    """Models that read the same input: same task, training length and vocabulary."""

    label: str
    models: list[LiveModel] = field(default_factory=list)

    @property
    def task(self):
        """The task object inputs are parsed with (the first model's; all share the vocabulary)."""
        return self.models[0].task

    @property
    def timeline_steps(self) -> list[int]:
        """Every step any of its models kept a snapshot at, in order ([] when none kept any)."""
        return sorted({s for m in self.models for s, _ in m.timeline})

    def at_step(self, step: int | None) -> TaskGroup:
        """The group with each model's weights as they were at ``step`` (None: the scored checkpoints)."""
        return self if step is None else TaskGroup(self.label, [m.at_step(step) for m in self.models])


@dataclass
class Lab:
    """Everything compare-lab serves: task groups, and the runs it could not load (with the reason)."""

    root: Path
    groups: list[TaskGroup]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def group(self, label: str) -> TaskGroup:
        """The group called ``label``; a UserError naming the labels there are otherwise."""
        for g in self.groups:
            if g.label == label:
                return g
        raise UserError(f"no task {label!r} here; there are: {', '.join(g.label for g in self.groups)}")


def run_config(record: RunRecord) -> DictConfig:
    """The composed config a run recorded: results.json's (resolved) copy, else .hydra/config.yaml."""
    if record.row and isinstance(record.row.get("config"), dict):
        return OmegaConf.create(record.row["config"])
    hydra_cfg = record.path / ".hydra" / "config.yaml"
    if hydra_cfg.is_file():
        return OmegaConf.load(hydra_cfg)
    raise UserError(f"{record.path}: no config recorded (results.json has no 'config', and no .hydra/config.yaml)")


def choose_checkpoint(run_dir: Path, prefer: str = "best") -> Path:
    """checkpoints/best-*.ckpt (the newest if several) or last.ckpt, in the order ``prefer`` says."""
    if prefer not in CHECKPOINTS:
        raise UserError(f"checkpoint={prefer!r} is not accepted; choose one of {list(CHECKPOINTS)}")
    folder = run_dir / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    last = [folder / "last.ckpt"] if (folder / "last.ckpt").is_file() else []
    order = [best[-1:], last] if prefer == "best" else [last, best[-1:]]
    for found in order:
        if found:
            return found[0]
    raise UserError(f"{folder}: no checkpoint (best-*.ckpt or last.ckpt)")


def load_model(record: RunRecord, prefer: str = "best") -> LiveModel:
    """Rebuild a finished run's task and model from its config and load its checkpoint's weights."""
    if not record.usable:
        raise UserError(f"status {record.status}" + (f": {record.problem}" if record.problem else ""))
    cfg = run_config(record)
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    path = choose_checkpoint(record.path, prefer)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file: say which, keep the others
        raise UserError(f"{path}: not a readable checkpoint ({error_message(e)})") from None
    state = {k[len(PREFIX):]: v for k, v in saved.get("state_dict", {}).items() if k.startswith(PREFIX)}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UserError(f"{path} does not fit the model its config builds (missing {result.missing_keys[:3]}, "
                        f"unexpected {result.unexpected_keys[:3]}): was the model code changed since?")
    model.eval()
    # A text model's exact-sequence accuracy (every byte of a window right) stays 0: its curve is next-token accuracy.
    curve = (read_val_curve(record.path, "val/token_acc") if task.samples_text else record.val_curve)
    return LiveModel(record.name, record.path, model, task, record.row, path, timeline=read_timeline(record.path),
                     val_curve=list(curve))


def group_key(model: LiveModel) -> tuple:
    """Models with equal keys read the same input."""
    return (model.task.label, model.task.length, tuple(model.task.token_names()))


def load_lab(root: Path, prefer: str = "best", warn=None) -> Lab:
    """Every loadable model under ``root``, grouped by task; a UserError when none can be loaded."""
    root = Path(root)
    records = load_runs(root, warn)
    # The report's names for the runs' configurations, so two settings of one model are told apart on the page.
    labels = {id(row): cell.model for cell in seed_groups([r.row for r in records if r.usable]).values()
              for row in cell.rows}
    keyed: dict[tuple, list[LiveModel]] = {}
    skipped: list[tuple[str, str]] = []
    for record in records:
        try:
            live = load_model(record, prefer)
            live.label = labels.get(id(record.row))
        except Exception as e:  # one broken run must not keep the others off the page
            skipped.append((record.name, error_message(e)))
            if warn:
                warn(f"{record.name}: not loaded: {error_message(e)}")
            continue
        keyed.setdefault(group_key(live), []).append(live)
    if not keyed:
        reasons = "; ".join(f"{n}: {why}" for n, why in skipped[:5])
        raise UserError(f"{root}: no trained model could be loaded ({reasons})")
    groups, seen = [], {}
    for (name, length, _), models in keyed.items():
        base = f"{name} · length {length}"
        seen[base] = seen.get(base, 0) + 1
        label = base if seen[base] == 1 else f"{base} · vocabulary {seen[base]}"
        groups.append(TaskGroup(label, models))
    return Lab(root, groups, skipped)
