"""A checked :class:`~autograd_viz.explain.model.Derivation` as Markdown (``$…$`` math for GitHub and
Jupyter), a LaTeX fragment (``align*``) or the JSON contract of ``autograd-viz explain --format json``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_viz.explain.localtext import format_number
from autograd_viz.explain.model import BackwardRow, Derivation, Term, tex_bar

MAX_SHOWN = 16  # tensor entries written out in Markdown/LaTeX; larger tensors are summarised


def _num(value: Any) -> str:
    """A scalar in LaTeX, parenthesised when negative (it is multiplied)."""
    text = format_number(float(value))
    return f"\\left({text}\\right)" if text.startswith("-") else text


def _summary(value: Any) -> str:
    """A tensor value for prose: its entries when small, else shape and statistics."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.size <= MAX_SHOWN:
        return "`" + np.array2string(arr, precision=4, separator=", ", suppress_small=True).replace("\n", "") + "`"
    return (f"shape {tuple(arr.shape)}, mean {arr.mean():.4g}, min {arr.min():.4g}, max {arr.max():.4g}, "
            f"‖·‖ {np.linalg.norm(arr):.4g}")


def _partial(t: Term, row: BackwardRow) -> str:
    return f"\\frac{{\\partial {t.consumer_tex}}}{{\\partial {row.tex}}}"


# --- scalar formulas (shared by Markdown and LaTeX) ------------------------------------------------------------
def _adjoint_lines(row: BackwardRow) -> list[str]:
    """The adjoint's definition, with local derivatives, with numbers, and its value (one formula each)."""
    if row.seed:
        return [f"{row.bar_tex} = \\frac{{\\partial {row.tex}}}{{\\partial {row.tex}}} = 1"]
    definition = " + ".join(f"{tex_bar(t.consumer)} {_partial(t, row)}" for t in row.terms)
    symbolic = " + ".join(_product(tex_bar(t.consumer), t.local_latex) for t in row.terms)
    numbers = " + ".join(f"{_num(t.upstream)} \\cdot {_num(t.local_value)}" for t in row.terms)
    return [f"{row.bar_tex} = {definition} = {symbolic}", f"{row.bar_tex} = {numbers} = {format_number(row.adjoint)}"]


def _product(left: str, right: str) -> str:
    if right == "1":
        return left
    if right.startswith("-") or _top_level_sum(right):
        right = f"\\left({right}\\right)"
    return f"{left} \\cdot {right}"


def _top_level_sum(tex: str) -> bool:
    """Whether ``tex`` is a sum or difference outside every bracket (so a product must parenthesise it)."""
    depth = 0
    for k, ch in enumerate(tex):
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(ch, 0)
        if depth == 0 and ch in "+-" and k > 0 and tex[k - 1] == " ":
            return True
    return False


def _local_lines(row: BackwardRow) -> list[str]:
    lines = []
    for t in row.terms:
        line = f"{_partial(t, row)} = {t.local_latex}"
        if t.local_latex_numbers is not None and t.local_latex_numbers != t.local_latex:
            line += f" = {t.local_latex_numbers}"
        if t.local_latex_numbers != format_number(t.local_value):
            line += f" = {format_number(t.local_value)}"
        lines.append(line)
    return lines


def formulas(d: Derivation) -> list[str]:
    """Every LaTeX formula the Markdown and LaTeX outputs contain (each must render)."""
    out = [f"{r.tex} = {r.latex}" for r in d.forward]
    for row in d.backward:
        out += _adjoint_lines(row) if d.kind == "scalar" else [_tensor_adjoint(row)]
        if d.kind == "scalar":
            out += _local_lines(row)
    out += [_gradient_line(d, g) for g in d.gradients.values()]
    return out


def _gradient_line(d: Derivation, g: Any) -> str:
    lhs = f"\\frac{{\\partial {d.output_tex}}}{{\\partial {g.tex}}}"
    if d.kind == "scalar":
        return f"{lhs} = {g.latex} = {format_number(g.value)}"
    return f"{lhs} = {tex_bar(g.name)} = {g.latex}"


def _tensor_adjoint(row: BackwardRow) -> str:
    if row.seed:
        return f"{row.bar_tex} = 1"
    parts = []
    for t in row.terms:
        if t.vjp:
            body = t.local_latex
        elif t.local_latex == "1":
            body = tex_bar(t.consumer)
        else:
            local = t.local_latex if not t.local_latex.startswith("-") else f"\\left({t.local_latex}\\right)"
            body = f"{tex_bar(t.consumer)} \\odot {local}"
        parts.append(f"\\sum_{{n}} {body}" if t.reduced else body)
    return f"{row.bar_tex} = " + " + ".join(parts)


# --- Markdown ----------------------------------------------------------------------------------------------------
def markdown(d: Derivation) -> str:
    """The worked solution as Markdown with ``$…$``/``$$…$$`` math."""
    point = ", ".join(f"${_tex_label(d, n)} = {_value_tex(v)}$" if np.ndim(v) == 0 else f"${_tex_label(d, n)}$ "
                      f"{_summary(v)}" for n, v in d.point.items())
    lines = [f"## Worked solution: `{d.expression}`", "", f"At {point}.", "", "### 1. Forward pass", ""]
    shape_col = d.kind == "tensor"
    lines.append("| step | formula | " + ("shape | " if shape_col else "") + "value |")
    lines.append("|---|---|" + ("---|" if shape_col else "") + "---:|")
    for r in d.forward:
        shape = f"{'×'.join(map(str, r.shape or ())) or 'scalar'} | " if shape_col else ""
        value = f"{r.value:.6g}" if np.ndim(r.value) == 0 else _summary(r.value)
        cell = f"{r.tex} = {r.latex}".replace("|", "\\vert ")  # a bare | would end the table cell
        lines.append(f"| ${r.tex}$ | ${cell}$ | {shape}{value} |")
    lines += ["", "### 2. Backward pass", "",
              "Each adjoint $\\bar v = \\partial " + d.output_tex + "/\\partial v$ is the sum over the consumers $c$ "
              "of $v$ of $\\bar c \\, \\partial c / \\partial v$, taken in reverse order.", ""]
    for row in d.backward:
        lines.append(f"**${row.bar_tex}$**" + ("" if row.seed or d.kind == "scalar" else
                                                f" (shape {'×'.join(map(str, row.shape or ())) or 'scalar'})"))
        lines.append("")
        if d.kind == "scalar":
            adj = _adjoint_lines(row)
            lines.append(f"$${adj[0]}$$")
            if not row.seed:
                lines += ["", *(f"- ${line}$" for line in _local_lines(row))]
                lines += ["", f"$${adj[1]}$$"]
        else:
            lines.append(f"$${_tensor_adjoint(row)}$$")
            for t in row.terms:
                how = "summed over the broadcast axes, " if t.reduced else ""
                lines.append(f"- from ${t.consumer_tex}$: `{t.local}` ({how}checked: {t.checked_by})")
            lines += ["", f"value: {_summary(row.adjoint)}"]
        lines.append("")
    lines += ["### 3. Result", ""]
    for g in d.gradients.values():
        lines.append(f"$${_gradient_line(d, g)}$$")
        if d.kind == "tensor":
            lines.append(f"value: {_summary(g.value)}")
        lines += [f"Checked: {g.checked}; the value equals the engine's backward (float64).", ""]
    for note in d.notes:
        lines += [f"> Note: {note}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _tex_label(d: Derivation, name: str) -> str:
    from autograd_viz.explain.model import tex_name

    return tex_name(name)


def _value_tex(v: Any) -> str:
    return format_number(float(v))


# --- LaTeX ---------------------------------------------------------------------------------------------------
def latex(d: Derivation) -> str:
    """The worked solution as a LaTeX fragment: one ``align*`` environment per part (needs amsmath)."""
    def block(title: str, rows: list[str]) -> list[str]:
        body = " \\\\\n".join("  " + _align(r) for r in rows)
        return [f"% {title}", "\\begin{align*}", body, "\\end{align*}"]

    out = [f"% Worked solution: {d.expression}",
           "% at " + ", ".join(f"{n} = {v:.6g}" if np.ndim(v) == 0 else f"{n} of shape {np.shape(v)}"
                               for n, v in d.point.items())]
    out += block("1. forward pass", [f"{r.tex} = {r.latex}" + (f" = {format_number(r.value)}" if np.ndim(r.value) == 0
                                                                else "") for r in d.forward])
    rows: list[str] = []
    for row in d.backward:
        if d.kind == "scalar":
            adj = _adjoint_lines(row)
            rows += adj[:1] + ([] if row.seed else _local_lines(row)) + adj[1:]
        else:
            rows.append(_tensor_adjoint(row))
    out += block("2. backward pass", rows)
    out += block("3. result", [_gradient_line(d, g) for g in d.gradients.values()])
    for note in d.notes:
        out.append(f"% Note: {note}")
    return "\n".join(out) + "\n"


def _align(formula: str) -> str:
    """Put the alignment point at the first top-level ``=``."""
    depth = 0
    for k, ch in enumerate(formula):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "=" and depth == 0:
            return formula[:k] + "&=" + formula[k + 1:]
    return formula


# --- JSON ------------------------------------------------------------------------------------------------------
def _json_number(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_number(v) for v in value]
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def to_json(d: Derivation) -> dict[str, Any]:
    """The JSON contract: expression, point, forward, backward (terms), gradients (+ shape for tensors)."""
    tensor = d.kind == "tensor"

    def shaped(entry: dict[str, Any], shape: Any) -> dict[str, Any]:
        if tensor and shape is not None:
            entry["shape"] = list(shape)
        return entry

    return {
        "expression": d.expression,
        "kind": d.kind,
        "output": d.output,
        "point": {n: _json_number(v) for n, v in d.point.items()},
        "forward": [shaped({"name": r.name, "formula": r.formula, "latex": r.latex, "value": _json_number(r.value)},
                           r.shape) for r in d.forward],
        "backward": [shaped({"name": r.name, "adjoint": _json_number(r.adjoint), "latex": r.bar_tex,
                             "terms": [{"consumer": t.consumer, "local": t.local, "local_latex": t.local_latex,
                                        "local_value": _json_number(t.local_value),
                                        "upstream": _json_number(t.upstream),
                                        "contribution": _json_number(t.contribution)} for t in r.terms]},
                            r.shape) for r in d.backward],
        "gradients": {g.name: shaped({"value": _json_number(g.value), "formula": g.formula, "latex": g.latex,
                                      "simplified": g.simplified, "checked": g.checked}, g.shape)
                      for g in d.gradients.values()},
        "notes": list(d.notes),
    }
