"""Named-step programs: ``"z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2"``, the last step being the output.

Each right-hand side is read by the one expression parser (:mod:`autograd_viz.expr`) against the op table's
function whitelist (:data:`autograd_viz.ops.EXPR_FUNCTIONS`), the language of the checker's ``[define]``; each
step's result is a ``Value`` carrying the step's name, so drawings and worked solutions show ``z``, ``y``, ``L``.
A derivation file's ``[define]`` chain is such a program (:func:`program_from_toml`).
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograd_viz.errors import ExpressionError
from autograd_viz.expr import Evaluator, Grammar, names_in, parse
from autograd_viz.graph import Node
from autograd_viz.ops import EXPR_FUNCTIONS, SCALAR_OPS
from autograd_viz.scalar import Value

#: Functions a step may call: the expression language's functions that the scalar engine implements.
FUNCTIONS: frozenset[str] = frozenset(
    name for name, op in EXPR_FUNCTIONS.items() if op.name in SCALAR_OPS and callable(getattr(Value, op.name, None)))
GRAMMAR = Grammar(functions=FUNCTIONS)
MAX_STEPS = 10_000
_ASSIGN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)\Z", re.S)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Step:
    """One step: its name (``None`` for a bare final expression), its text and its checked tree."""

    name: str | None
    text: str
    tree: ast.expr


def is_program(text: str) -> bool:
    """True when ``text`` has at least one ``name = ...`` step (a plain expression is a one-step program)."""
    return any(_ASSIGN.match(part) for part in _split(text))


def _split(text: str) -> list[str]:
    return [p for p in re.split(r"[;\n]", text) if p.strip()]


def parse_steps(text: str) -> list[Step]:
    """Split ``text`` at ``;``/newlines into steps and parse each right-hand side; errors name the step."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expression: empty")
    parts = _split(text)
    if len(parts) > MAX_STEPS:
        raise ExpressionError(f"expression: more than {MAX_STEPS} steps")
    steps: list[Step] = []
    defined: dict[str, int] = {}
    for k, part in enumerate(parts, start=1):
        match = _ASSIGN.match(part)
        where = f"step {k}"
        if match is None:
            if k != len(parts):
                raise ExpressionError(f"{where} {part.strip()!r}: expected name = formula (only the last step may "
                                      "be a bare expression)")
            name, rhs = None, part
        else:
            name, rhs = match.group(1), match.group(2)
            where = f"step {k} ({name})"
            if not _NAME.match(name):
                raise ExpressionError(f"{where}: {name!r} is not a valid name (letters, digits, _; starts with a "
                                      "letter)")
            if name in FUNCTIONS:
                raise ExpressionError(f"{where}: {name!r} is a function name")
            if name in defined:
                raise ExpressionError(f"{where}: {name!r} is already defined in step {defined[name]}")
        tree = parse(rhs, GRAMMAR, where)
        if name is not None and name in names_in(tree):
            raise ExpressionError(f"{where}: {name!r} is used in its own definition")
        steps.append(Step(name, rhs.strip(), tree))
        if name is not None:
            defined[name] = k
    # A name used before the step that defines it is a mistake, not an input of the same name.
    for k, step in enumerate(steps, start=1):
        for used in names_in(step.tree):
            if used in defined and defined[used] > k:
                raise ExpressionError(f"step {k} uses {used!r} before step {defined[used]} defines it")
    return steps


def input_names(steps: list[Step]) -> list[str]:
    """The names the program reads that no step defines, in order of first use."""
    defined = {s.name for s in steps if s.name is not None}
    seen: dict[str, None] = {}
    for step in steps:
        for used in names_in(step.tree):
            if used not in defined:
                seen.setdefault(used, None)
    return list(seen)


def _needed(steps: list[Step]) -> list[Step]:
    """The steps the last one depends on (a derivation file's [define] may hold side definitions)."""
    by_name = {s.name: s for s in steps if s.name is not None}
    keep: set[int] = set()
    stack = [len(steps) - 1]
    index = {s.name: i for i, s in enumerate(steps) if s.name is not None}
    while stack:
        i = stack.pop()
        if i in keep:
            continue
        keep.add(i)
        stack.extend(index[n] for n in names_in(steps[i].tree) if n in by_name)
    return [s for i, s in enumerate(steps) if i in keep]


def build_steps(text: str, at: dict[str, float], params: set[str] | frozenset[str] = frozenset(),
                output: str | None = None) -> tuple[Value, list[Value]]:
    """Evaluate a program with a ``Value`` per input from ``at``; returns (the last step's node, the inputs).

    Each named step's node carries the step's name. ``output`` picks a step other than the last (the steps it
    does not need are dropped). Errors name the missing or unused values and the offending step.
    """
    steps = parse_steps(text)
    if output is not None:
        step_names = [s.name for s in steps]
        if output not in step_names:
            raise ExpressionError(f"no step named {output!r} (steps: {', '.join(n for n in step_names if n)})")
        steps = steps[: step_names.index(output) + 1]
    steps = _needed(steps)
    names = input_names(steps)
    inputs = make_inputs(names, at, params)
    env: dict[str, Any] = dict(inputs)
    out: Any = None
    for k, step in enumerate(steps, start=1):
        what = f"step {k}" + (f" ({step.name})" if step.name else "")
        out = _evaluate(step, env, what)
        if step.name is not None:
            if isinstance(out, Value) and (out.op is None or out.name is not None):
                raise ExpressionError(f"{what}: {step.text!r} only renames {out.label()}; write the formula where "
                                      f"{step.name!r} is used")
            if not isinstance(out, Value):
                out = Value(float(out), name=step.name, requires_grad=False, role="const")
            out.name = step.name
            env[step.name] = out
    if not isinstance(out, Value) or not out.requires_grad:
        raise ExpressionError(f"expression {text.strip()[:60]!r} does not depend on any input")
    return out, list(inputs.values())


def make_inputs(names: list[str], at: dict[str, float], params: set[str] | frozenset[str]) -> dict[str, Value]:
    """One ``Value`` leaf per input name, from the ``--at`` values (``--params`` names are parameters); a
    missing, unused, non-finite or unknown name is a one-line error saying how to fix it."""
    missing = [n for n in names if n not in at]
    if missing:
        raise ExpressionError(f"no value for {', '.join(map(repr, missing))}: add "
                              f"--at {','.join(f'{n}=...' for n in missing)}")
    unused = sorted(set(at) - set(names))
    if unused:
        raise ExpressionError(f"--at gives {', '.join(map(repr, unused))}, which the expression does not use")
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ExpressionError(f"--params names {', '.join(map(repr, unknown))}, which the expression does not use")
    for n in names:
        if not math.isfinite(at[n]):
            raise ExpressionError(f"--at {n}: the value must be finite")
    return {n: Value(float(at[n]), name=n, role="param" if n in params else "input") for n in names}


def call_function(fn: str, args: list[Any], node: ast.AST, what: str = "") -> Value:
    """``fn(*args)`` of the expression language on ``Value``s: the input first, then the op's numeric
    attributes (``leaky_relu(x, 0.1)``); a number as the input becomes a constant leaf."""
    op = EXPR_FUNCTIONS[fn]
    where = f"{what}: " if what else ""
    column = getattr(node, "col_offset", 0) + 1
    if not 1 <= len(args) <= 1 + len(op.attr_names):
        allowed = "1" if not op.attr_names else f"1 or {1 + len(op.attr_names)} ({', '.join(op.attr_names)})"
        raise ExpressionError(f"{where}{fn}() takes {allowed} argument(s), got {len(args)} (column {column})")
    x, extra = args[0], args[1:]
    if any(isinstance(e, Node) for e in extra):
        raise ExpressionError(f"{where}{fn}(): {', '.join(op.attr_names)} must be a number, not an input "
                              f"(column {column})")
    x = x if isinstance(x, Value) else Value(float(x), requires_grad=False, role="const")
    return getattr(x, op.name)(*extra)


def _evaluate(step: Step, env: dict[str, Any], what: str) -> Any:
    def call(fn: str, args: list[Any], node: ast.Call) -> Any:
        return call_function(fn, args, node, what)

    evaluate = Evaluator(name=lambda n, _node: env[n], call=call, number=float)
    try:
        return evaluate(step.tree)
    except (ZeroDivisionError, OverflowError) as exc:
        raise ExpressionError(f"{what} {step.text[:60]!r}: arithmetic on its constants fails: {exc}") from None


def program_from_toml(path: str | Path, output: str | None = None) -> str:
    """A derivation file's ``[define]`` chain as a program text (its last definition, or ``output``)."""
    define = _read_toml(path).get("define")
    if not isinstance(define, dict) or not define:
        raise ExpressionError(f"{path}: no [define] section to draw")
    lines = []
    for name, formula in define.items():
        if not isinstance(formula, str):
            raise ExpressionError(f"{path}: [define] {name}: expected a formula string")
        if ";" in formula or "\n" in formula:
            raise ExpressionError(f"{path}: [define] {name}: one formula per definition")
        lines.append(f"{name} = {formula}")
        if name == output:
            break
    else:
        if output is not None:
            raise ExpressionError(f"{path}: [define] has no {output!r} (it has {', '.join(define)})")
    return "\n".join(lines)


def _symbols(path: str | Path) -> list[str]:
    symbols = _read_toml(path).get("symbols", {})
    return list(symbols) if isinstance(symbols, dict) else []


def _read_toml(path: str | Path) -> dict:
    p = Path(path)
    try:
        return tomllib.loads(p.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ExpressionError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ExpressionError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExpressionError(f"{path}: bad TOML: {exc}") from None


def build_toml(path: str | Path, at: dict[str, float], params: set[str] | frozenset[str] = frozenset(),
               output: str | None = None) -> tuple[Value, list[Value]]:
    """:func:`build_steps` of a derivation file's ``[define]`` chain; errors name the file."""
    program = program_from_toml(path, output)
    # Values for the file's other symbols are fine (one --at line serves every step); unknown names are not.
    try:
        used = set(input_names(_needed(parse_steps(program))))
        declared = set(_symbols(path))
        at = {k: v for k, v in at.items() if k in used or k not in declared}
        return build_steps(program, at, params)
    except ExpressionError as exc:
        raise ExpressionError(f"{path}: [define]: {exc}") from None


__all__ = ["FUNCTIONS", "Step", "build_steps", "build_toml", "input_names", "is_program", "parse_steps",
           "program_from_toml"]
