"""The ``experiment=`` presets as ``compare-train --help`` lists them, read from the presets' own yaml headers.

A preset's header is the comment block at the top of ``conf/experiment/<name>.yaml``. Its first sentence (the
comment lines up to the first one ending in ':' or '.') says what the preset shows; a line
``# Time on 2 CPU cores: ...`` says how long it takes. A header without that line may give the time as a
parenthesis in its first sentence, ``(2 CPU cores, <= 10 min)``, as the older presets do. So a new preset
appears in the help by being a file, and its line is written once, beside what it describes.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from compare.config import CONF_DIR

PRESET_DIR = Path(CONF_DIR) / "experiment"
TIME_KEY = "Time on 2 CPU cores:"
#: "(2 CPU cores, <= 10 min)", "(2 CPU cores)" in a first sentence: the older presets' way of giving the time.
_CORES = re.compile(r"\s*\(\s*2 CPU cores\s*(?:,\s*(?P<time>[^()]*))?\)")
#: "(issue 13)": a pointer for the project's developers, not for a user reading the help.
_ISSUE = re.compile(r"\s*\(issue \d+\)")
NOT_STATED = "time not stated"


@dataclass(frozen=True)
class Preset:
    """One ``experiment=`` preset: its name, what it shows, how long it takes on 2 CPU cores."""

    name: str
    summary: str
    time: str


def header_lines(path: Path) -> list[str]:
    """The text of the comment lines at the top of a yaml file, '# @package' left out."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:]
        if not text.strip().startswith("@package"):
            out.append(text)
    return out


def read_preset(path: Path) -> Preset:
    """The preset in ``path``: its first sentence and its time, as the module docstring says."""
    lines = header_lines(path)
    first = []
    for text in lines:
        if not text.strip() or text.startswith("   "):  # a blank comment line or an indented command line
            break
        first.append(text.strip())
        if text.rstrip().endswith((":", ".")):
            break
    summary = " ".join(first)
    time = next((t.strip()[len(TIME_KEY):].strip() for t in lines if t.strip().startswith(TIME_KEY)), None)
    if (cores := _CORES.search(summary)) is not None:
        time = time or (cores.group("time") or "").strip() or None
        summary = _CORES.sub("", summary)
    summary = _ISSUE.sub("", summary)
    summary = summary.rstrip(":.").strip() or "(its yaml has no header comment)"
    return Preset(path.stem, summary, time or NOT_STATED)


def presets(folder: Path = PRESET_DIR) -> list[Preset]:
    """Every preset in ``folder``, by name."""
    return [read_preset(p) for p in sorted(folder.glob("*.yaml"))]


def presets_help(width: int = 100) -> str:
    """The help's preset list: one entry per preset, its summary and its time, wrapped to ``width``."""
    items = presets()
    name_width = max((len(p.name) for p in items), default=0) + 2
    out = []
    for p in items:
        body = textwrap.wrap(f"{p.summary}. [{p.time}]", width - name_width - 2)
        out.append(f"  {p.name.ljust(name_width)}{body[0]}")
        out += [" " * (name_width + 2) + line for line in body[1:]]
    return "\n".join(out)
