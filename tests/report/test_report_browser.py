"""The attention explorer and the report in a real headless Chromium (skipped where Chromium is absent)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium not found (Debian: apt-get install chromium chromium-driver); browser tests skipped")


@pytest.fixture(scope="module")
def browser(headless_chromium):
    return headless_chromium()


def shown_colours(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#map .cell')).map(c => c.style.backgroundColor);")


def expected_colour(w: float) -> tuple[int, int, int]:
    return tuple(math.floor(255 + (c - 255) * w + 0.5) for c in (8, 48, 107))


def parse_rgb(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text[text.index("(") + 1:text.index(")")].split(","))


def assert_heatmap_is(driver, weights: list[list[float]]) -> None:
    colours = shown_colours(driver)
    t = len(weights)
    assert len(colours) == t * t
    for q in range(t):
        for k in range(t):
            shown = colours[q * t + k]
            if k > q:
                assert shown == "", (q, k, shown)  # masked future: hatched, no colour
            else:
                got, want = parse_rgb(shown), expected_colour(weights[q][k])
                assert all(abs(a - b) <= 1 for a, b in zip(got, want)), (q, k, got, want)


def test_attention_explorer_sliders_and_hover(browser, tiny_sweep: Path):
    run = tiny_sweep / "2_copy_transformer_L4"
    saved = json.loads((run / "attention.json").read_text())
    weights, tokens = saved["weights"], saved["tokens"]
    browser.get((run / "attention.html").as_uri())
    assert browser.execute_script("return document.querySelectorAll('#map .cell').length") == len(tokens) ** 2
    labels = browser.execute_script("return Array.from(document.querySelectorAll('#map .lab.row')).map(d => d.textContent)")
    assert labels == tokens
    assert_heatmap_is(browser, weights[0][0])

    before = shown_colours(browser)
    browser.find_element(By.ID, "layer").send_keys(Keys.ARROW_RIGHT)  # a real input event on the slider
    assert browser.find_element(By.ID, "layer-out").text == "2 / 2"
    assert shown_colours(browser) != before
    assert_heatmap_is(browser, weights[1][0])

    browser.find_element(By.ID, "head").send_keys(Keys.ARROW_RIGHT)
    assert browser.find_element(By.ID, "head-out").text == f"2 / {len(weights[1])}"
    assert_heatmap_is(browser, weights[1][1])

    q, k = len(tokens) - 1, 1
    cell = browser.find_element(By.CSS_SELECTOR, f'#map .cell[data-q="{q}"][data-k="{k}"]')
    ActionChains(browser).move_to_element(cell).perform()
    readout = browser.find_element(By.ID, "readout")
    assert readout.get_attribute("data-q") == str(q) and readout.get_attribute("data-k") == str(k)
    assert float(readout.get_attribute("data-weight")) == pytest.approx(weights[1][1][q][k], abs=1e-9)
    assert readout.text.endswith(f"{weights[1][1][q][k]:.4f}")

    browser.find_element(By.ID, "mean-heads").click()
    heads = weights[1]
    assert_heatmap_is(browser, [[sum(h[qq][kk] for h in heads) / len(heads) for kk in range(len(tokens))]
                                for qq in range(len(tokens))])


def test_report_figures_load(browser, tiny_sweep: Path):
    browser.get((tiny_sweep / "report" / "report.html").as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.dataset.name, i.complete, i.naturalWidth]);")
    figures = sorted(p.name for p in (tiny_sweep / "report" / "figures").glob("*.png"))
    assert sorted(name for name, _, _ in images) == figures
    assert all(done and width > 100 for _, done, width in images), images
    links = browser.execute_script("return Array.from(document.links).map(a => a.href);")
    assert any(h.endswith("2_copy_transformer_L4/attention.html") for h in links)


def test_attention_explorer_shows_every_head_and_a_click_shows_it_large(browser, tiny_sweep: Path):
    run = tiny_sweep / "2_copy_transformer_L4"
    saved = json.loads((run / "attention.json").read_text())
    weights, tokens = saved["weights"], saved["tokens"]
    layers, heads, t = len(weights), len(weights[0]), len(tokens)
    browser.get((run / "attention.html").as_uri())
    thumbs = browser.find_elements(By.CSS_SELECTOR, "#model-view canvas")
    assert len(thumbs) == layers * heads
    # Each thumbnail holds its head's weights, a pixel each: the last row's first key of the last head.
    pixel = browser.execute_script(
        "const c = document.querySelectorAll('#model-view canvas')[arguments[0]];"
        "return Array.from(c.getContext('2d').getImageData(0, arguments[1], 1, 1).data.slice(0, 3));",
        layers * heads - 1, t - 1)
    assert all(abs(a - b) <= 1 for a, b in zip(pixel, expected_colour(weights[-1][-1][t - 1][0])))
    thumbs[-1].click()
    assert browser.find_element(By.ID, "layer").get_attribute("value") == str(layers - 1)
    assert browser.find_element(By.ID, "head").get_attribute("value") == str(heads - 1)
    assert_heatmap_is(browser, weights[-1][-1])
    assert "on" in thumbs[-1].get_attribute("class") and "on" not in thumbs[0].get_attribute("class")
