"""A tiny trained pair for the compare-lab tests: LSTM and transformer on qa, in one sweep-like folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from compare.train import CONF_DIR, train

#: The transformer's position table holds 24 tokens, so a longer story is one it cannot read.
MAX_POSITIONS = 24
#: Each run keeps 4 snapshots for the training timeline: steps 0, 10, 14 and 20 (timeline_steps(20, 4)).
TIMELINE_POINTS = 4
TRAINING = ["trainer.max_steps=20", "trainer.val_check_interval=10",
            "trainer.log_every_n_steps=10", "callbacks.attention.log_images=false", "data.val_size=16",
            "eval.num_samples=16", "eval.multipliers=[1]", "progress_bar=none", "threads=1",
            f"callbacks.timeline.points={TIMELINE_POINTS}"]
COMMON = ["task=qa", "task.length=8", "model.param_budget=8000", *TRAINING]
MODELS = {"0_qa_lstm_L8": ["model=lstm"],
          "1_qa_transformer_L8": ["model=transformer", f"model.max_positions={MAX_POSITIONS}"]}
#: A text to train text_lm on: a few kB of English, so a model of 8k parameters learns its letters in 20 steps.
TEXT = ("the cat sat on the mat. the dog ran to the park and back. a bird sang in the tree by the house. " * 40)


def train_jobs(folder: Path, jobs: dict[str, list[str]]) -> Path:
    """Train each job through compare.train.train into <folder>/<job>/ (as a Hydra sweep lays them out)."""
    for job, overrides in jobs.items():
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            cfg = compose("config", overrides=[f"output_dir={folder / job}", *overrides])
        with open_dict(cfg):
            cfg.trainer.enable_model_summary = False
        row = train(cfg)
        assert row["status"] == "ok", row.get("error")
    return folder


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """The folder compare-lab serves in the browser tests: the qa pair's sweep/ and the text pair's text/."""
    return tmp_path_factory.mktemp("lab")


@pytest.fixture(scope="session")
def lab_sweep(lab_root) -> Path:
    """Two real runs on qa, LSTM and transformer, each keeping a timeline of 4 snapshots, in <lab_root>/sweep/."""
    return train_jobs(lab_root / "sweep", {job: [*COMMON, *overrides] for job, overrides in MODELS.items()})


@pytest.fixture(scope="session")
def text_sweep(lab_root) -> Path:
    """A transformer and an LSTM trained on text_lm (byte-level text), in <lab_root>/text/."""
    lab_root.joinpath("text.txt").write_text(TEXT)
    # 256 byte values: the embedding and head alone take ~2 x 256 x width parameters.
    common = ["task=text_lm", "task.length=16", f"task.files=[{lab_root / 'text.txt'}]", "model.param_budget=30000",
              *TRAINING]
    return train_jobs(lab_root / "text", {"0_text_lm_transformer_L16": [*common, "model=transformer"],
                                          "1_text_lm_lstm_L16": [*common, "model=lstm"]})
