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
    # Every model's FLOPs are counted (the LSTM's fused layer analytically, compare.training.flops); no MFU on a CPU.
    assert rows[0]["flops_per_step"] > 0 and rows[0]["mfu"] is None
    assert set(result["exponents"]) == {"lstm", "transformer-sdpa", "transformer-explicit"}


def test_isolated_row_reports_its_own_process_memory(tmp_path):
    out = tmp_path / "bench.json"
    bench.main(["--models", "gru", "--lengths", "8", "--json", str(out), *TINY])
    row = json.loads(out.read_text())["rows"][0]
    assert row["model"] == "gru" and row["rss_before_mb"] > 0 and row["peak_mem_mb"] >= row["rss_before_mb"]


@pytest.mark.parametrize("args, message", [
    (["--models", "lstm,hyena"], "hyena"),
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


def test_bench_models_cover_every_model_config_and_skip_missing_keys(monkeypatch):
    from pathlib import Path

    from compare.benchmark import rows

    known = rows.bench_models()
    assert {"lstm", "transformer-sdpa", "mingru", "minlstm", "linear-attention", "transformer-window", "mamba",
            "deltanet"} <= set(known)
    groups = {o.split("=", 1)[1] for overrides in known.values() for o in overrides if o.startswith("model=")}
    assert groups == {p.stem for p in (Path(rows.CONF_DIR) / "model").glob("*.yaml")}
    monkeypatch.setitem(rows.MODELS, "transformer-ghost", ["model=transformer", "model.ghost_width=3"])
    monkeypatch.setitem(rows.MODELS, "hyena", ["model=hyena"])
    assert rows.unavailable_reason("transformer-ghost") == "conf/model/transformer.yaml has no key model.ghost_width"
    assert rows.unavailable_reason("hyena") == "conf/model/hyena.yaml does not exist"
    assert "transformer-ghost" not in rows.bench_models() and "hyena" not in rows.bench_models()


def test_a_model_this_checkout_cannot_build_is_refused_with_the_reason(monkeypatch, capsys):
    from compare.benchmark import rows

    monkeypatch.setitem(rows.MODELS, "hyena", ["model=hyena"])
    with pytest.raises(SystemExit) as e:
        bench.main(["--models", "hyena"])
    assert e.value.code == 2 and "conf/model/hyena.yaml does not exist" in capsys.readouterr().err


def test_reused_composition_equals_a_fresh_one():
    from omegaconf import OmegaConf

    from compare.benchmark import rows

    spec = rows.RowSpec("transformer-sdpa", 32, 128, 3, 2, 1, "default", ["model.param_budget=5000"])
    rows.compose_config(rows.RowSpec("transformer-sdpa", 16, 64, 2, 1, 1, "default", ["model.param_budget=5000"]), "/a")
    reused = rows.compose_config(spec, "/b", compile=True)
    rows._COMPOSED.clear()
    fresh = rows.compose_config(spec, "/b", compile=True)
    assert OmegaConf.to_container(reused, resolve=True) == OmegaConf.to_container(fresh, resolve=True)
    assert reused.task.length == 16 and reused.data.batch_size == 4 and reused.model.compile is True
    # An extra override of a per-row key wins, as on Hydra's command line.
    own = rows.compose_config(rows.RowSpec("lstm", 32, 128, 3, 2, 1, "default", ["data.batch_size=7"]), "/c")
    assert own.data.batch_size == 7


def test_new_models_run_as_bench_rows(tmp_path):
    out = tmp_path / "bench.json"
    bench.main(["--models", "mingru,linear-attention,transformer-window,mamba,deltanet", "--lengths", "16",
                "--no-isolate", "--json", str(out), *TINY, "--override", "transformer-window:model.window=4"])
    rows = {r["model"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"mingru", "linear-attention", "transformer-window", "mamba", "deltanet"}
    assert all(r["ratio"] > 0 for r in rows.values())
    # A window the sequence outgrows needs a mask, which SDPA still runs (on a CPU through its math fallback or
    # the CPU flash kernel); the kernel is probed for every SDPA model, not only transformer-sdpa.
    assert rows["transformer-window"]["sdpa_kernel"] is not None and rows["mingru"]["sdpa_kernel"] is None
