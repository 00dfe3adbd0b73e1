"""The user-facing error types, and the one style every console script prints them in.

Console scripts print ``<prog>: error: <message>`` on stderr, exit non-zero, show no traceback:

    def main() -> None:
        with reported_errors("compare-report"):
            ...

A Hydra app goes through ``run_hydra_app`` instead, so that Hydra's own errors (an unknown group
option, a misspelled key, an override that does not parse) come out in the same style.
Set ``HYDRA_FULL_ERROR=1`` to get the full traceback instead, as with Hydra itself.

``quiet_console`` keeps the libraries' per-process notices off the console, in every process of a run.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


class UserError(ValueError):
    """A mistake in the user's input; console scripts print its message on one line, without a traceback."""


class RunFailed(Exception):
    """A run of a sweep failed; the message names its directory and the reason (its results.json has the rest)."""


#: Exit status for a mistake in the user's input (as argparse uses), and for anything else.
EXIT_USER_ERROR = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130

TRACEBACK_SWITCH = "HYDRA_FULL_ERROR"


def quiet_console() -> None:
    """Keep this process's console to what the user asked for: no Hydra schema-matching deprecation, no
    Lightning hardware banner, tips or LeafSpec deprecation. Idempotent; called where a process composes a
    config (compare-train's ``main``, the ``QuietConsole`` Hydra callback in each job) and where it builds a
    Trainer (``build_trainer``, so DDP ranks started by compare/training/ddp.py are quiet too)."""
    # conf/hydra/launcher/*.yaml pin the plugins' settings under the plugins' own names; Hydra warns about that
    # at every composition. The message starts with a newline, which '.' matches only under (?s).
    warnings.filterwarnings("ignore", message=r"(?s).*validated against ConfigStore schema", category=UserWarning)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
    # "GPU available / TPU available", the logger and checkpoint tips, "`Trainer.fit` stopped": rank-zero info.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)


def wants_traceback() -> bool:
    """True when the developer asked for full tracebacks (``HYDRA_FULL_ERROR=1``)."""
    return os.environ.get(TRACEBACK_SWITCH, "") not in ("", "0")


def error_message(exc: BaseException) -> str:
    """The message to print for ``exc``: Hydra's wording with its layout folded onto as few lines as it allows."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, (UserError, RunFailed)):
        return str(exc)
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        parts = [str(exc)]
        if isinstance(exc.__cause__, OmegaConfBaseException):
            parts.append(str(exc.__cause__))
        return fold_lines("\n".join(parts)) + _group_options(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _group_options(exc: BaseException) -> str:
    """'; Available options in <group>: ...' for a config Hydra could not load without listing the options it
    has (an option of a list such as ``logger=[tensorboard,cvs]``), from the project's conf/ folder."""
    from hydra.errors import MissingConfigException

    from compare.config import CONF_DIR

    missing = getattr(exc, "missing_cfg_file", None) if isinstance(exc, MissingConfigException) else None
    if not missing or exc.options or "/" not in missing or missing.startswith("hydra/"):
        return ""
    group = missing.rsplit("/", 1)[0]
    names = sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml"))
    return f"; Available options in '{group}': {', '.join(names)}" if names else ""


def fold_lines(text: str) -> str:
    """Fold Hydra/OmegaConf's multi-line layout: 'Available options in x:' + tab-indented lines -> 'x: a, b, c'."""
    out: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if items:
            out[-1] = out[-1] + " " + ", ".join(items)
            items.clear()

    for raw in text.splitlines():
        line = raw.strip()
        # Internals that say nothing to a user (search path providers, OmegaConf node types).
        if not line or line.startswith(("object_type=", "provider=", "Config search path")):
            continue
        if raw.startswith(("\t", "    ")) and out and out[-1].endswith(":"):
            items.append(line)
            continue
        flush()
        out.append(line)
    flush()
    return "; ".join(line.rstrip(".:") for line in out)


@contextmanager
def reported_errors(prog: str) -> Iterator[None]:
    """Turn any exception escaping the block into ``<prog>: error: <message>`` and an exit status."""
    show_traceback = wants_traceback()
    try:
        yield
    except KeyboardInterrupt:
        if show_traceback:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - this is the one place every error ends up
        if show_traceback:
            raise
        hint = "" if is_user_error(exc) or isinstance(exc, RunFailed) else f" (set {TRACEBACK_SWITCH}=1 for the traceback)"
        print(f"{prog}: error: {error_message(exc)}{hint}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR if is_user_error(exc) else EXIT_FAILURE)


def is_user_error(exc: BaseException) -> bool:
    """Mistakes in config or command line: ours, and Hydra's composition and override errors."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return isinstance(exc, (UserError, HydraException, OmegaConfBaseException))


def run_hydra_app(prog: str, app: Callable[[], object]) -> None:
    """Run a ``@hydra.main`` function with every error, Hydra's included, reported in this module's style."""
    if wants_traceback():
        app()
        return
    with reported_errors(prog):
        # Without the switch Hydra prints its errors itself (half a traceback) and exits; with it, it raises
        # them to reported_errors, which decided above that the user did not ask for tracebacks.
        os.environ[TRACEBACK_SWITCH] = "1"
        try:
            app()
        finally:
            os.environ.pop(TRACEBACK_SWITCH, None)
