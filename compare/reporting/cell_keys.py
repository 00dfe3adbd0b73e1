"""What makes runs one cell: their resolved configs are equal once the seed and ``SET_ASIDE`` are left out.

A report pools runs as seeds of one cell only when every compared setting is equal, so no table can average
two configurations. Within a task and model, each setting that differs between cells is an *axis*: it is
written into the cell's label (``lstm 2 layers``, ``transformer-rope 400k``), gets its own column in
results.csv, and a numeric one can be put on a figure's x axis. The learning rate is compared apart: cells that
differ only in ``optimizer.lr`` are one learning-rate search, resolved per model on the validation set.
"""

from __future__ import annotations

import json
from collections import defaultdict

#: Config keys (a key and everything below it) that cannot change what a run trains or what it measures, each
#: with the reason. Every other key is compared: runs that differ in it are different cells, never seeds.
SET_ASIDE: dict[str, str] = {
    "seed": "the seed is what a cell pools over",
    "task.seed": "follows seed",
    "output_dir": "where the run writes",
    "resume": "a resumed run ends where an uninterrupted one would",
    "progress_bar": "console output only",
    "threads": "torch threads: the speed of the run, not what it computes (compare tokens/s within one setting)",
    "preemption": "how a run stops on a cluster's signal and continues from its checkpoint",
    "check_finite_every_n_steps": "how often a NaN loss is looked for; a diverged run is never pooled",
    "logger": "where and how curves are logged",
    "plan": "a preset's table of settings (why_attention, recall_frontier): what it sets is compared in task.* "
            "and trainer.*",
    "rung": "a preset's choice of a row of its plan: compared as the task.* and trainer.* settings it picks",
    "size": "a preset's choice of a row of its plan (scaling): compared as the model.param_budget and budget.flops "
            "it picks",
    "trainer.default_root_dir": "where Lightning writes",
    "trainer.enable_model_summary": "console output only",
    "trainer.enable_progress_bar": "console output only",
    "trainer.log_every_n_steps": "how often training curves are logged",
    "trainer.num_sanity_val_steps": "validation batches before training: nothing is trained or scored from them",
    "callbacks.checkpoint.dirpath": "where checkpoints are written",
    "callbacks.checkpoint.filename": "what checkpoints are called",
    "callbacks.checkpoint.auto_insert_metric_name": "what checkpoints are called",
    "callbacks.resume_checkpoint": "the rolling last.ckpt that resume continues from",
    "callbacks.attention": "attention maps drawn after training",
    "callbacks.timeline": "snapshots of the weights kept for compare-lab; training does not read them",
    "callbacks.dashboard": "what the TensorBoard HParams tab shows (it repeats settings compared elsewhere)",
    "callbacks.throughput.log_every_n_steps": "how often throughput is logged",
    "callbacks.length_ladder.batch_size": "batching of the evaluation sets only",
    "data.eval_batch_size": "batching of the evaluation sets only",
    "data.generate_on_device": "where synthetic batches are drawn (CPU or accelerator), not what they hold",
    "model.compile": "torch.compile: the speed of the same model",
    "task.cache_dir": "where the datasets library caches files",
}
#: The learning rate: compared apart, as a learning-rate search over otherwise equal cells.
LR_KEY = "optimizer.lr"

#: Short names of common axes in cell labels (a key not listed is written as ``<last part>=<value>``).
AXIS_TAGS = {
    "model.num_layers": lambda v: f"{v} layer{'s' if v != 1 else ''}",
    "model.param_budget": lambda v: f"{v / 1000:g}k" if isinstance(v, (int, float)) and v >= 1000 else f"{v} params",
    "model.d_model": lambda v: f"d{v}",
    "model.hidden_size": lambda v: f"h{v}",
    "model.n_heads": lambda v: f"{v} head{'s' if v != 1 else ''}",
    "data.batch_size": lambda v: f"batch {v}",
    "trainer.max_steps": lambda v: f"{v} steps",
    "budget.flops": lambda v: f"{v:.3g} FLOPs" if isinstance(v, (int, float)) else f"flops={v}",
    "budget.seconds": lambda v: f"{v:g} s" if isinstance(v, (int, float)) else f"seconds={v}",
}
#: Axes of these groups come first in a label, in this order.
AXIS_ORDER = ("model", "task", "data", "optimizer", "scheduler", "trainer", "budget", "eval", "callbacks")


def is_set_aside(key: str) -> bool:
    """Whether ``key`` (dotted) is ``SET_ASIDE`` or lies below a set-aside key."""
    return any(key == k or key.startswith(k + ".") for k in SET_ASIDE)


def flat_config(config: dict, prefix: str = "") -> dict[str, object]:
    """A nested config as {dotted key: value}; lists and empty dicts are values."""
    out: dict[str, object] = {}
    for k, v in (config or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flat_config(v, key + "."))
        else:
            out[key] = v
    return out


def compared_settings(row: dict) -> dict[str, object]:
    """The settings of a run that decide its cell: its resolved config less the seed, ``SET_ASIDE`` and the
    learning rate."""
    return {k: v for k, v in flat_config(row.get("config") or {}).items()
            if not is_set_aside(k) and k != LR_KEY}


def settings_key(settings: dict[str, object]) -> tuple:
    """A hashable, order-free form of ``settings`` (values compared as JSON: 0.001 and 1e-3 are equal)."""
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in settings.items()))


#: A key a cell's settings do not have (e.g. a ``+key=...`` override given to some runs only).
MISSING = "—"


def find_axes(groups: dict[tuple, list[dict[str, object]]]) -> list[str]:
    """The keys whose values differ between the settings of one group (a group: the cells of one task, model and
    training length); every key that differs within any group is an axis of all of them, in label order."""
    axes: set[str] = set()
    for settings in groups.values():
        if len(settings) < 2:
            continue
        for key in {k for s in settings for k in s}:
            if len({json.dumps(s.get(key, MISSING), sort_keys=True, default=str) for s in settings}) > 1:
                axes.add(key)
    return sorted(axes, key=axis_order)


def axis_order(key: str):
    head = key.split(".", 1)[0]
    return (AXIS_ORDER.index(head) if head in AXIS_ORDER else len(AXIS_ORDER), key)


def axis_tag(key: str, value, axes: list[str]) -> str:
    """How one axis value is written in a label: a short tag for common keys, else ``name=value`` with the last
    part of the key (the whole key when two axes share that last part)."""
    if key in AXIS_TAGS and value is not MISSING:
        return AXIS_TAGS[key](value)
    leaf = key.rsplit(".", 1)[-1]
    name = leaf if sum(a.rsplit(".", 1)[-1] == leaf for a in axes) == 1 else key
    return f"{name}={'null' if value is None else value}"


def cell_label(base: str, values: dict[str, object], axes: list[str]) -> str:
    """``base`` (the model's label) followed by the tag of each axis value, e.g. ``lstm 2 layers 400k``."""
    return " ".join([base] + [axis_tag(k, values.get(k, MISSING), axes) for k in axes if k in values])


def axes_by_model(cells: list[tuple[str, str, int, dict[str, object]]]) -> dict[tuple[str, str], list[str]]:
    """{(task, model label): axes} for cells given as (task, model label, training length, settings)."""
    groups: dict[tuple[str, str], dict[tuple, list]] = defaultdict(lambda: defaultdict(list))
    for task, base, length, settings in cells:
        groups[(task, base)][length].append(settings)
    return {tm: find_axes(by_len) for tm, by_len in groups.items()}
