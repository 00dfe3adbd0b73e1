"""Shared fixtures: the real Hydra config, composed the way compare-train composes it; headless Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from compare.train import CONF_DIR

# Tests never wait on a network they cannot reach.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")



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


@pytest.fixture
def killed_and_resumed(make_cfg, tmp_path):
    """Factory: killed_and_resumed(overrides, step) -> (uninterrupted row, resumed row). Run "a" goes through; run
    "b" goes through too and is then put back to what a kill after ``step`` leaves (its rolling checkpoint of that
    step as last.ckpt, results.json 'running') and resumed. ``overrides`` must keep every rolling checkpoint
    (callbacks.resume_checkpoint.save_top_k=-1) at a period that ``step`` is a multiple of."""
    from compare.runs.results import read_results, write_results
    from compare.train import train

    def run(overrides: list[str], step: int) -> tuple[dict, dict]:
        reference = train(make_cfg(overrides, sub="a"))
        train(make_cfg(overrides, sub="b"))
        b = tmp_path / "b"
        shutil.copy(b / "checkpoints" / f"epoch=0-step={step}.ckpt", b / "checkpoints" / "last.ckpt")
        write_results(b, {**read_results(b / "results.json"), "status": "running", "steps": 0, "val_loss": None})
        resumed = train(make_cfg([*overrides, "resume=true"], sub="b"))
        assert resumed["status"] == "ok" and resumed["resumed_from"].endswith("last.ckpt")
        return reference, resumed
    return run


#: Headless Chromium and its driver, where installed (browser tests skip without them).
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def headless_chromium(tmp_path_factory):
    """Factory: headless_chromium(*extra_flags) -> a selenium Chrome driver, quit when the module ends."""
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium not found (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    drivers = []

    def make(*extra_flags: str):
        opts = Options()
        opts.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,1400", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                     *extra_flags):
            opts.add_argument(flag)
        # An explicit driver path: selenium must not try to download one.
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
        driver.set_page_load_timeout(60)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()
