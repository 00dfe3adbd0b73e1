"""Sequence tasks: each makes (inputs, targets) batches of any requested length."""

from compare.tasks.base import IGNORE, EvalSet, Task
from compare.tasks.copy import CopyTask

__all__ = ["IGNORE", "CopyTask", "EvalSet", "Task"]
