"""The sweep report built at the end of a real multirun, and compare-report rebuilding it by hand."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from compare.report import main as report_main
from compare.runs.results import read_results

JOBS = ["0_copy_lstm_L4", "1_copy_lstm_L0", "2_copy_transformer_L4", "3_copy_transformer_L0"]


def test_multirun_end_builds_the_report(tiny_sweep: Path):
    report = tiny_sweep / "report"
    with open(report / "results.csv", newline="") as f:
        rows = {r["run"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(JOBS)
    assert rows["0_copy_lstm_L4"]["status"] == "ok" and rows["1_copy_lstm_L0"]["status"] == "failed"
    for name in ("accuracy_vs_length_copy", "validation_curves_copy", "accuracy_at_train_length",
                 "throughput_vs_length", "peak_memory_vs_length"):
        png = report / "figures" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_report_sentences_are_the_results(tiny_sweep: Path):
    md = (tiny_sweep / "report" / "report.md").read_text()
    lstm = read_results(tiny_sweep / "0_copy_lstm_L4" / "results.json")
    tf = read_results(tiny_sweep / "2_copy_transformer_L4" / "results.json")
    # Trained on lengths 1-4, each run is compared at 4 on the evaluation set (its validation set spans 1-4).
    line = next(s for s in md.splitlines() if s.startswith("- copy, trained on lengths 1–4, tested at 4:"))

    def at_4(row):
        return next(p["seq_acc"] for p in row["ladder"] if p["length"] == 4)
    assert f"lstm {at_4(lstm):.2f}" in line and f"transformer {at_4(tf):.2f}" in line and "on the evaluation set" in line
    assert "4 runs: 2 finished, 2 failed." in md
    # Each task's section says what the task asks, as it was set.
    assert "What it asks: Symbols x_1..x_L, SEP, then the model reproduces x_1..x_L" in md.split("## Task: copy")[1]
    # Failed runs are listed with their error, not dropped.
    failed = md.split("## Runs that did not finish")[1].split("##")[0]
    assert "1_copy_lstm_L0" in failed and "3_copy_transformer_L0" in failed and "task.length=0" in failed
    assert "[2_copy_transformer_L4](../2_copy_transformer_L4/attention.html)" in md


def test_report_html_is_self_contained(tiny_sweep: Path):
    page = (tiny_sweep / "report" / "report.html").read_text()
    figures = sorted(p.name for p in (tiny_sweep / "report" / "figures").glob("*.png"))
    embedded = sorted(re.findall(r'data-name="([^"]+)"', page))
    assert embedded == figures
    assert page.count('src="data:image/png;base64,') == len(figures)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)


def test_compare_report_reproduces_it(tiny_sweep: Path, tmp_path: Path, capsys):
    first = tiny_sweep / "report"
    before = {name: (first / name).read_text() for name in ("report.md", "results.csv")}
    figures = sorted(p.name for p in (first / "figures").iterdir())
    assert report_main([str(tiny_sweep)]) == 0
    assert capsys.readouterr().out.strip() == str(first / "report.html")
    for name, text in before.items():
        assert (first / name).read_text() == text, name
    assert sorted(p.name for p in (first / "figures").iterdir()) == figures
    # Elsewhere with --out: the same numbers, links relative to the new place.
    again = tmp_path / "again"
    assert report_main([str(tiny_sweep), "--out", str(again)]) == 0
    assert (again / "results.csv").read_text() == before["results.csv"]


def test_single_run_dir(tiny_sweep: Path, tmp_path: Path):
    run = tmp_path / "one"
    shutil.copytree(tiny_sweep / "2_copy_transformer_L4", run)
    assert report_main([str(run)]) == 0
    md = (run / "report" / "report.md").read_text()
    assert "1 run: 1 finished." in md and "copy, trained on lengths 1–4, tested at 4: exact-sequence accuracy transformer" in md


def _copy_sweep(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("report", "checkpoints"))
    return dst


def test_corrupt_and_old_results_are_named_and_the_rest_is_built(tiny_sweep: Path, tmp_path: Path, capsys):
    sweep = _copy_sweep(tiny_sweep, tmp_path / "sweep")
    (sweep / "0_copy_lstm_L4" / "results.json").write_text('{"schema_version": 1, "status": "ok", "mod')
    old = json.loads((sweep / "2_copy_transformer_L4" / "results.json").read_text())
    old["schema_version"] = 0
    (sweep / "2_copy_transformer_L4" / "results.json").write_text(json.dumps(old))
    assert report_main([str(sweep)]) == 0
    err = capsys.readouterr().err
    assert re.search(r"compare-report: warning: .*0_copy_lstm_L4/results.json: not a valid results file", err)
    assert re.search(r"compare-report: warning: .*2_copy_transformer_L4/results.json: results schema version 0", err)
    md = (sweep / "report" / "report.md").read_text()
    assert "4 runs: 2 failed, 2 with an unreadable results file." in md
    assert "| 0_copy_lstm_L4 | unreadable |" in md


def test_partly_finished_sweep(tiny_sweep: Path, tmp_path: Path):
    sweep = _copy_sweep(tiny_sweep, tmp_path / "sweep")
    (sweep / "2_copy_transformer_L4" / "results.json").unlink()  # as while the job is still training
    assert report_main([str(sweep)]) == 0
    md = (sweep / "report" / "report.md").read_text()
    assert "4 runs: 1 finished, 2 failed, 1 without results yet." in md
    assert "| 2_copy_transformer_L4 | running | no results.json yet" in md
    assert "copy, trained on lengths 1–4, tested at 4: exact-sequence accuracy lstm" in md


def test_no_runs_is_a_clear_error(tmp_path: Path, capsys):
    (tmp_path / "empty" / "something").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_:
        report_main([str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("compare-report: error: ") and "no runs found" in err
    assert str(tmp_path / "empty") in err and "Traceback" not in err
    assert not (tmp_path / "empty" / "report").exists()
    with pytest.raises(SystemExit):
        report_main([str(tmp_path / "missing")])
    assert "no such folder" in capsys.readouterr().err


def test_unsupported_lengths_are_shown_as_such(tiny_sweep: Path, tmp_path: Path):
    # As a transformer with a learned position table too short for the longest rung would report it.
    sweep = _copy_sweep(tiny_sweep, tmp_path / "sweep")
    path = sweep / "2_copy_transformer_L4" / "results.json"
    row = json.loads(path.read_text())
    for p in row["ladder"]:
        if p["length"] == 16:
            p.update(supported=False, seq_acc=None, token_acc=None, samples=0)
    row["unsupported_lengths"] = [16]
    path.write_text(json.dumps(row))
    assert report_main([str(sweep)]) == 0
    md = (sweep / "report" / "report.md").read_text()
    assert "transformer cannot take 1 of its 2 longer lengths (from length 16)" in md
    table_row = next(s for s in md.splitlines() if s.startswith("| transformer | 4 |"))
    assert table_row.rstrip().endswith("| — |")
    with open(sweep / "report" / "results.csv", newline="") as f:
        line = next(r for r in csv.DictReader(f) if r["run"] == "2_copy_transformer_L4")
    assert line["seq_acc@16"] == "unsupported" and line["unsupported_lengths"] == "16"


def test_second_difficulty_axis_and_task_metrics_are_reported(tiny_sweep: Path, tmp_path: Path):
    # As a task with eval_slices (e.g. QA by fact distance) and extra_metrics writes them into its row.
    sweep = _copy_sweep(tiny_sweep, tmp_path / "sweep")
    for job, accs in (("0_copy_lstm_L4", [0.9, 0.5, 0.1]), ("2_copy_transformer_L4", [1.0, 1.0, 0.75])):
        path = sweep / job / "results.json"
        row = json.loads(path.read_text())
        at_train = next(p for p in row["ladder"] if p["length"] == 4)
        at_train["by"] = {"fact_distance": {str(k): a for k, a in enumerate(accs)}}
        row["task_metrics"] = {"baseline_loss": 2.5}
        path.write_text(json.dumps(row))
    assert report_main([str(sweep)]) == 0
    md = (sweep / "report" / "report.md").read_text()
    assert ("copy, exact-sequence accuracy by fact_distance: lstm 0.90 at 0 and 0.10 at 2 (trained at 4); "
            "transformer 1.00 at 0 and 0.75 at 2 (trained at 4).") in md
    assert (sweep / "report" / "figures" / "accuracy_by_fact_distance_copy.png").is_file()
    assert "| lstm | 4 | 2.5000 |" in md
    with open(sweep / "report" / "results.csv", newline="") as f:
        assert {r["task.baseline_loss"] for r in csv.DictReader(f) if r["status"] == "ok"} == {"2.5"}
