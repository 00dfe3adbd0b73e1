"""The report's TensorBoard run: a custom-scalars layout with one chart per task, and the figures as images."""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from pathlib import Path

from compare.reporting.tensorboard_tags import task_tag
from compare.runs.atomic import new_file_mode

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
