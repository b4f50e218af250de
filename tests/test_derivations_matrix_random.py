"""Matrix claims entry by entry at instantiated sizes, and E/Var claims with a symbolic n (Monte Carlo too)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from autograd_viz.check import check_file
from autograd_viz.check.model import Model
from autograd_viz.check.randomvars import RandomVars
from autograd_viz.check.spec import GRAMMAR, load_spec, parse
from autograd_viz.check.verify import size_values

FIX = Path(__file__).parent / "fixtures" / "derivations"


@pytest.fixture(scope="module")
def hidden() -> dict:
    return {c.name: c for c in check_file(FIX / "hidden_layer.toml", timeout=20).claims}


def test_one_hidden_layer_gradient_holds_entry_by_entry(hidden: dict) -> None:
    c = hidden["dL/dW1"]
    # elementwise sigmoids: no argument for every size, so checked at two sizes, never "proved"
    assert c.verdict == "numerical" and c.agrees
    assert "checked for N ∈ {2, 3}, m ∈ {3, 4}, h ∈ {4, 5}" in c.method and "not a proof for every size" in c.method


def test_gradient_wrt_a_defined_matrix_holds_it_as_input(hidden: dict) -> None:
    assert hidden["dL/dZ1 (held as an input)"].verdict in ("proved", "numerical")


def test_transposed_gradient_is_refuted_by_shape(hidden: dict) -> None:
    c = hidden["dL/dW1 transposed"]
    assert c.verdict == "refuted" and "3×4" in c.message and "4×3" in c.message


def test_square_transposed_gradient_is_refuted_at_an_entry() -> None:
    r = {c.name: c for c in check_file(FIX / "square.toml", timeout=20).claims}
    assert r["dL/dW"].verdict == "proved"
    bad = r["dL/dW transposed"]
    assert bad.verdict == "refuted" and "entry" in bad.message and bad.lhs_value != pytest.approx(bad.rhs_value)


def test_grad_matches_sympy_entrywise_derivative() -> None:
    """grad(L, W) really is the matrix of dL/dW_ij (checked against a hand-built entry derivative)."""
    spec = load_spec(FIX / "square.toml")
    model = Model(spec, size_values(spec))
    g = model.full(parse("grad(L, W)", GRAMMAR), "g")
    X, W = model.matrices["X"], model.matrices["W"]
    loss = sum(1 / (1 + sp.exp(-(X * W)[i, j])) for i in range(2) for j in range(2))
    for i in range(2):
        for j in range(2):
            assert sp.simplify(g[i, j] - sp.diff(loss, W[i, j])) == 0


def test_variance_with_symbolic_n_and_monte_carlo() -> None:
    r = {c.name: c for c in check_file(FIX / "variance.toml").claims}
    good = r["Var(sum w_i x_i) = n Var(w) Var(x)"]
    assert good.verdict == "proved" and "Monte Carlo" in good.method
    assert r["E of the sum is 0"].verdict == "proved"
    assert r["Var(x) = t^2/3"].verdict == "proved"
    bad = r["Var(sum w_i x_i) = Var(w) Var(x) (missing n)"]
    assert bad.verdict == "refuted" and bad.counterexample["n"] >= 2


def test_variance_keeps_n_symbolic() -> None:
    spec = load_spec(FIX / "variance.toml")
    model = Model(spec)
    v = model.full(parse("Var(y)", GRAMMAR), "v")
    n, s, t = (model.symbols[k] for k in "nst")
    assert sp.simplify(v - n * s**2 * t**2 / 3) == 0


def test_monte_carlo_catches_wrong_moments(monkeypatch: pytest.MonkeyPatch) -> None:
    original = RandomVars.moment

    def doubled(self, name, k):
        m = original(self, name, k)
        return 2 * m if name == "x" and k == 2 else m

    monkeypatch.setattr(RandomVars, "moment", doubled)
    r = {c.name: c for c in check_file(FIX / "variance.toml", jobs=1).claims}
    c = r["Var(sum w_i x_i) = n Var(w) Var(x)"]  # both sides use the doubled moment: SymPy agrees
    assert c.verdict == "error" and "simulation disagrees" in c.message


def test_relu_factor_of_one_variable(tmp_path: Path) -> None:
    f = tmp_path / "he.toml"
    f.write_text('title = "He"\n[symbols]\nn = "positive integer"\ns = "positive"\n[random]\n'
                 'x = "Normal(0, s)"\nw = "Normal(0, sqrt(2/n))"\n[[claim]]\nname = "He"\n'
                 'lhs = "Var(Sum(w[i]*relu(x[i]), (i, 1, n)))"\nrhs = "s**2"\n', encoding="utf-8")
    (c,) = check_file(f).claims
    assert c.verdict == "proved" and "Monte Carlo" in c.method


def test_one_by_one_counts_as_scalar_and_ones_sum(tmp_path: Path) -> None:
    f = tmp_path / "small.toml"
    f.write_text('title = "1x1"\n[symbols]\nc = "real"\n[matrices]\nX = [3, 2]\nw = [2, 1]\n'
                 '[define]\nr = "X @ w"\n'
                 '[[claim]]\nname = "r^T r = sum(r*r)"\nlhs = "r.T @ r"\nrhs = "sum(r*r)"\n'
                 '[[claim]]\nname = "ones sums rows"\nlhs = "ones(1, 3) @ r"\nrhs = "sum(r)"\n'
                 '[[claim]]\nname = "scalar times matrix"\nlhs = "grad(c*sum(r), w)"\nrhs = "c * X.T @ ones(3, 1)"\n'
                 '[[claim]]\nname = "d/dc of a 1x1"\nlhs = "diff(c * (r.T @ r), c)"\nrhs = "sum(r*r)"\n'
                 '[[claim]]\nname = "matrix vs scalar"\nlhs = "r"\nrhs = "c"\nexpect = "fails"\n',
                 encoding="utf-8")
    r = {c.name: c for c in check_file(f).claims}
    for name in ("r^T r = sum(r*r)", "ones sums rows", "scalar times matrix", "d/dc of a 1x1"):
        assert r[name].verdict == "proved", (name, r[name].message)
    assert r["matrix vs scalar"].verdict == "refuted" and "3×1 matrix" in r["matrix vs scalar"].message


@pytest.mark.parametrize(("lhs", "needle"), [
    ("nest(foo, x, 2)", "first argument must be one of"),
    ("foo(x)", "unknown function"),
    ("nest(x, x, 2)", "first argument must be one of"),
    ("nest(exp, x, -1)", "non-negative integer"),
    ("Sum(x, i)", "Sum takes (expr, (i, a, b))"),
    ("diff(x, x + 1)", "must be a name"),
    ("grad(x, x)", "is a scalar; use diff"),
    ("w[i]", "only random variables"),
    ("(x, x)", "only allowed as the range of Sum"),
])
def test_call_errors(tmp_path: Path, lhs: str, needle: str) -> None:
    f = tmp_path / "e.toml"
    f.write_text(f'title = "e"\n[symbols]\nx = "real"\nw = "real"\n[[claim]]\nname = "c"\nlhs = "{lhs}"\nrhs = "x"\n',
                 encoding="utf-8")
    (c,) = check_file(f, jobs=1).claims
    assert c.verdict == "error" and needle in c.message, c.message
