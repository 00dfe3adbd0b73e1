"""logger=csv / mlflow / wandb and several at once: real runs whose logs are read back from the files each logger
wrote, against the CSV table and results.json. The MLflow and W&B tests skip where the package is not installed
(both are in the dev extra)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import pytest

from compare.errors import UserError
from compare.runs.records import load_run, read_csv_series, read_scalar_series
from compare.train import train
from compare.training.loggers import require

TINY = ["task.length=4", "model.param_budget=8000", "trainer.max_steps=12", "trainer.val_check_interval=6",
        "trainer.log_every_n_steps=3", "data.val_size=32", "eval.num_samples=32", "threads=1"]


def table(run: Path) -> list[dict]:
    with (run / "csv" / "metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict], key: str) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in rows if r.get(key)]


def same_curve(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
    """The same steps, and values equal to float32 rounding (TensorBoard and W&B keep float32, CSV float64)."""
    return [s for s, _ in a] == [s for s, _ in b] and [v for _, v in a] == pytest.approx([v for _, v in b], rel=1e-6)


def test_tensorboard_and_csv_together(make_cfg, tmp_path):
    row = train(make_cfg(["logger=[tensorboard,csv]", *TINY]))
    run = Path(row["output_dir"])
    assert row["status"] == "ok"
    rows = table(run)
    losses = column(rows, "train/loss")
    assert [s for s, _ in losses] == [2, 5, 8, 11] and all(v > 0 for _, v in losses)
    # The same curve in both loggers, and the final/ metrics of the scored weights, as results.json has them.
    assert [s for s, _ in read_scalar_series(run / "tb", "train/loss")] == [s for s, _ in losses]
    assert column(rows, "final/val_seq_acc")[0][1] == pytest.approx(row["val_seq_acc"])
    assert column(rows, "perf/tokens_per_s")  # the throughput callback logs to every logger
    # Without TensorBoard the report reads the validation curve from the table: the same points.
    tb_curve = read_scalar_series(run / "tb", "val/seq_acc")
    assert len(tb_curve) == 2 and same_curve(read_csv_series(run / "csv" / "metrics.csv", "val/seq_acc"), tb_curve)
    settings = (run / "csv" / "hparams.yaml").read_text()
    assert "params: " in settings and "param_budget: 8000" in settings  # the whole config, as the run's settings


def test_csv_alone_keeps_the_report_curves(make_cfg):
    row = train(make_cfg(["logger=csv", *TINY]))
    run = Path(row["output_dir"])
    assert row["status"] == "ok" and not (run / "tb").exists()
    record = load_run(run, run.parent)
    assert len(record.val_curve) == 2  # the report's validation curve, from the CSV table


def test_mlflow_store_in_the_run_dir_reads_back(make_cfg):
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install -e '.[dev]' or '.[mlflow]')")
    from mlflow.tracking import MlflowClient

    row = train(make_cfg(["logger=[csv,mlflow]", *TINY]))
    run = Path(row["output_dir"])
    assert row["status"] == "ok"
    client = MlflowClient(tracking_uri=(run / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("compare")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == run.name and found.data.tags["output_dir"] == str(run.resolve())
    history = [(m.step, m.value) for m in client.get_metric_history(found.info.run_id, "train/loss")]
    assert same_curve(sorted(history), column(table(run), "train/loss"))
    assert found.data.metrics["final/val_seq_acc"] == pytest.approx(row["val_seq_acc"])
    assert found.data.params["model/param_budget"] == "8000" and found.data.params["params"] == str(row["params"])


def wandb_records(path: Path):
    """The records of a W&B transaction log (.wandb): LevelDB's log format (32 KiB blocks of CRC, length, type
    chunks) after a 7-byte header, each record a wandb_internal_pb2.Record."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, parts = 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7]) if left >= 7 else (0, 0, 0)
        if left < 7 or (length == 0 and kind == 0):  # the rest of a block is padding
            pos += left
            continue
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        parts = chunk if kind in (1, 2) else parts + chunk  # FULL / FIRST start a record, MIDDLE / LAST continue it
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(parts)
            yield record


def test_wandb_offline_run_reads_back(make_cfg, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install -e '.[dev]' or '.[wandb]')")
    monkeypatch.setenv("WANDB_SILENT", "true")
    row = train(make_cfg(["logger=[csv,wandb]", *TINY]))
    run = Path(row["output_dir"])
    assert row["status"] == "ok"
    (log,) = run.glob("wandb/offline-run-*/run-*.wandb")  # offline: nothing left the machine
    history = []
    for record in wandb_records(log):
        if record.WhichOneof("record_type") == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            if "train/loss" in items:
                history.append((items["trainer/global_step"], items["train/loss"]))
    assert same_curve(history, column(table(run), "train/loss"))


def test_a_logger_without_its_package_is_one_line():
    with pytest.raises(UserError, match=r"logger=mlflow needs the no_such_pkg package, which is not installed: "
                                        r"pip install -e '\.\[mlflow\]'"):
        require("no_such_pkg", "mlflow")
