"""compare-report: the report of a run or a sweep, in DIR/report/.

    compare-report multirun/2026-11-23_08-30-00
    compare-report outputs/copy/transformer_L16_2026-11-23_08-00-00

Writes results.csv (one row per run), figures/*.png, report.md, a self-contained report.html and
tb/ (TensorBoard: a custom-scalars layout with one chart per task and the figures as images). The same
report is built at the end of every multirun by ``ReportCallback`` (registered in conf/hydra/default.yaml).
Failed, unfinished and unreadable runs are listed, never dropped.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from compare.cli import reported_errors
from compare.errors import UserError
from compare.findings import accuracy_sentences, cells_of, cost_sentence, run_summary_sentence, slice_sentences
from compare.results import RESULTS_FILE, atomic_write_bytes, atomic_write_text, new_file_mode
from compare.run_records import RunRecord, load_runs
from compare.tensorboard_tags import task_tag
from compare.viz import figures
from compare.viz.report_page import to_html, to_markdown

log = logging.getLogger("compare")

REPORT_DIR = "report"
CSV_COLUMNS = ["run", "status", "task", "model", "train_length", "seed", "params", "steps", "val_seq_acc",
               "val_token_acc", "val_loss", "train_tokens_per_s", "step_time_s", "peak_mem_mb", "wall_s", "device"]


def device_of(row: dict) -> str:
    """The accelerator a row was trained on, from its config."""
    return str(((row.get("config") or {}).get("trainer") or {}).get("accelerator") or "unknown")


def results_csv(records: list[RunRecord]) -> str:
    """One line per run; accuracy at each evaluated length in its own column (empty = not evaluated)."""
    lengths = sorted({int(p["length"]) for r in records if r.row for p in r.row.get("ladder") or []})
    extra = sorted({k for r in records if r.row for k, v in (r.row.get("task_metrics") or {}).items()
                    if isinstance(v, (int, float, str, bool))})
    columns = (CSV_COLUMNS + [f"seq_acc@{L}" for L in lengths] + [f"task.{k}" for k in extra]
               + ["unsupported_lengths", "problem", "path"])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        row = r.row or {}
        line: dict[str, Any] = {k: row.get(k) for k in CSV_COLUMNS if k in row}
        line.update(run=r.name, status=r.status, problem=r.problem or "", path=str(r.path))
        if r.row:
            line["device"] = device_of(row)
            for p in row.get("ladder") or []:
                line[f"seq_acc@{p['length']}"] = "unsupported" if not p.get("supported", True) else p.get("seq_acc")
            for k in extra:
                line[f"task.{k}"] = (row.get("task_metrics") or {}).get(k)
            line["unsupported_lengths"] = " ".join(str(x) for x in row.get("unsupported_lengths") or [])
        writer.writerow(line)
    return buf.getvalue()


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def _fmt(x, digits=2):
    return "" if x is None else f"{x:.{digits}f}"


def build_figures(records: list[RunRecord], fig_dir: Path) -> dict[str, str]:
    """Write every figure as PNG under ``fig_dir``; returns file name -> caption, in report order."""
    made: dict[str, str] = {}
    rows = [r.row for r in records if r.usable]
    cells = cells_of(rows)

    def save(name: str, fig, caption: str) -> None:
        atomic_write_bytes(fig_dir / name, figures.png_bytes(fig))
        made[name] = caption

    for task in sorted(cells):
        curves = {}
        for model, by_len in cells[task].items():
            for L, cell in by_len.items():
                ladder = cell.ladder()
                if ladder:
                    curves.setdefault(L, {})[model] = ladder
        if curves:
            save(f"accuracy_vs_length_{task}.png", figures.accuracy_vs_length(task, curves),
                 f"{task}: exact-sequence accuracy against evaluated length, one panel per training length. "
                 "Shaded: lengths up to the training length; hollow markers on dashed lines: extrapolation; "
                 "× on the axis: a length the model cannot take.")
        axes = sorted({a for ms in cells[task].values() for c in ms.values() for a in c.slices()})
        for axis in axes:
            by = {}
            for model, by_len in cells[task].items():
                for L, cell in by_len.items():
                    if cell.slices().get(axis):
                        by.setdefault(L, {})[model] = cell.slices()[axis]
            save(f"accuracy_by_{axis}_{task}.png", figures.accuracy_by_slice(task, axis, by),
                 f"{task}: exact-sequence accuracy at the training length by {axis.replace('_', ' ')}.")
        val = {}
        for r in records:
            if r.usable and r.row["task"] == task and r.val_curve:
                val.setdefault(int(r.row["train_length"]), {}).setdefault(r.row["model"], []).append(r.val_curve)
        if val:
            save(f"validation_curves_{task}.png", figures.validation_curves(task, val),
                 f"{task}: validation exact-sequence accuracy over training steps (from each run's TensorBoard events).")

    def per_task(attr):
        return {t: {m: [(L, getattr(c, attr)) for L, c in by_len.items()] for m, by_len in ms.items()}
                for t, ms in cells.items()}

    if cells:
        save("accuracy_at_train_length.png",
             figures.metric_vs_train_length(per_task("val_seq_acc"), "exact-sequence accuracy",
                                            "Accuracy at the training length", ylim=(-0.05, 1.05)),
             "Validation exact-sequence accuracy at the length each run was trained on, one line per model.")
        if any(c.tokens_per_s for ms in cells.values() for by_len in ms.values() for c in by_len.values()):
            save("throughput_vs_length.png",
                 figures.metric_vs_train_length(per_task("tokens_per_s"), "training tokens / s",
                                                "Training throughput"),
                 "Training throughput (tokens per second, validation excluded) against training length.")
        if any(c.peak_mem_mb for ms in cells.values() for by_len in ms.values() for c in by_len.values()):
            save("peak_memory_vs_length.png",
                 figures.metric_vs_train_length(per_task("peak_mem_mb"), "peak memory (MB)", "Peak memory"),
                 "Peak memory during training against training length.")
    return made


def report_blocks(records: list[RunRecord], root: Path, out: Path, made: dict[str, str],
                  solved: float) -> list[tuple]:
    """The report's content, computed from the runs."""
    rows = [r.row for r in records if r.usable]
    cells = cells_of(rows)
    devices = sorted({device_of(r) for r in rows}) or ["unknown"]
    device = "/".join(devices)
    blocks: list[tuple] = [("h1", f"compare report: {root.resolve().name}"),
                           ("p", f"Built by compare-report from the results.json of each run under {root}. "
                                 + run_summary_sentence([r.status for r in records]))]
    sentences = []
    for task in sorted(cells):
        sentences += accuracy_sentences(task, cells[task], solved)
        sentences += slice_sentences(task, cells[task])
    for task in sorted(cells):
        for what in ("throughput", "memory"):
            s = cost_sentence(task, cells[task], what, device)
            if s:
                sentences.append(s)
    if "cpu" in devices and any(r.get("peak_mem_mb") for r in rows):
        sentences.append("On CPU, peak memory is the training process's peak resident set size; jobs run one "
                         "after another in one process (Hydra's basic launcher) carry over the peaks of earlier jobs.")
    blocks.append(("h2", "What the results show"))
    blocks.append(("list", sentences) if sentences else ("p", "No run has finished yet, so there is nothing to compare."))

    for task in sorted(cells):
        blocks.append(("h2", f"Task: {task}"))
        for name in made:
            if name.endswith(f"_{task}.png") and not name.startswith("validation_curves_"):
                blocks.append(("figure", name, made[name]))
        if f"validation_curves_{task}.png" in made:
            blocks.append(("figure", f"validation_curves_{task}.png", made[f"validation_curves_{task}.png"]))
        lengths = sorted({p["length"] for ms in cells[task].values() for c in ms.values() for p in c.ladder()})
        table = []
        for model in sorted(cells[task]):
            for L, c in sorted(cells[task][model].items()):
                acc = {p["length"]: p for p in c.ladder()}
                table.append([model, L, c.seeds, _fmt(c.val_seq_acc)]
                             + [("—" if acc[x]["seq_acc"] is None else _fmt(acc[x]["seq_acc"])) if x in acc else ""
                                for x in lengths])
        blocks.append(("table", ["model", "train length", "seeds", "val exact acc"] + [f"@{x}" for x in lengths], table))
        blocks.append(("p", "@N: exact-sequence accuracy at evaluated length N; — : the model cannot take that length."))
        metric_names = sorted({k for ms in cells[task].values() for c in ms.values() for k in c.task_metrics()})
        if metric_names:
            blocks.append(("h3", f"Task-specific metrics ({task})"))
            blocks.append(("table", ["model", "train length"] + metric_names,
                           [[model, L] + [_fmt(c.task_metrics().get(k), 4) for k in metric_names]
                            for model in sorted(cells[task]) for L, c in sorted(cells[task][model].items())]))

    for name in ("accuracy_at_train_length.png", "throughput_vs_length.png", "peak_memory_vs_length.png"):
        if name in made:
            if name == "accuracy_at_train_length.png":
                blocks.append(("h2", "Across training lengths"))
            elif name == "throughput_vs_length.png":
                blocks.append(("h2", f"Cost ({device})"))
            blocks.append(("figure", name, made[name]))

    explorers = [r for r in records if (r.path / "attention.html").is_file()]
    if explorers:
        blocks.append(("h2", "Attention explorers"))
        blocks.append(("p", "Attention of every layer and head on the task's probe example (sliders for layer and head; "
                            "hover a cell for its weight):"))
        blocks.append(("links", [(r.name, _relative(r.path / "attention.html", out)) for r in explorers]))

    blocks.append(("h2", "Runs that did not finish"))
    bad = [r for r in records if not r.usable]
    if bad:
        blocks.append(("table", ["run", "status", "problem"],
                       [[r.name, r.status, r.problem or ""] for r in bad]))
    else:
        blocks.append(("p", "None: every run finished."))

    blocks.append(("h2", "All runs"))
    blocks.append(("table", ["run", "status", "task", "model", "train length", "params", "steps", "val exact acc",
                             "tokens/s", "peak MB", "wall s"],
                   [[r.name, r.status, (r.row or {}).get("task") or "", (r.row or {}).get("model") or "",
                     (r.row or {}).get("train_length") or "", (r.row or {}).get("params") or "",
                     (r.row or {}).get("steps") or "", _fmt((r.row or {}).get("val_seq_acc")),
                     _fmt((r.row or {}).get("train_tokens_per_s"), 0), _fmt((r.row or {}).get("peak_mem_mb"), 0),
                     _fmt((r.row or {}).get("wall_s"), 1)] for r in records]))
    return blocks


def build_report(root: str | Path, out: str | Path | None = None, warn=None, solved: float = 0.9) -> Path:
    """Build DIR/report/ (or ``out``) for the run or sweep at ``root``; returns the path of report.html.

    Raises UserError when there is no run at all; problems with single runs go to ``warn`` and into the report.
    """
    root = Path(root)
    records = load_runs(root, warn)
    out = Path(out) if out else root / REPORT_DIR
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.csv", results_csv(records))
    made = build_figures(records, fig_dir)
    for stale in fig_dir.glob("*.png"):
        if stale.name not in made:
            stale.unlink()
    blocks = report_blocks(records, root, out, made, solved)
    atomic_write_text(out / "report.md", to_markdown(blocks))
    atomic_write_text(out / "report.html", to_html(blocks, fig_dir, f"compare report: {root.resolve().name}"))
    write_dashboard(out / "tb", sorted({r.row["task"] for r in records if r.usable}), fig_dir, made)
    return out / "report.html"


def custom_scalars_layout(tasks: list[str]) -> dict:
    """One category per task; each chart holds every run (model × length) of that task."""
    def only(tag: str) -> list[str]:
        return [f"^{re.escape(tag)}$"]  # chart tags are regexes

    return {task: {
        "validation exact-sequence accuracy over steps": ["Multiline", only(task_tag(task, "val_seq_acc"))],
        "validation loss over steps": ["Multiline", only(task_tag(task, "val_loss"))],
        "exact-sequence accuracy vs evaluated length (step = length)": ["Multiline", only(task_tag(task, "seq_acc_vs_length"))],
    } for task in tasks}


def write_dashboard(tb_dir: Path, tasks: list[str], fig_dir: Path, made: dict[str, str]) -> None:
    """TensorBoard run ``report/tb``: the custom-scalars layout and the report's figures as images.

    Written to a fresh folder and swapped in, so a rebuilt report replaces the old events instead of adding to them.
    """
    import matplotlib.image as mpimg
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    tb_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=tb_dir.parent, prefix=".tb."))
    try:
        tmp.chmod(new_file_mode() | 0o111)  # mkdtemp makes 0700
        writer = SummaryWriter(log_dir=str(tmp))
        if tasks:
            writer.add_custom_scalars(custom_scalars_layout(tasks))
        for name in made:
            img = mpimg.imread(io.BytesIO((fig_dir / name).read_bytes()), format="png")
            rgb = (np.asarray(img)[..., :3] * 255).astype(np.uint8)
            writer.add_image(f"report/{Path(name).stem}", rgb, global_step=0, dataformats="HWC")
        writer.close()
        if tb_dir.exists():
            shutil.rmtree(tb_dir)
        tmp.rename(tb_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def sweep_has_failures(root: Path) -> bool:
    """True when any run under ``root`` has a results row whose status is not ok (or cannot be read)."""
    for path in root.glob(f"*/{RESULTS_FILE}"):
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("status") != "ok":
                return True
        except (OSError, ValueError, AttributeError):
            return True
    return False


class ReportCallback(Callback):
    """Hydra callback: build the sweep's report when a multirun ends (a failure here never fails the sweep).

    Hydra skips ``on_multirun_end`` when a job failed (its sweeper re-raises the failure first), so once a
    sweep has a failed run the report is rebuilt after every job instead: the last job leaves it complete.
    """

    def __init__(self, enabled: bool = True, solved: float = 0.9) -> None:
        self.enabled = enabled
        self.solved = solved

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if not self.enabled or HydraConfig.get().mode != RunMode.MULTIRUN:
            return
        root = Path(HydraConfig.get().sweep.dir)
        if job_return.status == JobStatus.FAILED or sweep_has_failures(root):
            self.build(root)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.enabled:
            self.build(Path(config.hydra.sweep.dir))

    def build(self, root: Path) -> None:
        """Build the report of ``root``; errors are printed, never raised into Hydra."""
        try:
            path = build_report(root, warn=lambda m: log.warning("compare-report: warning: %s", m), solved=self.solved)
            log.info("compare-report: wrote %s", path)
        except UserError as e:
            print(f"compare-report: error: {e}", file=sys.stderr)
        except Exception as e:  # the sweep's results are on disk; compare-report DIR can be run again by hand
            log.exception("compare-report: could not build the report of %s", root)
            print(f"compare-report: error: could not build the report of {root}: {type(e).__name__}: {e}",
                  file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Console script ``compare-report``: prints the path of report.html; errors as ``compare-report: error: ...``."""
    parser = argparse.ArgumentParser(prog="compare-report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a run dir or a sweep dir (multirun/<time>)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report (default: DIR/report)")
    parser.add_argument("--solved", type=float, default=0.9,
                        help="exact-sequence accuracy at which a length counts as solved (default 0.9)")
    args = parser.parse_args(argv)
    with reported_errors("compare-report"):
        if not 0.0 < args.solved <= 1.0:
            raise UserError(f"--solved={args.solved} is not accepted: it must be in (0, 1]")
        path = build_report(args.dir, args.out, warn=lambda m: print(f"compare-report: warning: {m}", file=sys.stderr),
                            solved=args.solved)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
