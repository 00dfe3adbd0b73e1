"""scripts/qa_lookup_errors.py on a real (tiny) qa run: accuracy by question type and the wrong-fact share."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from compare.train import train

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "qa_lookup_errors.py"


def test_it_reads_a_finished_qa_run_and_splits_who_from_what(make_cfg, tmp_path):
    cfg = make_cfg(["task=qa", "task.length=8", "task.place_prob=0.25", "model=transformer", "model.param_budget=8000",
                    "trainer.max_steps=4", "trainer.val_check_interval=2", "data.batch_size=8", "data.val_size=16",
                    "eval.num_samples=16", "progress_bar=none"])
    train(cfg)
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "run"), "--length", "8", "--samples", "64"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r"run: ([\d.]+) over 64 stories of 8 tokens; who ([\d.]+) \((\d+)\), what ([\d.]+) \((\d+)\); "
                  r"wrong answers that are another sentence's answer word: (\d+) of (\d+)", out.stdout)
    assert m, out.stdout
    assert int(m[3]) + int(m[5]) == 64 and int(m[6]) <= int(m[7])
    overall = (float(m[2]) * int(m[3]) + float(m[4]) * int(m[5])) / 64
    assert abs(overall - float(m[1])) < 2e-3
