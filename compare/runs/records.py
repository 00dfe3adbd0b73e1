"""Find the runs under a run or sweep folder and read each one back: its results row and its curves.

A run folder is one with a results.json or a Hydra job record (.hydra/config.yaml). Every run found is
returned, whatever state it is in: finished, failed, still running (a job dir without results yet, or a row
that says running), preempted, or unreadable (a corrupt file, another schema) — the report lists those
instead of dropping them. Reading a sweep that is still running is safe: results.json is only ever
replaced whole (compare.runs.atomic), and a file that vanishes or changes while it is read counts as running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from compare.errors import UserError
from compare.runs.results import RESULTS_FILE, read_results

#: Folders that are parts of a run or of a report, never runs themselves.
NOT_RUNS = {"report", "tb", "csv", "mlruns", "wandb", "timeline", "checkpoints", ".hydra", "lightning_logs",
            "__pycache__"}
#: How deep below the given folder runs are looked for (sweep/job is 1; outputs/task/run is 2).
MAX_DEPTH = 3
NO_RESULTS_YET = "no results.json yet (still running, or killed before it ended)"


@dataclass
class RunRecord:
    """One run as the report sees it: ``row`` is None when there is no readable results row."""

    name: str
    path: Path
    status: str  # ok | failed | diverged | running | preempted | unreadable
    row: dict | None = None
    problem: str | None = None
    val_curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """True when the run finished and its numbers can go into figures."""
        return self.status == "ok" and self.row is not None


def is_run_dir(path: Path) -> bool:
    """A folder holding a results row or a Hydra job record."""
    return (path / RESULTS_FILE).is_file() or (path / ".hydra" / "config.yaml").is_file()


def find_run_dirs(root: Path) -> list[Path]:
    """Run folders at or below ``root`` (``root`` itself when it is one), in a stable order."""
    if is_run_dir(root):
        return [root]
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in NOT_RUNS):
            if is_run_dir(child):
                found.append(child)
            else:
                walk(child, depth + 1)

    walk(root, 1)
    return sorted(found, key=_job_order)


def _job_order(path: Path):
    # Hydra job dirs start with the job number: 2_copy_... before 10_copy_...
    head = path.name.split("_", 1)[0]
    return (str(path.parent), int(head) if head.isdigit() else 1 << 30, path.name)


def load_run(path: Path, root: Path, warn=None) -> RunRecord:
    """Read one run folder; problems are reported through ``warn`` and recorded, never raised."""
    name = str(path.relative_to(root)) if path != root else path.name
    results = path / RESULTS_FILE
    if not results.is_file():
        return RunRecord(name, path, "running", problem=NO_RESULTS_YET)
    try:
        row = read_results(results)
    except UserError as e:
        if not results.is_file():  # removed between the listing and the read (a run dir being reset)
            return RunRecord(name, path, "running", problem=NO_RESULTS_YET)
        if warn:
            warn(str(e))
        return RunRecord(name, path, "unreadable", problem=str(e))
    record = RunRecord(name, path, row.get("status", "unreadable"), row=row, problem=row.get("error"))
    record.val_curve = read_val_curve(path, "val/seq_acc", warn)
    return record


#: Statuses of runs that have not ended: in a report they are counted, not compared.
UNFINISHED = ("running", "preempted")


def unfinished_summary(records: list[RunRecord]) -> str | None:
    """'2 of 6 runs have not finished yet (1 running, 1 preempted): ...', or None when every run has ended."""
    counts = {s: sum(r.status == s for r in records) for s in UNFINISHED}
    n = sum(counts.values())
    if not n:
        return None
    done = sum(r.usable for r in records)
    parts = ", ".join(f"{c} {'still running' if s == 'running' else s}" for s, c in counts.items() if c)
    return (f"{n} of {len(records)} run{'s' if len(records) != 1 else ''} {'have' if n != 1 else 'has'} not finished "
            f"yet ({parts}): the findings and figures use only the {done} finished; build the report again "
            f"when they end")


def load_runs(root: Path, warn=None) -> list[RunRecord]:
    """Every run under ``root``; a UserError when there is none."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    dirs = find_run_dirs(root)
    if not dirs:
        raise UserError(f"{root}: no runs found (no folder with a {RESULTS_FILE} or a .hydra/ job record "
                        f"within {MAX_DEPTH} levels)")
    return [load_run(d, root, warn) for d in dirs]


def read_val_curve(run_dir: Path, tag: str, warn=None) -> list[tuple[int, float]]:
    """(step, value) of a run's ``tag`` from its TensorBoard events, else from the CSV logger's table (a run logged
    with logger=csv alone has no events)."""
    return (read_scalar_series(run_dir / "tb", tag, warn)
            or read_csv_series(run_dir / "csv" / "metrics.csv", tag, warn))


def read_scalar_series(logdir: Path, tag: str, warn=None) -> list[tuple[int, float]]:
    """(step, value) pairs of ``tag`` from the TensorBoard event files in ``logdir`` ([] if none)."""
    if not logdir.is_dir() or not any(logdir.glob("events.out.tfevents.*")):
        return []
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    # The directory watcher logs every file it looks at at INFO, which Hydra's log config would print.
    logging.getLogger("tensorboard").setLevel(logging.WARNING)
    try:
        acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
        acc.Reload()
        if tag not in acc.Tags().get("scalars", []):
            return []
        return [(int(e.step), float(e.value)) for e in acc.Scalars(tag)]
    except Exception as e:  # a truncated event file must not sink the report
        if warn:
            warn(f"{logdir}: could not read TensorBoard events ({type(e).__name__}: {e})")
        return []


def read_csv_series(table: Path, column: str, warn=None) -> list[tuple[int, float]]:
    """(step, value) pairs of ``column`` from a CSVLogger metrics.csv ([] if there is none). Lightning writes one
    row per logging call, so a metric's rows are those where its cell is filled; a resumed run appends the steps
    after its checkpoint again, and the later row of a step wins."""
    if not table.is_file():
        return []
    import csv

    try:
        with table.open(newline="") as f:
            by_step = {int(float(r["step"])): float(r[column]) for r in csv.DictReader(f)
                       if r.get(column) not in (None, "") and r.get("step") not in (None, "")}
            return sorted(by_step.items())
    except (OSError, ValueError, KeyError, csv.Error) as e:  # a half-written table must not sink the report
        if warn:
            warn(f"{table}: could not read the metrics table ({type(e).__name__}: {e})")
        return []
