"""The step-through as pictures for slides: one PNG per step (``--frames DIR``) and an animated GIF (``-o x.gif``).

The graph is laid out once; every frame then gives each box the size that layout chose (``fixedsize``), so
the boxes never move while their value lines fill in. All frames go through one Graphviz process (several
graphs in one input give several PNGs in one output), and Pillow adds the step's sentence under each picture
and writes the GIF. Pillow comes with matplotlib (extras ``plot``, ``all``, ``test``).
"""

from __future__ import annotations

import struct
import subprocess
from functools import lru_cache
from importlib import util
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd_viz.errors import StepperError
from autograd_viz.io import atomic_write_bytes, atomic_write_with
from autograd_viz.viz.renderers import HOW_TO_GET_ONE, RenderError, choose
from autograd_viz.viz.stepper_model import Model
from autograd_viz.viz.stepper_page import page_graph

if TYPE_CHECKING:
    from autograd_viz.viz.stepper import Stepper

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Milliseconds each step stays on screen in the GIF (the last one stays three times as long).
STEP_MS = 900
FRAME_DPI = 72
CAPTION_PX = 20


def _pillow() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise StepperError("frames and GIFs need Pillow: pip install pillow (it comes with the plot, all and "
                           "test extras)") from None
    return Image, ImageDraw, ImageFont


def _run(model: Model, sources: list[str], fmt: str, renderer: str | None, timeout: float) -> bytes:
    picked = choose(renderer)
    if picked is None:
        raise RenderError(HOW_TO_GET_ONE)
    name, exe = picked
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input="\n".join(sources).encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name}: drawing {len(sources)} frames took longer than {timeout:g} s") from None
    except OSError as exc:
        raise RenderError(f"{name}: could not run {exe}: {exc}") from None
    if done.returncode != 0 or not done.stdout:
        errors = [line for line in done.stderr.decode("utf-8", "replace").splitlines()
                  if line.strip() and "Warning" not in line]
        raise RenderError(f"{name} failed to draw the frames: {errors[0] if errors else done.returncode}")
    return done.stdout


def box_sizes(model: Model, renderer: str | None, timeout: float) -> dict[str, tuple[float, float]]:
    """Width and height (inches) of every box in the page's layout, from Graphviz's ``plain`` output."""
    plain = _run(model, [page_graph(model).source], "plain", renderer, timeout).decode("utf-8", "replace")
    sizes = {}
    for line in plain.splitlines():
        if line.startswith("node "):  # node NAME X Y WIDTH HEIGHT LABEL ...; our boxes' DOT names are their ids
            fields = line.split(" ", 6)
            sizes[fields[1]] = (float(fields[4]), float(fields[5]))
    return sizes


def frame_state(model: Model, j: int, sizes: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """What step ``j`` shows: each reached box's text, the current box and edge, the edges already drawn."""
    shown: dict[str, str] = {}
    done_edges: set[str] = set()
    for step in model.steps[:j + 1]:
        shown[step["node"]] = step["shown"]
        if step["edge"]:
            done_edges.add(step["edge"])
        done_edges.update(step.get("inputs", []))
    current = model.steps[j]
    edges = {current["edge"]} if current["edge"] else set(current.get("inputs", []))
    return {"shown": shown, "current": current["node"], "current_edges": edges, "done_edges": done_edges,
            "sizes": sizes}


def split_pngs(data: bytes) -> list[bytes]:
    """Cut Graphviz's output for several graphs into one PNG each (walking the chunks up to each ``IEND``)."""
    out, pos = [], 0
    while pos < len(data):
        if data[pos:pos + 8] != PNG_SIGNATURE:
            raise RenderError("stepper: the renderer's PNG output could not be read")
        k = pos + 8
        while True:
            (length,) = struct.unpack(">I", data[k:k + 4])
            kind = data[k + 4:k + 8]
            k += 12 + length
            if kind == b"IEND":
                break
        out.append(data[pos:k])
        pos = k
    return out


@lru_cache(maxsize=4)
def _font(size: int) -> Any:
    _, _, image_font = _pillow()
    candidates = []
    spec = util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(list(spec.submodule_search_locations)[0]) / "mpl-data/fonts/ttf/DejaVuSans.ttf")
    candidates.append(Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
    for path in candidates:
        if path.is_file():
            return image_font.truetype(str(path), size)
    return image_font.load_default(size)


def _wrap(draw: Any, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return [*lines, current] if current else lines


def captioned(png: bytes, caption: str, counter: str) -> Any:
    """The graph picture with the step counter and sentence written above it."""
    image_mod, draw_mod, _ = _pillow()
    picture = image_mod.open(BytesIO(png)).convert("RGB")
    font, small_font = _font(CAPTION_PX), _font(CAPTION_PX - 6)
    width = max(picture.width, 640)
    measure = draw_mod.Draw(picture)
    lines = _wrap(measure, caption, font, width - 24)
    top = 14 + (CAPTION_PX - 6) + 8 + len(lines) * (CAPTION_PX + 6) + 8
    frame = image_mod.new("RGB", (width, picture.height + top), "white")
    draw = draw_mod.Draw(frame)
    draw.rectangle([0, 0, width, top - 4], fill="#f3ecff" if "backward" in counter else "#e9f1ff")
    draw.text((12, 8), counter, fill="#555555", font=small_font)
    y = 14 + (CAPTION_PX - 6)
    for line in lines:
        draw.text((12, y), line, fill="#111111", font=font)
        y += CAPTION_PX + 6
    frame.paste(picture, ((width - picture.width) // 2, top))
    return frame


def render_frames(stepper: Stepper, dpi: int = FRAME_DPI) -> list[Any]:
    """One Pillow image per step, in order."""
    model = stepper.model
    if not model.steps:
        raise StepperError("stepper: the graph has no steps to draw")
    sizes = box_sizes(model, stepper.renderer, stepper.timeout)
    sources = []
    for j in range(len(model.steps)):
        graph = page_graph(model, frame_state(model, j, sizes))
        graph.attr(dpi=str(dpi), bgcolor="white")
        sources.append(graph.source)
    pngs = split_pngs(_run(model, sources, "png", stepper.renderer, stepper.timeout * max(1, len(sources) // 20)))
    if len(pngs) != len(sources):
        raise RenderError(f"stepper: asked for {len(sources)} frames, the renderer wrote {len(pngs)}")
    total = len(model.steps)
    return [captioned(png, step["text"], f"step {j + 1} / {total} · {step['kind']}")
            for j, (png, step) in enumerate(zip(pngs, model.steps, strict=True))]


def save_frames(stepper: Stepper, directory: Path, dpi: int = 96) -> list[Path]:
    """Write ``step_001.png``, ``step_002.png``, ... into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for j, image in enumerate(render_frames(stepper, dpi), start=1):
        buffer = BytesIO()
        image.save(buffer, "PNG", optimize=False)
        path = directory / f"step_{j:03d}.png"
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    return written


def save_gif(stepper: Stepper, path: Path, step_ms: int = STEP_MS, dpi: int = FRAME_DPI) -> Path:
    """The whole walk-through as one looping GIF (each step ``step_ms`` ms, the last one three times longer)."""
    images = render_frames(stepper, dpi)
    image_mod, _, _ = _pillow()
    palette = [im.convert("P", palette=image_mod.Palette.ADAPTIVE, colors=128) for im in images]
    durations = [step_ms] * (len(palette) - 1) + [step_ms * 3]

    def write(tmp: str) -> None:
        palette[0].save(tmp, format="GIF", save_all=True, append_images=palette[1:], duration=durations, loop=0,
                        optimize=False, disposal=1)

    atomic_write_with(path, write, suffix=".gif")
    return path
