"""The results row: one JSON object per run, written atomically, read back with a schema check."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

from compare.errors import UserError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"

#: Keys every row has, whatever its status.
REQUIRED_KEYS = (
    "schema_version", "status", "model", "task", "train_length", "params", "seed", "steps",
    "val_token_acc", "val_seq_acc", "acc_by_length", "train_tokens_per_s", "wall_s", "peak_mem_mb", "config",
)
STATUSES = ("ok", "failed", "diverged", "running")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and a rename: readers never see half a file."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
    if not isinstance(row, dict):
        raise UserError(f"{path}: not a valid results file (expected a JSON object)")
    version = row.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"{path}: results schema version {version!r}, this version of compare reads {SCHEMA_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise UserError(f"{path}: results row lacks keys {missing}")
    return row


def library_versions() -> dict:
    """Versions that decide whether a result can be reproduced."""
    import hydra
    import lightning
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "hydra": hydra.__version__, "platform": platform.platform()}


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename (text goes through here too)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, new_file_mode())  # mkstemp makes 0600; the result should read like any other file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_file_mode() -> int:
    """0666 less the process umask: the mode open() would have given a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
