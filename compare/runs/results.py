"""The results row: one JSON object per run, written atomically, read back with a schema check."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from compare.errors import UserError
from compare.runs.atomic import atomic_write_text

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"

#: Keys every row has, whatever its status.
REQUIRED_KEYS = (
    "schema_version", "status", "model", "task", "train_length", "params", "seed", "steps",
    "val_token_acc", "val_seq_acc", "acc_by_length", "train_tokens_per_s", "wall_s", "peak_mem_mb", "config",
)
#: ``preempted``: stopped by a cluster's signal with a checkpoint at ``steps``; resume=true continues it.
STATUSES = ("ok", "failed", "diverged", "running", "preempted")


def write_results(run_dir: str | Path, row: dict) -> Path:
    """Write ``row`` as ``run_dir/results.json`` (atomically) and return the path."""
    row = {"schema_version": SCHEMA_VERSION, **row}
    path = Path(run_dir) / RESULTS_FILE
    atomic_write_text(path, json.dumps(row, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read_results(path: str | Path) -> dict:
    """Read one results row; a corrupt file or one from another schema raises a UserError naming the file."""
    path = Path(path)
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such results file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a valid results file ({e})") from None
    except OSError as e:  # a folder of that name, no permission, an I/O error on a damaged disk
        raise UserError(f"{path}: cannot read the results file ({e.strerror or e})") from None
    if not isinstance(row, dict):
        raise UserError(f"{path}: not a valid results file (expected a JSON object)")
    version = row.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"{path}: results schema version {version!r}, this version of compare reads {SCHEMA_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise UserError(f"{path}: results row lacks keys {missing}")
    if row["status"] not in STATUSES:
        raise UserError(f"{path}: status {row['status']!r} is not one this version of compare writes "
                        f"({', '.join(STATUSES)})")
    return row


def library_versions() -> dict:
    """Versions that decide whether a result can be reproduced."""
    import hydra
    import lightning
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "hydra": hydra.__version__, "platform": platform.platform()}
