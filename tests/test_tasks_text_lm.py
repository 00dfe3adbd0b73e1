"""text_lm: byte windows from local files through datasets, and the bracket metric."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from compare.errors import UserError
from compare.tasks.text_lm import TextLMTask, bracket_accuracy, stdlib_files

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_default_corpus_is_the_standard_library(tmp_path):
    assert all(os.path.isfile(f) for f in stdlib_files())
    task = TextLMTask(length=64, cache_dir=str(tmp_path))
    assert task.num_tokens == 256 and len(task.train_bytes) > 100_000
    x, y = task.sample(16, 64, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (16, 64) and torch.equal(x[:, 1:], y[:, :-1])
    x2, _ = task.sample(16, 64, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    text = bytes(x[0].tolist()).decode("utf-8", errors="replace")
    assert text in task.train_bytes.numpy().tobytes().decode("utf-8", errors="replace")
    val = task.eval_set(200, 8)
    assert val.inputs.shape == (8, 200)
    # The ladder scores the byte after the whole window; validation scores every position.
    assert (val.targets[:, :-1] == -100).all() and (val.targets[:, -1] >= 0).all()
    assert (task.validation_set(4).targets >= 0).all()
    held_out = task.valid_bytes.numpy().tobytes()
    assert bytes(val.inputs[0].tolist()) in held_out


def test_user_files_globs_and_bad_files(tmp_path):
    for i in range(3):
        (tmp_path / f"doc{i}.txt").write_text(f"document {i} " * 100, encoding="utf-8")
    task = TextLMTask(length=16, files=[str(tmp_path / "doc*.txt")], cache_dir=str(tmp_path / "hf"))
    assert len(task.files) == 3
    with pytest.raises(UserError, match="matches no file"):
        TextLMTask(files=[str(tmp_path / "nothere.txt")])
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 " * 50)
    with pytest.raises(UserError, match="bad.txt"):
        TextLMTask(length=8, files=[str(tmp_path / "bad.txt")], cache_dir=str(tmp_path / "hf"))
    with pytest.raises(UserError, match="too few"):
        TextLMTask(length=4096, files=[str(tmp_path / "doc0.txt")], cache_dir=str(tmp_path / "hf"))


def test_bracket_accuracy_by_distance_to_the_opener():
    window = list(b"f(a[1], {x: 2})")
    inputs, targets = torch.tensor([window[:-1]]), torch.tensor([window[1:]])
    perfect = F.one_hot(targets, 256).float()
    out = bracket_accuracy(inputs, targets, perfect)
    # ']' closes at distance 2 from '[', '}' at distance 5, ')' at distance 13.
    assert out["brackets"] == 3 and out["bracket_acc"] == 1.0 and out["bracket_type_acc"] == 1.0
    assert out["brackets_by_distance"] == {"2": 1, "4": 1, "8": 1}
    # A model that always says ')' gets the type right only where ')' closes.
    always = torch.zeros(1, len(window) - 1, 256)
    always[..., ord(")")] = 1.0
    out = bracket_accuracy(inputs, targets, always)
    assert out["bracket_type_acc"] == pytest.approx(1 / 3)
    assert out["bracket_type_acc_by_distance"] == {"2": 0.0, "4": 0.0, "8": 1.0}
    assert out["bracket_type_majority_acc"] == pytest.approx(1 / 3)


def test_a_folder_gives_its_text_files_and_one_without_any_is_named(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "a.txt").write_text("alpha " * 100, encoding="utf-8")
    (corpus / "sub" / "b.py").write_text("x = [1, 2]\n" * 50, encoding="utf-8")
    (corpus / "data.bin").write_bytes(b"\x00\xff" * 100)  # not a text suffix: left out
    task = TextLMTask(length=16, files=str(corpus), cache_dir=str(tmp_path / "hf"))
    assert [os.path.relpath(f, corpus) for f in task.files] == ["a.txt", os.path.join("sub", "b.py")]
    empty = tmp_path / "binaries"
    empty.mkdir()
    (empty / "model.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(UserError, match=rf"task.files: the folder {empty} holds no text files \(looked for \*.txt") as err:
        TextLMTask(files=[str(empty)])
    assert "\n" not in str(err.value)


def test_loss_by_position_is_over_windows_spread_over_each_text(tmp_path):
    """task_metrics' loss by position scores `position_windows` windows from the start to the end of the held-out
    and the training text, each a real passage of it; a bad count is a one-line UserError."""
    (tmp_path / "a.txt").write_text("".join(f"line {i} of the text\n" for i in range(3000)), encoding="utf-8")
    task = TextLMTask(length=32, files=[str(tmp_path / "a.txt")], cache_dir=str(tmp_path / "hf"), position_windows=5)
    for split, data in (("evaluation", task.valid_bytes), ("training", task.train_bytes)):
        x, y = task.spread_windows(split, 5)
        assert x.shape == y.shape == (5, 32) and torch.equal(x[:, 1:], y[:, :-1])
        text = data.numpy().tobytes()
        assert bytes(x[0].tolist()) == text[:32]  # the first window starts the text, the last one ends it
        assert bytes(y[-1].tolist()) == text[-32:]
        starts = [text.index(bytes(row.tolist())) for row in x]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert max(gaps) - min(gaps) <= 1
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(256, 8), torch.nn.Linear(8, 256))
    metrics = task.extra_metrics(model, batch_size=4)
    assert set(metrics["loss_by_position"]) == set(metrics["train_loss_by_position"])
    assert len(metrics["loss_at_position"]) == 32
    # Bins are named by their upper edge: "32" is the positions with 17 to 32 bytes of context, "1" the first.
    assert list(metrics["loss_by_position"]) == ["1", "2", "4", "8", "16", "32"]
    at = metrics["loss_at_position"]
    assert metrics["loss_by_position"]["32"] == pytest.approx(sum(at[16:32]) / 16, abs=1e-4)
    assert metrics["loss_by_position"]["4"] == pytest.approx(sum(at[2:4]) / 2, abs=1e-4)
    assert metrics["loss_by_position"]["1"] == pytest.approx(at[0], abs=1e-4)
    for bad in (1, 2.5, True, "8"):
        with pytest.raises(UserError, match="task.position_windows"):
            TextLMTask(length=32, files=[str(tmp_path / "a.txt")], cache_dir=str(tmp_path / "hf"), position_windows=bad)
