"""compare-train --help: the app's own help (Hydra's hydra/help template) with every experiment= preset, read from
the presets' yaml headers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from compare.config.presets import NOT_STATED, PRESET_DIR, presets, read_preset
from compare.train import main


def test_help_lists_examples_every_preset_and_the_config_groups(monkeypatch, capsys):
    # The console script's own path (Hydra's --help inside compare.train.main), in this process: no second
    # import of torch and Lightning.
    monkeypatch.setattr(sys, "argv", ["compare-train", "--help"])
    precision = torch.get_float32_matmul_precision()  # main() sets it for training; other tests keep theirs
    try:
        with pytest.raises(SystemExit) as done:
            main()
    finally:
        torch.set_float32_matmul_precision(precision)
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.startswith("compare-train: train recurrent networks") and "powered by Hydra" not in out
    examples = out.split("== Examples ==")[1].split("==")[0]
    assert len([line for line in examples.splitlines() if line.strip().startswith("compare-train ")]) == 3
    listed = out.split("== Presets")[1].split("== Config groups")[0]
    flat = " ".join(listed.split())
    names = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
    assert names and all(f"  {name} " in listed for name in names)
    for preset in presets():
        assert " ".join(f"{preset.summary}. [{preset.time}]".split()) in flat
    assert "[9 min on an idle VM (32 jobs, two at a time; measured 2026-12-02)]" in flat
    assert "Hierarchy\"), scaled to 2 CPU cores. [about 16 min (CPU time 1,775 s" in flat  # chomsky's time line
    assert "demonstration. [" in flat and "(issue" not in flat  # the first sentence, without its developer notes
    groups = out.split("== Config groups")[1]
    assert "model: deltanet, gru, linear_attention, lstm, mamba" in groups and "experiment: babi" in groups


def test_a_preset_header_gives_its_first_sentence_and_time(tmp_path: Path):
    path = tmp_path / "demo.yaml"
    path.write_text("# @package _global_\n# What it shows, over\n# two lines (2 CPU cores, about 3 min):\n"
                    "#   compare-train experiment=demo\n# More that is not the summary.\nmodel:\n  param_budget: 1\n")
    assert read_preset(path) == type(read_preset(path))("demo", "What it shows, over two lines", "about 3 min")
    path.write_text("# @package _global_\n# Shows a thing (issue 99).\n# Time on 2 CPU cores: 1 min (idle)\n#\n# x\n")
    assert (read_preset(path).summary, read_preset(path).time) == ("Shows a thing", "1 min (idle)")
    path.write_text("defaults: []\n")
    assert read_preset(path).time == NOT_STATED and read_preset(path).summary.startswith("(its yaml has no header")
