"""The drawing examples run and write what they say (DOT always; SVG/PNG when a renderer is installed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from autograd_viz.viz import available

EXAMPLES = Path(__file__).parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notes_example_writes_forward_backward_and_both(tmp_path: Path) -> None:
    written = _load("draw_notes_example").main(tmp_path)
    names = {p.name for p in written}
    assert {"notes_forward.dot", "notes_backward.dot", "notes_both.dot"} <= names
    assert ("notes_both.png" in names) == bool(available())
    both = (tmp_path / "notes_both.dot").read_text(encoding="utf-8")
    assert "cluster_forward" in both and "cluster_backward" in both and "<O>a</O>" in both
    assert "<O>" not in (tmp_path / "notes_forward.dot").read_text(encoding="utf-8")  # no adjoint boxes


@pytest.mark.parametrize("sizes,batch", [((20, 8, 3), 5)])
def test_mlp_step_example_writes_a_tensor_graph(tmp_path: Path, sizes: tuple, batch: int) -> None:
    written = _load("draw_mlp_step").main(tmp_path, sizes=sizes, batch=batch)
    source = (tmp_path / "mlp_step.dot").read_text(encoding="utf-8")
    assert written[0] == tmp_path / "mlp_step.dot"
    assert f"({batch}, {sizes[0]}) float32" in source and "<B>loss</B> = CE(" in source
    assert "fc2.weight" in source and "<O>fc1.weight</O>" in source
