"""compare-report: the report of a run or a sweep, in DIR/report/.

    compare-report multirun/2026-11-23_08-30-00
    compare-report outputs/copy/transformer_L16_2026-11-23_08-00-00

Writes results.csv (one row per run), figures/*.png, report.md, a self-contained report.html and
tb/ (TensorBoard: a custom-scalars layout with one chart per task and the figures as images). The same
report is built at the end of every multirun by ``ReportCallback`` (registered in conf/hydra/default.yaml).
Failed, unfinished and unreadable runs are listed, never dropped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from compare.errors import UserError, reported_errors
from compare.reporting.build import build_report

__all__ = ["build_report", "main"]


def main(argv: list[str] | None = None) -> int:
    """Console script ``compare-report``: prints the path of report.html; errors as ``compare-report: error: ...``."""
    parser = argparse.ArgumentParser(prog="compare-report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a run dir or a sweep dir (multirun/<time>)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report (default: DIR/report)")
    parser.add_argument("--solved", type=float, default=0.9,
                        help="exact-sequence accuracy at which a length counts as solved (default 0.9)")
    args = parser.parse_args(argv)
    with reported_errors("compare-report"):
        if not 0.0 < args.solved <= 1.0:
            raise UserError(f"--solved={args.solved} is not accepted: it must be in (0, 1]")
        path = build_report(args.dir, args.out, warn=lambda m: print(f"compare-report: warning: {m}", file=sys.stderr),
                            solved=args.solved)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
