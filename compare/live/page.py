"""What the page does on each event, without the web framework: the Gradio app (app.py) only wires these up.

``Page.update`` is called on every edit and slider move. It never raises: a bad input comes back as a
one-line message (and the last good panels stay), an unexpected failure as a message naming it while the
traceback goes to the server's log.
"""

from __future__ import annotations

import html
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

from compare.errors import UserError, error_message
from compare.live import render
from compare.live.analysis import MAX_DISTRACTORS, Sampling, analyse, distance_curve
from compare.live.runs import Lab, TaskGroup
from compare.tasks.live_input import FILL, GENERATE

log = logging.getLogger("compare")
#: Analyses kept, so that moving an attention slider redraws without running the models again.
CACHE_SIZE = 32


@dataclass
class Setup:
    """The controls for one task group."""

    models: str
    help: str
    text: str
    # The "move the fact back" slider (Task.supports_distractors) and the "explain generated symbol" one.
    distractors: bool
    generates: bool
    max_position: int
    layers: int
    heads: int
    attention: bool
    # Text models: the sampling controls (temperature, top-k up to the vocabulary, length, seed).
    samples: bool = False
    vocab: int = 0
    # The training steps the models kept snapshots at (callbacks.timeline); [] hides the timeline slider.
    timeline: list[int] | None = None


class Page:
    """The page's state: the loaded lab and a small cache of recent analyses."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self._cache: OrderedDict = OrderedDict()
        # Gradio answers events on worker threads; one analysis at a time keeps the cache consistent.
        self._lock = threading.Lock()

    def choices(self) -> list[str]:
        """The task groups, as the task picker lists them."""
        return [g.label for g in self.lab.groups]

    def setup(self, label: str) -> Setup:
        """Controls, help and the starting input for the group called ``label``."""
        group = self.lab.group(label)
        attending = [m.model for m in group.models if m.attends]
        lines = "\n".join(f"- {m.summary()}" for m in group.models)
        skipped = "".join(f"\n- not loaded: {name}: {why}" for name, why in self.lab.skipped)
        task = group.task
        return Setup(models=f"**Models on {label}**\n\n{lines}{skipped}", help=task.input_help(),
                     text=task.example_text(), distractors=task.supports_distractors,
                     generates=task.answer_kind in (GENERATE, FILL),
                     max_position=max(1, 4 * group.task.length),
                     layers=max((m.attention_layout[0] for m in attending), default=1),
                     heads=max((m.attention_layout[1] for m in attending), default=1),
                     attention=bool(attending), samples=task.samples_text, vocab=task.num_tokens,
                     timeline=group.timeline_steps)

    @staticmethod
    def step_of(group: TaskGroup, snapshot) -> int | None:
        """The training step of timeline position ``snapshot`` (0 = the first snapshot); None, or the position past
        the last snapshot, means the scored checkpoints."""
        steps = group.timeline_steps
        if snapshot is None or not steps or int(snapshot) >= len(steps):
            return None
        return steps[max(int(snapshot), 0)]

    def _analysis(self, group: TaskGroup, label: str, text: str, distractors: int, position: int,
                  step: int | None = None, sampling: Sampling | None = None):
        key = (label, text, distractors, position, step, sampling)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        group = group.at_step(step)
        result = (analyse(group, text, distractors, position, sampling), distance_curve(group, text, distractors))
        self._cache[key] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def update(self, label: str, text: str, distractors=0, position=1, layer=1, head=1,
               mean: bool = False, snapshot=None, temperature=1.0, top_k=0, sample_length=60,
               seed=0) -> tuple[str, str | None, str | None]:
        """(message, cards, curve) for the current controls; cards and curve are None to keep the last ones.
        ``snapshot`` picks the timeline's weights (None: the scored checkpoints); the last four draw a text
        model's continuation."""
        try:
            group = self.lab.group(label)
            step = self.step_of(group, snapshot)
            sampling = (Sampling(float(temperature or 1.0), int(top_k or 0), int(sample_length or 0), int(seed or 0))
                        if group.task.samples_text else None)
            with self._lock:
                analysis, curve = self._analysis(group, label, text or "", int(distractors or 0),
                                                 int(position or 1), step, sampling)
            return ("", render.cards(analysis, int(layer or 1), int(head or 1), bool(mean), sampling, step),
                    render.curve_svg(curve))
        except UserError as e:
            return render.message(f"Not run: {e}. The panels below still show the last input that worked."), None, None
        except Exception as e:  # the server stays up whatever one input does
            log.exception("compare-lab: this input failed")
            return render.message(f"Internal error: {error_message(e)} (the server log has the traceback)"), None, None


    def timeline(self, label: str, snapshot=None) -> str:
        """Each model's validation accuracy over training with the step the cards show marked ("" without a
        timeline)."""
        try:
            group = self.lab.group(label)
        except UserError:
            return ""
        curves = {}
        for m in group.models:
            key = m.name if sum(o.kind == m.kind for o in group.models) > 1 else m.kind
            curves[key] = m.val_curve
        return render.timeline_svg(curves, group.timeline_steps, self.step_of(group, snapshot))


def intro(lab: Lab) -> str:
    """The page's heading (Markdown)."""
    n = sum(len(g.models) for g in lab.groups)
    movable = [g.label for g in lab.groups if g.task.supports_distractors]
    moves = (f" Up to {MAX_DISTRACTORS} distractor sentences can push the deciding fact back "
             f"({html.escape(', '.join(movable))})." if movable else "")
    timeline = [g.label for g in lab.groups if g.timeline_steps]
    slides = (f" The training timeline ({html.escape(', '.join(timeline))}) shows every model as it was at each "
              "snapshot kept during training." if timeline else "")
    return (f"# compare-lab\n\n{n} trained models from `{html.escape(str(lab.root))}`. Pick a task, edit the input: "
            "every model answers on each edit, with what its answer depends on and, for attention models, where "
            f"the answering token looks.{moves}{slides}")
