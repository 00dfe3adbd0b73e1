"""What one benchmark row is: a model at one sequence length, and the compare-train config that builds it."""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from compare.config import CONF_DIR

#: Benchmark model name -> overrides of the Hydra config that build it.
MODELS = {
    "lstm": ["model=lstm"],
    "gru": ["model=gru"],
    "rnn": ["model=rnn"],
    "transformer-sdpa": ["model=transformer", "model.attention=sdpa", "model.pos_encoding=sinusoidal"],
    "transformer-explicit": ["model=transformer", "model.attention=explicit", "model.pos_encoding=sinusoidal"],
}


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


def row_overrides(overrides: list[str], model: str) -> list[str]:
    """The overrides for one bench model: plain ones apply to every row, ``MODEL:key=value`` to that model only."""
    out = []
    for o in overrides:
        name, sep, rest = o.partition(":")
        if sep and name in MODELS and "=" not in name:
            if name == model:
                out.append(rest)
        else:
            out.append(o)
    return out


def compose_config(spec: RowSpec, out_dir: str, *, compile: bool = False) -> DictConfig:
    """The Hydra config of a ``compare-train`` run for this row, with validation and checkpoints off."""
    batch_size = max(1, spec.tokens_per_batch // spec.seq_len)
    overrides = [
        *MODELS[spec.model], "task=copy", f"task.length={spec.seq_len // 2}", f"data.batch_size={batch_size}",
        f"trainer={spec.trainer}", f"trainer.max_steps={spec.warmup + spec.steps}", "++trainer.limit_val_batches=0",
        "~callbacks.checkpoint", "~callbacks.length_ladder", f"callbacks.throughput.warmup_steps={spec.warmup}",
        f"output_dir={out_dir}", "progress_bar=none", f"model.compile={str(compile).lower()}",
        *row_overrides(spec.overrides, spec.model),
    ]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)
