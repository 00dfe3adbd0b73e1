"""scripts/gpu_suite.py --smoke: every part of the GPU suite runs on a CPU at toy sizes and writes the JSON,
markdown, figure, traces and demo figures the GPU run will write; plus its arguments, deadline, merge and maths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from compare.benchmark.gpu import analysis
from compare.benchmark.gpu.cli import main
from compare.benchmark.gpu.settings import PARTS, SMOKE
from compare.benchmark.rows import bench_models

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[int, Path, dict]:
    """One in-process ``--smoke`` run of every part (the CPU stand-in for the GPU run), shared by the tests below."""
    out = tmp_path_factory.mktemp("gpu_suite")
    code = main(["--smoke", "--out", str(out), "--no-bundle"])
    return code, out, json.loads((out / "gpu_suite.json").read_text())


def test_smoke_runs_every_part_and_names_the_machine(smoke):
    code, out, data = smoke
    assert code == 0
    assert list(data["parts"]) == list(PARTS)
    assert {name: part["status"] for name, part in data["parts"].items()} == {name: "ok" for name in PARTS}
    assert all(part["wall_s"] > 0 for part in data["parts"].values())
    suite = data["suite"]
    assert suite["smoke"] is True and suite["gpu"] is None and suite["torch"] == torch.__version__
    assert suite["date"].endswith("Z") and suite["models"] == list(bench_models())


def test_crossover_measures_every_model_at_every_length_and_draws_the_figure(smoke):
    _, out, data = smoke
    part = data["parts"]["crossover"]
    models = set(SMOKE.crossover_models)  # on a GPU every model; the bench part runs every model in --smoke too
    expected = {(m, t) for m in models for t in SMOKE.crossover_lengths}
    assert {(p["model"], p["seq_len"]) for p in part["points"]} == expected
    assert all(p["raw_tokens_per_s"] > 0 and p["params"] > 0 for p in part["points"])
    assert set(part["exponents"]) == models
    headline = part["headline"]
    assert headline["model"] == "transformer-sdpa" and headline["baseline"] == "lstm" and headline["statement"]
    assert set(part["crossovers"]) == models - {"lstm"}
    # Equal parameters: every model within the sizing tolerance of the common budget.
    assert all(abs(p["params"] - SMOKE.param_budget) <= 0.05 * SMOKE.param_budget for p in part["points"])
    assert (out / "tokens_per_s_vs_length.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_rows_cover_every_model_with_a_trace_of_the_first(smoke):
    _, out, data = smoke
    part = data["parts"]["bench"]
    assert [(r["model"], r["seq_len"]) for r in part["rows"]] == [
        (m, t) for m in bench_models() for t in SMOKE.lengths]
    for r in part["rows"]:
        assert r["ratio"] > 0 and r["framework_tokens_per_s"] > 0 and r["peak_mem_mb"] > 0
        assert r["meets_target"] == (r["ratio"] >= part["target"])
    kernels = {r["model"]: r["sdpa_kernel"] for r in part["rows"]}
    assert kernels["transformer-sdpa"] == "flash (CPU)" and kernels["lstm"] is None
    trace = part["rows"][0]["trace"]
    for key in ("framework", "raw", "summary"):
        assert (out / "traces" / trace[key]).stat().st_size > 0
    assert "one framework step" in (out / "traces" / trace["summary"]).read_text()


def test_mfu_times_both_arms_and_records_why_cpu_has_no_mfu(smoke):
    part = smoke[2]["parts"]["mfu"]
    assert [a["compile"] for a in part["arms"]] == [False, True]
    assert part["flops_per_step"] > 0 and all(a["achieved_flops"] > 0 for a in part["arms"])
    # No peak is known for a CPU: the MFU is left empty with the reason, never made up.
    assert part["peak_flops"] is None and all(a["mfu"] is None for a in part["arms"])
    assert "--peak-flops" in part["mfu_skipped"] and "CUDA" in part["matmul_ceiling_skipped"]
    assert part["compile_backend"] == "eager"


def test_long_run_trains_and_records_that_the_flash_check_needs_cuda(smoke):
    part = smoke[2]["parts"]["long"]
    assert part["seq_len"] == SMOKE.long_seq_len
    for row in part["rows"]:
        assert row["status"] == "ok" and row["steps"] == SMOKE.long_steps and row["peak_mem_mb"] > 0
        assert row["flash"] is None and "CUDA" in row["flash_skipped"] and row["sdpa_kernel"] == "flash (CPU)"


def test_demo_sweeps_and_leaves_figures_named_for_data_readme(smoke):
    _, out, data = smoke
    part = data["parts"]["demo"]
    assert part["jobs"] == {"ok": 2} and part["returncode"] == 0 and not part["stopped_at_deadline"]
    assert {r["model"] for r in part["runs"]} == {"lstm", "transformer"}
    assert "gpu_accuracy_at_train_length.png" in part["figures"]
    assert all((out / "data_readme" / name).is_file() for name in part["figures"])
    assert (out / "demo" / "report.md").is_file() and part["command"].startswith("compare-train experiment=")


def test_markdown_has_a_table_per_part_and_says_it_is_a_smoke_run(smoke):
    md = (smoke[1] / "gpu_suite.md").read_text()
    assert md.startswith("## GPU suite on CPU") and "`--smoke`: toy sizes on a CPU" in md
    for name in PARTS:
        assert f"### {name}:" in md
    assert "| model | params | T=16 | T=32 | k |" in md and "**Crossover (transformer vs" in md
    assert "| model | T | batch | steps | (a) tok/s |" in md and "| model.compile | step ms |" in md
    assert "tokens_per_s_vs_length.png" in md and "gpu_accuracy_at_train_length.png" in md


def test_merge_puts_two_calls_together(smoke, tmp_path):
    data = smoke[2]
    first = {**data, "parts": {k: v for k, v in data["parts"].items() if k != "demo"}}
    second = {**data, "parts": {"demo": data["parts"]["demo"]}}
    for name, part in (("first.json", first), ("second.json", second)):
        (tmp_path / name).write_text(json.dumps(part))
    assert main(["--merge", str(tmp_path / "first.json"), str(tmp_path / "second.json"),
                 "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "gpu_suite.json").read_text())
    assert list(merged["parts"]) == list(PARTS) and len(merged["suite"]["merged_from"]) == 2
    assert (tmp_path / "merged" / "tokens_per_s_vs_length.png").is_file()


def test_a_later_call_adds_its_parts_to_an_earlier_calls_json(smoke, tmp_path):
    assert main(["--smoke", "--only", "long", "--previous", str(smoke[1] / "gpu_suite.json"),
                 "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert list(data["parts"]) == list(PARTS) and data["suite"]["parts"] == ["long"]
    assert data["parts"]["bench"] == smoke[2]["parts"]["bench"]  # kept as the earlier call left it
    assert "### bench:" in (tmp_path / "gpu_suite.md").read_text()


def test_deadline_skips_what_no_longer_fits_and_says_so(tmp_path):
    assert main(["--smoke", "--only", "crossover,demo", "--deadline-s", "1", "--out", str(tmp_path)]) == 1
    parts = json.loads((tmp_path / "gpu_suite.json").read_text())["parts"]
    assert parts["crossover"]["status"] == "partial" and not parts["crossover"]["points"]
    assert all(s["reason"].startswith("deadline") for s in parts["crossover"]["skipped"])
    assert parts["demo"]["status"] == "skipped" and parts["demo"]["reason"].startswith("deadline")


@pytest.mark.parametrize("args, message", [
    (["--only", "bench,fast"], "fast"),
    (["--models", "lstm,hyena"], "hyena"),
    (["--demo-jobs", "0"], "--demo-jobs"),
])
def test_bad_arguments_name_the_bad_value(args, message, capsys, tmp_path):
    assert main(["--smoke", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpu_suite: error:") and message in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_run_without_a_gpu_is_refused_with_the_smoke_hint(capsys, tmp_path):
    assert main(["--out", str(tmp_path)]) == 2
    assert "--smoke" in capsys.readouterr().err


def test_script_help_lists_every_part_with_its_estimate():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "gpu_suite.py"), "--help"], capture_output=True,
                          text=True, timeout=60, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr
    for name in PARTS:
        assert f"  {name} " in proc.stdout
    assert "min" in proc.stdout and "--deadline-s" in proc.stdout


def test_crossover_is_interpolated_in_log_log_between_measured_lengths():
    # tokens/s: the LSTM flat at 1,000; the transformer 500 at T=256 and 2,000 at T=1,024: in log-log the ratio
    # crosses 1 halfway between log 256 and log 1,024, at T=512.
    points = [{"model": "lstm", "seq_len": t, "raw_tokens_per_s": 1000.0} for t in (256, 1024)]
    points += [{"model": "tf", "seq_len": 256, "raw_tokens_per_s": 500.0},
               {"model": "tf", "seq_len": 1024, "raw_tokens_per_s": 2000.0}]
    result = analysis.crossover(points, "tf", "lstm")
    assert result["length"] == pytest.approx(512) and "above T ~ 512" in result["statement"]
    ahead = [{**p, "raw_tokens_per_s": 3000.0} if p["model"] == "tf" else p for p in points]
    assert analysis.crossover(ahead, "tf", "lstm")["length"] is None
    assert "every measured length" in analysis.crossover(ahead, "tf", "lstm")["statement"]
    behind = [{**p, "raw_tokens_per_s": 10.0} if p["model"] == "tf" else p for p in points]
    assert analysis.crossover(behind, "tf", "lstm")["statement"].startswith("none within the measured range")


def test_wheels_script_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "gpu_wheels.sh")]).returncode == 0
