"""The worked solution's data (forward rows, backward rows with their terms, gradients) and the graph's labels.

Shared by the builder (:mod:`.core`), the checks (:mod:`.terms`, :mod:`.gradients`, :mod:`.differences`) and the
renderers (:mod:`.render`); it imports no SymPy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain import localtext
from autograd_viz.graph import Node
from autograd_viz.ops import OpDef

_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "sigma", "tau", "phi", "omega"}


def tex_name(label: str) -> str:
    """A label in LaTeX: ``x0`` → ``x_{0}``, ``alpha`` → ``\\alpha``, ``fc1.weight`` → ``\\mathrm{fc1.weight}``,
    the entry ``X[0,1]`` → ``X_{0,1}``."""
    m = re.fullmatch(r"(.+)\[([0-9,]+)\]", label)
    if m:
        return f"{tex_name(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", label)
    if m:
        return f"{tex_name(m.group(1))}_{{{m.group(2)}}}"
    if label in _GREEK:
        return "\\" + label
    if re.fullmatch(r"[A-Za-z]", label):
        return label
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", label)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return "\\mathrm{" + label.replace("_", "\\_") + "}"


def tex_bar(label: str) -> str:
    """The adjoint's LaTeX name: ``x0`` → ``\\bar{x}_{0}``, ``fc1.weight`` → ``\\overline{\\mathrm{fc1.weight}}``."""
    m = re.fullmatch(r"(.+)\[([0-9,]+)\]", label)
    if m:
        return f"{tex_bar(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", label)
    if m and (len(m.group(1)) == 1 or m.group(1) in _GREEK):
        return f"\\bar{{{tex_name(m.group(1))}}}_{{{m.group(2)}}}"
    if re.fullmatch(r"[A-Za-z]", label) or label in _GREEK:
        return f"\\bar{{{tex_name(label)}}}"
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", label)
    if m:
        return f"\\bar{{{m.group(1)}}}_{{{m.group(2)}}}"
    return f"\\overline{{{tex_name(label)}}}"


@dataclass
class Term:
    """One consumer's share of an adjoint: ``upstream · local`` (or the op's VJP for tensor ops)."""

    consumer: str
    consumer_tex: str
    index: int
    local: str  # the op table's text with the graph's labels
    local_latex: str  # symbolic LaTeX (tensor VJP ops: with the consumer's adjoint for ḡ)
    local_latex_numbers: str | None  # the same with numbers (scalar graphs)
    local_value: Any  # None for VJP-form (non-elementwise) tensor ops
    upstream: Any
    contribution: Any
    reduced: bool = False  # tensor: summed over broadcast axes
    vjp: bool = False  # tensor op written as a vector-Jacobian product
    checked_by: str = "op table text vs SymPy and the engine"


@dataclass
class ForwardRow:
    """One step of the forward table: its label, formula (text and LaTeX) and value."""

    name: str
    tex: str
    formula: str
    latex: str
    value: Any
    shape: tuple[int, ...] | None = None


@dataclass
class BackwardRow:
    """One node of the backward pass: its adjoint and the consumer terms summed into it (none for the seed)."""

    name: str
    tex: str
    bar_tex: str
    adjoint: Any
    terms: list[Term]
    seed: bool = False
    shape: tuple[int, ...] | None = None


@dataclass
class Gradient:
    """One requested gradient: value, formula (text, LaTeX, SymPy) and how it was checked."""

    name: str
    tex: str
    value: Any
    formula: str
    latex: str
    simplified: bool = True
    checked: str = ""
    shape: tuple[int, ...] | None = None
    sympy: Any = None


@dataclass
class Derivation:
    """A worked solution, checked; rendered by :mod:`autograd_viz.explain.render`."""

    kind: str  # "scalar" or "tensor"
    expression: str
    output: str
    output_tex: str
    point: dict[str, Any]
    forward: list[ForwardRow]
    backward: list[BackwardRow]
    gradients: dict[str, Gradient]
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (name, formula in the expression language)


# --- labels --------------------------------------------------------------------------------------------------
def is_const(node: Node) -> bool:
    """A constant leaf (a number in the formula), not an input."""
    return node.op is None and (node.role == "const" or (node.name is None and not node.requires_grad))


def number_label(value: float) -> str:
    """A constant as a label, parenthesised when negative."""
    text = f"{value:.10g}"
    return f"({text})" if value < 0 else text


def make_labels(order: list[Node]) -> dict[int, tuple[str, str]]:
    """(text label, LaTeX label) per node: names as given, ``v1, v2, …`` for unnamed steps, numbers for
    constants, ``u1, …`` for unnamed inputs."""
    used = {n.name for n in order if n.name is not None}
    counters = {"v": 0, "u": 0}

    def fresh(prefix: str) -> str:
        while True:
            counters[prefix] += 1
            label = f"{prefix}{counters[prefix]}"
            if label not in used:
                used.add(label)
                return label

    out: dict[int, tuple[str, str]] = {}
    for node in order:
        if is_const(node) and np.ndim(node.data) == 0:
            value = float(node.data)
            out[id(node)] = (number_label(value), localtext.format_number(value))
            continue
        if node.name is not None:
            label = node.name
        else:
            label = fresh("v" if node.op is not None else "u")
        out[id(node)] = (label, tex_name(label))
    return out


def close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    """Equal shapes and entries within tolerance (nan matches nan, inf matches the same inf)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    ok = np.isclose(a, b, rtol=rtol, atol=atol) | both_nan | same_inf
    return bool(np.all(ok))


def show(value: Any) -> str:
    """A number or array for an error message."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.10g}"
    return np.array2string(arr, precision=6, threshold=20)



def plain(value: Any) -> Any:
    """A value for the JSON contract: a float, or nested lists of floats."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return float(arr)
    return arr.astype(np.float64).tolist()


def op_of(node: Node) -> OpDef:
    """The op of a node that is known to be an op node (not a leaf)."""
    if node.op is None:
        raise ExplainError(f"{node.label()} is an input, not an op")
    return node.op

