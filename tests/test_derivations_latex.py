"""The strict LaTeX reader: what it reads, and what it refuses (naming the token and column)."""

from __future__ import annotations

import ast

import pytest

from autograd_viz.check.latex import read
from autograd_viz.check.spec import GRAMMAR
from autograd_viz.check.texprint import to_latex
from autograd_viz.errors import ExpressionError
from autograd_viz.expr import parse

NAMES = {"L", "w", "x", "y", "yhat", "z", "b", "eta", "n", "w_ij", "W1", "X", "A1", "Z"}


@pytest.mark.parametrize(("tex", "expected"), [
    (r"\hat{y}", "yhat"),
    (r"\frac{\partial L}{\partial w}", "diff(L, w)"),
    (r"\frac{\partial^2 L}{\partial w^2}", "diff(L, w, 2)"),
    (r"\frac{\partial}{\partial w} \left( w x \right)", "diff((w * x), w)"),
    (r"\sigma(z)", "sigmoid(z)"),
    (r"\sigma\left(w x + b\right)", "sigmoid(w * x + b)"),
    (r"w_{ij}", "w_ij"),
    (r"W_1", "W1"),
    (r"e^{-z}", "exp((-z))"),
    (r"\eta \cdot x", "eta * x"),
    (r"wx", "w * x"),
    (r"\frac{1}{n}", "(1) / (n)"),
    (r"|x - y|", "abs(x - y)"),
    (r"\sqrt{x}", "sqrt(x)"),
    (r"(\hat{y} - y)\,\hat{y}\,(1 - \hat{y})", "(yhat - y) * yhat * (1 - yhat)"),
])
def test_reads(tex: str, expected: str) -> None:
    out = read(tex, NAMES)
    assert ast.dump(parse(out, GRAMMAR)) == ast.dump(parse(expected, GRAMMAR)), out


def test_matrices_multiply_by_juxtaposition_and_odot_is_elementwise() -> None:
    out = read(r"X^T (Z \odot A_1)", NAMES, matrices={"X", "A1", "Z"})
    assert out == "(X).T @ (Z * A1)"
    assert read(r"\frac{\partial L}{\partial W_1}", NAMES, matrices={"W1"}) == "grad(L, W1)"


def test_sum_over_copies_of_random_variables() -> None:
    out = read(r"\sum_{i=1}^{n} w_i x_i", {"w", "x", "n"}, random={"w", "x"})
    assert out == "Sum(w[i] * x[i], (i, 1, n))"


@pytest.mark.parametrize(("tex", "needle"), [
    (r"\foo{x}", r"\foo"),
    (r"\hat{q}", "'qhat' is not declared"),
    (r"\sqrt[3]{x}", "only square roots"),
    (r"\log x", "bracketed argument"),
    (r"\sigma", "only when applied"),
    (r"qx", "'qx'"),
    (r"x +", "unexpected end"),
    (r"w_{k}", "w_{k}"),
])
def test_refuses_what_it_cannot_read_with_certainty(tex: str, needle: str) -> None:
    with pytest.raises(ExpressionError) as info:
        read(tex, NAMES, what="lhs_latex")
    assert needle in str(info.value) and "lhs_latex" in str(info.value)


def test_error_names_the_column() -> None:
    with pytest.raises(ExpressionError, match=r"column 5 \(token '\\\\foo'\)"):
        read(r"x + \foo", NAMES)


def test_ambiguous_product_or_name_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="ambiguous"):
        read("xy", {"x", "y", "xy"})


def test_printer_round_trip_is_readable() -> None:
    tree = parse("diff(L, w) + sigmoid(z)*(1 - yhat)/n", GRAMMAR)
    tex = to_latex(tree)
    assert r"\frac{\partial L}{\partial w}" in tex and r"\sigma" in tex and r"\hat{y}" in tex
    assert read(tex, NAMES).replace(" ", "") != ""


def test_claim_with_both_forms_must_agree(tmp_path) -> None:
    from autograd_viz.check import check_file

    f = tmp_path / "both.toml"
    f.write_text('title = "t"\n[symbols]\nx = "real"\nw = "real"\n[define]\nL = "(w*x)**2"\n'
                 '[[claim]]\nname = "agree"\nlhs = "diff(L, w)"\nlhs_latex = "\\\\frac{\\\\partial L}{\\\\partial w}"\n'
                 'rhs = "2*w*x**2"\nrhs_latex = "2 w x^2"\n'
                 '[[claim]]\nname = "disagree"\nlhs = "diff(L, w)"\nrhs = "2*w*x**2"\nrhs_latex = "2 w x"\n',
                 encoding="utf-8")
    r = {c.name: c for c in check_file(f, jobs=1).claims}
    assert r["agree"].verdict == "proved"
    assert r["disagree"].verdict == "error" and "rhs_latex does not read the same as rhs" in r["disagree"].message
