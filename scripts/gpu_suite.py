#!/usr/bin/env python
r"""Every model measured on one GPU, in parts that each write their results as they finish.

    python scripts/gpu_suite.py --out results/           # all parts on one GPU
    python scripts/gpu_suite.py --only crossover,bench --deadline-s 540
    python scripts/gpu_suite.py --smoke                  # the same code paths at toy sizes on a CPU

The parts live in compare/benchmark/gpu/ (importable, so the tests run --smoke in-process and the parts reuse
compare-bench's rows); this file only puts the checkout on the path, so the suite runs on a machine where the
project is not installed (the GPU machine: `PYTHONPATH=/tmp/site` for the carried wheels is enough).
`python scripts/gpu_suite.py --help` lists the parts with their estimated times.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compare.benchmark.gpu.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
