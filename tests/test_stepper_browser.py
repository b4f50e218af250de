"""The step-through page in a real browser (headless Chromium through Playwright): every step's numbers against
the engine, the sentence and highlight after each step, keys and buttons, play, the details panel, layer
collapse, the quiz's right and wrong answers with hints, and that the page makes no network request.

Needs ``pip install playwright`` (in the test extra) and Debian's ``chromium`` (``apt-get install chromium``;
Playwright's own browser download is not used). A screenshot of each page is saved in pytest's temp folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from stepper_cases import CASES, check_steps, fan_out

from autograd_viz.viz import available
from autograd_viz.viz.stepper import Stepper

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright: pip install playwright (the test extra)")
CHROMIUM = os.environ.get("AUTOGRAD_VIZ_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="browser tests need Chromium: apt-get install chromium (or set "
                                                "AUTOGRAD_VIZ_CHROMIUM to its path)"),
    pytest.mark.skipif(not available(), reason="needs a Graphviz renderer: pip install graphviz-pure"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Opened:
    """A page loaded from a file, with every request it makes counted (and refused)."""

    def __init__(self, browser, path: Path) -> None:
        self.requests: list[str] = []  # every request the page tried (even those its CSP then blocked)
        self.routed: list[str] = []  # those that reached the network layer (aborted here)
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1400, "height": 820})
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda r: r.url.startswith("file:") or self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(path.as_uri())
        assert self.page.evaluate("() => Boolean(window.autogradViz && window.autogradViz.ready)")

    def _route(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
            return
        self.routed.append(route.request.url)
        route.abort()

    def js(self, code: str):
        return self.page.evaluate(code)

    def close(self) -> None:
        self.context.close()


def _open(browser, tmp_path: Path, name: str, **kwargs) -> tuple[Opened, Stepper]:
    root = CASES[name]() if name in CASES else fan_out()
    stepper = Stepper(root, **kwargs)
    path = tmp_path / f"{name}.html"
    stepper.save(path)
    return Opened(browser, path), stepper


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_step_in_the_browser(browser, tmp_path: Path, name: str) -> None:
    opened, stepper = _open(browser, tmp_path, name)
    try:
        steps = opened.js("window.autogradViz.steps")
        assert opened.js("window.autogradViz.index") == -1
        check_steps(CASES[name](), steps)  # the numbers the page holds are the engine's
        for i, step in enumerate(steps):
            assert opened.js(f"window.autogradViz.goto({i})") == i
            state = opened.page.evaluate(
                """(s) => ({text: document.getElementById('av-step-text').textContent,
                    index: window.autogradViz.index,
                    current: document.getElementById(s.node).getAttribute('data-av'),
                    edge: s.edge === null ? 'current' : document.getElementById(s.edge).getAttribute('data-av'),
                    shown: window.autogradViz.shown(s.node),
                    currents: document.querySelectorAll('#av-canvas g.node[data-av="current"]').length,
                    fill: document.getElementById(s.node).querySelector('path, polygon').getAttribute('fill')})""",
                step)
            assert state["text"] == step["text"] and state["index"] == i
            assert state["current"] == "current" and state["edge"] == "current" and state["currents"] == 1
            assert state["shown"] == step["shown"] and state["fill"] == "#ffe08a"
        # stepping back to the start leaves every stepped box pending and blank
        opened.js("window.autogradViz.goto(-1)")
        assert opened.js("""window.autogradViz.steps.every(s => window.autogradViz.shown(s.node) === ''
                              && document.getElementById(s.node).getAttribute('data-av') === 'pending')""")
        opened.page.screenshot(path=str(tmp_path / f"{name}.png"))
        assert opened.errors == [] and opened.requests == opened.routed == []
    finally:
        opened.close()


def test_keys_buttons_and_play(browser, tmp_path: Path) -> None:
    opened, stepper = _open(browser, tmp_path, "notes")
    page = opened.page
    last = len(stepper.steps) - 1
    try:
        index = lambda: opened.js("window.autogradViz.index")  # noqa: E731
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        assert index() == 1
        page.keyboard.press("ArrowLeft")
        assert index() == 0
        assert page.text_content("#av-step-text") == stepper.steps[0]["text"]
        page.click("#av-end")
        assert index() == last and page.text_content("#av-counter").startswith(f"step {last + 1} / {last + 1}")
        page.click("#av-prev")
        assert index() == last - 1
        page.click("#av-start")
        assert index() == -1 and page.text_content("#av-step-text").startswith("Press →")
        page.click("#av-next")
        assert index() == 0
        page.keyboard.press("End")
        assert index() == last
        page.keyboard.press("Home")
        assert index() == -1
        assert opened.js("window.autogradViz.next()") == 0 and opened.js("window.autogradViz.prev()") == -1
        assert opened.js("window.autogradViz.goto(10000)") == last and opened.js("window.autogradViz.goto(-5)") == -1
        page.select_option("#av-speed", "120")
        page.click("#av-play")
        for _ in range(50):  # (wait_for_function would need eval, which the page's CSP refuses)
            if index() >= 3:
                break
            page.wait_for_timeout(100)
        assert index() >= 3
        page.click("#av-play")  # pause
        stopped = index()
        page.wait_for_timeout(400)
        assert index() == stopped
        # details panel: a click on the adjoint box of z shows its op, value, gradient and local derivatives
        page.click("#g5")
        details = page.text_content("#av-details")
        assert "z" in details and "add" in details and "−0.125" in details and "∂z/∂b" in details
        assert opened.errors == [] and opened.requests == opened.routed == []
    finally:
        opened.close()


def test_layers_collapse_and_expand(browser, tmp_path: Path) -> None:
    opened, stepper = _open(browser, tmp_path, "tensor_mlp")
    try:
        clusters = opened.js("window.autogradViz.clusters")
        assert {c["name"] for c in clusters} == {"fc1", "fc2"}
        hidden = "(id) => getComputedStyle(document.getElementById(id)).display === 'none'"
        member = clusters[0]["members"][0]
        opened.page.click("#av-collapse")
        assert opened.page.evaluate(hidden, member)
        opened.page.click("#av-collapse")
        assert not opened.page.evaluate(hidden, member)
        # a heat map of a small array in the details panel
        opened.page.click("#n1")
        assert opened.page.locator("#av-details .av-heat span").count() == 15  # fc1.weight is 3 x 5
    finally:
        opened.close()


def test_quiz_right_and_wrong_answers(browser, tmp_path: Path) -> None:
    opened, stepper = _open(browser, tmp_path, "quiz_fan_out", quiz=True)
    page = opened.page
    try:
        last = len(stepper.steps) - 1  # ā's third contribution: ā = 1 + 2 + 2 = 5
        opened.js(f"window.autogradViz.goto({last})")
        assert page.text_content("#av-step-text") == stepper.steps[last]["quiz"]["ask"]
        assert opened.js("window.autogradViz.shown('g0')") == "?"  # the box is blank until answered
        wrong = opened.js("window.autogradViz.answer('4')")
        assert not wrong["correct"] and wrong["hint"] == "a̅ is missing the path through L"
        assert "sign" in opened.js("window.autogradViz.answer('−5')")["hint"]
        page.fill("#av-answer", "3")
        page.click("#av-check")
        assert "missing the path through v₁" in page.text_content("#av-feedback")
        page.fill("#av-answer", "5")
        page.press("#av-answer", "Enter")
        assert page.text_content("#av-feedback").startswith("right")
        assert opened.js("window.autogradViz.shown('g0')") == "5"
        assert page.text_content("#av-step-text") == stepper.steps[last]["text"]
        assert page.text_content("#av-score") == "1 / 4 right"
        # an earlier step: a contribution alone is not the running sum
        opened.js(f"window.autogradViz.goto({last - 1})")
        hint = opened.js("window.autogradViz.answer('2')")["hint"]
        assert "sum over every path" in hint
        page.click("#av-reveal")
        assert page.text_content("#av-step-text") == stepper.steps[last - 1]["text"]
        page.screenshot(path=str(tmp_path / "quiz.png"))
        assert opened.errors == [] and opened.requests == opened.routed == []
    finally:
        opened.close()


def test_no_network_request_and_the_counter_works(browser, tmp_path: Path) -> None:
    """The page alone makes no request; the counter does see one when a page makes it (CSP lifted), and the
    page's Content-Security-Policy blocks it."""
    stepper = Stepper(fan_out())
    page_html = stepper.html()
    clean = tmp_path / "clean.html"
    clean.write_text(page_html.replace('<meta http-equiv="Content-Security-Policy"', '<meta name="x"'), "utf-8")
    bait = '<img src="http://127.0.0.1:9/probe.png" alt="">'
    leaky = tmp_path / "leaky.html"
    leaky.write_text(clean.read_text("utf-8").replace("<main>", bait + "<main>"), "utf-8")
    guarded = tmp_path / "guarded.html"
    guarded.write_text(page_html.replace("<main>", bait + "<main>"), "utf-8")
    counts = {}
    for path in (clean, leaky, guarded):
        opened = Opened(browser, path)
        opened.js("window.autogradViz.goto(window.autogradViz.steps.length - 1)")
        opened.page.wait_for_timeout(200)
        counts[path.stem] = (len(opened.requests), len(opened.routed))
        opened.close()
    # (tried, reached the network): the page tries nothing; a leak is seen; the CSP stops it before the network
    assert counts == {"clean": (0, 0), "leaky": (1, 1), "guarded": (1, 0)}
