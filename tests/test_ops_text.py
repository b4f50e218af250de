"""The op table's readable texts are checked, not trusted.

Every elementwise op's local-derivative text (``derivatives``, what drawings print on backward edges) and its
LaTeX (``derivative_latex``, what worked solutions print) is read back into SymPy by a small whitelist
translator (``ast``, never ``eval``) and compared with ``sympy.diff`` of the op's own SymPy form at random
points; a wrong label fails here. Tensor-only ops write the vector-Jacobian product in words and symbols
(``ḡ @ Bᵀ``, ``broadcast ḡ / n``): those texts are evaluated with NumPy and compared with central finite
differences. Forward ``display``/``latex`` templates must exist and format for every op.
"""

from __future__ import annotations

import ast
import dataclasses
import random
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy as sp

from autograd_viz.ops import OPS, SCALAR_OPS, OpDef
from autograd_viz.ops.losses import smoothed_targets
from autograd_viz.tensor import Tensor, apply_unchecked

ATTRS = {"p": 3.0, "alpha": 0.1, "axis": 1, "keepdims": False, "shape": (2, 3), "axes": (1, 0), "index": 0,
         "target": None, "label_smoothing": 0.0, "reduction": "mean"}
#: Random attribute values for the SymPy comparison, by attribute name.
SAMPLE_ATTRS = {"p": [2.0, 3.0, -1.0, 0.5, 1.5, -2.5, 1.0], "alpha": [0.01, 0.2, 0.7]}
#: Inputs that must be positive (domain), by op and input position.
POSITIVE = {"log": {0}, "sqrt": {0}, "pow": {0}}


# --- readable text and LaTeX -> SymPy (whitelisted syntax tree, nothing evaluated) ---------------------------
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sigmoid": lambda z: 1 / (1 + sp.exp(-z)), "tanh": sp.tanh, "tanh_sq": lambda z: sp.tanh(z) ** 2,
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sign": sp.sign, "abs": sp.Abs, "sin": sp.sin, "cos": sp.cos,
}
_CONSTANTS = {"pi": sp.pi}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b}
_COMPARE = {ast.Gt: sp.Gt, ast.Lt: sp.Lt, ast.GtE: sp.Ge, ast.LtE: sp.Le}


def _implicit_products(s: str) -> str:
    s = s.replace(")(", ")*(")
    return re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?!if\b|else\b)([A-Za-z(])", r"\1*\2", s)


def text_to_python(text: str) -> str:
    """The notation of the readable texts (``σ(z)(1−σ(z))``, ``1−tanh²(x)``, ``[x > 0]``) as Python syntax."""
    s = text.replace("−", "-").replace("·", "*").replace("×", "*").replace("π", "pi")
    s = re.sub(r"(\w+)²\(", r"\1_sq(", s)
    s = s.replace("²", "**2")
    s = re.sub(r"√(\w+)", r"sqrt(\1)", s).replace("√(", "sqrt(")
    s = re.sub(r"\bln (\w+)", r"log(\1)", s)
    s = s.replace("σ", "sigmoid").replace("^", "**")
    return _implicit_products(s)


def _brace_group(s: str, i: int) -> tuple[str, int]:
    assert s[i] == "{", f"expected a {{ group at {i} in {s!r}"
    depth = 0
    for j in range(i, len(s)):
        depth += {"{": 1, "}": -1}.get(s[j], 0)
        if depth == 0:
            return s[i + 1:j], j + 1
    raise AssertionError(f"unbalanced braces in {s!r}")


def latex_to_python(tex: str) -> str:
    """The LaTeX of ``derivative_latex`` (``\\frac``, ``\\sqrt``, ``\\left(``, ``cases``...) as Python syntax."""
    s = re.sub(r"\\begin\{cases\}(.*?)&(.*?)\\\\(.*?)&\s*\\text\{otherwise\}\s*\\end\{cases\}",
               r"((\1) if (\2) else (\3))", tex)
    while (k := s.find(r"\frac")) >= 0:
        numerator, i = _brace_group(s, k + len(r"\frac"))
        denominator, j = _brace_group(s, i)
        s = f"{s[:k]}(({numerator})/({denominator})){s[j:]}"
    for old, new in ((r"\left(", "("), (r"\right)", ")"), (r"\left[", "["), (r"\right]", "]"), (r"\left|", "abs("),
                     (r"\right|", ")"), (r"\operatorname{sign}", "sign"), (r"\cdot", "*"), (r"\,", " "),
                     (r"\sin", "sin"), (r"\cos", "cos"), (r"\pi", "pi")):
        s = s.replace(old, new)
    s = re.sub(r"\\(\w+)\^\{2\}\(", r"\1_sq(", s)
    s = s.replace(r"\sigma", "sigmoid").replace(r"\tanh", "tanh").replace(r"\ln", "log").replace(r"\sqrt", "sqrt")
    s = re.sub(r"(?<![\w\\])e\^", "exp", s)
    assert "\\" not in s, f"untranslated LaTeX command in {tex!r}: {s!r}"
    s = s.replace("^", "**").replace("{", "(").replace("}", ")")
    s = re.sub(r"\)\s+(?!if\b|else\b)(?=[A-Za-z(])", ")*", s)  # \frac{2}{\sqrt{\pi}} e^{...}: a product
    return _implicit_products(s)


def to_sympy(source: str, names: dict[str, Any]) -> Any:
    """Build the SymPy expression of ``source`` from its syntax tree: only arithmetic, comparisons, the
    functions above, ``a if c else b`` and the Iverson bracket ``[c]``."""

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return build(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return sp.nsimplify(node.value)
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](build(node.left), build(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return -build(node.operand) if isinstance(node.op, ast.USub) else build(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
            return _FUNCTIONS[node.func.id](*[build(a) for a in node.args])
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return _COMPARE[type(node.ops[0])](build(node.left), build(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            return sp.Piecewise((build(node.body), build(node.test)), (build(node.orelse), True))
        if isinstance(node, ast.List) and len(node.elts) == 1:
            return sp.Piecewise((1, build(node.elts[0])), (0, True))
        raise AssertionError(f"cannot read {ast.dump(node)} in {source!r}")

    return build(ast.parse(source, mode="eval"))


def _cases(op: OpDef, count: int = 8):
    rng = random.Random(f"text-{op.name}")
    for _ in range(count):
        attrs = {a: rng.choice(SAMPLE_ATTRS[a]) for a in op.attr_names}
        point = []
        for i in range(op.arity):
            magnitude = rng.uniform(0.3, 2.5)  # away from kinks (0) and poles
            positive = i in POSITIVE.get(op.name, ()) or (op.name == "powc" and not attrs["p"].is_integer())
            point.append(magnitude if positive else rng.choice([-1.0, 1.0]) * magnitude)
        yield point, attrs


def derivative_text_mismatches(op: OpDef, latex: bool = False) -> list[str]:
    """Where ``op``'s derivative texts (or their LaTeX) disagree with ``sympy.diff`` of its SymPy form."""
    symbols = sp.symbols(f"x0:{op.arity}", real=True)
    labels = [str(s) for s in symbols]
    problems = []
    for point, attrs in _cases(op):
        expr = op.sympy(*symbols, **attrs)
        subs = dict(zip(symbols, point, strict=True))
        names = {**dict(zip(labels, symbols, strict=True)), "out": expr}
        for i, sym in enumerate(symbols):
            if latex:
                shown = op.local_derivative_latex(i, labels, "out", attrs)
                source = latex_to_python(shown)
            else:
                shown = op.local_derivative(i, labels, "out", attrs)
                source = text_to_python(shown)
            claimed = float(to_sympy(source, names).subs(subs))
            expected = float(sp.diff(expr, sym).subs(subs))
            if not np.isclose(claimed, expected, rtol=1e-10, atol=1e-12):
                problems.append(f"{op.name} d/dx{i} at {point} {attrs}: {shown!r} gives {claimed}, "
                                f"sympy.diff gives {expected}")
    return problems


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_derivative_text_matches_sympy_diff(name):
    assert derivative_text_mismatches(OPS[name]) == []


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_derivative_latex_matches_sympy_diff(name):
    assert derivative_text_mismatches(OPS[name], latex=True) == []


@pytest.mark.parametrize(("name", "wrong_text", "wrong_latex"), [
    ("div", ("1/{x1}", "{x0}/{x1}²"), ("\\frac{{1}}{{{x1}}}", "-\\frac{{{x0}}}{{{x1}}}")),
    ("tanh", ("1+tanh²({x0})",), ("1 + \\tanh^{{2}}\\left({x0}\\right)",)),
    ("sigmoid", ("σ({x0})(1+σ({x0}))",), ("\\sigma\\left({x0}\\right)",)),
    ("cos", ("sin({x0})",), ("\\sin\\left({x0}\\right)",)),
    ("erf", ("(1/√π)·exp(−{x0}²)",), ("\\frac{{2}}{{\\sqrt{{\\pi}}}} e^{{{x0}^{{2}}}}",)),
    ("Phi", ("exp(−{x0}²/2)/√π",), ("\\frac{{1}}{{\\sqrt{{\\pi}}}} e^{{-{x0}^{{2}}/2}}",)),
])
def test_a_wrong_derivative_text_is_caught(name, wrong_text, wrong_latex):
    """The check can fail: a sign slip in div's or tanh's text (the issue's examples) is reported."""
    text_broken = dataclasses.replace(OPS[name], derivatives=wrong_text)
    assert derivative_text_mismatches(text_broken)
    latex_broken = dataclasses.replace(OPS[name], derivative_latex=wrong_latex)
    assert derivative_text_mismatches(latex_broken, latex=True)


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_text_template_formats(name):
    op = OPS[name]
    labels = ["a", "b"][: op.arity]
    attrs = {key: ATTRS[key] for key in op.attr_names}
    assert len(op.derivatives) == len(op.derivative_latex) == op.arity, f"{name}: one text per input"
    assert op.display and op.latex, f"{name}: display and latex templates are required"
    for i in range(op.arity):
        for text in (op.local_derivative(i, labels, "out", attrs), op.local_derivative_latex(i, labels, "out", attrs)):
            assert text and not re.search(r"\{(x\d|out|p_|base|axis_arg)", text), text
    shown = op.display_text(labels, attrs)
    assert shown and not re.search(r"\{(x\d|out|p_|axis_arg)", shown) and all(label in shown for label in labels)
    assert op.latex_text(labels, attrs)


@pytest.mark.parametrize(("p", "expected"), [(2.0, "2·x"), (3.0, "3·x^2"), (0.5, "0.5·x^(-0.5)"), (1.0, "1"),
                                             (-1.0, "-1·x^(-2)")])
def test_power_rule_text(p, expected):
    assert OPS["powc"].local_derivative(0, ["x"], attrs={"p": p}) == expected


@pytest.mark.parametrize(("p", "expected"), [(2.0, "x²"), (3.0, "x³"), (-1.0, "x⁻¹"), (0.5, "x^0.5")])
def test_power_display(p, expected):
    assert OPS["powc"].display_text(["x"], {"p": p}) == expected


# --- tensor-only ops: the VJP text, evaluated with NumPy, against finite differences --------------------------
def vjp_text_to_python(text: str) -> str:
    """``ḡ @ Bᵀ``, ``p ⊙ (ḡ − Σ ḡ⊙p)``, ``broadcast ḡ / n``... as Python syntax over the words below."""
    s = text.replace("ḡ", "g").replace("−", "-").replace("⊙", "*")
    for phrase, call in (("broadcast g", "broadcast(g)"), ("reshape g back", "reshape_back(g)"),
                         ("scatter g into zeros", "scatter(g)"), ("g at the argmax", "at_argmax(g)")):
        s = s.replace(phrase, call)
    s = re.sub(r"Σ ([^\s)]+)", r"S(\1)", s)
    s = re.sub(r"(\w+)ᵀ", r"T(\1)", s)
    s = re.sub(r"(\d)\(", r"\1*(", s)
    return re.sub(r"([\w)])\s+(?=[\w(])", r"\1 * ", s)


def evaluate(source: str, names: dict[str, Any]) -> Any:
    """Evaluate the syntax tree of ``source`` over NumPy values: arithmetic, ``@`` and the named words only."""
    ops = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide, ast.MatMult: np.matmul}

    def run(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return run(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.Name) and node.id in names:
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](run(node.left), run(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -run(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names:
            return names[node.func.id](*[run(a) for a in node.args])
        raise AssertionError(f"cannot read {ast.dump(node)} in {source!r}")

    return run(ast.parse(source, mode="eval"))


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _words(op: str, xs: list[np.ndarray], attrs: dict, out: np.ndarray) -> dict[str, Any]:
    """What the words of the VJP texts mean for this op's inputs and attributes."""
    x = xs[0]
    axis, keepdims = attrs.get("axis"), attrs.get("keepdims", False)

    def broadcast(g):
        if axis is not None and not keepdims:
            g = np.expand_dims(g, axis)
        return np.broadcast_to(g, x.shape)

    def scatter(g):
        grad = np.zeros_like(x)
        np.add.at(grad, attrs["index"], g)
        return grad

    def at_argmax(g):
        mask = x == x.max(axis=axis, keepdims=True)
        return broadcast(g) * mask / mask.sum(axis=axis, keepdims=True)

    names: dict[str, Any] = {"broadcast": broadcast, "scatter": scatter, "at_argmax": at_argmax,
                             "reshape_back": lambda g: g.reshape(x.shape), "T": np.transpose,
                             "S": lambda v: v.sum(axis=axis if axis is not None else 1, keepdims=True)}
    if op == "transpose":
        names["T"] = lambda g: g.transpose(np.argsort(attrs["axes"]))
    names.update({f"x{i}": v for i, v in enumerate(xs)})
    if op in ("mean",):
        names["n"] = x.size // out.size
    if op in ("softmax", "log_softmax"):
        names["p"] = _softmax(x, axis)
    if op == "cross_entropy":
        names["p"] = _softmax(x, 1)
        names["y"] = smoothed_targets(attrs["target"], x.shape[1], attrs["label_smoothing"], x.dtype)
        names["N"] = x.shape[0]
    if op == "mse_loss":
        names["N"] = x.size
    return names


TENSOR_CASES: dict[str, tuple[list[tuple[int, ...]], dict]] = {
    "matmul": ([(3, 4), (4, 2)], {}),
    "sum": ([(3, 4)], {"axis": 1, "keepdims": False}),
    "mean": ([(3, 4)], {"axis": 0, "keepdims": True}),
    "max": ([(3, 4)], {"axis": 1, "keepdims": False}),
    "reshape": ([(3, 4)], {"shape": (2, 6)}),
    "transpose": ([(2, 3, 4)], {"axes": (2, 0, 1)}),
    "getitem": ([(5, 3)], {"index": np.array([0, 3, 3, 1])}),
    "softmax": ([(3, 4)], {"axis": 1}),
    "log_softmax": ([(3, 4)], {"axis": 0}),
    "cross_entropy": ([(3, 4)], {"target": np.array([2, 0, 3]), "label_smoothing": 0.1, "reduction": "mean"}),
    "mse_loss": ([(3, 2), (3, 2)], {"reduction": "mean"}),
}


def test_every_tensor_only_op_has_a_vjp_case():
    assert set(TENSOR_CASES) == set(OPS) - set(SCALAR_OPS)


def vjp_text_mismatches(op: OpDef) -> list[str]:
    shapes, attrs = TENSOR_CASES[op.name]
    rng = np.random.default_rng(7)
    xs = [rng.permutation(np.linspace(0.3, 2.0, int(np.prod(s)))).reshape(s) * rng.choice([-1, 1], s)
          for s in shapes]
    out = apply_unchecked(op, *[Tensor(x) for x in xs], **attrs).data
    g = rng.standard_normal(out.shape)
    names = _words(op.name, xs, attrs, out)
    names["g"] = g
    problems = []
    for i in range(op.arity):
        text = op.local_derivative(i, [f"x{k}" for k in range(op.arity)], "out", attrs)
        claimed = np.asarray(evaluate(vjp_text_to_python(text), names), dtype=float)
        numeric = np.zeros_like(xs[i])
        for index in np.ndindex(xs[i].shape):
            h = 1e-6
            plus, minus = [x.copy() for x in xs], [x.copy() for x in xs]
            plus[i][index] += h
            minus[i][index] -= h
            f_plus = apply_unchecked(op, *[Tensor(x) for x in plus], **attrs).data
            f_minus = apply_unchecked(op, *[Tensor(x) for x in minus], **attrs).data
            numeric[index] = np.sum(g * (f_plus - f_minus)) / (2 * h)
        if claimed.shape != numeric.shape or not np.allclose(claimed, numeric, rtol=1e-6, atol=1e-8):
            problems.append(f"{op.name} input {i}: {text!r} gives {claimed.round(6).tolist()}, finite "
                            f"differences give {numeric.round(6).tolist()}")
    return problems


@pytest.mark.parametrize("name", sorted(TENSOR_CASES))
def test_tensor_vjp_text_matches_finite_differences(name):
    assert vjp_text_mismatches(OPS[name]) == []


@pytest.mark.parametrize(("name", "wrong"), [("matmul", ("ḡ @ {x1}", "{x0}ᵀ @ ḡ")), ("mean", ("broadcast ḡ",)),
                                             ("softmax", ("p ⊙ ḡ",)), ("mse_loss", ("2({x0} − {x1}) ḡ / N",
                                                                                   "2({x0} − {x1}) ḡ / N"))])
def test_a_wrong_vjp_text_is_caught(name, wrong):
    broken = dataclasses.replace(OPS[name], derivatives=wrong)
    with np.errstate(all="ignore"):
        try:
            problems = vjp_text_mismatches(broken)
        except ValueError:  # a shape error is a failure too
            problems = ["shape mismatch"]
    assert problems
