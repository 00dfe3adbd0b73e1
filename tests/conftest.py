"""Shared fixtures: the real Hydra config, composed the way compare-train composes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from compare.train import CONF_DIR

# Tests never wait on a network they cannot reach.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared"


def compose_config(overrides: list[str], output_dir: Path) -> DictConfig:
    """The composed run config for ``overrides``, writing into ``output_dir``, sized for a quick test."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"output_dir={output_dir}", "progress_bar=none", *overrides])
    with open_dict(cfg):
        cfg.trainer.enable_model_summary = False
    return cfg


@pytest.fixture
def make_cfg(tmp_path):
    """Factory: make_cfg(["model=gru", ...]) -> composed DictConfig writing under tmp_path."""
    def make(overrides=(), sub: str = "run") -> DictConfig:
        return compose_config(list(overrides), tmp_path / sub)
    return make
