"""Factors (issue 12): a chain-rule factor left out is `chain-factor`, found by matching the correct answer's
factors by value; a number is always the `factor` kind (a stray /7, a variance off by 16), never `chain-factor`.
Each expected answer is computed here with SymPy directly, not with the checker."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sympy as sp

from autograd_viz.check.spec import load_spec
from autograd_viz.check.verify import check_claim

SCALAR = Path(__file__).parent / "fixtures" / "derivations" / "mistakes" / "scalar.toml"

w, b, x, t = sp.symbols("w b x t", real=True)
y = 1 / (1 + sp.exp(-(w * x + b)))
DL_DW = sp.diff((y - t)**2 / 2, w)  # by hand: (y - t) y (1 - y) x
NAMES = {"w": w, "b": b, "x": x, "t": t, "y": y}


def _diagnose(rhs: str, file: Path = SCALAR, claim: str = "holds: dL/dw"):
    spec = load_spec(file)
    c = next(c for c in spec.claims if c.name == claim)
    return check_claim(spec, dataclasses.replace(c, rhs=rhs, expect="fails"), 20.0)


def _value(text: str) -> sp.Expr:
    return sp.sympify(text.replace(" ** ", "**"), locals=NAMES)


def test_the_correct_answer_by_hand():
    assert sp.simplify(DL_DW - (y - t) * y * (1 - y) * x) == 0


@pytest.mark.parametrize("rhs, said", [
    ("(y - t)*y*(1 - y)*x/7", "divides by 7: it is 1/7 times the correct one"),
    ("(y - t)*y*(1 - y)*x*7", "has the factor 7 extra: it is 7 times the correct one"),
])
def test_a_stray_number_is_the_factor_kind(rhs, said):
    assert sp.simplify(_value(rhs) / DL_DW).is_number  # by hand: a constant multiple of the correct answer
    r = _diagnose(rhs)
    assert r.verdict == "refuted" and r.diagnosis is not None, r
    assert r.diagnosis["kind"] == "factor" and said in r.diagnosis["text"], r.diagnosis
    assert sp.simplify(_value(r.diagnosis["repaired"]) - DL_DW) == 0


def test_a_left_out_chain_factor_is_named_with_the_students_names():
    # sigma'(z) = y (1 - y) left out: by hand the correct answer is the student's times y*(1 - y)
    rhs = "(y - t)*x"
    assert sp.simplify(DL_DW / _value(rhs) - y * (1 - y)) == 0
    r = _diagnose(rhs)
    assert r.diagnosis is not None and r.diagnosis["kind"] == "chain-factor", r
    assert sp.simplify(_value(r.diagnosis["repaired"]) - DL_DW) == 0
    assert "exp" not in r.diagnosis["text"]  # said with y, not with SymPy's exp(-z)/(1 + exp(-z))**2


def test_a_variance_off_by_sixteen():
    # Var(w1 x1 + ... ) for w ~ Normal(0, 16/n): by hand n * (16/n) * s**2 = 16 s**2; the printed claim says s**2
    n, s = sp.symbols("n s", positive=True)
    assert sp.simplify(n * (16 / n) * s**2) == 16 * s**2  # n iid terms w_i x_i, Var(w) = 16/n, Var(x) = s**2
    builtin = Path(__file__).parent.parent / "derivations" / "initialisation.toml"
    spec = load_spec(builtin)
    c = next(c for c in spec.claims if c.name.startswith("16/n as printed"))
    r = check_claim(spec, c, 20.0)
    assert r.verdict == "refuted" and r.diagnosis is not None, r
    assert r.diagnosis["kind"] == "factor" and "multiply it by 16" in r.diagnosis["text"]
    assert r.diagnosis["repaired"] == "16 * s ** 2"
