"""compare-bench end to end on tiny settings: the ratio table, the JSON, kernel, FLOPs and exponents."""

import json

import pytest

from compare import bench

TINY = ["--tokens-per-batch", "64", "--steps", "2", "--warmup", "1", "--pairs", "2",
        "--override", "model.param_budget=5000", "--threads", "1"]


def test_bench_writes_ratio_rows_for_each_model_and_length(tmp_path, capsys):
    out = tmp_path / "bench.json"
    bench.main(["--models", "lstm,transformer-sdpa,transformer-explicit", "--lengths", "8,16", "--no-isolate",
                "--json", str(out), *TINY])
    printed = capsys.readouterr().out
    assert "(a)/(b)" in printed and "Measured exponents" in printed
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["model"], r["seq_len"]) for r in rows] == [
        ("lstm", 8), ("lstm", 16), ("transformer-sdpa", 8), ("transformer-sdpa", 16),
        ("transformer-explicit", 8), ("transformer-explicit", 16)]
    for r in rows:
        assert r["batch_size"] == 64 // r["seq_len"] and r["tokens_per_batch"] == 64
        assert len(r["ratio_per_pair"]) == 2 and r["ratio"] > 0 and r["cpu_ratio"] > 0
        assert 0 < r["data_share"] < 1 and r["peak_mem_mb"] > 0 and r["mem_kind"] == "process_peak_rss"
    sdpa = [r for r in rows if r["model"] == "transformer-sdpa"]
    explicit = [r for r in rows if r["model"] == "transformer-explicit"]
    assert all(r["sdpa_kernel"] == "flash (CPU)" for r in sdpa)
    assert all(r["sdpa_kernel"] is None for r in explicit)
    # Counted FLOPs grow with length at a fixed number of tokens (attention is quadratic per sequence).
    assert 0 < sdpa[0]["flops_per_step"] < sdpa[1]["flops_per_step"]
    assert rows[0]["flops_per_step"] is None and rows[0]["mfu"] is None  # no peak known for a CPU
    assert set(result["exponents"]) == {"lstm", "transformer-sdpa", "transformer-explicit"}


def test_isolated_row_reports_its_own_process_memory(tmp_path):
    out = tmp_path / "bench.json"
    bench.main(["--models", "gru", "--lengths", "8", "--json", str(out), *TINY])
    row = json.loads(out.read_text())["rows"][0]
    assert row["model"] == "gru" and row["rss_before_mb"] > 0 and row["peak_mem_mb"] >= row["rss_before_mb"]


@pytest.mark.parametrize("args, message", [
    (["--models", "lstm,mamba"], "mamba"),
    (["--lengths", "7"], "even"),
    (["--lengths", "a,b"], "integers"),
    (["--pairs", "0"], "--pairs"),
])
def test_bad_arguments_name_the_bad_value(args, message, capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("compare-bench: error:") and message in err and "Traceback" not in err


def test_length_exponent_is_the_log_log_slope():
    rows = [{"model": "m", "seq_len": t, "batch_size": 1, "raw_step_s": 1e-3 * t**2} for t in (8, 16, 32)]
    assert bench.length_exponents(rows)["m"] == pytest.approx(2.0)
