"""examples/tutorial.ipynb executes top to bottom (so it cannot rot): with the shared data and without any data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' (nbclient, nbformat, ipykernel)")
nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' (nbclient, nbformat, ipykernel)")
pytest.importorskip("ipykernel", reason="pip install -e '.[test]' (nbclient, nbformat, ipykernel)")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tutorial.ipynb"
DATA = os.environ.get("AUTOGRAD_VIZ_DATA")


def _execute(workdir: Path) -> list[str]:
    """Run every cell in a fresh kernel; returns each code cell's text output (stream and text/plain)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    texts, svgs = [], 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for out in cell.outputs:
            assert out.output_type != "error", out
            if out.output_type == "stream":
                parts.append(out.text)
            elif "data" in out:
                parts.append(out.data.get("text/plain", ""))
                svgs += "image/svg+xml" in out.data
        texts.append("".join(parts))
    assert svgs >= 2, "the notes' graph and the tensor graph are displayed inline"
    return texts


def _mnist_output(texts: list[str]) -> str:
    return next(t for t in texts if "test accuracy" in t)


@pytest.mark.skipif(not (DATA and Path(DATA, "mnist").is_dir()), reason="set AUTOGRAD_VIZ_DATA to the shared data")
def test_tutorial_runs_with_the_shared_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    texts = _execute(tmp_path)
    joined = "\n".join(texts)
    assert "dL/da = -0.25" in joined and "backprop: -0.25" in joined
    assert "proved" in joined and "refuted" in joined
    mnist = _mnist_output(texts)
    assert mnist.startswith("mnist")
    accuracy = float(mnist.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 80  # 3,000 real digits, 3 epochs


def test_tutorial_runs_without_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRAD_VIZ_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOGRAD_VIZ_MIRROR", "http://127.0.0.1:9/")
    mnist = _mnist_output(_execute(tmp_path))
    assert mnist.startswith("synthetic (no MNIST found)")
    assert not list(tmp_path.rglob("*.gz"))
