"""``explain``: worked solutions of scalar and tensor graphs, their cross-checks, formats, refusals and CLI."""

from __future__ import annotations

import dataclasses
import importlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

from autograd_viz import Tensor, Value
from autograd_viz.cli import main
from autograd_viz.explain import ExplainError, derive, explain
from autograd_viz.explain.render import formulas
from autograd_viz.graph import topological_order
from autograd_viz.steps import build_steps
from autograd_viz.viz.examples import notes_example, tensor_example

derive_module = importlib.import_module("autograd_viz.explain.core")
NOTES = "z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2"
AT = "a=0.5,b=-1,x0=2,y0=1"


def _notes_closed_forms(a=0.5, b=-1.0, x0=2.0, y0=1.0) -> dict[str, float]:
    y = 1 / (1 + math.exp(-(a * x0 + b)))
    z_bar = (y - y0) * y * (1 - y)
    return {"L": 0.5 * (y - y0) ** 2, "y": y - y0, "z": z_bar, "a": z_bar * x0, "b": z_bar}


def _renders(tex: str) -> None:
    """Render one formula with matplotlib's mathtext (raises on anything it cannot typeset)."""
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' for matplotlib")
    mathtext.math_to_image(f"${tex}$", io.BytesIO(), dpi=50, format="png")


def _markdown_math(text: str) -> list[str]:
    display = re.findall(r"\$\$(.+?)\$\$", text, flags=re.S)
    inline = re.findall(r"(?<!\$)\$([^$\n]+?)\$(?!\$)", re.sub(r"\$\$.+?\$\$", "", text, flags=re.S))
    return display + inline


# --- scalar graphs ------------------------------------------------------------------------------------------
def test_notes_example_numbers_match_the_closed_forms() -> None:
    out = explain(notes_example(), format="json")
    expected = _notes_closed_forms()
    assert out["point"] == {"a": 0.5, "x0": 2.0, "b": -1.0, "y0": 1.0}
    assert out["forward"][-1]["name"] == "L"
    assert out["forward"][-1]["value"] == pytest.approx(expected["L"], rel=1e-14)
    adjoints = {row["name"]: row["adjoint"] for row in out["backward"]}
    for name in ("L", "y", "z", "a", "b"):
        assert adjoints[name] == pytest.approx(1.0 if name == "L" else expected[name], rel=1e-14), name
    assert set(out["gradients"]) == {"a", "b"}  # x0 and y0 are data (no gradient) in the notes
    for name in ("a", "b"):
        assert out["gradients"][name]["value"] == pytest.approx(expected[name], rel=1e-14)


def test_backward_terms_multiply_and_add_up() -> None:
    out = explain(notes_example(), format="json")
    for row in out["backward"]:
        total = 0.0
        for term in row["terms"]:
            assert term["contribution"] == pytest.approx(term["upstream"] * term["local_value"], rel=1e-15)
            total += term["contribution"]
        if row["terms"]:
            assert row["adjoint"] == pytest.approx(total, rel=1e-15)
    z_row = next(r for r in out["backward"] if r["name"] == "z")
    (term,) = z_row["terms"]
    assert term["consumer"] == "y" and term["local"] == "σ(z)(1−σ(z))" and term["local_value"] == 0.25


def test_gradient_formulas_equal_an_independent_sympy_diff() -> None:
    out = explain(notes_example(), format="json")
    a, b, x0, y0 = sp.symbols("a b x0 y0", real=True)
    sigmoid = sp.Lambda(sp.Symbol("u"), 1 / (1 + sp.exp(-sp.Symbol("u"))))
    loss = (sigmoid(a * x0 + b) - y0) ** 2 / 2
    for name, sym in (("a", a), ("b", b)):
        formula = sp.sympify(out["gradients"][name]["formula"], locals={"sigmoid": sigmoid, "a": a, "b": b,
                                                                         "x0": x0, "y0": y0})
        assert sp.simplify(formula - sp.diff(loss, sym)) == 0
        assert "sigma" in out["gradients"][name]["latex"]  # written with σ, as on the board


def test_shared_input_gets_one_term_per_use() -> None:
    a = Value(1.5, name="a")
    b = Value(-0.5, name="b")
    out = explain((a * a + a * b).tanh(), format="json")
    row = next(r for r in out["backward"] if r["name"] == "a")
    assert len(row["terms"]) == 3  # a*a has two edges, a*b one
    t = math.tanh(1.5 * 1.5 + 1.5 * -0.5)
    assert out["gradients"]["a"]["value"] == pytest.approx((1 - t * t) * (2 * 1.5 - 0.5), rel=1e-13)


@pytest.mark.parametrize("text", [
    "L = exp(a) / (1 + b**2)", "L = log(a) * sqrt(b)", "L = abs(a - b) + tanh(a)", "L = relu(a * b) - b",
    "L = leaky_relu(a - 2*b, 0.1)", "L = a ** b", "L = -a / b + 3", "L = sigmoid(a) ** 0.5 * b",
])
def test_every_scalar_op_is_explained_and_checked(text: str) -> None:
    root, inputs = build_steps(text, {"a": 1.3, "b": 0.7})
    out = explain(root, format="json")
    # the values are independent of explain: central differences of the same program
    for node in inputs:
        h = 1e-6
        plus, _ = build_steps(text, {"a": 1.3, "b": 0.7, node.name: node.data + h})
        minus, _ = build_steps(text, {"a": 1.3, "b": 0.7, node.name: node.data - h})
        fd = (plus.data - minus.data) / (2 * h)
        assert out["gradients"][node.name]["value"] == pytest.approx(fd, rel=1e-6, abs=1e-8), node.name


def test_wrt_limits_the_gradients() -> None:
    root, _ = build_steps(NOTES, {"a": 0.5, "b": -1, "x0": 2, "y0": 1})
    out = explain(root, wrt="b", format="json")
    assert list(out["gradients"]) == ["b"]
    # only the nodes on a path from b to L are written: no x0, y0, a (nor a·x0)
    assert [row["name"] for row in out["backward"]] == ["L", "v3", "v2", "y", "z", "b"]
    with pytest.raises(ExplainError, match="'q': not an input"):
        explain(root, wrt=["q"])


# --- the cross-checks can fail --------------------------------------------------------------------------------
def _with_op(root, name: str, **changes) -> None:
    """Give every ``name`` node of the graph a modified op-table entry."""
    for node in topological_order(root):
        if node.op is not None and node.op.name == name:
            node.op = dataclasses.replace(node.op, **changes)


def test_a_wrong_local_derivative_text_makes_explain_fail() -> None:
    root = notes_example()
    _with_op(root, "sigmoid", derivatives=("σ({x0})",))  # forgot the (1 − σ) factor
    with pytest.raises(ExplainError, match="derivative of sigmoid w.r.t. input 0, 'σ\\(q0\\)'"):
        explain(root)


def test_a_text_right_at_the_point_but_wrong_elsewhere_still_fails() -> None:
    a = Value(0.0, name="a")
    root = a.tanh() * 2
    # 1 − tanh(x) equals 1 − tanh²(x) at x = 0 only
    _with_op(root, "tanh", derivatives=("1−tanh({x0})",))
    with pytest.raises(ExplainError, match="tanh"):
        explain(root)


def test_a_wrong_engine_backward_makes_explain_fail() -> None:
    root = notes_example()
    _with_op(root, "sigmoid", backward=lambda m, g, x, out, attrs, saved, needs: (g * out,))
    with pytest.raises(ExplainError, match="engine"):
        explain(root)


def test_a_wrong_tensor_rule_makes_explain_fail() -> None:
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((3, 3)), name="x")
    w = Tensor(rng.standard_normal((3, 3)), requires_grad=True, name="W")
    root = (x @ w).tanh().sum()
    _with_op(root, "matmul", derivatives=("ḡ @ {x1}", "{x0} @ ḡ"))  # the transposes forgotten
    with pytest.raises(ExplainError, match="matmul"):
        explain(root)


def test_out_of_budget_simplification_is_said_and_still_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(derive_module, "SIMPLIFY_SECONDS", 0.0)
    out = explain(notes_example(), format="json")
    assert any("unsimplified" in note for note in out["notes"])
    assert out["gradients"]["a"]["simplified"] is False
    assert "nearby points" in out["gradients"]["a"]["checked"]
    assert out["gradients"]["a"]["value"] == pytest.approx(_notes_closed_forms()["a"], rel=1e-14)


def test_large_graphs_get_chain_form_checked_by_differences(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(derive_module, "MAX_SYMBOLIC_OPS", 3)
    out = explain(notes_example(), format="json")
    assert any("central differences" in note for note in out["notes"])
    assert out["gradients"]["a"]["formula"] == "v1̄·x0"  # the chain-rule sum of the adjoint
    assert out["gradients"]["a"]["value"] == pytest.approx(_notes_closed_forms()["a"], rel=1e-14)
    assert "central differences" in out["gradients"]["a"]["checked"]


def test_large_graph_path_still_catches_a_wrong_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(derive_module, "MAX_SYMBOLIC_OPS", 3)
    root = notes_example()
    # text and backward wrong together (both forget the 1 − σ factor): only the whole-graph check can see it
    _with_op(root, "sigmoid", derivatives=("σ({x0})",), backward=lambda m, g, x, out, attrs, saved, needs: (g * out,))
    monkeypatch.setattr(derive_module, "check_local", _unchecked_local)
    with pytest.raises(ExplainError, match="central differences"):
        explain(root)


def _unchecked_local(op, i, inputs, out, attrs, where):
    from autograd_viz.explain import localtext

    _text, tree = derive_module._text_tree(op, i, attrs)
    values = dict(zip(derive_module._PLACEHOLDERS, [np.asarray(x, dtype=float) for x in inputs], strict=False))
    values["qout"] = np.asarray(out, dtype=float)
    return tree, localtext.evaluate(tree, values)


# --- tensor graphs ---------------------------------------------------------------------------------------------
def test_tensor_layer_in_matrix_form() -> None:
    root = tensor_example()
    out = explain(root, format="json")
    nodes = {n.name: n for n in topological_order(root) if n.name}
    x, w = nodes["x"].data, nodes["fc1.weight"].data
    mask = (x @ w > 0).astype(float)
    grads = out["gradients"]
    assert np.allclose(grads["fc1.weight"]["value"], x.T @ mask, rtol=1e-12)
    assert np.allclose(grads["fc1.bias"]["value"], mask.sum(axis=0), rtol=1e-12)
    assert grads["fc1.weight"]["shape"] == [3, 2] and grads["fc1.bias"]["shape"] == [2]
    assert grads["fc1.weight"]["latex"] == "x^{\\top} \\bar{v}_{1}"  # W̄ = xᵀ ȳ
    assert grads["fc1.bias"]["latex"].startswith("\\sum_{n}")  # b̄ = Σ over the batch
    assert all("shape" in row for row in out["forward"])


def test_tensor_cross_entropy_graph() -> None:
    import autograd_viz.functional as F

    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((4, 3)), name="X")
    w = Tensor(rng.standard_normal((3, 5)), requires_grad=True, name="W")
    target = np.array([0, 4, 2, 1])
    loss = F.cross_entropy(x @ w, target)
    out = explain(loss, format="json")
    logits = x.data @ w.data
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(4), target] -= 1
    assert np.allclose(out["gradients"]["W"]["value"], x.data.T @ p / 4, rtol=1e-10)


def test_tensor_gradients_match_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0 (local CPU wheel) for parity tests")
    root = tensor_example()
    out = explain(root, format="json")
    nodes = {n.name: n for n in topological_order(root) if n.name}
    tx = torch.tensor(nodes["x"].data)
    tw = torch.tensor(nodes["fc1.weight"].data, requires_grad=True)
    tb = torch.tensor(nodes["fc1.bias"].data, requires_grad=True)
    torch.relu(tx @ tw + tb).sum().backward()
    assert np.allclose(out["gradients"]["fc1.weight"]["value"], tw.grad.numpy(), rtol=1e-12)
    assert np.allclose(out["gradients"]["fc1.bias"]["value"], tb.grad.numpy(), rtol=1e-12)


def test_scalar_gradients_match_pytorch() -> None:
    torch = pytest.importorskip("torch", reason="pip install torch==2.13.0 (local CPU wheel) for parity tests")
    root, _ = build_steps("z = a*b - log(c); y = tanh(z) * sigmoid(c); L = y**2 / (1 + a**2)",
                          {"a": 0.8, "b": -1.3, "c": 2.1})
    out = explain(root, format="json")
    a, b, c = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.8, -1.3, 2.1))
    y = torch.tanh(a * b - torch.log(c)) * torch.sigmoid(c)
    (y**2 / (1 + a**2)).backward()
    for name, t in (("a", a), ("b", b), ("c", c)):
        assert out["gradients"][name]["value"] == pytest.approx(t.grad.item(), rel=1e-12), name


def test_refusals() -> None:
    with pytest.raises(ExplainError, match="input, not a computation"):
        explain(Value(1.0, name="a"))
    t = Tensor(np.ones((2, 2)), requires_grad=True, name="t")
    with pytest.raises(ExplainError, match="shape \\(2, 2\\)"):
        explain(t * 2)
    with pytest.raises(ExplainError, match="format 'html'"):
        explain(notes_example(), format="html")


# --- formats ---------------------------------------------------------------------------------------------------
def test_markdown_has_the_three_parts_and_every_formula_renders() -> None:
    text = explain(notes_example())
    for heading in ("### 1. Forward pass", "### 2. Backward pass", "### 3. Result"):
        assert heading in text
    assert "\\frac{\\partial y}{\\partial z} = \\sigma\\left(z\\right)" in text
    assert "= -0.25$$" in text
    math_parts = _markdown_math(text)
    assert len(math_parts) > 20
    for tex in math_parts:
        _renders(tex)


def test_tex_is_an_align_fragment_whose_lines_render() -> None:
    text = explain(notes_example(), format="tex")
    assert text.count("\\begin{align*}") == 3 == text.count("\\end{align*}")
    lines = [line.strip().rstrip("\\").strip() for line in text.splitlines()
             if line.strip() and not line.startswith(("%", "\\begin", "\\end"))]
    assert all("&=" in line for line in lines)
    for line in lines:
        _renders(line.replace("&=", "="))


def test_every_tensor_formula_renders() -> None:
    d = derive(tensor_example())
    for tex in formulas(d):
        _renders(tex)
    text = explain(tensor_example(), format="tex")
    assert "\\overline{\\mathrm{fc1.weight}} &= x^{\\top} \\bar{v}_{1}" in text
    for tex in _markdown_math(explain(tensor_example())):
        _renders(tex)


@pytest.mark.parametrize("text", ["L = log(a) * sqrt(b) + abs(a - b)", "L = relu(a * b) - leaky_relu(b, 0.1)",
                                  "L = a ** b / exp(-a)", "y = tanh(a*b - log(b)) * sigmoid(a); L = y**2"])
def test_formulas_of_other_ops_render(text: str) -> None:
    root, _ = build_steps(text, {"a": 1.3, "b": 0.7})
    for tex in formulas(derive(root)):
        _renders(tex)


def test_absolute_value_does_not_break_the_markdown_table() -> None:
    root, _ = build_steps("L = abs(a - b) * 2", {"a": 1.0, "b": 3.0})
    text = explain(root)
    rows = [line for line in text.splitlines() if line.startswith("| $")]
    assert rows and all(line.count("|") == 4 for line in rows)  # step | formula | value
    for tex in _markdown_math(text):
        _renders(tex)


def test_json_contract_keys() -> None:
    out = explain(notes_example(), format="json")
    assert {"expression", "point", "forward", "backward", "gradients"} <= set(out)
    assert {"name", "formula", "latex", "value"} <= set(out["forward"][0])
    assert {"name", "adjoint", "terms"} <= set(out["backward"][1])
    assert {"consumer", "local", "local_latex", "local_value", "upstream", "contribution"} <= \
        set(out["backward"][1]["terms"][0])
    assert {"value", "formula", "latex"} <= set(out["gradients"]["a"])
    json.dumps(out)  # plain JSON types only
    tensor = explain(tensor_example(), format="json")
    assert isinstance(tensor["gradients"]["fc1.weight"]["value"], list)
    assert "shape" in tensor["backward"][1]


# --- CLI -------------------------------------------------------------------------------------------------------
def run(*args: str):
    return CliRunner().invoke(main, ["explain", *args])


def test_cli_markdown_json_tex_and_output_file(tmp_path: Path) -> None:
    result = run(NOTES, "--at", AT)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"## Worked solution: `{NOTES}`")
    result = run(NOTES, "--at", AT, "--format", "json", "--wrt", "a")
    out = json.loads(result.stdout)
    assert list(out["gradients"]) == ["a"] and out["expression"] == NOTES
    assert out["gradients"]["a"]["value"] == pytest.approx(_notes_closed_forms()["a"])
    target = tmp_path / "solution.tex"
    result = run(NOTES, "--at", AT, "--format", "tex", "-o", str(target))
    assert result.exit_code == 0 and "\\begin{align*}" in target.read_text()


def test_cli_toml_round_trip_is_proved_by_check(tmp_path: Path) -> None:
    key = tmp_path / "answer.toml"
    result = run(NOTES, "--at", AT, "--toml", str(key))
    assert result.exit_code == 0, result.output
    text = key.read_text()
    assert 'lhs = "diff(L, a)"' in text and "[define]" in text and 'y = "sigmoid(z)"' in text
    check = CliRunner().invoke(main, ["check", str(key), "--json"])
    assert check.exit_code == 0, check.output
    verdicts = [c["verdict"] for f in json.loads(check.stdout)["files"] for c in f["claims"]]
    assert verdicts == ["proved"] * 4  # a, x0, b, y0


@pytest.mark.parametrize(("program", "at"), [
    ("tanh(a*b)", "a=0.3,b=-2"),
    ("n = x1*w1 + x2*w2 + b; o = tanh(n)", "x1=2,w1=-3,x2=0,w2=1,b=6.88"),
    ("L = sqrt(a)/(1 + exp(-b)) - 3*a**0.5", "a=2,b=0.5"),
    ("h = sigmoid(w*x - 1); L = -log(h)", "w=0.3,x=2"),
])
def test_toml_round_trip_of_other_programs(tmp_path: Path, program: str, at: str) -> None:
    key = tmp_path / "key.toml"
    assert run(program, "--at", at, "--toml", str(key)).exit_code == 0
    check = CliRunner().invoke(main, ["check", str(key), "--json", "--jobs", "1"])
    verdicts = [c["verdict"] for f in json.loads(check.stdout)["files"] for c in f["claims"]]
    assert check.exit_code == 0 and verdicts and set(verdicts) == {"proved"}, check.stdout[-2000:]


def test_toml_with_a_wrong_formula_is_refuted_by_check(tmp_path: Path) -> None:
    """The round trip can fail: the same file with a tampered claim does not pass ``check``."""
    key = tmp_path / "answer.toml"
    assert run(NOTES, "--at", AT, "--wrt", "b", "--toml", str(key)).exit_code == 0
    text = key.read_text()
    rhs = re.search(r'^rhs = "(.*)"$', text, flags=re.M).group(1)
    key.write_text(text.replace(f'rhs = "{rhs}"', f'rhs = "2*({rhs})"'))
    check = CliRunner().invoke(main, ["check", str(key)])
    assert check.exit_code == 1


@pytest.mark.parametrize(("program", "at", "needs"), [
    ("L = relu(a*b)", "a=1,b=2", "step(a*b)"),
    ("L = abs(a - b) + tanh(a)", "a=1,b=2", "sign(a - b)"),
    ("L = leaky_relu(a - 2*b, 0.1)", "a=1,b=2", "step(a - 2*b)"),
    ("h = relu(a*x + b); L = abs(h - y) + leaky_relu(b, 0.1)", "a=0.5,x=2,y=3,b=1", "relu(b + a*x)"),
])
def test_toml_round_trip_of_case_split_gradients(tmp_path: Path, program: str, at: str, needs: str) -> None:
    """relu, abs and leaky_relu gradients are written with step() and sign() and proved by the checker."""
    key = tmp_path / "key.toml"
    result = run(program, "--at", at, "--toml", str(key))
    assert result.exit_code == 0, result.output
    rhs = re.findall(r'^rhs = "(.*)"$', key.read_text(), flags=re.M)
    assert rhs and any(needs in r for r in rhs) and not any("Piecewise" in r for r in rhs), rhs
    check = CliRunner().invoke(main, ["check", str(key), "--json", "--jobs", "1"])
    verdicts = [c["verdict"] for f in json.loads(check.stdout)["files"] for c in f["claims"]]
    assert check.exit_code == 0 and len(verdicts) == len(rhs) and set(verdicts) == {"proved"}, check.stdout[-2000:]


def test_case_split_claims_are_refuted_when_wrong(tmp_path: Path) -> None:
    """The step() form is read by the checker as a real case split: the kink moved is caught."""
    key = tmp_path / "key.toml"
    assert run("L = relu(a*b)", "--at", "a=1,b=2", "--wrt", "a", "--toml", str(key)).exit_code == 0
    text = key.read_text()
    assert 'rhs = "b*step(a*b)"' in text
    key.write_text(text.replace('rhs = "b*step(a*b)"', 'rhs = "b*step(a*b - 1)"'))
    assert CliRunner().invoke(main, ["check", str(key), "--jobs", "1"]).exit_code == 1


def test_toml_refuses_a_case_split_it_cannot_write(tmp_path: Path) -> None:
    """A case split without an 'otherwise' piece has no step() form: one line that says why."""
    from autograd_viz.explain.proof import claim_text, derivation_toml

    a = sp.Symbol("a", real=True)
    with pytest.raises(ExplainError, match="no 'otherwise' piece"):
        claim_text(sp.Piecewise((a, a > 0)))
    root, _ = build_steps("L = relu(a*b)", {"a": 1.0, "b": 2.0})
    d = derive(root, ["a"])
    d.gradients["a"].sympy = sp.Piecewise((sp.Symbol("b", real=True), a > 0))
    with pytest.raises(ExplainError, match=r"^--toml: the gradient w.r.t. a cannot be written as a claim: .*"
                                           r"no 'otherwise' piece") as info:
        derivation_toml(d)
    assert "\n" not in str(info.value)


def test_toml_checks_its_claim_text_against_the_derived_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim text that does not say what was derived is an error, never a file."""
    from autograd_viz.explain import proof

    root, _ = build_steps("L = relu(a*b)", {"a": 1.0, "b": 2.0})
    d = derive(root, ["a"])
    real = proof.claim_text
    monkeypatch.setattr(proof, "claim_text", lambda expr: real(expr).replace("step(a*b)", "step(a*b - 5)"))
    with pytest.raises(ExplainError, match="derived formula gives"):
        proof.derivation_toml(d)


def test_reserved_names_match_the_checker() -> None:
    """explain --toml keeps its own copy of the checker's function names (importing the checker is slow)."""
    from autograd_viz.check import spec
    from autograd_viz.explain import proof

    assert proof.CHECKER_FUNCTIONS == spec.CHECKER_FUNCTIONS and proof.RESERVED == spec.FUNCTIONS


def test_cli_derivation_file_input() -> None:
    root = Path(__file__).resolve().parents[1]
    result = run(str(root / "derivations" / "backprop_example.toml"), "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["gradients"]["b"]["value"] == pytest.approx(_notes_closed_forms()["b"])


@pytest.mark.parametrize(("args", "message"), [
    ((NOTES, "--at", "a=1"), "error: no value for"),
    (("L = a +", "--at", "a=1"), "error: step 1 (L)"),
    ((NOTES, "--at", AT, "--wrt", "q"), "error: --wrt 'q'"),
    ((NOTES, "--at", AT, "--step", "y"), "error: --step applies"),
    (("L = a**b", "--at", "a=-2,b=2"), "error: pow: the derivative of x^y with respect to y is undefined"),
    (("L = exp(a)", "--at", "a=1000"), "error: backward: the output is inf"),
    (("L = log(a)", "--at", "a=-1"), "error: log: input -1.0 is outside the domain"),
    ((NOTES, "--at", AT, "--shapes", "X=2x2"), "error: --shapes and --targets apply"),
])
def test_cli_errors_are_one_line(args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_readme_shows_the_current_derivation_of_the_notes_example() -> None:
    """The README's rendered worked solution is what ``explain`` prints today (headings demoted two levels)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    result = run(NOTES, "--at", AT, "--wrt", "a,b")
    assert result.exit_code == 0, result.output
    shown = result.stdout.replace("## Worked solution", "#### Worked solution")
    for k in (1, 2, 3):
        shown = shown.replace(f"### {k}.", f"##### {k}.")
    assert shown.strip() in readme


def test_the_package_is_callable_as_the_issue_names_it() -> None:
    import autograd_viz
    import autograd_viz.explain  # noqa: F401 (loaded lazily by the package once "explain" is in its _SUBMODULES)

    out = autograd_viz.explain(notes_example(), wrt="a", format="json")
    assert out["gradients"]["a"]["value"] == pytest.approx(_notes_closed_forms()["a"], rel=1e-14)
    assert derive_module.MAX_SYMBOLIC_OPS > 0  # the submodules stay importable


def test_reused_values_do_not_blow_up_the_symbolic_work() -> None:
    a = Value(0.3, name="a")
    h = a
    for _ in range(12):  # 36 ops, but each level uses h twice: ~2**12 terms written out as a tree
        h = h.tanh() + h * 0.5
    out = explain(h, format="json")
    assert any("terms (values are reused)" in note for note in out["notes"])
    assert "central differences" in out["gradients"]["a"]["checked"]


def test_huge_graphs_are_refused() -> None:
    a = Value(0.5, name="a")
    s = a
    for _ in range(6000):
        s = s + a
    with pytest.raises(ExplainError, match="limited to 5,000"):
        explain(s)


# --- the op table's newer functions (sin, cos, erf, Phi, softplus, step, sign) ----------------------------------
@pytest.mark.parametrize("name", ["sin", "cos", "erf", "Phi", "softplus", "step", "sign"])
def test_functions_of_the_op_table_are_explained_from_their_entries(name: str) -> None:
    """Derivative texts such as ``(2/√π)·e^(−x²)`` are read from the op table, checked, written and rendered."""
    from autograd_viz.ops.extra import EXTRA_OPS_BY_NAME
    from autograd_viz.scalar import apply_unchecked

    def build(av: float, bv: float) -> Value:
        a, b = Value(av, name="a"), Value(bv, name="b")
        out = apply_unchecked(EXTRA_OPS_BY_NAME[name], a * b - 0.2) * b
        out.name = "L"
        return out

    out = explain(build(0.9, 0.7), format="json")
    for var, (da, db) in {"a": (1e-6, 0.0), "b": (0.0, 1e-6)}.items():
        fd = (build(0.9 + da, 0.7 + db).data - build(0.9 - da, 0.7 - db).data) / 2e-6
        assert out["gradients"][var]["value"] == pytest.approx(fd, rel=1e-6, abs=1e-8), var
    for tex in formulas(derive(build(0.9, 0.7))):
        _renders(tex)


def test_a_newer_function_gradient_is_proved_by_check(tmp_path: Path) -> None:
    from autograd_viz.explain.proof import derivation_toml
    from autograd_viz.ops.extra import EXTRA_OPS_BY_NAME
    from autograd_viz.scalar import apply_unchecked

    a, b = Value(0.9, name="a"), Value(0.7, name="b")
    z = apply_unchecked(EXTRA_OPS_BY_NAME["erf"], a * b)
    z.name = "z"
    out = apply_unchecked(EXTRA_OPS_BY_NAME["sin"], z) + apply_unchecked(EXTRA_OPS_BY_NAME["Phi"], b)
    out.name = "L"
    key = tmp_path / "key.toml"
    key.write_text(derivation_toml(derive(out)))
    check = CliRunner().invoke(main, ["check", str(key), "--json", "--jobs", "1"])
    verdicts = [c["verdict"] for f in json.loads(check.stdout)["files"] for c in f["claims"]]
    assert check.exit_code == 0 and verdicts == ["proved", "proved"], check.stdout[-2000:]


def test_toml_refuses_chain_form_gradients(monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph too large for formulas in the inputs has no claim to write: one line saying so."""
    from autograd_viz.explain.proof import derivation_toml

    monkeypatch.setattr(derive_module, "MAX_SYMBOLIC_OPS", 3)
    root, _ = build_steps(NOTES, {"a": 0.5, "b": -1, "x0": 2, "y0": 1})
    with pytest.raises(ExplainError, match=r"^--toml: the gradient w.r.t. \w+ has no formula in the inputs"):
        derivation_toml(derive(root))
