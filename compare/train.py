"""compare-train: train one model on one task from Hydra config and write its results row.

    compare-train model=transformer task=copy task.length=16
    compare-train -m model=lstm,gru,transformer task.length=8,16
    compare-train ... hydra.run.dir=<run dir> resume=true      # continue a killed run from its last checkpoint
    compare-train -m ... hydra.sweep.dir=<sweep dir> resume=true  # finish a sweep: keeps runs that are done
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from compare.config import CONF_DIR
from compare.config.presets import presets_help
from compare.errors import RunFailed, error_message, quiet_console, run_hydra_app
from compare.runs.results import RESULTS_FILE
from compare.training.run import train

__all__ = ["CONF_DIR", "QuietConsole", "main", "quiet_console", "train"]

log = logging.getLogger("compare")
# The preset list in `compare-train --help` (conf/hydra/help/compare.yaml), read from conf/experiment/ when shown.
OmegaConf.register_new_resolver("compare_presets", lambda: presets_help(), replace=True)


#: The error of a single (non-sweep) run, handed from the job to ``main`` so it is reported once, in our style.
_run_error: list[BaseException] = []


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    """Hydra's entry point: one job of a run or a sweep."""
    try:
        row = train(cfg)
    except Exception as e:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            _run_error.append(e)  # raised by main(); raised here, Hydra would print its own line first
            return None
        # The other jobs still run; Hydra re-raises the first failure once they are done.
        log.error("this run failed: %s (see %s)", error_message(e), Path(cfg.output_dir) / RESULTS_FILE)
        raise RunFailed(f"a run of the sweep failed: {cfg.output_dir}: {error_message(e)} "
                        f"(the other runs went on; each run dir's results.json has its status)") from e
    return row["val_seq_acc"]


class QuietConsole(Callback):
    """Hydra callback (conf/hydra/default.yaml) that applies ``quiet_console`` in every job's own process.

    The joblib and submitit launchers pickle Hydra's callbacks into each job (a loky worker, a SLURM job) and
    unpickle them before the job composes its config, which is where Hydra warns. ``__reduce__`` rebuilds this
    callback by calling the class, so its ``__init__`` sets the filters there before that.
    """

    def __init__(self) -> None:
        quiet_console()

    def __reduce__(self):
        return type(self), ()


def run_app() -> None:
    """Hydra's app, then the single run's error if it had one."""
    _run_error.clear()
    hydra_main()
    if _run_error:
        raise _run_error.pop()


def main() -> None:
    """Console script ``compare-train``."""
    torch.set_float32_matmul_precision("high")
    quiet_console()  # before Hydra composes; jobs in other processes get it from QuietConsole
    run_hydra_app("compare-train", run_app)


if __name__ == "__main__":
    main()
