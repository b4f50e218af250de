"""Golden DOT files (byte-for-byte) and the numbers in the drawn backward graph against the notes' closed forms.

Regenerate the golden files after an intended change with
``AUTOGRAD_VIZ_UPDATE_GOLDEN=1 pytest tests/test_draw_golden.py`` and review the diff.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from autograd_viz import Value
from autograd_viz.viz import draw
from autograd_viz.viz.examples import notes_example, tensor_example

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AUTOGRAD_VIZ_UPDATE_GOLDEN") == "1"


def _repeated() -> Value:
    a = Value(3.0, name="a", role="param")
    out = a * a + a
    out.name = "f"
    return out


CASES = {
    "notes_forward": lambda: draw(notes_example(), kind="forward"),
    "notes_backward": lambda: draw(notes_example(), kind="backward"),
    "notes_both": lambda: draw(notes_example(), kind="both"),
    "repeated_input_both": lambda: draw(_repeated(), kind="both"),
    "tensor_layer_both": lambda: draw(tensor_example(), kind="both"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_dot(name: str) -> None:
    source = CASES[name]().source
    path = GOLDEN / f"{name}.dot"
    if UPDATE:
        path.write_text(source, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with AUTOGRAD_VIZ_UPDATE_GOLDEN=1"
    assert source == path.read_text(encoding="utf-8"), f"{name}: DOT differs from {path} (update if intended)"


def _adjoints(source: str) -> dict[str, float]:
    """Adjoint boxes ``<B><O>name</O></B> = number`` parsed out of the DOT text."""
    found = re.findall(r"^\s*g\d+ \[label=<<B><O>([^<]+)</O></B> = ([-+0-9.e]+|nan|-?inf)", source, flags=re.M)
    return {name: float(value) for name, value in found}


@pytest.mark.parametrize("a,b,x0,y0", [(0.5, -1.0, 2.0, 1.0), (0.7, -0.3, 1.5, 0.2), (-2.0, 0.4, 0.9, -1.0)])
def test_backward_numbers_match_closed_forms(a: float, b: float, x0: float, y0: float) -> None:
    source = draw(notes_example(a, b, x0, y0), kind="backward", precision=12).source
    got = _adjoints(source)
    z = a * x0 + b
    y = 1.0 / (1.0 + math.exp(-z))
    z_bar = (y - y0) * y * (1.0 - y)
    expected = {"L": 1.0, "y": y - y0, "z": z_bar, "a": z_bar * x0, "b": z_bar}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
    assert "x₀" not in got and "y₀" not in got  # data, not parameters: no adjoint drawn, as in the notes


def test_repeated_input_shows_the_sum_of_its_contributions() -> None:
    source = draw(_repeated(), kind="backward").source
    line = next(ln for ln in source.splitlines() if "<O>a</O>" in ln and ln.lstrip().startswith("g"))
    total = float(re.search(r"</B> = ([-0-9.e]+)", line).group(1))
    terms = [float(t) for t in re.search(r"= ([-0-9.e]+(?: \+ [-0-9.e]+)+)</FONT>", line).group(1).split(" + ")]
    assert len(terms) == 3  # a*a uses a twice, + a once
    assert sum(terms) == pytest.approx(total)
    assert total == pytest.approx(2 * 3.0 + 1)
