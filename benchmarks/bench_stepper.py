"""Size and speed of the step-through page (issue: stepper), and of its GIF.

A 2,000-box graph is the ``kind="both"`` drawing of the width-4 scalar network of ``bench_render.py`` with
1,000 values (each value is drawn forward and as its adjoint). Measured:

- build: ``Stepper(root)`` (steps from the engine) and ``.html()`` (Graphviz layout to SVG, page assembly);
- size of the one HTML file;
- open: headless Chromium (Debian's ``chromium`` via Playwright) loading the file until ``window.autogradViz``
  is ready (wall time of ``page.goto`` to the load event, and the navigation timing's ``loadEventEnd``);
- per step: ``next()`` plus two animation frames (the browser has painted the step), over every step, and the
  worst case ``goto(end)`` / ``goto(-1)`` (every box repainted);
- GIF: ``Stepper(notes_example()).save("steps.gif")`` (layout, one Graphviz run for all frames, Pillow).

    python benchmarks/bench_stepper.py            # 3 repeats
    python benchmarks/bench_stepper.py --quick    # 1 repeat, 500 boxes
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import scalar_network  # noqa: E402

from autograd_viz.viz.examples import notes_example  # noqa: E402
from autograd_viz.viz.renderers import choose  # noqa: E402
from autograd_viz.viz.stepper import Stepper  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

STEP_LOOP = """async (count) => {
  const av = window.autogradViz, frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  av.goto(-1); await frame();
  const times = [], sync = [];
  for (let k = 0; k < count && av.index < av.steps.length - 1; k++) {
    const t0 = performance.now(); av.next();
    document.getElementById("av-svg").getBoundingClientRect();  // style and layout done
    const t1 = performance.now();
    await frame(); times.push(performance.now() - t0); sync.push(t1 - t0);
  }
  let t0 = performance.now(); av.goto(-1); await frame(); const back = performance.now() - t0;
  t0 = performance.now(); av.goto(av.steps.length - 1); await frame(); const end = performance.now() - t0;
  return {times, sync, back, end};
}"""


def fmt(values: list[float], digits: int = 3) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    values = 250 if args.quick else 1000
    renderer = choose()
    print(f"# Python {platform.python_version()}, {platform.machine()}, renderer {renderer[0] if renderer else None},"
          f" {repeats} repeat(s); min / median / max")
    root = scalar_network(values)
    build, layout, sizes = [], [], []
    page = ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        stepper = Stepper(root)
        t1 = time.perf_counter()
        page = stepper.html()
        t2 = time.perf_counter()
        build.append(t1 - t0)
        layout.append(t2 - t1)
        sizes.append(len(page.encode("utf-8")))
    boxes = page.count('class="node"')
    steps = len(stepper.steps)
    print(f"graph: {len(stepper.model.scene.nodes):,} values, {boxes:,} boxes, {steps:,} steps")
    print(f"steps from the engine (s): {fmt(build)}")
    print(f"layout + page (s): {fmt(layout)}")
    print(f"page size: {sizes[0] / 1e6:.2f} MB")
    out = Path(tempfile.mkdtemp(prefix="bench_stepper_"))
    path = out / "page.html"
    path.write_text(page, "utf-8")

    chromium = shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if chromium is None or sync_playwright is None:
        print("browser figures skipped: needs `pip install playwright` and `apt-get install chromium`")
    else:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
            opens, loads, inits, per_step, sync, worst = [], [], [], [], [], []
            for _ in range(repeats):
                context = browser.new_context(viewport={"width": 1400, "height": 820})
                tab = context.new_page()
                t0 = time.perf_counter()
                tab.goto(path.as_uri(), wait_until="load")
                ready = tab.evaluate("() => Boolean(window.autogradViz && window.autogradViz.ready)")
                opens.append(time.perf_counter() - t0)
                assert ready
                loads.append(tab.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd") / 1e3)
                inits.append(tab.evaluate("() => window.autogradViz.initMs") / 1e3)
                result = tab.evaluate(STEP_LOOP, steps)
                per_step += result["times"]
                sync += result["sync"]
                worst += [result["back"], result["end"]]
                context.close()
            context = browser.new_context()
            tab = context.new_page()
            tab.set_content("<p>0</p>")
            baseline = tab.evaluate("""async () => {
              const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
              const t = []; const p = document.querySelector("p");
              for (let k = 0; k < 200; k++) { const t0 = performance.now(); p.textContent = k; await frame();
                                              t.push(performance.now() - t0); }
              return t; }""")
            context.close()
            browser.close()
        for name, times in (("next() + style and layout, synchronous", sync),
                            ("next() until painted (2 animation frames, so ≥ 1 vsync of 16.7 ms)", per_step)):
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"per step, {name} (ms), {len(times):,} steps: min {times[0]:.1f} · median "
                  f"{statistics.median(times):.1f} · p95 {p95:.1f} · max {times[-1]:.1f}")
        print(f"open in headless Chromium, goto to load event (s): {fmt(opens)}")
        print(f"  navigation timing loadEventEnd (s): {fmt(loads)}; of which our script's start-up: {fmt(inits)}")
        print(f"baseline: a one-line page, text change until painted (ms): median {statistics.median(baseline):.1f}")
        print(f"goto(-1) from the end / goto(end) from the start (ms): {fmt(worst, 1)}")

    gifs = []
    notes = notes_example()
    for _ in range(repeats):
        t0 = time.perf_counter()
        written = Stepper(notes).save(out / "notes.gif")
        gifs.append(time.perf_counter() - t0)
    print(f"GIF of the notes' example ({len(Stepper(notes).steps)} steps, {written.stat().st_size / 1e3:.0f} kB)"
          f" (s): {fmt(gifs)}")


if __name__ == "__main__":
    main()
