"""Where the GPU suite writes: one JSON updated as each part (and each bench row) finishes, the markdown tables,
the figure, and the bulky files (profiler traces, the demo's figures) in a folder or one archive."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from compare.runs.atomic import atomic_write_text
from compare.runs.results import library_versions

JSON_NAME = "gpu_suite.json"
MARKDOWN_NAME = "gpu_suite.md"
FIGURE_NAME = "tokens_per_s_vs_length.png"
ARCHIVE_NAME = "gpu_suite_files.tar.gz"


def environment() -> dict:
    """The machine and library versions the numbers belong to: GPU, torch, CUDA, cuDNN, the date."""
    cuda = torch.cuda.is_available()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "gpu_memory_gb": torch.cuda.get_device_properties(0).total_memory / 2**30 if cuda else None,
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "python": platform.python_version(), "cpu_count": os.cpu_count(), "versions": library_versions(),
    }


class SuiteOutput:
    """The output folder. Every write replaces the JSON atomically, so a suite killed mid-part keeps what finished.

    With ``bundle`` the traces and demo figures go to a scratch folder that is packed into one archive after each
    part: the device tool hands back at most 8 files from $OUT, not a folder tree.
    """

    def __init__(self, out: Path, bundle: bool, header: dict, previous: Path | None = None) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.bundle = bundle
        self.files = Path(tempfile.mkdtemp(prefix="gpu_suite_files_")) if bundle else self.out
        self.data = self._previous(header["smoke"], Path(previous) if previous else self.out / JSON_NAME)
        self.data["suite"] = header
        self.data.setdefault("parts", {})

    @staticmethod
    def _previous(smoke: bool, path: Path) -> dict:
        """An earlier suite JSON (the folder's own, or ``--previous``), so a later ``--only`` adds parts to it and the
        bench finds the crossover's step times; never mixing smoke and GPU results."""
        if not path.is_file():
            return {}
        try:
            old = json.loads(path.read_text())
        except ValueError:
            return {}
        return old if old.get("suite", {}).get("smoke") == smoke else {}

    def files_dir(self, name: str) -> Path:
        """A folder for bulky files of one kind (traces, demo figures), in the archive when bundling."""
        path = self.files / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, part: str, result: dict) -> None:
        """Store one part's result (also a part still running) and rewrite the JSON and the tables."""
        self.data["parts"][part] = result
        self.write()

    def write(self) -> None:
        """The JSON, the markdown tables and the figure, from everything recorded so far."""
        from compare.benchmark.gpu.tables import crossover_figure, markdown

        atomic_write_text(self.out / JSON_NAME, json.dumps(self.data, indent=2, default=str) + "\n")
        atomic_write_text(self.out / MARKDOWN_NAME, markdown(self.data))
        crossover = self.data["parts"].get("crossover", {})
        if crossover.get("points") and crossover.get("status") != "running":  # drawn once, when the part ends
            crossover_figure(crossover, self.out / FIGURE_NAME)

    def pack(self) -> None:
        """Pack the bulky files into the archive (bundle mode; a no-op otherwise)."""
        if not self.bundle or not any(self.files.iterdir()):
            return
        partial = self.out / (ARCHIVE_NAME + ".part")
        with tarfile.open(partial, "w:gz") as tar:
            for path in sorted(self.files.iterdir()):
                tar.add(path, arcname=path.name)
        os.replace(partial, self.out / ARCHIVE_NAME)

    def close(self) -> None:
        """Pack a last time and drop the scratch folder."""
        self.pack()
        if self.bundle:
            shutil.rmtree(self.files, ignore_errors=True)


def merge_results(paths: list[Path]) -> dict:
    """Several suite JSONs (e.g. two device calls) as one: parts from later files replace earlier ones."""
    merged: dict = {"parts": {}}
    for path in paths:
        data = json.loads(Path(path).read_text())
        merged["parts"].update(data.get("parts", {}))
        merged["suite"] = {**data.get("suite", {}), "merged_from": [str(p) for p in paths]}
    if len({json.loads(Path(p).read_text()).get("suite", {}).get("smoke") for p in paths}) > 1:
        print("gpu_suite: warning: merging --smoke results with GPU results", file=sys.stderr)
    return merged
