"""The report as a list of blocks, rendered twice: report.md (figures linked) and a self-contained report.html.

Blocks: ("h1"|"h2"|"h3", text), ("p", text), ("list", [text]) or ("list", [text], summary) (folded under
``summary`` in the HTML, a <details> element; the markdown lists it in full), ("links", [(text, relative href)]),
("table", headers, rows), ("figure", file name under figures/, caption). The HTML embeds every figure as base64 PNG and
loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path


def _md_cell(x) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[tuple]) -> str:
    """Markdown with figures as relative links (figures/NAME.png)."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            out.append(block[1])
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "links":
            out.append("\n".join(f"- [{text}]({href})" for text, href in block[1]))
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
                     "|" + "|".join("---" for _ in headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "figure":
            out.append(f"![{block[2]}](figures/{block[1]})\n\n*{block[2]}*")
    return "\n\n".join(out) + "\n"


def to_html(blocks: list[tuple], figures_dir: Path, title: str) -> str:
    """One HTML file: figures embedded as data: URIs, styles inline, no scripts, no network."""
    body = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{html.escape(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "list":
            items = "<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in block[1]) + "</ul>"
            if len(block) > 2:
                items = f"<details><summary>{html.escape(block[2])}</summary>{items}</details>"
            body.append(items)
        elif kind == "links":
            body.append("<ul>" + "".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>'
                                         for text, href in block[1]) + "</ul>")
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                           for row in block[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif kind == "figure":
            data = base64.b64encode((figures_dir / block[1]).read_bytes()).decode("ascii")
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block[2])}" '
                        f'data-name="{html.escape(block[1])}"><figcaption>{html.escape(block[2])}</figcaption></figure>')
    return PAGE.replace("__TITLE__", html.escape(title)).replace("__BODY__", "\n".join(body))


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>__TITLE__</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; line-height: 1.45; }
  h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1.05rem; }
  table { border-collapse: collapse; font-size: .85rem; margin: .8rem 0; }
  th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; }
  th { background: #f3f5f8; }
  figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #eee; }
  figcaption { font-size: .85rem; color: #555; }
  details > summary { cursor: pointer; color: #0550ae; margin: .5rem 0; }
</style>
</head>
<body>
__BODY__
</body>
</html>
"""
