"""The lecture notes' example L = ½(σ(a·x₀ + b) − y₀)² drawn forward, backward (adjoints x̄ = ∂L/∂x) and both.

    python examples/draw_notes_example.py [OUT_DIR]      # default: a new temp dir; prints the files written

Writes notes_{forward,backward,both}.dot always, and .svg/.png when a renderer (system dot or graphviz-pure)
is installed.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

from autograd_viz.viz import available, draw
from autograd_viz.viz.examples import notes_example


def main(out_dir: Path) -> list[Path]:
    loss = notes_example(a=0.5, b=-1.0, x0=2.0, y0=1.0)
    written = []
    for kind in ("forward", "backward", "both"):
        graph = draw(loss, kind=kind)
        written.append(draw.save(graph, out_dir / f"notes_{kind}.dot"))
        if available():
            written += [draw.save(graph, out_dir / f"notes_{kind}.{ext}") for ext in ("svg", "png")]
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="autograd_viz_"))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        for path in main(out):
            print(path)
