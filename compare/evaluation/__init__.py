"""Scoring a trained model: accuracy over scored positions, on fixed sets and on a ladder of lengths."""

from compare.evaluation.ladder import LengthResult, evaluate_ladder, evaluate_set, ladder_lengths
from compare.evaluation.metrics import SequenceAccuracy, masked_correct, sequence_correct

__all__ = ["LengthResult", "SequenceAccuracy", "evaluate_ladder", "evaluate_set", "ladder_lengths",
           "masked_correct", "sequence_correct"]
