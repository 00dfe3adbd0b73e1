"""results.csv: one line per run, accuracy at each evaluated length in its own column, then its cell's aggregates.

A run's cell is the runs whose configurations differ from it only in seed and in settings that cannot change
what is trained or measured (``compare.reporting.cell_keys``), at one learning rate. ``cell`` is its label;
every setting that differs between cells (an axis) has a column of its own, named by its config key. The
``cell_*`` columns repeat that cell's mean, 95% Student's t half-width (``_ci95``, empty with one seed) and the
interval's ends cut to what the metric can take (``_lo``, ``_hi``) over seeds on each of its runs, so one file
serves both per-run and per-cell reading.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from compare.reporting.cell_keys import axis_order
from compare.reporting.findings import cells_of, lr_of, seed_groups
from compare.runs.records import RunRecord

CSV_COLUMNS = ["run", "status", "task", "model", "cell", "train_length", "seed", "params", "steps", "val_seq_acc",
               "val_token_acc", "val_loss", "train_tokens_per_s", "step_time_s", "peak_mem_mb", "wall_s", "device",
               "train_flops", "flops_per_token", "train_seconds"]
#: Per-run columns from the config and the newer row keys (empty in rows written before them).
RUN_COLUMNS = ["lr", "window", "train_range", "scored_step", "parallel_over_time", "sequential_depth", "state_size"]
#: Row keys aggregated over the seeds of a cell.
CELL_KEYS = ["val_seq_acc", "val_loss", "train_tokens_per_s", "peak_mem_mb", "train_flops"]


def device_of(row: dict) -> str:
    """The accelerator a row was trained on, from its config."""
    return str(((row.get("config") or {}).get("trainer") or {}).get("accelerator") or "unknown")


def _run_values(row: dict) -> dict[str, Any]:
    lengths = row.get("train_lengths")
    window = ((row.get("config") or {}).get("model") or {}).get("window")
    return {"lr": lr_of(row), "window": window,
            "train_range": f"{lengths[0]}-{lengths[1]}" if isinstance(lengths, (list, tuple)) and len(lengths) == 2
            else row.get("train_length"),
            **{k: row.get(k) for k in ("scored_step", "parallel_over_time", "sequential_depth", "state_size")}}


def _cell_values(records: list[RunRecord], lengths: list[int]) -> dict[int, dict[str, Any]]:
    """id(row) -> the cell_* columns of that row's cell."""
    rows = [r.row for r in records if r.usable]
    compared = {id(row) for ms in cells_of(rows).values() for by_len in ms.values() for c in by_len.values()
                for row in c.rows}
    out: dict[int, dict[str, Any]] = {}
    for group in seed_groups(rows).values():
        values: dict[str, Any] = {"cell": group.model, "cell_seeds": group.seeds, AXES: group.axes}
        for key in CELL_KEYS:
            values.update(_interval_columns(f"cell_{key}", group.stat(key)))
        ladder = {p["length"]: p for p in group.ladder()}
        for L in lengths:
            p = ladder.get(L)
            values.update(_interval_columns(f"cell_seq_acc@{L}", p["interval"] if p and p["seq_acc"] is not None
                                            else None))
        for row in group.rows:
            out[id(row)] = {**values, "cell_compared": "yes" if id(row) in compared else "no"}
    return out


def _interval_columns(name: str, iv) -> dict[str, Any]:
    if iv is None:
        return {f"{name}_{s}": None for s in INTERVAL_PARTS}
    return {f"{name}_mean": iv.mean, f"{name}_ci95": iv.half, f"{name}_lo": iv.bar[0],
            f"{name}_hi": iv.bar[1]}


#: Where a cell's axis values travel among its columns (they become one column per axis key).
AXES = "axes"
#: The columns of one aggregate over a cell's seeds.
INTERVAL_PARTS = ("mean", "ci95", "lo", "hi")


def axis_columns(rows: list[dict]) -> list[str]:
    """The config keys that differ between the cells of these rows, in label order."""
    seen: dict[str, None] = {}
    for group in seed_groups(rows).values():
        for key in group.axes:
            seen.setdefault(key)
    return sorted(seen, key=axis_order)


def results_csv(records: list[RunRecord]) -> str:
    """One line per run; accuracy at each evaluated length in its own column (empty = not evaluated)."""
    lengths = sorted({int(p["length"]) for r in records if r.row for p in r.row.get("ladder") or []})
    extra = sorted({k for r in records if r.row for k, v in (r.row.get("task_metrics") or {}).items()
                    if isinstance(v, (int, float, str, bool))})
    cell_columns = (["cell_seeds", "cell_compared"] + [f"cell_{k}_{s}" for k in CELL_KEYS for s in INTERVAL_PARTS]
                    + [f"cell_seq_acc@{L}_{s}" for L in lengths for s in INTERVAL_PARTS])
    # A setting's column is named by its key; a task metric of the same name keeps its own column.
    axes = [a for a in axis_columns([r.row for r in records if r.usable]) if a not in {f"task.{k}" for k in extra}]
    columns = (CSV_COLUMNS + axes + RUN_COLUMNS + [f"seq_acc@{L}" for L in lengths] + [f"task.{k}" for k in extra]
               + ["unsupported_lengths", "problem", "path"] + cell_columns)
    cells = _cell_values(records, lengths)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = r.row or {}
        line: dict[str, Any] = {k: row.get(k) for k in CSV_COLUMNS if k in row}
        line.update(run=r.name, status=r.status, problem=r.problem or "", path=str(r.path))
        if r.row:
            line["device"] = device_of(row)
            line.update(_run_values(row))
            for p in row.get("ladder") or []:
                line[f"seq_acc@{p['length']}"] = "unsupported" if not p.get("supported", True) else p.get("seq_acc")
            for k in extra:
                line[f"task.{k}"] = (row.get("task_metrics") or {}).get(k)
            line["unsupported_lengths"] = " ".join(str(x) for x in row.get("unsupported_lengths") or [])
            cell = dict(cells.get(id(r.row), {}))
            line.update({k: v for k, v in cell.pop(AXES, {}).items() if k in axes}, **cell)
        writer.writerow(line)
    return buf.getvalue()
