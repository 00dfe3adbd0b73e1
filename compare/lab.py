"""compare-lab: a local web page where you edit a task's input and watch every trained model answer.

    compare-lab multirun/2026-11-23_08-30-00
    compare-lab outputs/qa --port 8000

Loads every finished run under DIR (one run or a sweep) from its config and checkpoint, groups them by
task, and serves a page on http://127.0.0.1:7860 (``--host`` / ``--port`` to change). Needs the ``lab``
extra: ``pip install -e ".[lab]"``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from pathlib import Path

from compare.errors import UserError, reported_errors

PROG = "compare-lab"


def check_port(host: str, port: int) -> None:
    """A UserError now, before the models load, when ``host:port`` cannot be listened on."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e}): is another server using it? "
                        "Pick another with --port") from None


def main(argv: list[str] | None = None) -> int:
    """Console script ``compare-lab``; errors as ``compare-lab: error: ...``."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a run dir or a sweep dir (multirun/<time>)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="which checkpoint of each run to load (default best: best validation accuracy)")
    args = parser.parse_args(argv)
    with reported_errors(PROG):
        if not 0 < args.port < 65536:
            raise UserError(f"--port={args.port} is not accepted: it must be in 1..65535")
        # Checked without importing it (seconds), so that a mistake in DIR is reported at once.
        if importlib.util.find_spec("gradio") is None:
            raise UserError("compare-lab needs the lab extra (gradio is not installed): pip install -e '.[lab]'")
        check_port(args.host, args.port)
        # One thread answers a tiny model fastest, and leaves the other cores to training runs; set before
        # torch starts its thread pool, which Gradio's worker threads share.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        from compare.live.runs import load_lab

        torch.set_num_threads(1)
        lab = load_lab(args.dir, args.checkpoint, warn=lambda m: print(f"{PROG}: warning: {m}", file=sys.stderr))
        from compare.live.app import serve

        count = sum(len(g.models) for g in lab.groups)
        print(f"{PROG}: {count} models on {len(lab.groups)} tasks; serving http://{args.host}:{args.port} "
              "(Ctrl-C stops)", flush=True)
        serve(lab, args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
