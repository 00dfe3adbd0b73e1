"""Accuracy of a trained model on fixed evaluation sets, and on a ladder of lengths."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from compare.evaluation.metrics import masked_correct, sequence_correct
from compare.tasks.base import IGNORE, EvalSet, Task


@dataclass
class LengthResult:
    """Accuracy at one length of the ladder; ``supported`` is False when the model cannot take that many tokens."""

    length: int
    tokens: int
    supported: bool
    in_train_range: bool
    seq_acc: float | None = None
    token_acc: float | None = None
    samples: int = 0
    # Accuracy sliced by a second difficulty axis: axis name -> {key: accuracy}.
    by: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_row(self) -> dict:
        return asdict(self)


def ladder_lengths(train_length: int, multipliers=(0.5, 1, 2, 4), lengths=None) -> list[int]:
    """Explicit ``lengths`` if given, else the training length times each multiplier (at least 1), sorted."""
    if lengths:
        return sorted({int(x) for x in lengths})
    return sorted({max(1, round(train_length * m)) for m in multipliers})


@torch.no_grad()
def evaluate_set(model: nn.Module, data: EvalSet, batch_size: int = 128) -> dict:
    """Token and exact-sequence accuracy of ``model`` on ``data``, sliced by the set's keys."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    row_hits, tok_hits, tok_n, loss_sum = [], 0, 0, 0.0
    row_valid = []
    for start in range(0, len(data.inputs), batch_size):
        x = data.inputs[start:start + batch_size].to(device)
        y = data.targets[start:start + batch_size].to(device)
        logits = model(x)
        loss_sum += float(torch.nn.functional.cross_entropy(
            logits.flatten(0, 1).float(), y.flatten(), ignore_index=IGNORE, reduction="sum"))
        correct, scored = masked_correct(logits, y)
        tok_hits += int(correct.sum())
        tok_n += int(scored.sum())
        rows, valid = sequence_correct(logits, y)
        row_hits.append(rows.cpu())
        row_valid.append(valid.cpu())
    model.train(was_training)
    if not row_hits:  # an empty set (e.g. a story-length bucket real data has no stories in) has no accuracy
        return {"seq_acc": None, "token_acc": None, "loss": None, "samples": 0, "by": {}}
    rows, valid = torch.cat(row_hits), torch.cat(row_valid)
    out = {
        "seq_acc": float(rows[valid].float().mean()) if valid.any() else 0.0,
        "token_acc": tok_hits / max(1, tok_n),
        "loss": loss_sum / max(1, tok_n),
        "samples": int(valid.sum()),
        "by": {},
    }
    for axis, keys in data.slices.items():
        out["by"][axis] = {
            str(int(k)): float(rows[(keys == k) & valid].float().mean())
            for k in keys.unique().tolist() if ((keys == k) & valid).any()
        }
    return out


def evaluate_ladder(model: nn.Module, task: Task, lengths: list[int], num_samples: int = 256,
                    batch_size: int = 128) -> list[LengthResult]:
    """Evaluate ``model`` at every length; lengths whose sequences the model cannot take are marked unsupported."""
    limit = model.max_positions
    results = []
    for length in lengths:
        tokens = task.sequence_length(length)
        supported = (limit is None or tokens <= limit) and task.supports(length)
        res = LengthResult(length=length, tokens=tokens, supported=supported,
                           in_train_range=task.in_training_range(length))
        if res.supported:
            scores = evaluate_set(model, task.eval_set(length, num_samples), batch_size)
            res.seq_acc, res.token_acc, res.samples, res.by = (
                scores["seq_acc"], scores["token_acc"], scores["samples"], scores["by"])
        results.append(res)
    return results
