"""Two mistakes at once (issue 12): a transpose together with a dropped 1/N, two transposes. The correct
gradients are computed here entry by entry with SymPy directly (not with the checker), and each student's
answer is shown to be two edits away from them before the diagnosis is compared."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sympy as sp

from autograd_viz.check.runner import check_files
from autograd_viz.expr import Evaluator

TWO = Path(__file__).parent / "fixtures" / "derivations" / "mistakes" / "two.toml"


def _m(name: str) -> sp.Matrix:
    return sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"{name}{i}{j}", real=True))


X, W, Y, A, B = (_m(n) for n in "XWYAB")
N = 2


def _grad(f: sp.Expr, M: sp.Matrix) -> sp.Matrix:
    return M.applyfunc(lambda m: sp.diff(f, m))


P = X * W
L = sum((P - Y).applyfunc(lambda e: e**2)) / (2 * N)
DL_DW = _grad(L, W)
DTR_DX = _grad((A * X * B).trace(), X)
NAMES = {"X": X, "W": W, "Y": Y, "A": A, "B": B, "P": P, "N": N}


def _value(text: str) -> sp.Matrix:
    """A repaired rhs (``@``, ``.T``, ``/``) evaluated with SymPy matrices (no eval: the ast walker)."""
    def call(f: str, args: list, node: ast.Call) -> None:
        raise AssertionError(f"unexpected call {f} in {text}")

    ev = Evaluator(name=lambda n, node: NAMES[n], call=call, attribute=lambda v, attr: v.T)
    return sp.Matrix(ev(ast.parse(text, mode="eval").body))


@pytest.fixture(scope="module")
def claims():
    return {c.name: c for c in check_files([TWO], timeout=20.0).files[0].claims}


def test_the_correct_answers_by_hand():
    assert (DL_DW - X.T * (P - Y) / N).expand() == sp.zeros(2, 2)
    assert (DTR_DX - A.T * B.T).expand() == sp.zeros(2, 2)
    # the students' answers are each two edits away: X for X.T and the 1/N dropped; A for A.T and B for B.T
    assert (X * (P - Y) - N * DL_DW).expand() != sp.zeros(2, 2)
    assert (X.T * (P - Y) - N * DL_DW).expand() == sp.zeros(2, 2)
    assert (A * B - DTR_DX).expand() != sp.zeros(2, 2) and (A * B.T - DTR_DX).expand() != sp.zeros(2, 2)


@pytest.mark.parametrize("name, correct, says", [
    ("transpose: X for X^T, and the 1/N dropped", DL_DW, ("X.T replaced by X", "a 1/N is missing")),
    ("transpose: d tr(AXB)/dX without either transpose", DTR_DX, ("A.T replaced by A", "B.T replaced by B")),
])
def test_both_mistakes_named_and_repaired(claims, name, correct, says):
    c = claims[name]
    assert c.verdict == "refuted" and c.diagnosis is not None, c
    assert c.diagnosis["kind"] == "transpose"
    for part in says:
        assert part in c.diagnosis["text"], c.diagnosis["text"]
    assert (_value(c.diagnosis["repaired"]) - correct).expand() == sp.zeros(2, 2)
    assert c.correct == c.diagnosis["repaired"] and len(c.correct) <= 40


def test_holding_claims_get_no_diagnosis(claims):
    for name, c in claims.items():
        if name.startswith("holds"):
            assert c.verdict == "proved" and c.diagnosis is None
