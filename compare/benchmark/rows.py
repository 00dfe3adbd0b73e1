"""What one benchmark row is: a model at one sequence length, and the compare-train config that builds it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from compare.config import CONF_DIR

#: Benchmark model name -> overrides of the Hydra config that build it. A row whose config group or key is not
#: in this checkout's conf/model is left out of ``bench_models`` (see ``unavailable_reason``).
MODELS = {
    "lstm": ["model=lstm"],
    "gru": ["model=gru"],
    "rnn": ["model=rnn"],
    "transformer-sdpa": ["model=transformer", "model.attention=sdpa", "model.pos_encoding=sinusoidal"],
    "transformer-explicit": ["model=transformer", "model.attention=explicit", "model.pos_encoding=sinusoidal"],
    "mingru": ["model=mingru"],
    "minlstm": ["model=minlstm"],
    "linear-attention": ["model=linear_attention"],
    "mamba": ["model=mamba"],
    "deltanet": ["model=deltanet"],
    # A fixed window of 256 tokens: at T <= 256 it is plain causal attention (the flash kernel); beyond, a mask
    # (the memory-efficient kernel), so the rows show what a window costs as the sequence outgrows it.
    "transformer-window": ["model=transformer", "model.attention=sdpa", "model.pos_encoding=sinusoidal",
                           "model.window=256"],
}


def _model_group(overrides: list[str]) -> str:
    return next(o.split("=", 1)[1] for o in overrides if o.startswith("model="))


def unavailable_reason(name: str) -> str | None:
    """Why the MODELS row ``name`` cannot be built from this checkout's conf/model (None when it can)."""
    overrides = MODELS[name]
    group = _model_group(overrides)
    path = Path(CONF_DIR) / "model" / f"{group}.yaml"
    if not path.is_file():
        return f"conf/model/{group}.yaml does not exist"
    keys = set(OmegaConf.load(path).keys())
    missing = [o.split("=", 1)[0] for o in overrides if o.startswith("model.")
               and o.split("=", 1)[0].removeprefix("model.") not in keys]
    return f"conf/model/{group}.yaml has no key {', '.join(missing)}" if missing else None


def bench_models() -> dict[str, list[str]]:
    """Every model this checkout can build: the available MODELS rows, then each conf/model/*.yaml no row uses."""
    out = {name: overrides for name, overrides in MODELS.items() if unavailable_reason(name) is None}
    covered = {_model_group(o) for o in MODELS.values()}
    for path in sorted((Path(CONF_DIR) / "model").glob("*.yaml")):
        if path.stem not in covered:
            out[path.stem] = [f"model={path.stem}"]
    return out


def model_overrides(name: str) -> list[str]:
    """The overrides that build bench model ``name`` (a MODELS row, or a conf/model yaml no row names)."""
    if name in MODELS:
        return MODELS[name]
    if (Path(CONF_DIR) / "model" / f"{name}.yaml").is_file():
        return [f"model={name}"]
    raise KeyError(name)


@dataclass
class RowSpec:
    """One benchmark row: a model at one sequence length, and how to time it."""

    model: str
    seq_len: int
    tokens_per_batch: int
    steps: int
    warmup: int
    pairs: int
    trainer: str
    overrides: list[str] = field(default_factory=list)
    compile: bool = False
    peak_flops: float | None = None
    threads: int | None = None
    #: torch.compile backend of the compiled arm; None is torch's default (inductor). The GPU suite's --smoke uses
    #: "eager": the same dynamo tracing without inductor's C++ build, which takes minutes on a small CPU.
    compile_backend: str | None = None


def row_overrides(overrides: list[str], model: str) -> list[str]:
    """The overrides for one bench model: plain ones apply to every row, ``MODEL:key=value`` to that model only."""
    out = []
    for o in overrides:
        name, sep, rest = o.partition(":")
        if sep and "=" not in name and (name in MODELS or (Path(CONF_DIR) / "model" / f"{name}.yaml").is_file()):
            if name == model:
                out.append(rest)
        else:
            out.append(o)
    return out


#: The keys compose_config sets per row. Composing takes 0.5-2 s on a small CPU (the GPU suite composes hundreds of
#: rows), so a composition of the same model, trainer and overrides is reused with only these keys set again.
ROW_KEYS = ("task.length", "data.batch_size", "trainer.max_steps", "callbacks.throughput.warmup_steps", "output_dir",
            "model.compile")

_COMPOSED: dict[tuple, DictConfig] = {}


def compose_config(spec: RowSpec, out_dir: str, *, compile: bool = False) -> DictConfig:
    """The Hydra config of a ``compare-train`` run for this row, with validation, checkpoints and the after-training
    attention maps off (none of them runs inside the timed steps)."""
    batch_size = max(1, spec.tokens_per_batch // spec.seq_len)
    row = {"task.length": spec.seq_len // 2, "data.batch_size": batch_size,
           "trainer.max_steps": spec.warmup + spec.steps, "callbacks.throughput.warmup_steps": spec.warmup,
           "output_dir": out_dir, "model.compile": compile}
    extra = row_overrides(spec.overrides, spec.model)
    key = (tuple(model_overrides(spec.model)), spec.trainer, tuple(extra))
    # An extra override of a row key must win as it does on Hydra's command line: compose afresh then.
    reusable = not any(o.lstrip("+~").split("=", 1)[0] in ROW_KEYS for o in extra)
    if reusable and key in _COMPOSED:
        cfg = copy.deepcopy(_COMPOSED[key])
        for name, value in row.items():
            OmegaConf.update(cfg, name, value, merge=False)
        return fixed_length(cfg, extra)
    overrides = [
        *model_overrides(spec.model), "task=copy", f"task.length={row['task.length']}", f"data.batch_size={batch_size}",
        f"trainer={spec.trainer}", f"trainer.max_steps={spec.warmup + spec.steps}", "++trainer.limit_val_batches=0",
        "~callbacks.checkpoint", "~callbacks.length_ladder", "~callbacks.attention",
        f"callbacks.throughput.warmup_steps={spec.warmup}", f"output_dir={out_dir}", "progress_bar=none",
        f"model.compile={str(compile).lower()}", *extra,
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    if reusable:
        _COMPOSED[key] = copy.deepcopy(cfg)
    return fixed_length(cfg, extra)


def fixed_length(cfg: DictConfig, extra: list[str]) -> DictConfig:
    """Every training batch of a row at the row's length: a task that draws a length per batch from
    [min_length, length] would otherwise time a mix of shorter sequences (unless an override asks for one)."""
    if "min_length" in cfg.task and not any(o.lstrip("+~").startswith("task.min_length=") for o in extra):
        cfg.task.min_length = cfg.task.length
    return cfg
