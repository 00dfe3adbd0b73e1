"""The model contract: what every model in :mod:`compare.models` provides, and what it may.

Evaluation, the config checks, the dashboards, ``compare-lab`` and ``compare-bench`` read a model only
through the parts listed on :class:`SequenceModel`, so a new model that honours it runs everywhere.
``build_model`` calls :func:`check_model_contract` on every model it builds, so a model that forgets a part
fails before training with a message naming the part.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod

from torch import Tensor, nn

from compare.errors import UserError

#: The keys of ``mechanism(length)``, in the order the results row and the report show them.
MECHANISM_KEYS = ("parallel_over_time", "sequential_depth", "state_size")


class SequenceModel(nn.Module, ABC):
    """Token ids (batch, time) in, logits (batch, time, vocab) out; the base of every model in compare.models.

    Required:

    - ``name``: a str (``"lstm"``, ``"transformer"``), as a class attribute or set in ``__init__``; results
      rows, dashboards and the lab label the model by it.
    - ``forward(tokens) -> logits``: (batch, time) long ids -> (batch, time, vocab) logits.
    - ``mechanism(length) -> dict``: for one forward pass over ``length`` tokens, ``parallel_over_time`` (bool),
      ``sequential_depth`` (steps that must run one after another) and ``state_size`` (numbers carried per
      sequence while reading); every results row and the report's mechanism table hold them.
    - ``max_positions``: the longest sequence it can read (an int), or None for any length; longer ladder
      lengths are reported unsupported, and a training length beyond it is an error before training.
    - ``embed``: the ``nn.Embedding`` of token ids; compare-lab's influence differentiates through its output.

    Optional (the defaults below say "not provided"):

    - ``returns_attention = True`` with ``forward(tokens, return_attention=True) -> (logits, maps)``, maps one
      (batch, heads, time, time) tensor per layer, and ``attention_layout -> (layers, heads)``, which sizes
      the lab's layer and head sliders.
    - ``settings() -> dict``: the shape settings that tell runs of this model apart (TensorBoard's HParams).
    - ``runs_sdpa``: True when forward runs torch's scaled_dot_product_attention (compare-bench then reports
      which kernel ran).
    - ``trace(tokens) -> {series name: [one float per token]}``: what the model keeps and drops while reading one
      sequence, e.g. a gate's mean over units and the state's norm after each token; compare-lab draws each
      series under the input. A series whose name holds "gate" lies in [0, 1]. The default, {}, shows nothing.
    - ``analytic_flops(length) -> dict``: {submodule name: FLOPs of one forward and backward pass over one
      sequence of ``length`` tokens} for layers whose kernels torch's FlopCounterMode cannot see (a fused cuDNN or
      oneDNN recurrence); the training-compute count uses these in place of what it counted inside them
      (:mod:`compare.training.flops`). Plain PyTorch matmuls, einsums and attention are counted without it.
    """

    name: str
    max_positions: int | None
    embed: nn.Embedding
    returns_attention: bool = False

    @property
    def runs_sdpa(self) -> bool:
        """Whether forward runs ``F.scaled_dot_product_attention``."""
        return False

    @abstractmethod
    def forward(self, tokens: Tensor) -> Tensor:
        """Logits (batch, time, vocab) for token ids (batch, time)."""

    @abstractmethod
    def mechanism(self, length: int) -> dict:
        """``parallel_over_time``, ``sequential_depth`` and ``state_size`` of one pass over ``length`` tokens."""

    @property
    def attention_layout(self) -> tuple[int, int] | None:
        """(layers, heads) of the attention maps forward can return, or None when it returns none."""
        return None

    def settings(self) -> dict:
        """Shape settings (name -> int, float, str, bool or None) shown beside the run in TensorBoard."""
        return {}

    def trace(self, tokens: Tensor) -> dict[str, list[float]]:  # noqa: ARG002 - the default shows nothing
        """Per-token series of what the model keeps while reading ``tokens`` (one sequence, (time,) or (1, time)),
        in the order to show them; {} when the model has none to show."""
        return {}

    def analytic_flops(self, length: int) -> dict[str, int]:
        """{submodule name: forward+backward FLOPs over ``length`` tokens} for layers the FLOP counter cannot see."""
        return {}


def _missing(model: nn.Module, attr: str) -> bool:
    try:
        getattr(model, attr)
    except AttributeError:
        return True
    return False


def contract_problems(model: nn.Module) -> list[str]:
    """One sentence for every part of the contract ``model`` lacks or gets wrong; empty when it honours it."""
    problems = []
    if not isinstance(model, SequenceModel):
        problems.append("it does not derive from compare.models.SequenceModel")
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name:
        problems.append("name: missing (a str such as 'lstm', a class attribute or set in __init__)" if name is None
                        else f"name={name!r} is not a non-empty str")
    if type(model).forward is nn.Module.forward:
        problems.append("forward(tokens) -> logits (batch, time, vocab): missing")
    if _missing(model, "max_positions"):
        problems.append("max_positions: missing (the longest sequence it reads, an int >= 1, or None for any length)")
    else:
        limit = model.max_positions
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            problems.append(f"max_positions={limit!r} is neither an int >= 1 nor None")
    embed = getattr(model, "embed", None)
    if not isinstance(embed, nn.Embedding):
        problems.append("embed: missing (the nn.Embedding of token ids that influence differentiates through)"
                        if embed is None else f"embed is a {type(embed).__name__}, not an nn.Embedding")
    problems += _mechanism_problems(model)
    problems += _attention_problems(model)
    return problems


def _mechanism_problems(model: nn.Module) -> list[str]:
    mechanism = getattr(model, "mechanism", None)
    if not callable(mechanism):
        return [f"mechanism(length) -> {{{', '.join(MECHANISM_KEYS)}}}: missing"]
    try:
        got = mechanism(1)
    except Exception as e:  # noqa: BLE001 - any failure is the model's, reported by name
        return [f"mechanism(1) raised {type(e).__name__}: {e}"]
    if not isinstance(got, dict) or set(got) != set(MECHANISM_KEYS):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        return [f"mechanism(1) returned {keys}, not a dict of exactly {', '.join(MECHANISM_KEYS)}"]
    return []


def _attention_problems(model: nn.Module) -> list[str]:
    claims = getattr(model, "returns_attention", False)
    if not isinstance(claims, bool):
        return [f"returns_attention={claims!r} is not a bool"]
    if not claims:
        return []
    problems = []
    if "return_attention" not in inspect.signature(model.forward).parameters:
        problems.append("returns_attention is True but forward takes no return_attention argument")
    layout = getattr(model, "attention_layout", None)
    if not (isinstance(layout, tuple) and len(layout) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in layout)):
        problems.append(f"returns_attention is True but attention_layout={layout!r} is not (layers, heads) of "
                        f"ints >= 1")
    return problems


def check_model_contract(model: nn.Module) -> None:
    """UserError naming every part of the model contract (:class:`SequenceModel`) that ``model`` lacks."""
    problems = contract_problems(model)
    if problems:
        raise UserError(f"{type(model).__name__} does not honour the model contract (compare.models.SequenceModel): "
                        + "; ".join(problems))
