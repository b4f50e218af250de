"""Human-readable output: the terminal table and the Markdown report (each claim in LaTeX, its verdict, and
the correct form when it was refuted)."""

from __future__ import annotations

import ast
import textwrap

from autograd_viz.check.results import CheckReport, ClaimResult
from autograd_viz.check.texprint import fix_subscripts, to_latex

REL_TEX = {"==": "=", "<=": "\\leq", "<": "<", ">=": "\\geq", ">": ">"}  # \le is not in mathtext


def _cut(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _wrap(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` (long words broken): a table cell that wraps instead of being cut."""
    return textwrap.wrap(" ".join(str(text).split()), width, break_on_hyphens=False) or [""]


BLOCK_WIDTH = 110
_KEEP = "\x00"  # a space that wrapping never breaks at: "W[0, 1] = -0.4786" stays on one line
INDENT = "    "


def _number(v: object) -> str:
    return f"{v:.10g}" if isinstance(v, int | float) else str(v)


def block(c: ClaimResult) -> list[str]:
    """The indented lines under a refuted or failed claim: where it fails, lhs and rhs there, the named mistake
    and the correct form (or, for an error, the whole message with its hint)."""
    rows: list[tuple[str, str]] = []
    if c.verdict == "refuted":
        if c.counterexample:
            point = c.readable_counterexample()  # matrix entries as the student writes them: W[0, 0]
            rows.append(("where", ", ".join(f"{k} = {_number(v)}".replace(" ", _KEEP) for k, v in point.items())))
        if c.lhs_value is not None:
            rows.append(("lhs there", _number(c.lhs_value)))
            rows.append(("rhs there", _number(c.rhs_value)))
        if c.message:
            rows.append(("why", c.message))
        if c.diagnosis:
            rows.append(("mistake", f"[{c.diagnosis['kind']}] {c.diagnosis['text']}"))
        if c.correct:
            rows.append(("correct" if c.relation == "==" else "bound", c.correct))
    elif c.verdict in ("error", "timeout"):
        rows.append((c.verdict, c.message or c.method))
    out: list[str] = []
    for label, text in rows:
        lead = f"{INDENT}{label + ':':<11}"
        lines = [line.replace(_KEEP, " ") for line in _wrap(text, BLOCK_WIDTH - len(lead))]
        out.append(lead + lines[0])
        out += [" " * len(lead) + line for line in lines[1:]]
    return out


def table(report: CheckReport) -> str:
    """One row per claim: file, claim, verdict (with ``!`` where it disagrees with expect), method, seconds.
    Cells wrap instead of being cut; each refuted or failed claim is followed by an indented block."""
    head = ("file", "claim", "verdict", "method", "seconds")
    rows: list[tuple[list[list[str]], list[str]]] = []
    for f in report.files:
        for c in f.claims:
            verdict = c.verdict + ("" if c.agrees else " !")
            detail = c.method if c.verdict in ("proved", "numerical", "refuted") else "see below"
            cells = [_wrap(f.file.rsplit("/", 1)[-1], 28), _wrap(c.name, 34), [verdict], _wrap(detail, 60),
                     [f"{c.seconds:.2f}"]]
            rows.append((cells, block(c)))
    widths = [max([len(head[k])] + [len(line) for cells, _ in rows for line in cells[k]]) for k in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(head, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for cells, extra in rows:
        for j in range(max(len(c) for c in cells)):
            parts = [(cell[j] if j < len(cell) else "") for cell in cells]
            lines.append("  ".join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip())
        lines += extra
    claims = [c for f in report.files for c in f.claims]
    bad = sum(not c.agrees for c in claims)
    total = sum(c.seconds for c in claims)
    numerical = report.numerical
    rule = "not counted as agreeing (--strict)" if report.strict else "--strict counts them as not agreeing"
    lines.append(f"\n{len(claims)} claims, {len(claims) - bad} as expected, {bad} not; {numerical} only numerical "
                 f"({rule}) (claim time {total:.1f} s; '!' marks a verdict that disagrees with expect)")
    return "\n".join(lines)


def _entry_tex(name: str) -> str:
    """A matrix entry ``W2[0, 1]`` as inline LaTeX ``${W_{2}}_{0,1}$`` (the report's formula printer)."""
    return f"${to_latex(ast.parse(name, mode='eval').body)}$"


def markdown(report: CheckReport) -> str:
    """The Markdown report: per file, per claim the statement in LaTeX, verdict, method and correct form."""
    claims = [c for f in report.files for c in f.claims]
    out = ["# Derivation check", "", f"{len(claims)} claims, {sum(c.agrees for c in claims)} as expected; "
           f"{sum(c.verdict == 'proved' for c in claims)} proved, {report.numerical} only numerical"
           + (" (strict: numerical does not count as agreeing)" if report.strict else ""), ""]
    for f in report.files:
        out += [f"## {f.title or f.file}", "", f"`{f.file}`" + (f" — {f.source}" if f.source else ""), ""]
        for c in f.claims:
            mark = "✓" if c.agrees else "✗"
            out.append(f"### {mark} {c.name}")
            out.append("")
            if c.lhs_tex and c.rhs_tex:
                out += ["$$", fix_subscripts(f"{c.lhs_tex} {REL_TEX.get(c.relation, '=')} {c.rhs_tex}"), "$$", ""]
            out.append(f"- verdict: **{c.verdict}** (expected: {c.expect}) in {c.seconds:.2f} s")
            if c.method:
                out.append(f"- method: {c.method}")
            if c.message:
                out.append(f"- note: {c.message}")
            if c.counterexample:
                names = c.counterexample_names or {}
                point = ", ".join(f"{_entry_tex(names[k]) if k in names else k} = {v:.6g}"
                                  for k, v in c.counterexample.items())
                there = "" if c.lhs_value is None else f": lhs = {_number(c.lhs_value)}, rhs = {_number(c.rhs_value)}"
                out.append(f"- counterexample: {point}{there}")  # a shape mismatch has sizes, no values
            if c.diagnosis:
                out.append(f"- mistake (**{c.diagnosis['kind']}**): {c.diagnosis['text']}")
            if c.correct:
                out.append(f"- correct: ${fix_subscripts(c.correct_tex)}$ (`{c.correct}`)" if c.correct_tex
                           else f"- correct: `{c.correct}`")
            out.append("")
    return "\n".join(out)
