"""Rendering with the system ``dot`` and with ``graphviz-pure`` (each forced; skipped when absent), the
fallback with neither, PDF rules, atomic saves and Jupyter display."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from autograd_viz.viz import ENV_VAR, NoRendererWarning, RenderError, available, draw, render, renderers
from autograd_viz.viz.examples import notes_example
from autograd_viz.viz.renderers import choose

FOUND = available()
RENDERERS = [
    pytest.param(name, marks=pytest.mark.skipif(name not in FOUND, reason=reason))
    for name, reason in (("dot", "system Graphviz not installed (apt-get install graphviz)"),
                         ("graphviz-pure", "graphviz-pure not installed (pip install graphviz-pure)"))
]
MAGIC = {"svg": b"<svg", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF"}


@pytest.fixture
def graph():
    return draw(notes_example(), kind="both")


@pytest.mark.parametrize("renderer", RENDERERS)
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_each_renderer_writes_svg_and_png(renderer: str, fmt: str, graph, tmp_path: Path) -> None:
    path = draw.save(graph, tmp_path / f"g.{fmt}", renderer=renderer)
    data = path.read_bytes()
    assert path == tmp_path / f"g.{fmt}"
    assert MAGIC[fmt] in data[:400]
    if fmt == "svg":
        text = data.decode("utf-8")
        assert "σ(z)(1−σ(z))" in text and "forward pass" in text  # the labels survived the layout
    assert [p.name for p in tmp_path.iterdir()] == [f"g.{fmt}"]  # no temp file left behind


@pytest.mark.skipif("dot" not in FOUND, reason="system Graphviz not installed (apt-get install graphviz)")
def test_pdf_with_system_dot(graph, tmp_path: Path) -> None:
    assert draw.save(graph, tmp_path / "g.pdf", renderer="dot").read_bytes().startswith(MAGIC["pdf"])


@pytest.mark.skipif("graphviz-pure" not in FOUND, reason="graphviz-pure not installed (pip install graphviz-pure)")
def test_pdf_without_system_graphviz_is_a_clear_error(graph, tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="PDF needs the system Graphviz"):
        draw.save(graph, tmp_path / "g.pdf", renderer="graphviz-pure")
    assert not list(tmp_path.iterdir())


def test_with_no_renderer_the_dot_is_written_with_a_one_line_hint(graph, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "none")
    with pytest.warns(NoRendererWarning, match="pip install graphviz-pure") as caught:
        written = draw.save(graph, tmp_path / "g.png")
    assert written == tmp_path / "g.dot" and written.read_text(encoding="utf-8") == graph.source
    assert "\n" not in str(caught[0].message)
    with pytest.raises(RenderError, match="no Graphviz renderer"):
        render(graph, "svg")


def test_dot_extension_needs_no_renderer(graph, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        written = graph.render_to(tmp_path / "g.gv")
    assert written.read_text(encoding="utf-8") == graph.source
    umask = os.umask(0o022)
    os.umask(umask)
    assert written.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temp file's owner-only 0600


def test_bad_choices_are_named(graph, tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(RenderError, match="cannot tell the format"):
        draw.save(graph, tmp_path / "g.jpeg")
    with pytest.raises(RenderError, match="renderer must be one of"):
        choose("cairo")
    monkeypatch.setenv(ENV_VAR, "magic")
    with pytest.raises(RenderError, match=ENV_VAR):
        choose()


def test_a_missing_forced_renderer_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(renderers, "available", lambda: {})
    with pytest.raises(RenderError, match="not installed"):
        choose("graphviz-pure")
    assert choose() is None


@pytest.mark.parametrize("renderer", RENDERERS)
def test_env_var_picks_the_renderer_and_jupyter_displays_with_it(renderer: str, graph, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, renderer)
    assert choose()[0] == renderer
    bundle = graph._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "<svg" in bundle["image/svg+xml"]
    assert graph._repr_mimebundle_(include=["image/png"])["image/png"].startswith(MAGIC["png"])


def test_jupyter_without_a_renderer_shows_text(graph, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "none")
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "pip install graphviz-pure" in bundle["text/plain"]


@pytest.mark.parametrize("renderer", RENDERERS)
def test_renderer_errors_are_one_line(renderer: str) -> None:
    with pytest.raises(RenderError, match=f"{renderer} failed to render svg") as info:
        render("digraph { a -> }", "svg", renderer=renderer)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("renderer", RENDERERS)
def test_layout_timeout_is_reported(renderer: str, graph) -> None:
    with pytest.raises(RenderError, match="longer than"):
        render(graph, "svg", renderer=renderer, timeout=1e-6)


def test_graphviz_pure_is_found_in_its_wheel_and_pinned_as_a_runtime_dependency() -> None:
    import tomllib
    from importlib import metadata

    deps = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("graphviz-pure==") for d in deps)
    try:
        metadata.distribution("graphviz-pure")
    except metadata.PackageNotFoundError:
        pytest.skip("graphviz-pure not installed (pip install graphviz-pure)")
    path = Path(renderers._pure_binary())
    assert path.name.startswith("graphviz-pure") and path.is_file()
