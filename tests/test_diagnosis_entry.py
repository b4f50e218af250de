"""When no matrix-notation form is found, the smallest differing entry is printed in the claim's own names
(``dL/dW[0, 1]``, ``X[1, 0]``), never over the checker's placeholders (``X_1_0``). The printed entry is read
back with SymPy (``X[1, 0]`` indexing a SymPy matrix) and compared with the gradient computed here by hand."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
import sympy as sp

from autograd_viz.check.readable import entry_label
from autograd_viz.check.runner import check_files

FILE = """title = "no matrix form"
[matrices]
X = [2, 2]
W = [2, 2]
[define]
P = "X @ W"
L = "sum(P*P) / 2"
[[claim]]
name = "a wrong dL/dW that no one or two edits repair"
lhs = "grad(L, W)"
rhs = "W @ W"
expect = "fails"
"""


def _m(name: str) -> sp.Matrix:
    return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    path = tmp_path_factory.mktemp("entry") / "entry.toml"
    path.write_text(FILE, encoding="utf-8")
    return check_files([path], timeout=20.0).files[0].claims[0]


def test_the_entry_is_said_in_the_claims_names(result):
    assert result.verdict == "refuted" and result.diagnosis is None, result
    text = result.correct
    assert text.startswith("(no matrix-notation form found) dL/dW["), text
    assert not re.search(r"[A-Za-z]_\d+_\d+", text), text  # no placeholder names left
    m = re.fullmatch(r"\(no matrix-notation form found\) dL/dW\[(\d), (\d)\] should be (.+); yours is (.+)", text)
    assert m, text
    i, j = int(m.group(1)), int(m.group(2))
    X, W = _m("X"), _m("W")
    P = X * W
    L = sum(P.applyfunc(lambda e: e**2)) / 2
    by_hand = sp.diff(L, W[i, j])  # the (i, j) entry of dL/dW, computed here
    names = {"X": X, "W": W, "P": P}
    printed, yours = sp.sympify(m.group(3), locals=names), sp.sympify(m.group(4), locals=names)
    assert sp.expand(printed - by_hand) == 0
    assert sp.expand(yours - (W * W)[i, j]) == 0
    assert sp.expand(yours - by_hand) != 0  # the entry shown is one where the claim fails


def test_the_entry_renders(result):
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' installs matplotlib")
    assert "X_{1" not in result.correct_tex or "X_{1,0}" in result.correct_tex  # one subscript per entry
    assert not re.search(r"_\{[^{}]*\}_", result.correct_tex), result.correct_tex
    mathtext.math_to_image(f"${result.correct_tex}$", BytesIO(), format="png")


def test_entry_label():
    import ast

    def label(src: str) -> str:
        return entry_label(ast.parse(src, mode="eval").body, 0, 1)

    assert label("grad(L, W2)") == "dL/dW2[0, 1]"
    assert label("Q1") == "Q1[0, 1]"
    assert label("W - eta*grad(L, W)") == "(W - eta * grad(L, W))[0, 1]"


def test_an_entry_of_a_subscripted_name_has_one_subscript_per_level():
    import ast

    from autograd_viz.check.texprint import to_latex

    tex = to_latex(ast.parse("W2[0, 1]*hhat[1, 0]", mode="eval").body)
    assert tex == r"{W_{2}}_{0,1} \cdot \hat{h}_{1,0}"


def test_formula_text_is_the_formula_language():
    from autograd_viz.check.readable import formula_text

    x = sp.Symbol("x", real=True)
    assert formula_text(sp.E / (1 + sp.E)) == "exp(1)/(1 + exp(1))"  # E is the expectation in a file
    assert formula_text(sp.Abs(x - 1) + sp.log(3)) == "abs(x - 1) + log(3)"
