"""A cluster's stop signal ends a run cleanly: a checkpoint at the current step, status ``preempted``, a prompt exit.

SLURM sends SIGTERM when it preempts or cancels a job, and ``--signal`` (SIGUSR1 by Lightning's convention,
SIGUSR2 by submitit's) shortly before a time limit; SIGKILL follows after a grace time (30 s by default).
Lightning turns SIGTERM into ``trainer.received_sigterm`` and a ``SIGTERMException`` at points of its loops
(inside validation, after a step's scheduler update) whose checkpoints resume to the same weights but not
to the same logged steps. So, once per run:

- ``Preemption`` (a context manager around the run) installs one handler for ``preemption.signals``,
  restores the previous handlers afterwards, and then hands the signal on to the previous handler, so a
  launcher that handles it (submitit: checkpoint and requeue the job) still does;
- ``PreemptionCallback`` saves ``last.ckpt`` at the end of the training step, or of the validation, in
  which the signal came (the points Lightning's own ModelCheckpoints save at, so the resumed run ends
  with the uninterrupted run's metrics and curves) and raises ``Preempted``, a ``SIGTERMException``
  carrying exit status 128 + signal; under DDP it leaves SIGTERM to Lightning, which tells every rank;
- if no step ends within the grace time less a margin (one step longer than that), a watchdog writes the
  row with the step of the newest checkpoint on disk and exits the process at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Callable

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from compare.errors import UserError
from compare.runs.resume import checkpoint_step

log = logging.getLogger("compare")

#: Signals that can never be caught, so never stand for "stop cleanly".
UNCATCHABLE = {"SIGKILL", "SIGSTOP"}
#: Seconds kept back from the grace time for writing the results row and exiting.
EXIT_MARGIN_S = 5.0


class Preempted(SIGTERMException):
    """The run stopped because of a signal; a SystemExit whose status is 128 + the signal, as a shell reports it."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(128 + int(sig))
        self.signal = sig


def parse_signals(names) -> tuple[signal.Signals, ...]:
    """``["SIGTERM", "USR1"]`` -> signals; a UserError naming the value for anything else."""
    accepted = "signal names such as SIGTERM, SIGUSR1, SIGUSR2 (not SIGKILL or SIGSTOP), or []"
    if names is None or isinstance(names, str) or not hasattr(names, "__iter__"):
        raise UserError(f"preemption.signals={names!r} is not accepted: a list of {accepted}")
    out = []
    for name in names:
        full = f"SIG{name}" if isinstance(name, str) and not name.startswith("SIG") else name
        sig = getattr(signal, full, None) if isinstance(full, str) else None
        if not isinstance(sig, signal.Signals) or full in UNCATCHABLE or full.startswith("SIG_"):
            raise UserError(f"preemption.signals={list(names)!r} is not accepted: {name!r} is not a catchable "
                            f"signal; use {accepted}")
        out.append(sig)
    return tuple(dict.fromkeys(out))


def check_grace(grace_s) -> float:
    """``preemption.grace_s`` as seconds > 0, else a UserError."""
    if isinstance(grace_s, bool) or not isinstance(grace_s, (int, float)) or not grace_s > 0:
        raise UserError(f"preemption.grace_s={grace_s!r} is not accepted: seconds > 0 (the time a cluster "
                        f"waits between its stop signal and SIGKILL; 30 on SLURM by default)")
    return float(grace_s)


class Preemption:
    """The run's stop signals: caught while the run lasts, a checkpoint when they come, previous handlers after.

    ``on_deadline(fields)`` writes the results row when the watchdog has to stop the process itself.
    """

    def __init__(self, signals, grace_s: float, checkpoint: Path, on_deadline: Callable[[dict], None]) -> None:
        self.signals = parse_signals(signals)
        self.grace_s = check_grace(grace_s)
        self.checkpoint = Path(checkpoint)
        self.on_deadline = on_deadline
        self.signal: signal.Signals | None = None
        self.saved_step: int | None = None  # set when this run saved ``checkpoint`` after the signal
        self.save_tried = False
        self._previous: dict[signal.Signals, object] = {}
        self._timer: threading.Timer | None = None
        self._done = threading.Event()

    @property
    def installed(self) -> bool:
        """True while this run's handlers are in place (only the main thread can install them)."""
        return bool(self._previous)

    @property
    def deadline_s(self) -> float:
        """Seconds after the signal at which the watchdog exits the process (the grace time less a margin)."""
        return self.grace_s - min(EXIT_MARGIN_S, self.grace_s / 2)

    def __enter__(self) -> Preemption:
        if threading.current_thread() is threading.main_thread():  # signal.signal works only there
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        if self._timer is not None:
            self._timer.cancel()
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        previous = self._previous.get(self.signal) if self.signal is not None else None
        self._previous = {}
        if callable(previous):
            # E.g. submitit's handler, which checkpoints the job (a resubmission of it) and requeues it; it may
            # exit the process itself, which is why it runs last, after the results row is written.
            previous(int(self.signal), None)

    def handle(self, signum: int, frame) -> None:
        """The signal handler: remember the first signal and start the watchdog."""
        if self.signal is not None:
            return  # a second signal changes nothing: the run is already stopping
        self.signal = signal.Signals(signum)
        log.warning("received %s: stopping at the end of this training step (within %.0f s)",
                    self.signal.name, self.deadline_s)
        self._timer = threading.Timer(self.deadline_s, self._deadline)
        self._timer.daemon = True
        self._timer.start()

    def requested(self, trainer: L.Trainer | None = None) -> bool:
        """True once a stop signal came (ours, or the SIGTERM Lightning noticed)."""
        return self.signal is not None or bool(trainer is not None and trainer.received_sigterm)

    def stopped_by(self, e: BaseException) -> bool:
        """True when ``e`` is the run stopping for a signal rather than failing."""
        return isinstance(e, SIGTERMException) or (self.signal is not None and isinstance(e, SystemExit))

    def exit(self) -> Preempted:
        """The exception that ends the process after a preemption (status 128 + signal)."""
        return Preempted(self.signal or signal.SIGTERM)

    def raise_if_requested(self) -> None:
        """Stop before training starts when the signal came while the run was being built."""
        if self.signal is not None:
            raise self.exit()

    def save(self, trainer: L.Trainer) -> None:
        """Save ``checkpoint`` at the current step; a failure (a full disk) keeps the previous one and says so."""
        self.save_tried = True
        try:
            trainer.save_checkpoint(self.checkpoint, weights_only=False)
        except OSError as e:
            log.error("could not save %s at step %d (%s); the previous checkpoint is kept",
                      self.checkpoint, trainer.global_step, e.strerror or e)
            return
        self.saved_step = trainer.global_step

    def outcome(self) -> dict:
        """The results-row fields of a preempted run: status, the step it continues from, and how."""
        step = self.saved_step
        if step is None:
            step, _ = checkpoint_step(self.checkpoint) if self.checkpoint.exists() else (None, "")
        name = (self.signal or signal.SIGTERM).name
        at = f"at step {step}" if step is not None else "before its first checkpoint"
        return {"status": "preempted", "preempted_by": name, "steps": step or 0,
                "checkpoint": str(self.checkpoint) if step is not None else None,
                "error": f"preempted by {name} {at}; continue it with resume=true and the same output dir"}

    def _deadline(self) -> None:
        if self._done.is_set():
            return
        fields = self.outcome()
        log.error("no training step ended within %.0f s of %s; exiting now (%s)", self.deadline_s,
                  self.signal.name, fields["error"])
        try:
            self.on_deadline(fields)
        finally:
            for handler in logging.getLogger().handlers + log.handlers:
                handler.flush()
            sys.stderr.flush()
            os._exit(128 + int(self.signal))  # the main thread is inside one step; only the process can end it


class PreemptionCallback(Checkpoint):
    """Ends training at the end of the step (or of the validation) in which a stop signal arrived, with a
    checkpoint of exactly that point.

    A ``Checkpoint`` so that Lightning orders it after the ModelCheckpoints: at the end of a validation the
    best checkpoint has been chosen before ``last.ckpt`` records it. ``monitor = None``: it keeps no best model.

    On one device it also takes SIGTERM back from Lightning for the fit (Lightning's own handler would raise
    its SIGTERMException inside validation or after the step's scheduler update; a checkpoint taken there
    resumes to the same weights but shifts the logged steps by one logging interval, measured). Under DDP
    Lightning keeps it: its handler is what tells the other ranks, and ``on_exception`` saves on all of them.
    """

    monitor = None

    def __init__(self, preemption: Preemption) -> None:
        self.preemption = preemption

    def on_train_start(self, trainer, pl_module) -> None:
        # Lightning installs its handlers just before this hook (Trainer._run) and restores ours at teardown.
        if trainer.world_size == 1 and signal.SIGTERM in self.preemption.signals and self.preemption.installed:
            signal.signal(signal.SIGTERM, self.preemption.handle)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.stop_if_requested(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:  # inside fit, not a sanity check
            self.stop_if_requested(trainer)

    def stop_if_requested(self, trainer) -> None:
        """Save and raise ``Preempted`` when a signal came (one device; DDP stops through on_exception)."""
        if trainer.world_size > 1 or not self.preemption.requested(trainer):
            return
        if self.preemption.signal is None:  # SIGTERM reached Lightning's handler but not ours (signals: [])
            self.preemption.signal = signal.SIGTERM
        self.preemption.save(trainer)
        raise self.preemption.exit()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        # Lightning raised SIGTERMException itself (DDP, or signals: []): save where it stopped.
        if isinstance(exception, SIGTERMException) and not self.preemption.save_tried:
            if self.preemption.signal is None:
                self.preemption.signal = signal.SIGTERM
            self.preemption.save(trainer)


#: What ``preemption`` means when a config has no such node (configs composed before it existed).
DEFAULT_SIGNALS = ("SIGTERM", "SIGUSR1", "SIGUSR2")
DEFAULT_GRACE_S = 30


def preemption_of(cfg, checkpoint: Path, on_deadline: Callable[[dict], None]) -> Preemption:
    """The run's ``Preemption`` from ``cfg.preemption`` (signals, grace_s), checked before anything trains."""
    node = cfg.get("preemption") or {}
    unknown = sorted(set(node) - {"signals", "grace_s"})
    if unknown:
        raise UserError(f"preemption.{unknown[0]} is not a setting; preemption takes signals and grace_s")
    return Preemption(node.get("signals", DEFAULT_SIGNALS), node.get("grace_s", DEFAULT_GRACE_S), checkpoint,
                      on_deadline)
