#!/usr/bin/env python
r"""What SequenceModule's uses of Lightning internals save: real fits timed side by side, arm against arm.

Each arm is the compare-train training path (``build_trainer`` with the configured callbacks and TensorBoard
logger, ``SequenceModule``) with one thing changed back to the plain public way:

- ``shipped``: SequenceModule as it is;
- ``no-fx-fast-path``: every attribute write, Lightning's ``_current_fx_name`` (about 50 a step) included, goes
  through ``nn.Module.__setattr__`` (what SequenceModule.__setattr__ skips for that one name);
- ``log-every-step``: ``self.log("train/loss")`` on every step, as Lightning's examples do, instead of only on the
  steps whose values reach the loggers (the rule SequenceModule mirrors from Lightning's private
  ``LoggerConnector.should_update_logs``);
- ``private-trainer``: the logging rule reads the private ``self._trainer`` instead of the public ``self.trainer``;
- ``control``: a subclass that changes nothing, so its ratio to ``shipped`` is the noise of the measurement.

Arms run in rounds whose order alternates (A B C D, then D C B A, ...), so a drift in the machine's speed
favours none. Reported per arm: the median CPU seconds per training step (this process's CPU time, less moved
by other processes on the cores than wall time) and wall seconds per step, and the median and range over rounds
of its CPU-time ratio to ``shipped`` in the same round (paired, so a slow round slows both):

    python scripts/bench_lightning_privates.py                       # tiny GRU on copy, about 1-2 minutes on 2 cores
    python scripts/bench_lightning_privates.py --model lstm --param-budget 200000 --length 16 --json privates.json
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
import timeit
from collections import Counter
import warnings

import torch
from torch import nn

from compare.config.build import build, build_model
from compare.errors import quiet_console
from compare.training.callbacks import ThroughputCallback
from compare.training.module import FX_NAME_ATTRIBUTE, SequenceModule
from compare.training.trainer import build_callbacks, build_trainer


class NoFxFastPath(SequenceModule):
    """Every attribute write through nn.Module's checks (Parameter, Module, buffer), ``_current_fx_name`` too."""

    def __setattr__(self, name, value) -> None:
        nn.Module.__setattr__(self, name, value)


class LogsEveryStep(SequenceModule):
    """``self.log`` on every training step; keeps the seconds spent inside those calls."""

    log_s = 0.0

    def _logs_this_step(self) -> bool:
        return True

    def log(self, *args, **kwargs) -> None:
        t0 = time.perf_counter()
        super().log(*args, **kwargs)
        self.log_s += time.perf_counter() - t0


class PrivateTrainer(SequenceModule):
    """The logging rule read through the private ``_trainer`` attribute."""

    def _logs_this_step(self) -> bool:
        trainer = self._trainer
        if trainer is None:
            return True
        return (trainer.global_step + 1) % trainer.log_every_n_steps == 0 or trainer.should_stop


class Control(SequenceModule):
    """SequenceModule unchanged (a subclass, like the other arms)."""


ARMS = {"shipped": SequenceModule, "no-fx-fast-path": NoFxFastPath, "log-every-step": LogsEveryStep,
        "private-trainer": PrivateTrainer, "control": Control}


def compose(args, out: str):
    from hydra import compose as hydra_compose, initialize_config_dir

    from compare.config import CONF_DIR

    overrides = [f"model={args.model}", f"model.param_budget={args.param_budget}", f"task.length={args.length}",
                 f"trainer.max_steps={args.steps}", f"trainer.val_check_interval={args.steps + 1}",
                 f"output_dir={out}", "progress_bar=none", "callbacks.throughput.warmup_steps=20",
                 "~callbacks.length_ladder", "~callbacks.attention", "~callbacks.dashboard", "~callbacks.checkpoint"]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def fit_once(cls, cfg, task) -> dict:
    """One fresh fit of ``cfg.trainer.max_steps`` steps with module class ``cls``; ThroughputCallback's summary
    (and, for ``LogsEveryStep``, the seconds per step inside ``self.log``)."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, vocab_size=task.num_tokens)
    module = cls(model, build(cfg.optimizer), build(cfg.scheduler))
    callbacks = build_callbacks(cfg)
    trainer = build_trainer(cfg, callbacks, None, module.num_params)
    trainer.fit(module, datamodule=build(cfg.data, task=task, seed=cfg.seed))
    summary = dict(next(c for c in callbacks if isinstance(c, ThroughputCallback)).summary)
    if isinstance(module, LogsEveryStep):
        summary["log_s_per_step"] = module.log_s / trainer.global_step
    return summary


def fx_writes_per_step(cfg, task) -> float:
    """How many times Lightning writes ``_current_fx_name`` per training step of a real fit."""
    writes: Counter = Counter()

    class Counting(SequenceModule):
        def __setattr__(self, name, value) -> None:
            writes[name] += 1
            super().__setattr__(name, value)

    fit_once(Counting, cfg, task)
    return writes[FX_NAME_ATTRIBUTE] / cfg.trainer.max_steps


def fx_write_ns(cfg, task) -> dict:
    """Nanoseconds per ``_current_fx_name`` write: SequenceModule's fast path, and through nn.Module's checks."""
    module = SequenceModule(build_model(cfg.model, vocab_size=task.num_tokens), build(cfg.optimizer))
    n = 200_000
    fast = min(timeit.repeat(lambda: setattr(module, FX_NAME_ATTRIBUTE, "training_step"), number=n, repeat=5))
    checked = min(timeit.repeat(lambda: nn.Module.__setattr__(module, FX_NAME_ATTRIBUTE, "training_step"),
                                number=n, repeat=5))
    return {"fast_ns": fast / n * 1e9, "nn_module_ns": checked / n * 1e9}


def trainer_read_ns(cfg, task) -> dict:
    """Nanoseconds per read of ``module.trainer`` (public property) and ``module._trainer`` (private attribute)."""
    module = SequenceModule(build_model(cfg.model, vocab_size=task.num_tokens), build(cfg.optimizer))
    trainer = build_trainer(cfg, [], None, module.num_params)
    module.trainer = trainer
    n = 200_000
    public = min(timeit.repeat(lambda: module.trainer, number=n, repeat=5)) / n * 1e9
    private = min(timeit.repeat(lambda: module._trainer, number=n, repeat=5)) / n * 1e9
    return {"public_ns": public, "private_ns": private}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gru")
    parser.add_argument("--param-budget", type=int, default=20000)
    parser.add_argument("--length", type=int, default=8)
    parser.add_argument("--steps", type=int, default=300, help="training steps per fit (the first 20 untimed)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest on a shared machine)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    quiet_console()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no per-Trainer banners between fits
    warnings.filterwarnings("ignore", module="lightning")
    torch.set_num_threads(args.threads)
    names = list(ARMS)
    runs: dict[str, list[dict]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-privates-") as out:
        cfg = compose(args, out)
        task = build(cfg.task)
        fit_once(SequenceModule, cfg, task)  # warm-up: first-fit imports and allocator growth
        for r in range(args.rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                runs[name].append(fit_once(ARMS[name], cfg, task))
        reads = trainer_read_ns(cfg, task)
        fx = {**fx_write_ns(cfg, task), "writes_per_step": fx_writes_per_step(cfg, task)}

    def median(name, key):
        return statistics.median(s[key] for s in runs[name])

    base_cpu, base_wall = median("shipped", "step_cpu_s"), median("shipped", "step_time_s")
    result = {"config": vars(args), "torch": torch.__version__, "lightning": __import__("lightning").__version__,
              "trainer_read": reads, "fx_name": fx, "arms": {}}
    print(f"{args.model} {args.param_budget} params budget, length {args.length}, {args.steps} steps x "
          f"{args.rounds} rounds, {args.threads} thread(s); per training step, medians over rounds:")
    for name in names:
        cpu, wall = median(name, "step_cpu_s"), median(name, "step_time_s")
        paired = [a["step_cpu_s"] / b["step_cpu_s"] for a, b in zip(runs[name], runs["shipped"])]
        ratio = statistics.median(paired)
        result["arms"][name] = {"step_cpu_ms": 1000 * cpu, "step_wall_ms": 1000 * wall, "cpu_ratio": ratio,
                                "cpu_ratio_range": [min(paired), max(paired)], "wall_ratio": wall / base_wall}
        print(f"  {name:16s} cpu {1000 * cpu:7.3f} ms  wall {1000 * wall:7.3f} ms   cpu x{ratio:.3f} of shipped "
              f"(rounds {min(paired):.3f}-{max(paired):.3f})")
    fx_saved = fx["writes_per_step"] * (fx["nn_module_ns"] - fx["fast_ns"]) * 1e-9
    log_s = statistics.median(r["log_s_per_step"] for r in runs["log-every-step"])
    read_cost = (reads["public_ns"] - reads["private_ns"]) * 1e-9
    result["per_step_share"] = {"fx_fast_path_saves": fx_saved / base_cpu, "log_calls_cost": log_s / base_cpu,
                                "public_trainer_read_costs": read_cost / base_cpu}
    print(f"  _current_fx_name: {fx['writes_per_step']:.1f} writes a step, {fx['fast_ns']:.0f} ns each on the fast "
          f"path vs {fx['nn_module_ns']:.0f} ns through nn.Module: saves {1e6 * fx_saved:.1f} us a step "
          f"({100 * fx_saved / base_cpu:.2f}% of a shipped step)")
    print(f"  self.log('train/loss') every step: {1e6 * log_s:.0f} us a step inside the calls "
          f"({100 * log_s / base_cpu:.1f}% of a shipped step), the rest of log-every-step's cost is downstream")
    print(f"  one read of module.trainer: {reads['public_ns']:.0f} ns; of module._trainer: {reads['private_ns']:.0f} ns "
          f"(one read a step: {100 * read_cost / base_cpu:.4f}% of a step)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
