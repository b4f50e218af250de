"""missing-term from the difference (issue 12): a term left out of a written-out sum, or one too many, is named
in the claim's own names and repaired. The missing and extra terms are computed here with SymPy directly, not
with the checker; the guard that keeps a left-out *factor* from being called a missing term is tested too."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sympy as sp

from autograd_viz.check.budget import Budget
from autograd_viz.check.diagnose_terms import signed_terms, term_candidates
from autograd_viz.check.model import Model
from autograd_viz.check.runner import check_files
from autograd_viz.check.spec import load_spec

SUMS = Path(__file__).parent / "fixtures" / "derivations" / "mistakes" / "sums.toml"

x, w, b, t = sp.symbols("x w b t", real=True)
PHI = (1 + sp.erf(x / sp.sqrt(2))) / 2  # the standard normal CDF, written out here
phi = sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi)  # its density
NAMES = {"x": x, "w": w, "b": b, "t": t, "phi": phi, "Phi": sp.Lambda(x, PHI), "pi": sp.pi}

#: claim name -> (the correct lhs, the student's rhs), both by hand
BY_HAND = {
    "missing-term: GELU' written Phi(x), the x phi(x) of the product rule left out":
        (sp.diff(x * PHI, x), PHI),
    "missing-term: product rule with the second term left out":
        (sp.diff(x**2 * sp.sin(x), x), 2 * x * sp.sin(x)),
    "missing-term: the target t left out of the residual":
        (sp.diff((w * x + b - t)**2 / 2, w), (w * x + b) * x),
    "missing-term: an extra term x":
        (3 * x**2 + sp.exp(x), 3 * x**2 + sp.exp(x) + x),
}


def _sympy(text: str) -> sp.Expr:
    return sp.sympify(text.replace(" ** ", "**"), locals=NAMES)


@pytest.fixture(scope="module")
def claims():
    return {c.name: c for c in check_files([SUMS], timeout=20.0).files[0].claims}


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_the_term_named_is_the_one_sympy_finds(claims, name):
    correct, student = BY_HAND[name]
    difference = sp.simplify(correct - student)
    assert difference != 0 and sp.simplify(difference / student).is_number is not True  # a term, not a factor
    c = claims[name]
    assert c.verdict == "refuted" and c.diagnosis is not None, c
    assert c.diagnosis["kind"] == "missing-term"
    repaired = _sympy(c.diagnosis["repaired"])
    assert sp.simplify(repaired - correct) == 0, c.diagnosis  # the repair is the correct answer
    said = re.search(r"(leaves out|has) the term (.+?)(: | extra)", c.diagnosis["text"])
    assert said, c.diagnosis["text"]
    term = _sympy(said.group(2))
    expected = difference if said.group(1) == "leaves out" else -difference
    assert sp.simplify(term - expected) == 0, (term, expected)


def test_gelu_is_said_with_the_students_phi(claims):
    c = claims["missing-term: GELU' written Phi(x), the x phi(x) of the product rule left out"]
    assert c.diagnosis["repaired"] in ("Phi(x) + phi * x", "Phi(x) + x * phi")
    assert "sqrt" not in c.diagnosis["text"] and "erf" not in c.diagnosis["text"]


def test_the_extra_term_is_removed_as_written(claims):
    c = claims["missing-term: an extra term x"]
    assert c.diagnosis["text"].startswith("Your diff(x**3 + exp(x), x) has the term x extra")
    assert c.diagnosis["repaired"] == "3 * x ** 2 + exp(x)"


def test_holding_claims_get_no_diagnosis(claims):
    for name, c in claims.items():
        if name.startswith("holds"):
            assert c.verdict == "proved" and c.diagnosis is None


def test_signed_terms():
    tree = ast.parse("a - b + c - (d - e)", mode="eval").body
    assert [(s, ast.unparse(n)) for s, n in signed_terms(tree)] == [(1, "a"), (-1, "b"), (1, "c"), (-1, "d"),
                                                                     (1, "e")]


def _terms(lhs: sp.Expr, rhs_text: str) -> list:
    spec = load_spec(SUMS)
    model = Model(spec)
    tree = ast.parse(rhs_text, mode="eval").body
    rhs = model.full(tree, "rhs")
    return list(term_candidates(lhs, rhs, tree, "Your dL/dw", model, Budget(20.0)))


def test_a_factor_left_out_is_not_a_missing_term():
    # r*x*(1 - w) with the factor (1 - w) left out: expanded, every term of r*x is among its terms, but the rest
    # is r*x times -w (a polynomial): a factor is missing, not a term
    lhs = sp.expand((w * x + b - t) * x * (1 - w))
    assert _terms(lhs, "(w*x + b - t)*x") == []
    assert _terms(2 * (w * x + b), "w*x + b") == []  # a factor 2: the sign and factor kinds, not a term


def test_a_term_left_out_is_found_term_by_term():
    found = _terms(sp.sin(x) + x**2 * sp.cos(x), "sin(x)")
    assert found and found[0].kind == "missing-term" and "x**2*cos(x)" in found[0].text


def test_a_sum_over_the_batch_left_out():
    """dL/db for Z = X W + 1 b^T, L = ||Z||^2 / 2 is the column sums 1^T Z (by hand, entry by entry); broadcast
    to the batch it is 1 1^T Z, and Z alone leaves out the other rows' terms."""
    X = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"X{i}{j}", real=True))
    W = sp.Matrix(3, 3, lambda i, j: sp.Symbol(f"W{i}{j}", real=True))
    bias = sp.Matrix(1, 3, lambda i, j: sp.Symbol(f"b{j}", real=True))
    Z = X * W + sp.ones(2, 1) * bias
    L = sum(Z.applyfunc(lambda e: e**2)) / 2
    by_hand = sp.ones(2, 1) * bias.applyfunc(lambda e: sp.diff(L, e))
    assert (by_hand - sp.ones(2, 2) * Z).expand() == sp.zeros(2, 3) and (by_hand - Z).expand() != sp.zeros(2, 3)
    batch = Path(__file__).parent / "fixtures" / "derivations" / "mistakes" / "batch.toml"
    c = check_files([batch], timeout=20.0).files[0].claims[0]
    assert c.verdict == "refuted" and c.diagnosis is not None, c
    assert c.diagnosis["kind"] == "missing-term"
    assert c.diagnosis["repaired"] == "ones(2, 2) @ Z"
    assert "the sum over the batch ones(2, 2) @ Z" in c.diagnosis["text"]


def test_a_wrong_constant_is_not_a_missing_term():
    assert _terms(x + 1, "x + 2") == []  # a constant written wrong: not "the term -1 is missing"
    found = _terms(sp.sin(x) + 1, "sin(x)")  # a constant left out entirely is a missing term
    assert found and found[0].kind == "missing-term" and "leaves out the term 1" in found[0].text
