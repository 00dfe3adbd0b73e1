"""A tiny trained pair for the compare-lab tests: LSTM and transformer on qa, in one sweep-like folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from compare.train import CONF_DIR, train

#: The transformer's position table holds 24 tokens, so a longer story is one it cannot read.
MAX_POSITIONS = 24
COMMON = ["task=qa", "task.length=8", "model.param_budget=8000", "trainer.max_steps=20",
          "trainer.val_check_interval=10", "trainer.log_every_n_steps=10", "callbacks.attention.log_images=false",
          "data.val_size=16", "eval.num_samples=16", "eval.multipliers=[1]", "progress_bar=none", "threads=1"]
MODELS = {"0_qa_lstm_L8": ["model=lstm"],
          "1_qa_transformer_L8": ["model=transformer", f"model.max_positions={MAX_POSITIONS}"]}


@pytest.fixture(scope="session")
def lab_sweep(tmp_path_factory) -> Path:
    """Two real runs trained through compare.train.train into <tmp>/sweep/<job>/ (as a Hydra sweep lays them out)."""
    sweep = tmp_path_factory.mktemp("lab") / "sweep"
    for job, overrides in MODELS.items():
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("config", overrides=[f"output_dir={sweep / job}", *COMMON, *overrides])
        with open_dict(cfg):
            cfg.trainer.enable_model_summary = False
        row = train(cfg)
        assert row["status"] == "ok", row.get("error")
    return sweep
