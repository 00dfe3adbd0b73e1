"""One input through every model of a task group: answer, probability, influence, attention, and for a task
that can move its deciding fact back (``Task.supports_distractors``) the confidence curve as it moves. The
task parses the text and words the answer (``Task.parse_text``, ``Task.format_answer``); no web code here:
the page (app.py) only draws it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import Tensor

from compare.errors import UserError, error_message
from compare.live.influence import attention_maps, gradient_x_input
from compare.live.runs import LiveModel, TaskGroup
from compare.tasks.live_input import FILL, GENERATE, LiveInput

log = logging.getLogger("compare")

#: The "move the fact back" control inserts up to this many sentences (the curve is drawn over all of them).
MAX_DISTRACTORS = 12


@dataclass
class ModelView:
    """What one model makes of one input."""

    model: LiveModel
    error: str | None = None
    warning: str | None = None
    tokens: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    answer: list[int] = field(default_factory=list)
    answer_text: str = ""
    prob: float | None = None
    correct: bool | None = None
    # The output explained by influence and by the highlighted attention row.
    query: int = 0
    influence: list[float] = field(default_factory=list)
    attention: list[Tensor] | None = None
    # What the model keeps while reading (SequenceModel.trace): {series name: one value per token}.
    trace: dict[str, list[float]] = field(default_factory=dict)
    # Text models (Task.samples_text): the next token's most likely values after the input, and a sampled text.
    next_tokens: list[tuple[str, float]] = field(default_factory=list)
    sample: str | None = None


@dataclass(frozen=True)
class Sampling:
    """How a text model's next token is drawn: logits / temperature, then only the ``top_k`` most likely (0: all)."""

    temperature: float = 1.0
    top_k: int = 0
    length: int = 60
    seed: int = 0

    def distribution(self, logits: Tensor) -> Tensor:
        """The next-token probabilities after temperature and top-k."""
        if self.temperature <= 0:
            raise UserError(f"temperature {self.temperature} is not accepted: it must be > 0")
        probs = (logits.float() / self.temperature).softmax(-1)
        if 0 < self.top_k < probs.numel():
            kept = probs.topk(self.top_k)
            probs = torch.zeros_like(probs).scatter(-1, kept.indices, kept.values)
            probs = probs / probs.sum()
        return probs


@dataclass
class Analysis:
    """One input, parsed once, and every model's view of it."""

    live: LiveInput
    views: list[ModelView]


@dataclass
class Curve:
    """Confidence in the right answer against the fact's distance to the question, per model."""

    distances: list[int]
    probs: dict[str, list[float | None]]
    current: int
    note: str | None = None


def too_long(model: LiveModel, n: int) -> str | None:
    """The message for an input the model's position table cannot hold, else None."""
    limit = model.max_tokens
    if limit is not None and n > limit:
        return (f"this input has {n} tokens, but this {model.kind} has a learned position table of {limit} "
                f"positions: it cannot read past position {limit}")
    return None


def length_warning(model: LiveModel, n: int) -> str | None:
    """A note when the input is longer than anything the model trained on (it answers, but may be off)."""
    trained = model.task.sequence_length(model.task.length)
    if n > trained:
        return f"{n} tokens: longer than the {trained} it trained on"
    return None


@torch.no_grad()
def answer(model: LiveModel, live: LiveInput) -> tuple[list[int], list[int], list[float]]:
    """(tokens fed, answer tokens, probability of each) — generating the copy one symbol at a time if needed."""
    net = model.model
    if live.kind == FILL:  # read at once at the blanks that end the input, as far as the rule's answer goes
        probs = net(torch.tensor([live.tokens]))[0, live.answer_at:].float().softmax(-1)
        probs = probs[:len(live.expected)] if live.expected is not None else probs
        best = probs.argmax(-1)
        return list(live.tokens), best.tolist(), probs.gather(-1, best[:, None])[:, 0].tolist()
    if live.kind != GENERATE:
        probs = net(torch.tensor([live.tokens]))[0, -1].float().softmax(-1)
        best = int(probs.argmax())
        return list(live.tokens), [best], [float(probs[best])]
    seq, out, ps = list(live.tokens), [], []
    for _ in range(len(live.tokens) - 1):  # as many symbols as were given
        probs = net(torch.tensor([seq]))[0, -1].float().softmax(-1)
        best = int(probs.argmax())
        out.append(best)
        ps.append(float(probs[best]))
        seq.append(best)
    return seq[:-1], out, ps  # the last symbol is never read back, as in training


#: The next-token distribution shows this many of the most likely tokens.
SHOWN_NEXT = 10


@torch.no_grad()
def sample_text(model: LiveModel, tokens: list[int], sampling: Sampling) -> tuple[list[tuple[str, float]], list[int]]:
    """(the SHOWN_NEXT most likely next tokens with their probability, a continuation of ``sampling.length``
    tokens drawn from the model with ``sampling.seed``), stopping early at the end of a position table."""
    net, names = model.model, model.task.token_names()
    first = sampling.distribution(net(torch.tensor([tokens]))[0, -1])
    top = first.topk(min(SHOWN_NEXT, int((first > 0).sum())))
    shown = [(names[i], float(p)) for p, i in zip(top.values.tolist(), top.indices.tolist())]
    generator = torch.Generator().manual_seed(sampling.seed)
    seq, out = list(tokens), []
    for step in range(sampling.length):
        if model.max_tokens is not None and len(seq) >= model.max_tokens:
            break
        probs = first if step == 0 else sampling.distribution(net(torch.tensor([seq]))[0, -1])
        nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        seq.append(nxt)
    return shown, out


def view(model: LiveModel, live: LiveInput, position: int = 1, sampling: Sampling | None = None) -> ModelView:
    """One model on one input; ``position`` picks which symbol of a string answer to explain (copy, FILL; from 1);
    ``sampling`` draws a text model's continuation."""
    v = ModelView(model)
    try:
        n = len(live.tokens) + (len(live.tokens) - 2 if live.kind == GENERATE else 0)
        if (msg := too_long(model, n)) is not None:
            raise UserError(msg)
        v.warning = length_warning(model, n)
        v.tokens, v.answer, probs = answer(model, live)
        names = model.task.token_names()
        v.names = [names[t] for t in v.tokens]
        v.answer_text = model.task.format_answer(v.answer)
        v.prob = float(torch.tensor(probs).prod())
        if live.expected is not None:
            v.correct = v.answer == live.expected
        k = min(max(position, 1), len(v.answer)) - 1
        v.query = {GENERATE: len(live.tokens) - 1 + k,
                   FILL: (live.answer_at or 0) + k}.get(live.kind, len(v.tokens) - 1)
        v.influence = gradient_x_input(model.model, v.tokens, v.query, v.answer[k]).tolist()
        v.attention = attention_maps(model.model, v.tokens)
        v.trace = keeps(model, v.tokens)
        if sampling is not None and model.task.samples_text:
            v.next_tokens, drawn = sample_text(model, v.tokens, sampling)
            v.sample = model.task.format_tokens(drawn)
    except UserError as e:
        v.error = str(e)
    except Exception as e:  # a model that breaks on an input must not take the page down
        log.exception("compare-lab: %s failed on this input", model.name)
        v.error = f"this model failed on this input ({error_message(e)}); the server log has the traceback"
    return v


def keeps(model: LiveModel, tokens: list[int]) -> dict[str, list[float]]:
    """The model's own account of what it keeps per token (SequenceModel.trace); {} if it fails (logged)."""
    try:
        with torch.no_grad():
            return model.model.trace(torch.tensor(tokens))
    except Exception:  # an optional view: the answer and influence still show
        log.exception("compare-lab: %s: trace failed on this input", model.name)
        return {}


def analyse(group: TaskGroup, text: str, distractors: int = 0, position: int = 1,
            sampling: Sampling | None = None) -> Analysis:
    """Parse ``text`` once (UserError if it does not parse) and run every model of ``group`` on it."""
    live = group.task.parse_text(text, distractors)
    return Analysis(live, [view(m, live, position, sampling) for m in group.models])


@torch.no_grad()
def right_answer_prob(model: LiveModel, live: LiveInput) -> float | None:
    """The probability the model gives the rule's answer, or None where it cannot read the input."""
    if live.expected is None or too_long(model, len(live.tokens)):
        return None
    probs = model.model(torch.tensor([live.tokens]))[0, -1].float().softmax(-1)
    return float(probs[live.expected[0]])


def distance_curve(group: TaskGroup, text: str, current: int = 0, most: int = MAX_DISTRACTORS) -> Curve | None:
    """Each model's confidence in the right answer with 0..``most`` distractors before the question; None for a
    task that cannot move its deciding fact back."""
    if not group.task.supports_distractors:
        return None
    lives = [group.task.parse_text(text, k) for k in range(most + 1)]
    first = lives[0]
    if first.fact_span is None:
        return Curve([], {}, current, first.note)
    distances = [live.question_at - live.fact_span[0] for live in lives]
    probs = {}
    for m in group.models:
        key = m.name if sum(o.kind == m.kind for o in group.models) > 1 else m.kind
        probs[key] = [right_answer_prob(m, live) for live in lives]
    return Curve(distances, probs, current)
