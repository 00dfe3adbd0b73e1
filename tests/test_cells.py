"""A report pools runs as seeds only when their configurations are equal: the cell of a run is its configuration.

Rows here carry the configs the shipped presets really compose (the results.json of a job records exactly that);
only the measured numbers are made up, so the grouping is tested on the configurations users run.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from compare.config.build import build, build_model
from compare.reporting.blocks import axis_blocks
from compare.reporting.cell_keys import LR_KEY, SET_ASIDE, compared_settings, flat_config, is_set_aside
from compare.reporting.findings import cells_of
from compare.train import CONF_DIR
from preset_jobs import job_config, sweep_jobs

BABI = Path(__file__).resolve().parents[2] / "shared" / "data" / "babi"


@lru_cache(maxsize=None)
def _names(task_json: str, model_json: str) -> tuple[str, str]:
    """The task label and model name a job would write into its row, from the real task and model."""
    task = build(OmegaConf.create(json.loads(task_json)))
    model = build_model(OmegaConf.create(json.loads(model_json)), vocab_size=task.num_tokens)
    return task.label, model.name


def row_of(config: dict, acc: float = 0.5) -> dict:
    """The results row of a finished job with ``config`` (names from the real task and model, made-up numbers)."""
    task, model = _names(json.dumps(config["task"]), json.dumps(config["model"]))
    return {"status": "ok", "task": task, "model": model, "seed": config["seed"],
            "train_length": config["task"]["length"],
            "train_lengths": [config["task"].get("min_length", config["task"]["length"]), config["task"]["length"]],
            "val_seq_acc": acc, "val_loss": 1.0 - acc, "config": config,
            "ladder": [{"length": config["task"]["length"], "seq_acc": acc, "supported": True}]}


def preset_rows(preset: str, *extra: str) -> list[dict]:
    return [row_of(job_config(preset, job, num, extra)) for num, job in enumerate(sweep_jobs(preset))]


def labels(cells: dict) -> dict[str, dict[str, dict[int, int]]]:
    """{task: {label: {train length: seeds}}}."""
    return {t: {m: {n: c.seeds for n, c in by_len.items()} for m, by_len in ms.items()} for t, ms in cells.items()}


def run_config(*overrides: str) -> dict:
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["output_dir=/runs/x", *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


def test_layers_swept_with_seeds_are_two_cells_of_two_seeds_never_one_of_four():
    rows = [row_of(run_config("model=gru", f"model.num_layers={n}", "model.param_budget=3000", f"seed={s}"),
                   acc=0.2 if n == 1 else 1.0)
            for n, s in itertools.product((1, 2), (0, 1))]
    cells = cells_of(rows)["copy"]
    assert labels({"copy": cells}) == {"copy": {"gru 1 layer": {16: 2}, "gru 2 layers": {16: 2}}}
    assert cells["gru 1 layer"][16].accuracy().mean == 0.2 and cells["gru 2 layers"][16].accuracy().mean == 1.0
    assert cells["gru 2 layers"][16].axes == {"model.num_layers": 2}


def test_a_key_no_code_names_still_splits_cells_and_becomes_an_axis():
    # scheduler.min_lr_ratio and data.val_size are named nowhere in the reporting code.
    rows = [row_of(run_config("model.param_budget=3000", f"scheduler.min_lr_ratio={r}", f"seed={s}"))
            for r, s in itertools.product((0.1, 0.5), (0, 1))]
    assert labels(cells_of(rows)) == {"copy": {"lstm min_lr_ratio=0.1": {16: 2}, "lstm min_lr_ratio=0.5": {16: 2}}}
    two = [row_of(run_config("model.param_budget=3000", f"data.val_size={n}", f"optimizer.weight_decay={w}"))
           for n, w in ((64, 0.0), (128, 0.1))]
    assert sorted(cells_of(two)["copy"]) == ["lstm val_size=128 weight_decay=0.1", "lstm val_size=64 weight_decay=0.0"]


def test_runs_that_differ_only_in_set_aside_keys_pool_as_seeds():
    a = row_of(run_config("model.param_budget=3000", "seed=0", "threads=1", "progress_bar=none",
                          "trainer.log_every_n_steps=5"))
    b = row_of(run_config("model.param_budget=3000", "seed=1", "threads=2", "resume=true", "output_dir=/elsewhere",
                          "preemption.grace_s=90", "~logger"))
    (cell,), = [list(by_len.values()) for by_len in cells_of([a, b])["copy"].values()]
    assert cell.seeds == 2 and cell.model == "lstm"


def _flat_keys(*overrides: str) -> dict[str, object]:
    return flat_config(run_config(*overrides))


#: One composition per model, task and preset: every key the shipped configs define.
SHIPPED = ([f"model={p.relative_to(Path(CONF_DIR) / 'model').with_suffix('').as_posix()}"
            for p in sorted((Path(CONF_DIR) / "model").rglob("*.yaml"))]
           + [f"task={p.stem}" for p in sorted((Path(CONF_DIR) / "task").glob("*.yaml"))])


def test_every_set_aside_key_exists_in_the_shipped_configs_and_seed_and_paths_touch_only_them():
    keys: set[str] = set()
    for choice in SHIPPED:
        keys |= set(_flat_keys(choice))
    for preset, jobs in ((p, sweep_jobs(p)) for p in ("why_attention", "positions", "context_window", "tuned",
                                                      "scaling")):
        keys |= set(flat_config(job_config(preset, jobs[0])))
    # No stale entry: each set-aside key is a key (or a group of keys) of some shipped config.
    stale = [k for k in SET_ASIDE if not any(key == k or key.startswith(k + ".") for key in keys)
             and k != "trainer.enable_progress_bar"]
    assert not stale, f"SET_ASIDE names keys no shipped config has: {stale}"
    # Every key that follows the seed, the output dir or the console is set aside; nothing else moves with them.
    for choice in SHIPPED:
        base = _flat_keys(choice)
        other = _flat_keys(choice, "seed=7", "output_dir=/other", "threads=3", "progress_bar=rich", "resume=true")
        moved = {k for k in base.keys() | other.keys() if base.get(k) != other.get(k)}
        assert moved and all(is_set_aside(k) for k in moved), (choice, sorted(k for k in moved if not is_set_aside(k)))
        # The learning rate moves the rate alone (plus the dashboard's copy of it, set aside).
        lr = _flat_keys(choice, "optimizer.lr=0.123")
        assert {k for k in base if base[k] != lr[k] and not is_set_aside(k)} == {LR_KEY}, choice
    # And the settings users sweep are compared.
    for key in ("model.num_layers", "model.param_budget", "data.batch_size", "optimizer.weight_decay",
                "task.min_length", "trainer.max_steps", "eval.num_samples", "eval.checkpoint"):
        assert key in compared_settings({"config": run_config()}), key


def test_preset_tables_keep_their_rows():
    why = cells_of(preset_rows("why_attention"))
    assert labels(why) == {t: {m: {n: 2} for m in ("lstm", "mingru", "linear_attention", "transformer-rope")}
                           for t, n in (("copy", 8), ("qa", 32), ("copy_memory", 40), ("parity", 32))}
    positions = cells_of(preset_rows("positions"))
    assert labels(positions) == {"copy": {m: {16: 1} for m in (
        "lstm", "transformer", "transformer-sinusoidal", "transformer-none", "transformer-rope", "transformer-alibi",
        "transformer-hard_alibi")}}
    tuned = cells_of(preset_rows("tuned"))
    assert labels(tuned) == {"copy": {"lstm": {8: 2}, "transformer": {8: 2}}}
    assert all(len(c.lr_search.grid) == 5 for by_len in tuned["copy"].values() for c in by_len.values())


def test_context_window_cells_are_window_by_distance_and_its_table_has_a_row_per_window():
    cells = cells_of(preset_rows("context_window"))["qa"]
    windows = ("transformer", "transformer-w8", "transformer-w16", "transformer-w32")
    assert sorted(cells) == sorted(f"{w} fact_distance={k}" for w in windows for k in (0, 1, 3, 7))
    _, table, _ = axis_blocks("qa", cells)
    assert table[0] == "table"
    assert table[1] == ["configuration", "train length"] + [f"task.fact_distance={k}" for k in (0, 1, 3, 7)]
    assert sorted(r[0] for r in table[2]) == sorted(windows) and all(r[1] == 32 for r in table[2])


@pytest.mark.skipif(not (BABI / "en").is_dir(), reason="../shared/data/babi is not here")
def test_babi_preset_keeps_a_row_per_task_and_model(tmp_path):
    rows = preset_rows("babi", f"task.path={BABI / 'en'}", f"task.cache_dir={tmp_path}")
    # Each task id trains at its own story length (the preset's table of lengths).
    assert labels(cells_of(rows)) == {f"babi_qa{i}": {"lstm": {n: 3}, "transformer": {n: 3}}
                                      for i, n in ((1, 64), (2, 96), (3, 128))}
