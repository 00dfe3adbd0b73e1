"""compare-lab for real: the console script serving a trained pair, driven in headless Chromium.

Skipped where Chromium, chromedriver or selenium is absent (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from compare.live.page import Page  # noqa: E402
from compare.live.runs import load_lab  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]
# In the default suite on purpose: the done-when is this browser test passing in CI (~30 s there).
pytestmark = [
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="headless Chromium not found (Debian: apt-get install "
                       "chromium chromium-driver); browser tests skipped"),
    # Looked up, not imported: importing gradio takes seconds, and the server imports it in its own process.
    pytest.mark.skipif(importlib.util.find_spec("gradio") is None,
                       reason="gradio is not installed (pip install -e '.[lab]')"),
]
STORY = "mary drank water. john ate apple. cat went garden. who drank water?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(lab_sweep, tmp_path_factory):
    """``compare-lab SWEEP --port N`` in a subprocess; yields its URL, and stops it afterwards."""
    port = free_port()
    log = tmp_path_factory.mktemp("lab-server") / "server.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "compare.lab", str(lab_sweep), "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"compare-lab exited with {proc.returncode}: {log.read_text()[-3000:]}"
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"compare-lab did not answer: {log.read_text()[-3000:]}"
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(headless_chromium):
    # Nothing but this machine: the page must need no outside host.
    return headless_chromium("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")


def js(driver, script: str):
    return driver.execute_script(script)


def shown_input(driver) -> str | None:
    return js(driver, "const c = document.querySelector('#lab-cards .lab-cards'); return c && c.dataset.input;")


def answers(driver) -> dict[str, str]:
    return js(driver, "return Object.fromEntries(Array.from(document.querySelectorAll('.lab-card'))"
                      ".map(c => [c.dataset.model, c.dataset.answer || 'error: ' + c.textContent]));")


def attention_row(driver) -> list[str]:
    return js(driver, "return Array.from(document.querySelectorAll('.lab-strip[data-kind=attention] .lab-tok'))"
                      ".map(t => t.dataset.w);")


def type_input(driver, text: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, "#lab-input textarea")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def test_type_a_story_move_sliders_and_send_bad_input(server, browser, lab_sweep):
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)
    browser.get(server)
    wait.until(lambda d: len(answers(d)) == 2 and "error" not in "".join(answers(d).values()))

    type_input(browser, STORY)
    words = "mary drank water . john ate apple . cat went garden . who drank water ?"
    wait.until(lambda d: shown_input(d) == words)
    page = Page(load_lab(lab_sweep))  # the same models, in this process: the page must show what they answer
    _, cards, _ = page.update(page.choices()[0], STORY)
    assert answers(browser) == dict(re.findall(r'data-model="(\w+)" data-run="[^"]*" data-answer="([^"]*)"', cards))

    before = attention_row(browser)
    browser.find_element(By.CSS_SELECTOR, "#lab-layer input[type=range]").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: "layer 2 of 2" in d.find_element(By.CSS_SELECTOR, ".lab-att-caption").text)
    assert attention_row(browser) != before and len(attention_row(browser)) == len(before)

    browser.find_element(By.CSS_SELECTOR, "#lab-distract input[type=range]").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: len((shown_input(d) or "").split()) == len(words.split()) + 4)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".lab-strip[data-kind=influence] .lab-tok.added")) == 2 * 4
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.lab-curve polyline")) == 2

    type_input(browser, "mary drank tea. who drank water?")
    # Each keystroke is an edit, so the half-typed "mary drank" shows its own error first: wait for the whole input's.
    error = wait.until(lambda d: [e for e in d.find_elements(By.ID, "lab-error-text") if "tea" in e.text])
    assert "unknown word 'tea'" in error[0].text and "knows only" in error[0].text

    long_story = " ".join(["mary drank water."] * 6) + " who drank water?"  # past the transformer's 24 positions
    type_input(browser, long_story)
    wait.until(lambda d: not d.find_elements(By.ID, "lab-error-text") and len((shown_input(d) or "").split()) > 24)
    shown = answers(browser)
    assert "learned position table of 24 positions" in shown["transformer"]
    assert not shown["lstm"].startswith("error")
