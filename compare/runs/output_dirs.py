"""The Hydra callback that checks the run or sweep folder before Hydra itself creates and writes into it.

Hydra makes ``hydra.run.dir`` / ``hydra.sweep.dir`` before any job starts, so a path that is a file (or
lies under one) or cannot be written would otherwise surface as Hydra's own OSError. Hydra turns an
exception from a callback into a warning and goes on, so this one prints the error line itself and exits
with the status of a user error (registered under ``hydra.callbacks`` in conf/config.yaml).
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from compare.config.run_settings import check_output_dir
from compare.errors import EXIT_USER_ERROR, UserError


class OutputDirCheck(Callback):
    """``hydra.run.dir`` before a single run, ``hydra.sweep.dir`` before a sweep: a writable folder, or exit 2."""

    def __init__(self, prog: str = "compare-train") -> None:
        self.prog = prog

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config.hydra.sweep.dir, "hydra.sweep.dir")

    def _check(self, path: str, key: str) -> None:
        try:
            check_output_dir(path, key)
        except UserError as e:
            print(f"{self.prog}: error: {e}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
