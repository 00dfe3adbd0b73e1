"""Build a run's or a sweep's report: results.csv, figures, report.md, a self-contained report.html, and tb/."""

from __future__ import annotations

from pathlib import Path

from compare.reporting.blocks import report_blocks
from compare.reporting.dashboard import write_dashboard
from compare.reporting.figure_set import build_figures
from compare.reporting.page import to_html, to_markdown
from compare.reporting.results_csv import results_csv
from compare.runs.atomic import atomic_write_text
from compare.runs.records import load_runs, unfinished_summary

REPORT_DIR = "report"


def build_report(root: str | Path, out: str | Path | None = None, warn=None, solved: float = 0.9) -> Path:
    """Build DIR/report/ (or ``out``) for the run or sweep at ``root``; returns the path of report.html.

    Raises UserError when there is no run at all; problems with single runs go to ``warn`` and into the report.
    """
    root = Path(root)
    records = load_runs(root, warn)
    if warn and (unfinished := unfinished_summary(records)):
        warn(unfinished)  # a sweep still running: its report is a snapshot, and says so
    out = Path(out) if out else root / REPORT_DIR
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.csv", results_csv(records))
    made = build_figures(records, fig_dir)
    for stale in fig_dir.glob("*.png"):
        if stale.name not in made:
            stale.unlink()
    blocks = report_blocks(records, root, out, made, solved)
    atomic_write_text(out / "report.md", to_markdown(blocks))
    atomic_write_text(out / "report.html", to_html(blocks, fig_dir, f"compare report: {root.resolve().name}"))
    write_dashboard(out / "tb", sorted({r.row["task"] for r in records if r.usable}), fig_dir, made)
    return out / "report.html"
