"""Accuracy over scored positions: per token, and per whole sequence (every scored position right)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from compare.tasks.base import IGNORE


def masked_correct(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """(correct, scored) boolean tensors of shape (batch, time)."""
    scored = targets != IGNORE
    return (logits.argmax(-1) == targets) & scored, scored


def sequence_correct(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """(row_correct, row_scored): a row is correct when all its scored positions are."""
    correct, scored = masked_correct(logits, targets)
    row_scored = scored.any(-1)
    return (correct == scored).all(-1) & row_scored, row_scored


class SequenceAccuracy(Metric):
    """Token accuracy and exact-sequence accuracy over the positions a task scores."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        for name in ("tokens_correct", "tokens", "rows_correct", "rows"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: Tensor, targets: Tensor) -> None:
        correct, scored = masked_correct(logits, targets)
        rows_correct, rows = sequence_correct(logits, targets)
        self.tokens_correct += correct.sum()
        self.tokens += scored.sum()
        self.rows_correct += rows_correct.sum()
        self.rows += rows.sum()

    def compute(self) -> dict[str, Tensor]:
        return {
            "token_acc": self.tokens_correct / self.tokens.clamp(min=1),
            "seq_acc": self.rows_correct / self.rows.clamp(min=1),
        }
