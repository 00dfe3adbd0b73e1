"""results.csv: one line per run, accuracy at each evaluated length in its own column."""

from __future__ import annotations

import csv
import io
from typing import Any

from compare.runs.records import RunRecord

CSV_COLUMNS = ["run", "status", "task", "model", "train_length", "seed", "params", "steps", "val_seq_acc",
               "val_token_acc", "val_loss", "train_tokens_per_s", "step_time_s", "peak_mem_mb", "wall_s", "device"]


def device_of(row: dict) -> str:
    """The accelerator a row was trained on, from its config."""
    return str(((row.get("config") or {}).get("trainer") or {}).get("accelerator") or "unknown")


def results_csv(records: list[RunRecord]) -> str:
    """One line per run; accuracy at each evaluated length in its own column (empty = not evaluated)."""
    lengths = sorted({int(p["length"]) for r in records if r.row for p in r.row.get("ladder") or []})
    extra = sorted({k for r in records if r.row for k, v in (r.row.get("task_metrics") or {}).items()
                    if isinstance(v, (int, float, str, bool))})
    columns = (CSV_COLUMNS + [f"seq_acc@{L}" for L in lengths] + [f"task.{k}" for k in extra]
               + ["unsupported_lengths", "problem", "path"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = r.row or {}
        line: dict[str, Any] = {k: row.get(k) for k in CSV_COLUMNS if k in row}
        line.update(run=r.name, status=r.status, problem=r.problem or "", path=str(r.path))
        if r.row:
            line["device"] = device_of(row)
            for p in row.get("ladder") or []:
                line[f"seq_acc@{p['length']}"] = "unsupported" if not p.get("supported", True) else p.get("seq_acc")
            for k in extra:
                line[f"task.{k}"] = (row.get("task_metrics") or {}).get(k)
            line["unsupported_lengths"] = " ".join(str(x) for x in row.get("unsupported_lengths") or [])
        writer.writerow(line)
    return buf.getvalue()
