"""HTML and SVG for the page: one card per model (answer, influence strip, attention map), and the distance curve.

Plain strings with inline styles, so the page needs no script and no file from anywhere else. Values the
browser test reads back sit in data- attributes (data-answer, data-prob, data-w).
"""

from __future__ import annotations

import html
import json
import math

from compare.live.analysis import Analysis, Curve, ModelView
from compare.live.influence import METHOD
from compare.tasks.live_input import FILL, GENERATE

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
ATTENTION_RGB = (8, 48, 107)
PUSH_RGB, PULL_RGB = (202, 0, 32), (5, 113, 176)
#: Maps over more tokens than this are not drawn (the row strip still is): the SVG would be too heavy to update live.
MAP_MAX_TOKENS = 160
#: "All heads at once" draws every layer x head as a thumbnail, up to this many tokens.
MODEL_VIEW_MAX_TOKENS = 64
#: Thumbnail size in px (a clicked one is drawn 4.5 times as large: CSS, .lab-mv-thumb:focus).
THUMB = 96
GATE_RGB, NORM_RGB = (35, 139, 69), (117, 107, 177)

CSS = """
.lab-cards {display: flex; gap: 14px; flex-wrap: wrap; align-items: stretch;}
.lab-card {flex: 1 1 0; min-width: 380px; border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px;
           background: #fff; color: #1f2328;}
.lab-card h3 {margin: 0 0 2px 0; font-size: 1.15em;}
.lab-h {margin: 12px 0 4px 0; font-size: 0.95em; font-weight: 700; color: #444;}
.lab-meta {font-size: 0.8em; color: #666;}
.lab-answer {font-size: 1.25em; margin: 8px 0 2px 0;}
.lab-right {color: #1a7f37; font-weight: 600;} .lab-wrong {color: #cf222e; font-weight: 600;}
.lab-warn {font-size: 0.85em; color: #9a6700; margin: 4px 0;}
.lab-error {color: #cf222e; background: #ffebe9; border: 1px solid #ff8182; border-radius: 6px; padding: 8px 10px;}
.lab-note {color: #555; font-size: 0.9em;}
.lab-strip {display: flex; flex-wrap: wrap; gap: 2px; line-height: 1.7;}
.lab-tok {padding: 0 4px; border-radius: 3px; border: 1px solid #e5e5e5; font-family: monospace; font-size: 0.95em;
          color: #111;}
.lab-tok.q {outline: 2px solid #111; outline-offset: 1px;}
.lab-tok.fact {border-bottom: 3px solid #1a7f37;}
.lab-tok.added {border-style: dashed; border-color: #888;}
.lab-tok.qstart {margin-left: 10px;}
.lab-key {font-size: 0.75em; color: #666; margin-top: 3px;}
.lab-map text {font-family: monospace;}
.lab-mv {display: grid; gap: 4px; width: max-content;}
.lab-mv-label {font-size: 0.75em; color: #666; align-self: center;}
.lab-mv-thumb {border: 1px solid #ccc; cursor: zoom-in; background: #fff;}
.lab-mv-thumb:focus {transform: scale(4.5); transform-origin: top left; position: relative; z-index: 1000;
                     box-shadow: 0 2px 8px rgba(0,0,0,.3); outline: 1px solid #d62728; cursor: zoom-out;}
.lab-trace {display: grid; gap: 1px; overflow-x: auto; font-family: monospace; font-size: 0.8em; max-width: 100%;}
.lab-trace span {white-space: pre; min-width: 1.3em; min-height: 1.2em;}
.lab-trace .name {text-align: right; padding-right: 6px; font-family: sans-serif; color: #444; white-space: nowrap;}
.lab-trace .tok {color: #111; writing-mode: vertical-rl; transform: rotate(180deg); padding: 2px 0;
                 text-align: left;}
.lab-next {display: grid; grid-template-columns: max-content 1fr max-content; gap: 2px 6px; align-items: center;
           font-size: 0.85em; max-width: 360px;}
.lab-next .bar {height: 10px; background: #1f77b4;}
.lab-sample {white-space: pre-wrap; font-family: monospace; background: #f6f8fa; border: 1px solid #d0d7de;
             border-radius: 6px; padding: 6px 8px; font-size: 0.9em;}
.lab-sample .prompt {color: #888;}
"""


def rgb(c: tuple[float, float, float]) -> str:
    return f"rgb({round(c[0])},{round(c[1])},{round(c[2])})"


def mix(colour: tuple[int, int, int], w: float) -> str:
    """White at w=0, ``colour`` at w=1."""
    w = min(max(w, 0.0), 1.0)
    return rgb(tuple(255 + (c - 255) * w for c in colour))


def colour_of(model_index: int) -> str:
    return PALETTE[model_index % len(PALETTE)]


def strip(v: ModelView, values: list[float], kind: str, question_at: int | None, fact, added) -> str:
    """The input tokens in a row, each shaded by its value (signed for influence, 0..1 for attention)."""
    scale = max((abs(x) for x in values), default=0.0) or 1.0
    spans = []
    for i, (name, x) in enumerate(zip(v.names, values)):
        if kind == "influence":
            bg = mix(PUSH_RGB if x >= 0 else PULL_RGB, abs(x) / scale)
        else:
            bg = mix(ATTENTION_RGB, x / scale)
        dark = abs(x) / scale > 0.6
        classes = ["lab-tok"] + (["q"] if i == v.query else []) + (["qstart"] if i == question_at else [])
        classes += (["fact"] if fact and fact[0] <= i <= fact[1] else []) + (["added"] if i in added else [])
        spans.append(f'<span class="{" ".join(classes)}" data-i="{i}" data-w="{x:.6g}" '
                     f'title="{html.escape(name)}: {x:.4f}" style="background:{bg};{"color:#fff;" if dark else ""}">'
                     f"{html.escape(name)}</span>")
    return f'<div class="lab-strip" data-kind="{kind}">{"".join(spans)}</div>'


def pick_map(v: ModelView, layer: int, head: int, mean: bool):
    """(T, T) weights for the chosen layer and head (clamped to this model's), and a caption."""
    maps = v.attention
    li = min(max(layer, 1), len(maps)) - 1
    heads = maps[li].shape[0]
    if mean:
        return maps[li].mean(0), f"layer {li + 1} of {len(maps)}, mean over {heads} heads"
    hi = min(max(head, 1), heads) - 1
    return maps[li][hi], f"layer {li + 1} of {len(maps)}, head {hi + 1} of {heads}"


def attention_svg(weights, names: list[str], query: int, display: int | None = None, attrs: str = "",
                  css: str = "") -> str:
    """The causal attention map as SVG (row = query, column = key), the query's row outlined; ``display`` draws it
    that many px wide (a thumbnail) instead of at its own size; ``attrs`` and the class ``css`` go on the <svg>."""
    t = len(names)
    cell = max(4, min(14, 420 // max(t, 1)))
    pad = 7 * max(len(n) for n in names) + 8 if cell >= 9 else 4
    size = pad + cell * t
    shown, classes = display or size, f"lab-map {css}".strip()
    parts = [f'<svg class="{classes}" width="{shown}" height="{shown}" viewBox="0 0 {size} {size}" '
             f'xmlns="http://www.w3.org/2000/svg" data-query="{query}" {attrs}>']
    w = weights.tolist()
    for q in range(t):
        for k in range(q + 1):
            parts.append(f'<rect x="{pad + k * cell}" y="{q * cell}" width="{cell}" height="{cell}" '
                         f'fill="{mix(ATTENTION_RGB, w[q][k])}"/>')
    if cell >= 9:
        for i, n in enumerate(names):
            parts.append(f'<text x="{pad - 4}" y="{i * cell + cell - 3}" font-size="{cell - 3}" '
                         f'text-anchor="end">{html.escape(n)}</text>')
    parts.append(f'<rect x="{pad}" y="{query * cell}" width="{cell * t}" height="{cell}" fill="none" '
                 f'stroke="#d62728" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def model_view(v: ModelView) -> str:
    """Every layer x head at once (bertviz's model view): a grid of thumbnails, rows = layers, columns = heads; a
    click enlarges one (it takes focus; a click elsewhere puts it back)."""
    layers, heads = len(v.attention), v.attention[0].shape[0]
    if len(v.names) > MODEL_VIEW_MAX_TOKENS:
        return f'<div class="lab-note">all heads at once: not drawn over {MODEL_VIEW_MAX_TOKENS} tokens</div>'
    cells = ['<span></span>'] + [f'<span class="lab-mv-label">head {h + 1}</span>' for h in range(heads)]
    for li, maps in enumerate(v.attention):
        cells.append(f'<span class="lab-mv-label">layer {li + 1}</span>')
        for hi in range(heads):
            attrs = (f'tabindex="0" data-layer="{li + 1}" data-head="{hi + 1}" '
                     f'aria-label="layer {li + 1}, head {hi + 1}: click to enlarge"')
            cells.append(attention_svg(maps[hi], v.names, v.query, display=THUMB, attrs=attrs, css="lab-mv-thumb"))
    return (f'<div class="lab-h">All heads at once: {layers} layer{"s" if layers > 1 else ""} × {heads} '
            f'head{"s" if heads > 1 else ""} (click one to enlarge it)</div>'
            f'<div class="lab-mv" data-layers="{layers}" data-heads="{heads}" '
            f'style="grid-template-columns: max-content repeat({heads}, {THUMB}px)">{"".join(cells)}</div>')


def trace_grid(v: ModelView) -> str:
    """What a recurrent model keeps, token by token (SequenceModel.trace): a row per series under the input
    tokens; gates shaded 0..1 (green), norms shaded to the series' largest value (purple)."""
    t = len(v.names)
    rows = ['<span class="name"></span>'] + [f'<span class="tok">{html.escape(n)}</span>' for n in v.names]
    for name, values in v.trace.items():
        values = list(values)[:t]
        gate = "gate" in name
        scale = 1.0 if gate else (max(values, default=0.0) or 1.0)
        shown = name if gate else f"{name}, up to {scale:.2f}"
        rows.append(f'<span class="name">{html.escape(shown)}</span>')
        for i, x in enumerate(values):
            w = x / scale
            rows.append(f'<span data-series="{html.escape(name)}" data-i="{i}" data-v="{x:.6g}" '
                        f'title="{html.escape(v.names[i])}: {x:.3f}" style="background:'
                        f'{mix(GATE_RGB if gate else NORM_RGB, w)}"></span>')
    return ('<div class="lab-h">What it keeps, token by token: its gates (mean over units) and the size of its '
            'state</div>'
            f'<div class="lab-trace" style="grid-template-columns: repeat({t + 1}, max-content)">'
            f'{"".join(rows)}</div>'
            '<div class="lab-key">Green: a gate, white 0 to dark 1 (what 1 means is in its name); purple: the state\'s '
            "norm after reading the token, shaded to its largest value (hover a cell for its value). A gate near 1 "
            "that keeps the state holds what was read; one that writes replaces it.</div>")


def sampling_html(v: ModelView, live_names: list[str], sampling) -> str:
    """A text model's next-token distribution after the input, and the continuation it sampled."""
    bars = []
    top = max((p for _, p in v.next_tokens), default=1.0) or 1.0
    for name, p in v.next_tokens:
        bars.append(f'<span class="lab-next-tok" data-p="{p:.6f}">{html.escape(name if name.strip() else "␣")}</span>'
                    f'<span><div class="bar" style="width:{100 * p / top:.1f}%"></div></span><span>{p:.3f}</span>')
    k = "all tokens" if not sampling.top_k else f"top-{sampling.top_k}"
    tail = "".join(live_names[-40:])
    return (f'<div class="lab-h">Next token after the text (temperature {sampling.temperature:g}, {k})</div>'
            f'<div class="lab-next">{"".join(bars)}</div>'
            f'<div class="lab-h">Sampled continuation ({sampling.length} tokens, seed {sampling.seed})</div>'
            f'<div class="lab-sample" data-sample="{html.escape(v.sample or "")}"><span class="prompt">…'
            f'{html.escape(tail)}</span>{html.escape(v.sample or "")}</div>')


def card(v: ModelView, index: int, analysis: Analysis, layer: int, head: int, mean: bool, sampling=None) -> str:
    """One model's card."""
    m, live = v.model, analysis.live
    head_html = (f'<h3><span style="color:{colour_of(index)}">■</span> {html.escape(m.kind)}</h3>'
                 f'<div class="lab-meta">{html.escape(m.summary())}</div>')
    attrs = f'data-model="{html.escape(m.kind)}" data-run="{html.escape(m.name)}"'
    if v.error:
        return (f'<div class="lab-card" {attrs} data-error="1">{head_html}'
                f'<div class="lab-error">{html.escape(v.error)}</div></div>')
    verdict = ""
    if v.correct is not None:
        expected = m.task.format_answer(live.expected)
        says = "the story says" if live.question_at is not None else "should be"
        verdict = ('<span class="lab-right">✓ right</span>' if v.correct
                   else f'<span class="lab-wrong">✗ {says} {html.escape(expected)}</span>')
    label = "copy" if live.kind == GENERATE else "answer"
    scope = f" (all {len(v.answer)} symbols)" if live.kind in (GENERATE, FILL) else ""
    body = [f'<div class="lab-answer">{label}: <b class="lab-answer-text">{html.escape(v.answer_text)}</b> '
            f'<span class="lab-prob">p = {v.prob:.2f}{scope}</span> {verdict}</div>']
    if v.warning:
        body.append(f'<div class="lab-warn">{html.escape(v.warning)}: the answer may be off</div>')
    explained = html.escape(v.names[v.query]) if v.query < len(v.names) else ""
    what = {GENERATE: f"symbol {v.query - len(live.tokens) + 2} of the copy",
            FILL: f"symbol {v.query - (live.answer_at or 0) + 1} of the answer"}.get(live.kind, "the answer")
    body.append(f'<div class="lab-h">What {what} depends on ({METHOD}, read at the outlined token '
                f"'{explained}')</div>")
    body.append(strip(v, v.influence, "influence", live.question_at, live.fact_span, set(live.inserted)))
    marks = (" Green underline: the sentence that answers the question; dashed: inserted distractors."
             if live.fact_span else "")
    body.append('<div class="lab-key">Red: pushes towards the answer, blue: away from it; shade scaled to this '
                f"model's largest value.{marks}</div>")
    if v.next_tokens and sampling is not None:
        body.append(sampling_html(v, live.names, sampling))
    if v.attention is None:
        body.append(f'<div class="lab-h">Where it looks</div><div class="lab-note">no attention: {html.escape(m.kind)} '
                    "reads one token at a time and keeps a state; only the influence above shows what it used</div>")
        if v.trace:
            body.append(trace_grid(v))
    else:
        weights, caption = pick_map(v, layer, head, mean)
        body.append(f'<div class="lab-h lab-att-caption">Where the outlined token looks: attention of {caption}</div>')
        body.append(strip(v, weights[v.query].tolist(), "attention", live.question_at, live.fact_span,
                          set(live.inserted)))
        if len(v.names) <= MAP_MAX_TOKENS:
            body.append(attention_svg(weights, v.names, v.query))
        else:
            body.append(f'<div class="lab-note">full map not drawn over {MAP_MAX_TOKENS} tokens</div>')
        body.append(model_view(v))
        if v.trace:
            body.append(trace_grid(v))
    return (f'<div class="lab-card" {attrs} data-answer="{html.escape(v.answer_text)}" data-prob="{v.prob:.6f}" '
            f'data-correct="{"" if v.correct is None else str(v.correct).lower()}" '
            f'data-step="{"" if m.step is None else m.step}">{head_html}{"".join(body)}</div>')


def cards(analysis: Analysis, layer: int = 1, head: int = 1, mean: bool = False, sampling=None,
          step: int | None = None) -> str:
    """All models side by side; ``step`` is the training step their weights are of (None: the scored checkpoints)."""
    note = f'<div class="lab-note">{html.escape(analysis.live.note)}</div>' if analysis.live.note else ""
    fed = html.escape(" ".join(analysis.live.names))
    shown = "" if step is None else str(step)
    return note + f'<div class="lab-cards" data-input="{fed}" data-step="{shown}">' + "".join(
        card(v, i, analysis, layer, head, mean, sampling) for i, v in enumerate(analysis.views)) + "</div>"


def message(text: str | None) -> str:
    """The page's message line: empty, or an error in one line."""
    return f'<div class="lab-error" id="lab-error-text">{html.escape(text)}</div>' if text else ""


def curve_svg(curve: Curve | None, width: int = 460, height: int = 230) -> str:
    """Each model's probability of the right answer against the fact's distance (tokens) to the question."""
    if curve is None:
        return ""
    if not curve.distances:
        return f'<div class="lab-note">{html.escape(curve.note or "")}</div>'
    left, right, top, bottom = 44, 120, 14, 36
    pw, ph = width - left - right, height - top - bottom
    lo, hi = curve.distances[0], curve.distances[-1]

    def x(d):
        return left + (d - lo) / max(hi - lo, 1) * pw

    def y(p):
        return top + (1 - p) * ph

    # Scales down to its column (the legend sits at the right edge), never up past its drawn size.
    parts = [f'<svg class="lab-curve" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
             'xmlns="http://www.w3.org/2000/svg" '
             f'data-distances="{json.dumps(curve.distances)}">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for p in (0, 0.5, 1):
        parts.append(f'<text x="{left - 6}" y="{y(p) + 4}" font-size="11" text-anchor="end">{p:g}</text>')
    for d in curve.distances[:: max(1, len(curve.distances) // 6)]:
        parts.append(f'<text x="{x(d)}" y="{top + ph + 14}" font-size="11" text-anchor="middle">{d}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" font-size="12" text-anchor="middle">'
                 "tokens from the deciding fact to the question</text>")
    cx = x(curve.distances[min(curve.current, len(curve.distances) - 1)])
    parts.append(f'<line x1="{cx}" x2="{cx}" y1="{top}" y2="{top + ph}" stroke="#888" stroke-dasharray="3,3"/>')
    for i, (name, probs) in enumerate(curve.probs.items()):
        pts = " ".join(f"{x(d):.1f},{y(p):.1f}" for d, p in zip(curve.distances, probs) if p is not None)
        values = ",".join("" if p is None else f"{p:.4f}" for p in probs)
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour_of(i)}" stroke-width="2" '
                     f'data-model="{html.escape(name)}" data-probs="{values}"/>')
        now = probs[min(curve.current, len(probs) - 1)]
        if now is not None:
            parts.append(f'<circle cx="{cx}" cy="{y(now)}" r="4" fill="{colour_of(i)}"/>')
        parts.append(f'<text x="{left + pw + 10}" y="{top + 14 + 16 * i}" font-size="12" fill="{colour_of(i)}">'
                     f"■ {html.escape(name)}</text>")
    parts.append("</svg>")
    return ('<div class="lab-note">Probability of the right answer as distractor sentences push the deciding '
            'fact back (dashed line: the story shown above)</div>' + "".join(parts))


def timeline_svg(curves: dict[str, list[tuple[int, float]]], steps: list[int], current: int | None,
                 width: int = 460, height: int = 210) -> str:
    """Each model's validation accuracy over training (x: step, on a log scale from 0), the snapshot steps as
    ticks, and the step the cards show marked (``current``; None: the end of training)."""
    if not steps:
        return ""

    left, right, top, bottom = 44, 120, 14, 36
    pw, ph = width - left - right, height - top - bottom
    last = max([steps[-1]] + [s for pts in curves.values() for s, _ in pts])

    def x(step):
        return left + math.log10(1 + step) / math.log10(1 + max(last, 1)) * pw

    def y(p):
        return top + (1 - p) * ph

    at = last if current is None else current
    parts = [f'<svg class="lab-timeline" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
             f'xmlns="http://www.w3.org/2000/svg" data-step="{at}" data-steps="{json.dumps(steps)}">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for p in (0, 0.5, 1):
        parts.append(f'<text x="{left - 6}" y="{y(p) + 4}" font-size="11" text-anchor="end">{p:g}</text>')
    for s in steps:
        parts.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#555"/>')
    for s in (steps[0], steps[len(steps) // 2], steps[-1]):
        parts.append(f'<text x="{x(s):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{s}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" font-size="12" text-anchor="middle">'
                 "training step (log scale); ticks: the snapshots</text>")
    for i, (name, pts) in enumerate(curves.items()):
        if pts:
            line = " ".join(f"{x(s):.1f},{y(a):.1f}" for s, a in pts)
            parts.append(f'<polyline points="{line}" fill="none" stroke="{colour_of(i)}" stroke-width="2" '
                         f'data-model="{html.escape(name)}"/>')
        parts.append(f'<text x="{left + pw + 10}" y="{top + 14 + 16 * i}" font-size="12" fill="{colour_of(i)}">'
                     f"■ {html.escape(name)}</text>")
    parts.append(f'<line class="lab-timeline-now" x1="{x(at):.1f}" x2="{x(at):.1f}" y1="{top}" y2="{top + ph}" '
                 f'stroke="#d62728" stroke-width="2" data-step="{at}"/>')
    parts.append("</svg>")
    where = "the end of training (the scored checkpoints)" if current is None else f"step {current}"
    return (f'<div class="lab-note">Validation accuracy over training (exact sequence; next token for text models); '
            f"the red line: {where}, the weights the cards show</div>" + "".join(parts))
