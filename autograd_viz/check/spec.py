"""Read and validate a derivation file (TOML): symbols, matrices, random variables, definitions, claims.

Everything is checked here, before any SymPy work, so a malformed file gets one clear message naming the
section, the key and (for formulas) the column.
"""

from __future__ import annotations

import ast
import keyword
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from autograd_viz.check.domain import WORDS, Domain, DomainSpecError, parse_domain
from autograd_viz.errors import (
    DerivationError,
    ExpressionError,
    InputFileError,
    UnreadableFileError,
)
from autograd_viz.expr import Evaluator, Grammar, names_in, parse
from autograd_viz.io import read_text_bounded
from autograd_viz.ops import EXPR_FUNCTIONS

if TYPE_CHECKING:
    import sympy as sp

#: a derivation file larger than this is refused before it is read (the built-in ones are under 20 kB)
MAX_FILE_BYTES = 4 * 1024 * 1024


#: Functions a formula may call (the ones with special argument rules are handled by the builder).
#: The op table's functions (``sigmoid``, ``relu``, ...) plus the checker's own: calculus (diff, grad, nest),
#: sums and moments (Sum, sum, E, Var), ``max``/``min`` and ``ones``.
CHECKER_FUNCTIONS = frozenset({"max", "min", "diff", "nest", "Sum", "E", "Var", "ones", "sum", "grad",
                               "trace", "det", "inv", "eye", "diag", "logdet"})
#: Constants of the formula language (a name declared in the file wins): pi and Euler's number (E is taken by
#: the expectation).
CONSTANTS = ("pi", "e")
FUNCTIONS = frozenset(EXPR_FUNCTIONS) | CHECKER_FUNCTIONS
GRAMMAR = Grammar(functions=FUNCTIONS, matmul=True, attributes=frozenset({"T"}), subscripts=True, tuples=True)
DIST_GRAMMAR = Grammar(functions=frozenset({"Normal", "Uniform", "Bernoulli", "sqrt", "exp", "log"}))
DIST_ARITY = {"Normal": 2, "Uniform": 2, "Bernoulli": 1}

ASSUMPTIONS = WORDS  # plus one interval(a, b) with ( ) open and [ ] closed ends
RELATIONS = ("==", "<=", "<", ">=", ">")
MAX_DIM = 32  # literal matrix sizes (size symbols are instantiated with small integers)
EXPECTS = ("holds", "fails")
CLAIM_KEYS = {"name", "lhs", "rhs", "lhs_latex", "rhs_latex", "relation", "forall", "expect", "source"}
TOP_KEYS = {"title", "source", "symbols", "matrices", "random", "define", "claim"}


@dataclass
class Claim:
    """One ``[[claim]]``: the texts as written (``lhs``/``rhs`` may come from the LaTeX forms)."""

    name: str
    lhs: str | None
    rhs: str | None
    lhs_latex: str | None = None
    rhs_latex: str | None = None
    relation: str = "=="
    forall: list[str] = field(default_factory=list)
    expect: str = "holds"
    error: str | None = None  # a problem found while validating this claim alone
    source: str | None = None  # where this claim is printed (a page, an equation number)


@dataclass
class Spec:
    """A validated derivation file."""

    path: str
    title: str
    source: str | None
    symbols: dict[str, set[str]]
    matrices: dict[str, tuple[int | str, int | str]]
    random: dict[str, tuple[str, list[ast.expr]]]
    define: dict[str, ast.expr]
    define_text: dict[str, str]
    claims: list[Claim]
    error: str | None = None  # a problem that affects every claim (a bad definition, ...)
    domains: dict[str, Domain] = field(default_factory=dict)  # the allowed values of each symbol

    def sympy_symbol(self, name: str) -> sp.Symbol:
        """The SymPy symbol of the declared scalar ``name``, with its assumption words (``positive``, ...)."""
        import sympy as sp

        return sp.Symbol(name, **dict.fromkeys(self.symbols[name], True))


def _check_name(name: str, where: str) -> None:
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
        raise DerivationError(f"{where}: {name!r} is not a valid name")
    if name in FUNCTIONS:
        raise DerivationError(f"{where}: {name!r} is reserved")


def read_toml(path: str | os.PathLike[str]) -> dict:
    """The raw TOML table; raise :class:`UnreadableFileError` if the file cannot be read at all."""
    p = Path(path)
    try:
        text = read_text_bounded(p, MAX_FILE_BYTES, "derivation file")  # refuses FIFOs, devices, huge files
    except InputFileError as exc:
        raise UnreadableFileError(str(exc)) from None
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UnreadableFileError(f"{path}: not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnreadableFileError(f"{path}: bad TOML: {exc}") from None


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Read and validate ``path``; file-level problems raise, claim-level problems are kept on the claim."""
    raw = read_toml(path)
    where = str(path)
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise DerivationError(f"{where}: unknown top-level key(s) {sorted(unknown)} (known: {sorted(TOP_KEYS)})")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise DerivationError(f"{where}: 'title' must be a non-empty string")
    source = raw.get("source")
    if source is not None and not isinstance(source, str):
        raise DerivationError(f"{where}: 'source' must be a string")
    spec = Spec(where, title, source, {}, {}, {}, {}, {}, [])
    spec.claims = _claims(raw.get("claim", []), where)
    try:
        _sections(raw, spec)
    except (DerivationError, ExpressionError) as exc:
        spec.error = str(exc)
    return spec


def _table(raw: dict, key: str) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise DerivationError(f"[{key}] must be a table")
    return value


def _sections(raw: dict, spec: Spec) -> None:
    for name, text in _table(raw, "symbols").items():
        _check_name(name, "[symbols]")
        if not isinstance(text, str):
            raise DerivationError(f"[symbols] {name}: assumptions must be a string such as \"real\"")
        try:
            domain = parse_domain(text, name)
        except DomainSpecError as exc:
            raise DerivationError(f"[symbols] {exc}") from None
        spec.domains[name] = domain
        spec.symbols[name] = {w for w, on in domain.assumptions().items() if on}
    for name, size in _table(raw, "matrices").items():
        _check_name(name, "[matrices]")
        _unused(name, spec, "[matrices]")
        if not isinstance(size, list) or len(size) != 2:
            raise DerivationError(f"[matrices] {name}: expected [rows, cols]")
        for s in size:
            if isinstance(s, bool) or not (isinstance(s, int) and s > 0 or isinstance(s, str) and s in spec.symbols):
                raise DerivationError(f"[matrices] {name}: size {s!r} is neither a positive integer nor a symbol "
                                      "from [symbols]")
        if any(isinstance(s, int) and s > MAX_DIM for s in size):
            raise DerivationError(f"[matrices] {name}: sizes above {MAX_DIM} cannot be checked entry by entry; "
                                  "use a size symbol")
        spec.matrices[name] = (size[0], size[1])
    for name, text in _table(raw, "random").items():
        _check_name(name, "[random]")
        _unused(name, spec, "[random]")
        what = f"[random] {name}"
        if not isinstance(text, str):
            raise DerivationError(f"{what}: expected a string such as \"Normal(0, 1)\"")
        tree = parse(text, DIST_GRAMMAR, what)
        if not isinstance(tree, ast.Call) or len(tree.args) != DIST_ARITY.get(cast(ast.Name, tree.func).id):
            raise DerivationError(f"{what}: expected Normal(mean, std), Uniform(a, b) or Bernoulli(p)")
        func = cast(ast.Name, tree.func)  # DIST_GRAMMAR calls plain names only
        for arg in tree.args:
            nested = [cast(ast.Name, n.func).id for n in ast.walk(arg)
                      if isinstance(n, ast.Call) and cast(ast.Name, n.func).id in DIST_ARITY]
            if nested:
                raise DerivationError(f"{what}: a distribution cannot be a parameter ({nested[0]})")
            for used in names_in(arg):
                if used not in spec.symbols:
                    raise DerivationError(f"{what}: unknown symbol {used!r} (declare it in [symbols])")
        spec.random[name] = (func.id, list(tree.args))
        _validate_distribution(what, func.id, list(tree.args), spec)
    for name, text in _table(raw, "define").items():
        _check_name(name, "[define]")
        _unused(name, spec, "[define]")
        what = f"[define] {name}"
        if not isinstance(text, str):
            raise DerivationError(f"{what}: expected a formula string")
        spec.define[name] = parse(text, GRAMMAR, what)
        spec.define_text[name] = text


def _validate_distribution(what: str, kind: str, args: list[ast.expr], spec: Spec) -> None:
    """A distribution must be valid for every allowed value of its parameters: Bernoulli(p) needs 0 ≤ p ≤ 1,
    Normal(mean, std) std > 0, Uniform(a, b) a < b. SymPy decides where it can; otherwise the claim's search
    points of the parameters' domains are tried, and a violating value is named."""
    import random

    import sympy as sp

    from autograd_viz.check import numeric

    symbols = {n: spec.sympy_symbol(n) for n in spec.symbols}
    funcs = {"sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log}
    ev = Evaluator(name=lambda n, node: symbols[n], call=lambda f, a, node: funcs[f](*a),
                   number=lambda v: sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(v)))
    params = [ev(a) for a in args]
    if kind == "Bernoulli":
        needs = [(params[0], False, "p ≥ 0"), (1 - params[0], False, "p ≤ 1")]
    elif kind == "Normal":
        needs = [(params[1], True, "std > 0")]
    else:
        needs = [(params[1] - params[0], True, "a < b")]
    for expr, strict, text in needs:
        good = expr.is_positive if strict else expr.is_nonnegative
        if good:
            continue
        bad = None
        if expr.is_number:
            bad = {}
        else:
            syms = numeric.order_symbols([expr])
            points, _ = numeric.search_points([expr], syms, spec.domains, random.Random(3), random_points=64)
            for point in points:
                v = expr.xreplace(point)
                v = v if v.is_Rational else v.evalf(30)
                if v.is_real and (v < 0 or strict and v == 0):
                    bad = point
                    break
        if bad is not None:
            at = (" at " + ", ".join(f"{k} = {v}" for k, v in bad.items())) if bad else \
                f" ({kind}({', '.join(map(str, params))}))"
            hint = "; restrict the parameter, e.g. p = \"interval[0, 1]\"" if bad else ""
            raise DerivationError(f"{what}: {kind} needs {text} for every allowed value, which fails{at}{hint}")


def _unused(name: str, spec: Spec, where: str) -> None:
    for section, table in (("[symbols]", spec.symbols), ("[matrices]", spec.matrices),
                           ("[random]", spec.random), ("[define]", spec.define)):
        if name in table:
            raise DerivationError(f"{where}: {name!r} is already declared in {section}")


def _claims(items: object, where: str) -> list[Claim]:
    if not isinstance(items, list):
        raise DerivationError(f"{where}: 'claim' must be an array of tables ([[claim]])")
    claims = []
    for k, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise DerivationError(f"{where}: claim #{k} is not a table")
        name = item.get("name")
        claim = Claim(name=name if isinstance(name, str) and name else f"claim #{k}", lhs=None, rhs=None)
        claims.append(claim)
        try:
            _fill_claim(claim, item)
        except DerivationError as exc:
            claim.error = str(exc)
    return claims


def _fill_claim(claim: Claim, item: dict) -> None:
    unknown = set(item) - CLAIM_KEYS
    if unknown:
        raise DerivationError(f"unknown key(s) {sorted(unknown)} (known: {sorted(CLAIM_KEYS)})")
    if not isinstance(item.get("name"), str) or not item["name"]:
        raise DerivationError("'name' is required")
    for key in ("lhs", "rhs", "lhs_latex", "rhs_latex"):
        if key in item and not isinstance(item[key], str):
            raise DerivationError(f"'{key}' must be a string")
        setattr(claim, key, item.get(key))
    for side in ("lhs", "rhs"):
        if getattr(claim, side) is None and getattr(claim, f"{side}_latex") is None:
            raise DerivationError(f"'{side}' (or '{side}_latex') is required")
    if "source" in item and not isinstance(item["source"], str):
        raise DerivationError("'source' must be a string (where this claim is printed)")
    claim.source = item.get("source")
    claim.relation = item.get("relation", "==")
    if claim.relation not in RELATIONS:
        raise DerivationError(f"relation {claim.relation!r} is not one of {', '.join(RELATIONS)}")
    claim.expect = item.get("expect", "holds")
    if claim.expect not in EXPECTS:
        raise DerivationError(f"expect {claim.expect!r} is not 'holds' or 'fails'")
    forall = item.get("forall", [])
    if not isinstance(forall, list) or not all(isinstance(v, str) for v in forall):
        raise DerivationError("'forall' must be a list of symbol names")
    claim.forall = forall
