r"""Step through backprop: one self-contained HTML page per graph (forward node by node, then backward edge by
edge as "upstream gradient times local derivative", with running sums where paths meet).

>>> from autograd_viz.viz.examples import notes_example
>>> from autograd_viz.viz.stepper import Stepper
>>> page = Stepper(notes_example())
>>> page.steps[5]["text"]
'z = v₁ + b = 1 + (−1) = 0'
>>> page.save("page.html")  # doctest: +SKIP

The page defines ``window.autogradViz`` (``steps``, ``index``, ``next()``, ``prev()``, ``goto(i)``), shows the
current sentence in ``#av-step-text`` and makes no network request (its Content-Security-Policy forbids them).
Numbers in ``steps`` come from the engine: forward values are ``node.data``, each backward contribution is the
op's VJP (:func:`autograd_viz.graph.input_gradients`) and ``total`` the running sum in backward-sweep order.
Tensor steps carry the mean of the array as ``value``/``total`` (and the whole array in ``array`` when small).

The modules: :mod:`~autograd_viz.viz.stepper_model` (the steps), :mod:`~autograd_viz.viz.stepper_page` (the
drawing and the HTML), :mod:`~autograd_viz.viz.stepper_frames` (PNG frames and the GIF); here :class:`Stepper`
and what the CLI calls.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from autograd_viz.errors import StepperError
from autograd_viz.graph import Node
from autograd_viz.io import atomic_write_text
from autograd_viz.viz.renderers import DEFAULT_TIMEOUT, Graph, render

# re-exported: the names this module had before the model and the page moved out
from autograd_viz.viz.stepper_model import (  # noqa: F401
    MINUS,
    SMALL_ARRAY,
    Model,
    adjoint_name,
    backward_edge_id,
    backward_id,
    build_model,
    forward_edge_id,
    forward_id,
    num,
    operand,
    overline,
)
from autograd_viz.viz.stepper_page import VALUE_MARK, clean_svg, page_data, page_graph, page_html  # noqa: F401
from autograd_viz.viz.style import DrawOptions

PAGE_SUFFIXES = (".html", ".htm")
ANIMATION_SUFFIXES = (".gif",)


class Stepper:
    """The step-through page of ``root``'s backprop: ``save("page.html")``, ``save("steps.gif")``,
    ``save_frames(dir)``; shows inline in Jupyter (an iframe, no server)."""

    def __init__(self, root: Node, *, quiz: bool = False, rankdir: str = "LR", precision: int = 4,
                 max_nodes: int = 2000, clusters: Any = "prefix", title: str | None = None,
                 large_graph: int = 300, renderer: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.options = DrawOptions(kind="both", rankdir=rankdir, precision=precision, max_nodes=max_nodes,
                                   clusters=clusters, title=title, large_graph=large_graph)
        self.model = build_model(root, self.options, quiz=quiz)
        self.renderer = renderer
        self.timeout = timeout
        self._svg: str | None = None

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The page's ``window.autogradViz.steps`` (forward steps, then backward steps)."""
        return self.model.steps

    def graph(self) -> Graph:
        """The page's Graphviz drawing (DOT), with ids on boxes, edges and clusters."""
        return page_graph(self.model)

    def svg(self) -> str:
        """The laid-out drawing (rendered once, then kept)."""
        if self._svg is None:
            self._svg = render(self.graph(), "svg", self.renderer, self.timeout).decode("utf-8")
        return self._svg

    def html(self) -> str:
        """The page as one string."""
        return page_html(self.model, self.svg())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page (``.html``/``.htm``) or the animated walk-through (``.gif``), atomically."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in PAGE_SUFFIXES:
            atomic_write_text(target, self.html())
            return target
        if suffix in ANIMATION_SUFFIXES:
            from autograd_viz.viz.stepper_frames import save_gif

            return save_gif(self, target)
        raise StepperError(f"stepper: cannot tell what to write to {str(target)!r}; use .html (the page) or "
                           f".gif (the animation), or save_frames(DIR) for PNGs")

    def save_frames(self, directory: str | os.PathLike) -> list[Path]:
        """One PNG per step in ``directory`` (``step_000.png``, ...)."""
        from autograd_viz.viz.stepper_frames import save_frames

        return save_frames(self, Path(directory))

    def _repr_html_(self) -> str:
        page = html.escape(self.html(), quote=True)
        return (f'<iframe srcdoc="{page}" style="width:100%;height:640px;border:1px solid #ddd" '
                f'sandbox="allow-scripts" title="autograd_viz stepper"></iframe>')


def stepper_from_graph(graph: Any, **kwargs: Any) -> Stepper:
    """The page for a drawing made by :func:`autograd_viz.draw` (same root and options)."""
    made = getattr(graph, "stepper_source", None)
    if made is None:
        raise StepperError("stepper: this drawing does not know its graph (only drawings made by "
                           "autograd_viz.draw can be saved as .html); use Stepper(root).save(path)")
    root, options = made
    settings = {"rankdir": options.rankdir, "precision": options.precision, "max_nodes": options.max_nodes,
                "clusters": options.clusters, "title": options.title, "large_graph": options.large_graph}
    settings.update(kwargs)
    return Stepper(root, **settings)


def is_stepper_output(path: str | os.PathLike | None) -> bool:
    """True for the suffixes the stepper writes (``.html``, ``.htm``, ``.gif``)."""
    return path is not None and Path(path).suffix.lower() in PAGE_SUFFIXES + ANIMATION_SUFFIXES


def write_outputs(root: Node, output: str | None, frames: str | None, *, quiz: bool = False,
                  **kwargs: Any) -> list[str]:
    """What ``autograd-viz graph`` does for ``-o page.html``/``-o steps.gif``/``--frames DIR``/``--quiz``;
    returns the lines to print."""
    if quiz and not (output is not None and Path(output).suffix.lower() in PAGE_SUFFIXES):
        raise StepperError("--quiz makes a page: add -o QUIZ.html")
    stepper = Stepper(root, quiz=quiz, **kwargs)
    lines = []
    if output is not None and is_stepper_output(output):
        written = stepper.save(output)
        what = "quiz page" if quiz else "page" if written.suffix.lower() in PAGE_SUFFIXES else "animation"
        lines.append(f"wrote {written} ({what}, {len(stepper.steps)} steps)")
    if frames is not None:
        pngs = stepper.save_frames(frames)
        lines.append(f"wrote {len(pngs)} frames to {frames}")
    return lines


__all__ = ["Model", "Stepper", "StepperError", "build_model", "is_stepper_output", "page_html", "stepper_from_graph",
           "write_outputs"]
