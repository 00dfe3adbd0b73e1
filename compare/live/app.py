"""The compare-lab page on Gradio Blocks: the controls, and which event redraws what.

Every control calls ``Page.update``; ``trigger_mode="always_last"`` drops the edits typed while one is
being answered, so the page keeps up with typing. Gradio is imported only here (the ``lab`` extra).
"""

from __future__ import annotations

import os

# Before gradio is imported: no telemetry and no version check, which would reach outside this machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from compare.live.analysis import MAX_DISTRACTORS  # noqa: E402
from compare.live.page import Page, intro  # noqa: E402
from compare.live.render import CSS  # noqa: E402
from compare.live.runs import Lab  # noqa: E402

EVENT = {"trigger_mode": "always_last", "show_progress": "hidden"}


def snapshot_slider(steps: list[int]) -> dict:
    """The timeline slider's settings: positions 0..len(steps), the last one the scored checkpoints."""
    return {"minimum": 0, "maximum": max(len(steps), 1), "value": len(steps), "step": 1, "visible": bool(steps)}


def controls(page: Page, label: str):
    """The values and visibility of every control for the task group ``label``."""
    s = page.setup(label)
    return (s.models, s.help, s.text,
            gr.Slider(minimum=0, maximum=MAX_DISTRACTORS, value=0, step=1, visible=s.distractors),
            gr.Slider(minimum=1, maximum=s.max_position, value=1, step=1, visible=s.generates),
            gr.Slider(minimum=1, maximum=s.layers, value=1, step=1, visible=s.layers > 1),
            gr.Slider(minimum=1, maximum=s.heads, value=1, step=1, visible=s.heads > 1),
            gr.Checkbox(value=False, visible=s.attention),
            gr.Slider(**snapshot_slider(s.timeline)),
            gr.Row(visible=s.samples),
            gr.Slider(minimum=0, maximum=s.vocab, value=0, step=1))


def skip_none(values):
    """Page.update's None ("keep what is shown") as Gradio's skip."""
    return tuple(gr.skip() if v is None else v for v in values)


def build_app(lab: Lab) -> gr.Blocks:
    """The Blocks app over ``lab``."""
    page = Page(lab)
    first = page.choices()[0]
    s = page.setup(first)
    with gr.Blocks(title="compare-lab", analytics_enabled=False) as app:
        gr.Markdown(intro(lab))
        with gr.Row():
            task = gr.Dropdown(choices=page.choices(), value=first, label="Task", elem_id="lab-task", scale=1)
            models = gr.Markdown(s.models, elem_id="lab-models")
        help_text = gr.Markdown(s.help, elem_id="lab-help")
        with gr.Row():
            with gr.Column(scale=3):
                text = gr.Textbox(value=s.text, lines=9, label="Input (edit it: every change runs every model)",
                                  elem_id="lab-input")
            with gr.Column(scale=2):
                curve = gr.HTML("", elem_id="lab-curve")
        with gr.Row():
            distract = gr.Slider(0, MAX_DISTRACTORS, value=0, step=1, visible=s.distractors, elem_id="lab-distract",
                                 label="Move the fact back: distractor sentences before the question")
            position = gr.Slider(1, s.max_position, value=1, step=1, visible=s.generates, elem_id="lab-position",
                                 label="Explain copied symbol number")
            layer = gr.Slider(1, s.layers, value=1, step=1, visible=s.layers > 1, label="Attention layer",
                              elem_id="lab-layer")
            head = gr.Slider(1, s.heads, value=1, step=1, visible=s.heads > 1, label="Attention head",
                             elem_id="lab-head")
            mean = gr.Checkbox(False, label="Mean over heads", elem_id="lab-mean", visible=s.attention)
        with gr.Row():
            with gr.Column(scale=3):
                snapshot = gr.Slider(**snapshot_slider(s.timeline), elem_id="lab-snapshot",
                                     label="Training timeline: the weights at snapshot k (the right end: the trained "
                                           "model, its scored checkpoint)")
            with gr.Column(scale=2):
                timeline = gr.HTML("", elem_id="lab-timeline")
        with gr.Row(visible=s.samples) as sampling_row:
            temperature = gr.Slider(0.1, 2.0, value=1.0, step=0.1, label="Temperature", elem_id="lab-temperature")
            top_k = gr.Slider(0, s.vocab, value=0, step=1, label="Top-k (0: every token)", elem_id="lab-topk")
            sample_length = gr.Slider(1, 200, value=60, step=1, label="Tokens to sample", elem_id="lab-sample-length")
            seed = gr.Number(0, precision=0, label="Sampling seed", elem_id="lab-seed")
        message = gr.HTML("", elem_id="lab-message")
        cards = gr.HTML("", elem_id="lab-cards")

        inputs = [task, text, distract, position, layer, head, mean, snapshot, temperature, top_k, sample_length, seed]
        outputs = [message, cards, curve]

        def update(*values):
            return skip_none(page.update(*values))

        for control in (text, distract, position, layer, head, mean, snapshot, temperature, top_k, sample_length, seed):
            control.change(update, inputs, outputs, **EVENT)
        snapshot.change(page.timeline, [task, snapshot], [timeline], **EVENT)
        # Then an update of its own: the new task's example may equal the old text, which fires no change.
        task.change(lambda label: controls(page, label), [task],
                    [models, help_text, text, distract, position, layer, head, mean, snapshot, sampling_row, top_k],
                    **EVENT).then(update, inputs, outputs, **EVENT).then(
            page.timeline, [task, snapshot], [timeline], **EVENT)
        app.load(update, inputs, outputs, **EVENT).then(page.timeline, [task, snapshot], [timeline], **EVENT)
    return app


def serve(lab: Lab, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the page until interrupted."""
    app = build_app(lab)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=False, inbrowser=False, css=CSS,
               theme=gr.themes.Default(), footer_links=[], show_error=False, quiet=True)
