"""Pins the two Lightning behaviours SequenceModule's per-step speed-ups rely on, so a Lightning release that
changes them fails here instead of silently undoing the gain (or logging different points).

Measured gains (scripts/bench_lightning_privates.py, 2026-12-04, torch 2.13 CPU, one thread), as CPU time of a
training step: logging only on logging steps saves 9% (20k-parameter GRU, length 8) and 4% (200k LSTM, length
16); the ``_current_fx_name`` fast path saves 53 us a step, 1.3% and 0.4%. The logging rule reads only public
Trainer attributes; Lightning's private ``LoggerConnector.should_update_logs`` is read here, to check it agrees."""

from __future__ import annotations

from collections import Counter

import lightning as L
from lightning.pytorch.loggers.logger import Logger

from compare.train import train
from compare.training import module as module_mod
from compare.training.module import FX_NAME_ATTRIBUTE, SequenceModule


class RecordingLogger(Logger):
    """Keeps every (step, name) a run logs, as a real logger receives them."""

    def __init__(self) -> None:
        super().__init__()
        self.points: list[tuple[int, str]] = []

    name = "recording"
    version = 0

    def log_metrics(self, metrics, step=None) -> None:
        self.points += [(step, k) for k in metrics]

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass


def tiny_run(make_cfg, sub: str):
    cfg = make_cfg(["model=gru", "model.param_budget=3000", "task.length=4", "data.batch_size=4",
                    "trainer.max_steps=23", "trainer.log_every_n_steps=5", "trainer.val_check_interval=50",
                    "data.val_size=8", "eval.num_samples=8", "~callbacks.length_ladder", "~callbacks.checkpoint",
                    "~callbacks.resume_checkpoint", "~callbacks.attention", "~callbacks.dashboard"],
                   sub=sub)
    return cfg


def fit_counting(make_cfg, sub: str, monkeypatch, always_log: bool):
    """Fit a tiny run with a recording logger; count train/loss log calls and module attribute writes."""
    from compare.config.build import build, build_model

    cfg = tiny_run(make_cfg, sub)
    task = build(cfg.task)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    writes: Counter = Counter()
    calls = []
    agree = []

    class Probe(SequenceModule):
        def __setattr__(self, name, value):
            writes[name] += 1
            super().__setattr__(name, value)

        def log(self, name, *args, **kwargs):
            calls.append((self.trainer.global_step, name))
            super().log(name, *args, **kwargs)

        def training_step(self, batch, batch_idx):
            # Our public-API rule against Lightning's own (private) one, at every step of a real fit.
            connector = getattr(self.trainer, "_logger_connector", None)
            if connector is not None and hasattr(connector, "should_update_logs"):
                agree.append(SequenceModule._logs_this_step(self) == connector.should_update_logs)
            return super().training_step(batch, batch_idx)

    if always_log:
        monkeypatch.setattr(Probe, "_logs_this_step", lambda self: True)
    probe = Probe(model, build(cfg.optimizer))
    logger = RecordingLogger()
    trainer = L.Trainer(max_steps=23, log_every_n_steps=5, logger=logger, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False, limit_val_batches=0)
    trainer.fit(probe, datamodule=build(cfg.data, task=task, seed=cfg.seed))
    train_calls = [c for c in calls if c[1] == "train/loss"]
    logged = sorted(p for p in logger.points if p[1] == "train/loss")
    return train_calls, logged, writes, agree


def test_logging_only_on_logging_steps_writes_the_same_points(make_cfg, monkeypatch):
    # What the 9% / 4% a step (module docstring) must not cost: a single logged point.
    calls, logged, _, agree = fit_counting(make_cfg, "skip", monkeypatch, always_log=False)
    every_calls, every_logged, _, _ = fit_counting(make_cfg, "all", monkeypatch, always_log=True)
    assert logged == every_logged and logged, "the loggers must receive the same train/loss points either way"
    # 23 steps, log_every_n_steps=5: steps 4, 9, 14, 19 and the last (should_stop) step 22.
    assert len(calls) <= 5 < len(every_calls) == 23
    assert agree and all(agree), "compare's logging rule must match Lightning's LoggerConnector.should_update_logs"


def test_lightning_still_writes_the_fx_name_attribute(make_cfg, monkeypatch):
    _, _, writes, _ = fit_counting(make_cfg, "fx", monkeypatch, always_log=False)
    # 46 writes a step measured; if Lightning renames the attribute, SequenceModule's fast path does nothing
    # and its 53 us a step (module docstring) are lost.
    assert writes[FX_NAME_ATTRIBUTE] >= 23 * 10, (
        f"Lightning {L.__version__} no longer sets {FX_NAME_ATTRIBUTE!r} per hook call: update "
        f"{module_mod.__name__}.FX_NAME_ATTRIBUTE")


def test_the_training_path_uses_sequence_module(make_cfg):
    row = train(tiny_run(make_cfg, "run"))
    assert row["status"] == "ok" and row["steps"] == 23
