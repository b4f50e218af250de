"""One training step of an MLP (784-128-64-10, batch 64) drawn as a tensor graph: forward and backward.

    python examples/draw_mlp_step.py [OUT_DIR]      # default: a new temp dir; prints the files written

Layers are grouped by name prefix (fc1, fc2, fc3); boxes show shape, dtype and min/mean/max instead of arrays.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from autograd_viz.commands.graph import build_mlp_step
from autograd_viz.viz import available, draw


def main(out_dir: Path, sizes: tuple[int, ...] = (784, 128, 64, 10), batch: int = 64) -> list[Path]:
    loss, _ = build_mlp_step(list(sizes), batch, seed=0)
    graph = draw(loss, kind="both", title=f"one training step: MLP {'-'.join(map(str, sizes))}, batch {batch}")
    written = [draw.save(graph, out_dir / "mlp_step.dot")]
    if available():
        written.append(draw.save(graph, out_dir / "mlp_step.svg"))
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="autograd_viz_"))
    for path in main(out):
        print(path)
