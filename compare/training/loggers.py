"""Loggers beyond TensorBoard, each writing under the run's own folder: MLflow and Weights & Biases (offline).

Lightning's loggers, with what a run of compare needs as defaults: the store sits in the run dir, the run is named
after it, and a missing package is one line naming the extra to install (``pip install -e '.[mlflow]'``) rather
than a traceback from inside the Trainer. ``conf/logger/`` picks them: ``logger=csv``, ``logger=mlflow``,
``logger=wandb``, or several at once, ``logger=[tensorboard,csv]``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from lightning.pytorch.loggers import MLFlowLogger, WandbLogger

from compare.errors import UserError


def require(module: str, logger: str) -> None:
    """A UserError naming the extra to install when ``module`` cannot be imported."""
    if importlib.util.find_spec(module) is None:
        raise UserError(f"logger={logger} needs the {module} package, which is not installed: "
                        f"pip install -e '.[{logger}]' (or pip install {module})")


class RunMLFlowLogger(MLFlowLogger):
    """MLflow's logger with its store in the run dir: ``<run_dir>/mlruns`` (an MLflow file store), the MLflow run
    named after the run dir and tagged with its path. ``tracking_uri`` sends it elsewhere instead (a
    ``sqlite:///...`` database, a tracking server's ``http://...``)."""

    def __init__(self, run_dir: str, experiment_name: str = "compare", tracking_uri: str | None = None,
                 run_name: str | None = None, tags: dict | None = None, **kwargs) -> None:
        require("mlflow", "mlflow")
        run_dir = Path(run_dir).resolve()
        tracking_uri = tracking_uri or (run_dir / "mlruns").as_uri()
        if tracking_uri.startswith("file:"):
            # MLflow 3 keeps its file store in "maintenance mode" and refuses it unless this is set; a folder of
            # plain files beside the run's other outputs is what a local store is for here (its database store
            # takes ~10-20 s to create its tables, per run).
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        super().__init__(experiment_name=experiment_name, tracking_uri=tracking_uri,
                         run_name=run_name or run_dir.name, tags={"output_dir": str(run_dir), **(tags or {})},
                         **kwargs)


class OfflineWandbLogger(WandbLogger):
    """Weights & Biases' logger, offline unless told otherwise: the run is written to ``<run_dir>/wandb/offline-run-*``
    and sent later with ``wandb sync <that folder>``; ``offline=false`` logs to the W&B server at once (after
    ``wandb login``)."""

    def __init__(self, run_dir: str, project: str = "compare", offline: bool = True, name: str | None = None,
                 **kwargs) -> None:
        require("wandb", "wandb")
        run_dir = Path(run_dir)
        super().__init__(project=project, save_dir=str(run_dir), offline=offline, name=name or run_dir.name,
                         **kwargs)

    def finalize(self, status: str) -> None:
        """Lightning leaves a W&B run open after fit; a compare run ends here, so its log is complete on disk (and
        the next run of a sweep in this process starts a run of its own)."""
        super().finalize(status)
        if self._experiment is not None:
            self._experiment.finish(exit_code=0 if status == "success" else 1)
