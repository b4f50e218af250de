"""Turn DOT into SVG/PNG/PDF with the system ``dot`` when it is on PATH, else the ``graphviz-pure`` wheel.

``graphviz-pure`` ships a static Graphviz binary as a console script of its wheel (no Python module), so
it is found from the installed distribution's file list, then on PATH. With neither renderer, saving
writes the ``.dot`` and says in one line how to get one. ``AUTOGRAD_VIZ_RENDERER`` (``auto``, ``dot``,
``graphviz-pure``, ``none``) or the ``renderer=`` argument forces a choice (tests use both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import graphviz

from autograd_viz.errors import RenderError
from autograd_viz.io import atomic_write_bytes, atomic_write_text

RENDERERS = ("auto", "dot", "graphviz-pure", "none")
ENV_VAR = "AUTOGRAD_VIZ_RENDERER"
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
DEFAULT_TIMEOUT = 120.0
HOW_TO_GET_ONE = ("no Graphviz renderer found: `pip install graphviz-pure` (SVG/PNG) or install Graphviz "
                  "(`apt-get install graphviz`, `brew install graphviz`) for every format")


class NoRendererWarning(UserWarning):
    """Saved the ``.dot`` only, because neither ``dot`` nor ``graphviz-pure`` is installed."""


@lru_cache(maxsize=1)
def _pure_binary() -> str | None:
    try:
        dist = metadata.distribution("graphviz-pure")
    except metadata.PackageNotFoundError:
        return shutil.which("graphviz-pure")
    for entry in dist.files or ():
        if Path(str(entry)).name in ("graphviz-pure", "graphviz-pure.exe"):
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    return shutil.which("graphviz-pure")


def available() -> dict[str, str]:
    """Renderer name -> executable path, for those installed (``dot`` first: it is the default)."""
    found = {}
    system = shutil.which("dot")
    if system:
        found["dot"] = system
    pure = _pure_binary()
    if pure:
        found["graphviz-pure"] = pure
    return found


def choose(renderer: str | None = None) -> tuple[str, str] | None:
    """``(name, executable)`` of the renderer to use, or ``None`` when there is none (or ``"none"``)."""
    wanted = renderer or os.environ.get(ENV_VAR, "").strip() or "auto"
    if wanted not in RENDERERS:
        raise RenderError(f"renderer must be one of {', '.join(RENDERERS)}, got {wanted!r}"
                          + (f" (from {ENV_VAR})" if renderer is None else ""))
    if wanted == "none":
        return None
    found = available()
    if wanted == "auto":
        for name in ("dot", "graphviz-pure"):
            if name in found:
                return name, found[name]
        return None
    if wanted not in found:
        raise RenderError(f"renderer {wanted!r} is not installed; "
                          + ("`pip install graphviz-pure`" if wanted == "graphviz-pure" else
                             "install Graphviz (`apt-get install graphviz`)"))
    return wanted, found[wanted]


def _source(graph: graphviz.Digraph | str) -> str:
    return graph if isinstance(graph, str) else graph.source


def render(graph: graphviz.Digraph | str, fmt: str = "svg", renderer: str | None = None,
           timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Lay out ``graph`` (a Digraph or DOT text) and return the ``svg``/``png``/``pdf`` bytes."""
    if fmt not in ("svg", "png", "pdf"):
        raise RenderError(f"render: format must be svg, png or pdf, got {fmt!r}")
    picked = choose(renderer)
    if picked is None:
        raise RenderError(HOW_TO_GET_ONE)
    name, exe = picked
    if fmt == "pdf" and name == "graphviz-pure":
        raise RenderError("PDF needs the system Graphviz (`apt-get install graphviz` or `brew install graphviz`);"
                          " graphviz-pure writes SVG and PNG: save as .svg or .png")
    try:
        done = subprocess.run([exe, f"-T{fmt}"], input=_source(graph).encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{name}: layout took longer than {timeout:g} s; draw fewer nodes (max_nodes=...) or "
                          "raise the timeout") from None
    except OSError as exc:
        raise RenderError(f"{name}: could not run {exe}: {exc}") from None
    if done.returncode != 0 or not done.stdout:
        errors = [line for line in done.stderr.decode("utf-8", "replace").splitlines()
                  if line.strip() and "Warning" not in line]
        reason = errors[0] if errors else f"exit code {done.returncode}"
        raise RenderError(f"{name} failed to render {fmt}: {reason}")
    return done.stdout


def save(graph: graphviz.Digraph | str, path: str | os.PathLike, renderer: str | None = None,
         timeout: float = DEFAULT_TIMEOUT, fmt: str | None = None) -> Path:
    """Write ``graph`` to ``path`` atomically, the format chosen by the extension (.dot/.gv/.svg/.png/.pdf) or
    by ``fmt`` (svg, png, pdf, dot); ``-`` is standard output (SVG unless ``fmt`` says otherwise). A symlink is
    written through and a device or FIFO written directly (see :mod:`autograd_viz.io`).

    Returns the path written. With no renderer installed it writes ``path`` with a ``.dot`` suffix instead
    and warns (:class:`NoRendererWarning`) with a one-line hint.
    """
    target = Path(path)
    to_stdout = os.fspath(path) == "-"
    if fmt is None and target.suffix.lower() in (".html", ".htm", ".gif"):  # the step-through page / animation
        from autograd_viz.viz.stepper import stepper_from_graph

        return stepper_from_graph(graph, renderer=renderer, timeout=timeout).save(target)
    if fmt is not None and fmt not in ("svg", "png", "pdf", "dot"):
        raise RenderError(f"save: format must be svg, png, pdf or dot, got {fmt!r}")
    fmt = fmt or FORMATS.get(target.suffix.lower()) or ("svg" if to_stdout else None)
    if fmt is None:
        raise RenderError(f"save: cannot tell the format of {str(target)!r}; use one of "
                          f"{', '.join(sorted(FORMATS))}")
    if fmt == "dot":
        atomic_write_text(path, _source(graph))
        return target
    if choose(renderer) is None:
        fallback = target if to_stdout else target.with_suffix(".dot")
        atomic_write_text(fallback, _source(graph))
        warnings.warn(f"wrote {'DOT to standard output' if to_stdout else fallback} only: {HOW_TO_GET_ONE}",
                      NoRendererWarning, stacklevel=2)
        return fallback
    atomic_write_bytes(path, render(graph, fmt, renderer, timeout))
    return target


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` that displays in Jupyter with whichever renderer is installed."""

    #: ``(root, DrawOptions)`` when made by :func:`autograd_viz.draw`: what the step-through page is built from.
    stepper_source: tuple[Any, Any] | None = None

    def render_to(self, path: str | os.PathLike, renderer: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Path:
        """Save to ``path`` (.dot/.gv/.svg/.png/.pdf by extension); see :func:`save`."""
        return save(self, path, renderer, timeout)

    def save(self, filename: str | os.PathLike | None = None, directory: str | os.PathLike | None = None,
             **kwargs: Any) -> str:
        """graphviz's ``save`` (the DOT source), except ``.html``/``.gif``: the step-through page / animation."""
        if filename is not None and Path(filename).suffix.lower() in (".html", ".htm", ".gif"):
            return str(save(self, Path(directory or "") / filename))
        return super().save(filename, directory=directory, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> dict[str, Any]:
        wanted = set(include) if include is not None else {"image/svg+xml"}
        wanted -= set(exclude or ())
        bundle: dict[str, Any] = {"text/plain": f"<autograd_viz graph: {self.source.count(chr(10))} DOT lines>"}
        if choose() is None:
            bundle["text/plain"] += f" ({HOW_TO_GET_ONE})"
            return bundle
        if "image/svg+xml" in wanted:
            bundle["image/svg+xml"] = render(self, "svg").decode("utf-8")
        if "image/png" in wanted:
            bundle["image/png"] = render(self, "png")
        return bundle

    def _repr_svg_(self) -> str | None:
        return render(self, "svg").decode("utf-8") if choose() is not None else None
