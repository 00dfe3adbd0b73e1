"""task=induction_heads and experiment=induction_heads: Gu & Dao's induction heads, hand-made cases, the preset's
jobs, and a real tiny sweep whose report has its figures and Table 11 beside ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from preset_jobs import job_config, sweep_jobs

from compare.errors import UserError
from compare.reporting.published import INDUCTION_HEADS_PUBLISHED
from compare.tasks.base import IGNORE
from compare.tasks.induction_heads import InductionHeadsTask


def reference_answer(row: list[int], trigger: int) -> int:
    """The symbol right after the first trigger, found by reading the row as a person would."""
    return row[row.index(trigger) + 1]


@pytest.mark.parametrize("length", [3, 4, 16, 64, 257])
def test_the_answer_is_the_symbol_after_the_first_trigger(length):
    task = InductionHeadsTask(length=length, vocab_size=16)
    x, y = task.sample(512, length, torch.Generator().manual_seed(length))
    assert x.shape == y.shape == (512, length + 1) and task.sequence_length(length) == length + 1
    trigger = task.trigger
    assert (x[:, -1] == trigger).all() and ((x == trigger).sum(1) == 2).all()
    assert (y[:, :-1] == IGNORE).all() and (y[:, -1] < 16).all()
    first = (x == trigger).float().argmax(1)
    # As safari draws it: the first trigger at p < length - 2, so a symbol sits between the answer and the end.
    assert first.max() <= length - 3 and (length > 16 or first.min() == 0)
    for row, target in zip(x.tolist(), y[:, -1].tolist()):
        assert target == reference_answer(row, trigger) and row[row.index(trigger) + 1] != trigger
    # The distance slice: tokens from the answer symbol back from the final trigger.
    distance = task.eval_set(length, 64).slices["distance"]
    assert distance.min() >= 1 and distance.max() <= length - 1


def test_hand_made_cases_in_the_lab_and_bad_lengths():
    task = InductionHeadsTask(length=8, vocab_size=16)
    assert task.parse_words("3 => 7 1 2 =>").expected == [7]
    assert task.parse_words("=> 15 4 4 9 =>").expected == [15]
    assert task.parse_words("3 => 7 1 2").expected is None  # no final trigger: nothing asked yet
    assert task.token_names()[task.trigger] == "=>" and task.num_tokens == 17
    with pytest.raises(UserError, match="task.length=2"):
        InductionHeadsTask(length=2)
    with pytest.raises(UserError, match="vocab_size"):
        InductionHeadsTask(length=8, vocab_size=1)


def test_the_preset_trains_at_one_length_and_asks_up_to_16x():
    jobs = sweep_jobs("induction_heads")
    models = {o.split("=", 1)[1] for job in jobs for o in job if o.startswith("model=")}
    assert models == {"positions/sinusoidal", "positions/rope", "lstm"}
    for num, job in enumerate(jobs):
        cfg = job_config("induction_heads", job, num)
        task = cfg["task"]
        assert task["_target_"].endswith("InductionHeadsTask") and task["vocab_size"] == 16
        assert task["min_length"] == task["length"] and max(cfg["eval"]["multipliers"]) == 16
        assert cfg["callbacks"]["timeline"]["points"] == 8  # compare-lab's training timeline


def test_a_tiny_sweep_reports_its_figures_beside_table_11(cli, tmp_path: Path):
    sweep = tmp_path / "multirun"
    proc = cli(["compare.train", "experiment=induction_heads", "model=positions/rope,lstm", "task.length=8",
                "model.param_budget=12000", "trainer.max_steps=4", "trainer.val_check_interval=2",
                "data.val_size=16", "eval.num_samples=16", "hydra/launcher=basic", f"hydra.sweep.dir={sweep}"],
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in sweep.rglob("results.json")]
    assert len(rows) == 2 and {r["task"] for r in rows} == {"induction_heads"}
    assert all([p["length"] for p in r["ladder"]] == [8, 16, 32, 64, 128] for r in rows)
    md = (sweep / "report" / "report.md").read_text()
    section = md.split("## Induction heads beside Gu & Dao 2023")[1]
    assert "arXiv:2312.00752" in section and "Table 11" in section
    assert "| Gu & Dao 2023 | MHA-RoPE (137k) | 256 |  | 100.0 | 83.6 | 31.3 | 18.4 | 8.6 |" in section
    for r in rows:
        label = "transformer-rope" if r["model"] == "transformer" else "lstm"
        accs = [f"{100 * p['seq_acc']:.1f}" for p in r["ladder"]]
        assert f"| ours | {label} | 8 | 1 | {' | '.join(accs)} |" in section
    for figure in ("accuracy_vs_length_induction_heads.png", "accuracy_by_distance_induction_heads.png"):
        assert (sweep / "report" / "figures" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert figure in md
    assert set(INDUCTION_HEADS_PUBLISHED) >= {"MHA-Abs (137k)", "MHA-RoPE (137k)", "Mamba (74k)"}
