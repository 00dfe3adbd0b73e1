"""The Hydra callback that builds a sweep's report when the sweep ends (registered in conf/hydra/default.yaml)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from compare.errors import UserError
from compare.reporting.build import build_report
from compare.runs.results import RESULTS_FILE

log = logging.getLogger("compare")


def sweep_has_failures(root: Path) -> bool:
    """True when any run under ``root`` has a results row that failed (or cannot be read).

    A row still "running" is no failure: under a parallel launcher (joblib) the other jobs are mid-run when one
    ends, and counting them made every job rebuild the whole report (64 rebuilds in the why_attention demo).
    """
    for path in root.glob(f"*/{RESULTS_FILE}"):
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("status") not in ("ok", "running"):
                return True
        except (OSError, ValueError, AttributeError):
            return True
    return False


class ReportCallback(Callback):
    """Hydra callback: build the sweep's report when a multirun ends (a failure here never fails the sweep).

    Hydra skips ``on_multirun_end`` when a job failed (its sweeper re-raises the failure first), so once a
    sweep has a failed run the report is rebuilt after every job instead: the last job leaves it complete.
    """

    def __init__(self, enabled: bool = True, solved: float = 0.9) -> None:
        self.enabled = enabled
        self.solved = solved

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if not self.enabled or HydraConfig.get().mode != RunMode.MULTIRUN:
            return
        root = Path(HydraConfig.get().sweep.dir)
        if job_return.status == JobStatus.FAILED or sweep_has_failures(root):
            self.build(root)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.enabled:
            self.build(Path(config.hydra.sweep.dir))

    def build(self, root: Path) -> None:
        """Build the report of ``root``; errors are printed, never raised into Hydra."""
        try:
            path = build_report(root, warn=lambda m: log.warning("compare-report: warning: %s", m), solved=self.solved)
            log.info("compare-report: wrote %s", path)
        except UserError as e:
            print(f"compare-report: error: {e}", file=sys.stderr)
        except Exception as e:  # the sweep's results are on disk; compare-report DIR can be run again by hand
            log.exception("compare-report: could not build the report of %s", root)
            print(f"compare-report: error: could not build the report of {root}: {type(e).__name__}: {e}",
                  file=sys.stderr)
