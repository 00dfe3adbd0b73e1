"""The attention explorer: one self-contained HTML page (no network) with a heatmap per layer and head.

The probe tokens run along both axes (rows: the query, the position doing the looking; columns: the
key, the position looked at). At the top every layer and head at once, small (bertviz's model view); clicking one
shows it large. Sliders pick the layer and the head (or the mean over heads) and the
heatmap repaints as they move; hovering a cell shows its weight and shades the token strip by the
hovered query's attention. The weights travel inside the page as JSON, the same JSON as attention.json.
"""

from __future__ import annotations

import html
import json

#: Decimals kept for each weight: enough to read on hover, small enough for a page of a few hundred tokens.
WEIGHT_DECIMALS = 4


def attention_payload(tokens: list[str], maps: list[list[list[list[float]]]], meta: dict) -> dict:
    """The data the page shows: tokens, weights[layer][head][query][key] (rounded) and a few facts about the run."""
    weights = [[[[round(float(w), WEIGHT_DECIMALS) for w in row] for row in head] for head in layer] for layer in maps]
    return {"tokens": list(tokens), "weights": weights, "meta": meta}


def _json_for_script(data: dict) -> str:
    # "</" would end the <script> element early; "<\/" is the same string to JSON.
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def render_attention_html(payload: dict, title: str) -> str:
    """The explorer page for ``payload`` (from ``attention_payload``)."""
    meta = payload.get("meta", {})
    facts = " · ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in meta.items())
    return (PAGE.replace("__TITLE__", html.escape(title))
                .replace("__FACTS__", facts)
                .replace("__DATA__", _json_for_script(payload)))


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>__TITLE__</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  .facts { color: #555; font-size: .85rem; margin-bottom: 1rem; }
  .controls { display: flex; gap: 2rem; align-items: center; flex-wrap: wrap; margin-bottom: .8rem; }
  .controls label { font-size: .9rem; }
  .controls output { display: inline-block; min-width: 5.5em; font-weight: 600; }
  #readout { font-family: ui-monospace, monospace; min-height: 1.4em; margin: .4rem 0 .8rem; }
  .explain { font-size: .85rem; color: #555; max-width: 60rem; }
  #map { display: grid; gap: 0; width: max-content; user-select: none; }
  .cell { box-sizing: border-box; }
  .cell.masked { background: repeating-linear-gradient(45deg, #eee, #eee 2px, #f8f8f8 2px, #f8f8f8 4px); }
  .lab { font-family: ui-monospace, monospace; font-size: var(--fs); color: #333; white-space: nowrap;
         overflow: hidden; display: flex; align-items: center; }
  .lab.row { justify-content: flex-end; padding-right: 4px; }
  .lab.col { writing-mode: vertical-rl; transform: rotate(180deg); justify-content: flex-start; padding-top: 4px; }
  .lab.on { color: #e4572e; font-weight: 700; }
  #strip { font-family: ui-monospace, monospace; margin: 1rem 0; line-height: 2; max-width: 70rem; }
  #strip span { padding: 1px 3px; margin: 1px; border-radius: 3px; }
  #strip span.query { outline: 2px solid #e4572e; }
  .legend { display: flex; align-items: center; gap: .4rem; font-size: .8rem; margin: .6rem 0; }
  .legend .bar { width: 160px; height: 10px; background: linear-gradient(to right, rgb(255,255,255), rgb(8,48,107)); border: 1px solid #ccc; }
  h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; } h2 span { font-weight: normal; color: #666; font-size: .85rem; }
  #model-view { display: grid; gap: 6px; width: max-content; align-items: center; }
  #model-view .mv-label { font-size: .8rem; color: #555; }
  #model-view canvas { width: 88px; height: 88px; image-rendering: pixelated; border: 2px solid #ddd; cursor: pointer; }
  #model-view canvas.on { border-color: #e4572e; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div class="facts">__FACTS__</div>
<h2>All heads at once <span>(rows: layers, columns: heads; click one to show it large below)</span></h2>
<div id="model-view"></div>
<h2>One head</h2>
<div class="controls">
  <label>layer <input type="range" id="layer" min="0" value="0" step="1"> <output id="layer-out"></output></label>
  <label>head <input type="range" id="head" min="0" value="0" step="1"> <output id="head-out"></output></label>
  <label><input type="checkbox" id="mean-heads"> mean over heads</label>
</div>
<div class="legend"><span>0</span><span class="bar"></span><span>1</span>
  <span>&nbsp;· hatched: a future position the causal mask hides</span></div>
<div id="readout">hover a cell to read its weight</div>
<div id="map"></div>
<p class="explain">Row = the query (the position doing the looking), column = the key (the position looked at).
Each row sums to 1: it is how that position splits its attention over the positions up to itself.</p>
<div id="strip"></div>
<script type="application/json" id="attention-data">__DATA__</script>
<script>
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("attention-data").textContent);
  const tokens = data.tokens, W = data.weights, T = tokens.length;
  const nLayers = W.length, nHeads = W[0].length;
  const layerIn = document.getElementById("layer"), headIn = document.getElementById("head");
  const meanIn = document.getElementById("mean-heads"), readout = document.getElementById("readout");
  const map = document.getElementById("map"), strip = document.getElementById("strip");
  layerIn.max = nLayers - 1; headIn.max = nHeads - 1;
  const cellPx = Math.max(6, Math.min(28, Math.floor(640 / T)));
  const labelPx = Math.min(140, 12 + 7 * Math.max(...tokens.map(t => t.length)));
  map.style.setProperty("--fs", Math.max(7, Math.min(12, cellPx - 2)) + "px");
  map.style.gridTemplateColumns = labelPx + "px repeat(" + T + ", " + cellPx + "px)";
  map.style.gridTemplateRows = labelPx + "px repeat(" + T + ", " + cellPx + "px)";

  function colour(w) {  // white -> dark blue
    const r = Math.round(255 + (8 - 255) * w), g = Math.round(255 + (48 - 255) * w), b = Math.round(255 + (107 - 255) * w);
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function current() {  // the (T, T) map on show
    const layer = W[+layerIn.value];
    if (!meanIn.checked) return layer[+headIn.value];
    return layer[0].map((row, q) => row.map((_, k) => layer.reduce((s, h) => s + h[q][k], 0) / nHeads));
  }

  map.appendChild(document.createElement("div"));
  const colLabs = tokens.map((t, k) => {
    const d = document.createElement("div"); d.className = "lab col"; d.textContent = t; d.title = k + ": " + t;
    map.appendChild(d); return d;
  });
  const rowLabs = [], cells = [];
  for (let q = 0; q < T; q++) {
    const d = document.createElement("div"); d.className = "lab row"; d.textContent = tokens[q]; d.title = q + ": " + tokens[q];
    map.appendChild(d); rowLabs.push(d);
    const row = [];
    for (let k = 0; k < T; k++) {
      const c = document.createElement("div"); c.className = "cell"; c.dataset.q = q; c.dataset.k = k;
      map.appendChild(c); row.push(c);
    }
    cells.push(row);
  }
  const chips = tokens.map((t, i) => {
    const s = document.createElement("span"); s.textContent = t; s.title = i + ": " + t; strip.appendChild(s); return s;
  });

  // All heads at once (bertviz's model view): one small canvas per layer and head, a pixel per weight.
  const modelView = document.getElementById("model-view");
  modelView.style.gridTemplateColumns = "max-content repeat(" + nHeads + ", 92px)";
  modelView.appendChild(document.createElement("span"));
  for (let h = 0; h < nHeads; h++) {
    const s = document.createElement("span"); s.className = "mv-label"; s.textContent = "head " + (h + 1); modelView.appendChild(s);
  }
  const thumbs = [];
  for (let l = 0; l < nLayers; l++) {
    const s = document.createElement("span"); s.className = "mv-label"; s.textContent = "layer " + (l + 1); modelView.appendChild(s);
    for (let h = 0; h < nHeads; h++) {
      const c = document.createElement("canvas"); c.width = T; c.height = T;
      c.dataset.layer = l; c.dataset.head = h; c.title = "layer " + (l + 1) + ", head " + (h + 1);
      const g = c.getContext("2d");
      for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) {
        g.fillStyle = k > q ? "#eeeeee" : colour(W[l][h][q][k]); g.fillRect(k, q, 1, 1);
      }
      c.addEventListener("click", () => { layerIn.value = l; headIn.value = h; meanIn.checked = false; paint(); });
      modelView.appendChild(c); thumbs.push(c);
    }
  }

  let shown = null, hovered = null;
  function paint() {
    shown = current();
    document.getElementById("layer-out").textContent = (+layerIn.value + 1) + " / " + nLayers;
    document.getElementById("head-out").textContent = meanIn.checked ? "mean" : (+headIn.value + 1) + " / " + nHeads;
    headIn.disabled = meanIn.checked;
    thumbs.forEach(c => c.classList.toggle("on", +c.dataset.layer === +layerIn.value &&
                                               (meanIn.checked || +c.dataset.head === +headIn.value)));
    for (let q = 0; q < T; q++) for (let k = 0; k < T; k++) {
      const c = cells[q][k], w = shown[q][k];
      if (k > q) { c.className = "cell masked"; c.style.background = ""; }
      else { c.className = "cell"; c.style.background = colour(w); }
      c.title = "";
    }
    if (hovered) show(hovered.q, hovered.k);
  }
  function show(q, k) {
    hovered = {q: q, k: k};
    const w = shown[q][k];
    readout.textContent = "query " + q + " " + JSON.stringify(tokens[q]) + " \\u2192 key " + k + " " +
      JSON.stringify(tokens[k]) + ": " + (k > q ? "masked (future)" : w.toFixed(4));
    readout.dataset.q = q; readout.dataset.k = k; readout.dataset.weight = k > q ? "" : String(w);
    rowLabs.forEach((d, i) => d.classList.toggle("on", i === q));
    colLabs.forEach((d, i) => d.classList.toggle("on", i === k));
    chips.forEach((s, i) => { s.style.background = i <= q ? colour(shown[q][i]) : ""; s.style.color = i <= q && shown[q][i] > 0.55 ? "#fff" : "";
                             s.classList.toggle("query", i === q); });
  }
  map.addEventListener("mouseover", e => {
    const c = e.target; if (!c.classList.contains("cell")) return;
    show(+c.dataset.q, +c.dataset.k);
  });
  [layerIn, headIn, meanIn].forEach(el => el.addEventListener("input", paint));
  meanIn.addEventListener("change", paint);
  paint();
  window.attentionExplorer = {current: current, paint: paint, show: show};
})();
</script>
</body>
</html>
"""
