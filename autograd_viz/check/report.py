"""Human-readable output: the terminal table and the Markdown report (each claim in LaTeX, its verdict, and
the correct form when it was refuted)."""

from __future__ import annotations

from autograd_viz.check.results import CheckReport

REL_TEX = {"==": "=", "<=": "\\le", "<": "<", ">=": "\\ge", ">": ">"}


def _cut(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(report: CheckReport) -> str:
    """One row per claim: file, claim, verdict (with ``!`` where it disagrees with expect), method, seconds."""
    rows = [("file", "claim", "verdict", "method", "seconds")]
    for f in report.files:
        for c in f.claims:
            verdict = c.verdict + ("" if c.agrees else " !")
            detail = c.method if c.verdict in ("proved", "numerical") else (c.message or c.method)
            rows.append((_cut(f.file.rsplit("/", 1)[-1], 28), _cut(c.name, 34), verdict, _cut(detail, 70),
                         f"{c.seconds:.2f}"))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    claims = [c for f in report.files for c in f.claims]
    bad = sum(not c.agrees for c in claims)
    total = sum(c.seconds for c in claims)
    numerical = report.numerical
    rule = "not counted as agreeing (--strict)" if report.strict else "--strict counts them as not agreeing"
    lines.append(f"\n{len(claims)} claims, {len(claims) - bad} as expected, {bad} not; {numerical} only numerical "
                 f"({rule}) (claim time {total:.1f} s; '!' marks a verdict that disagrees with expect)")
    return "\n".join(lines)


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
                out += ["$$", f"{c.lhs_tex} {REL_TEX.get(c.relation, '=')} {c.rhs_tex}", "$$", ""]
            out.append(f"- verdict: **{c.verdict}** (expected: {c.expect}) in {c.seconds:.2f} s")
            if c.method:
                out.append(f"- method: {c.method}")
            if c.message:
                out.append(f"- note: {c.message}")
            if c.counterexample:
                point = ", ".join(f"{k} = {v:.6g}" for k, v in c.counterexample.items())
                out.append(f"- counterexample: {point}: lhs = {c.lhs_value:.10g}, rhs = {c.rhs_value:.10g}")
            if c.correct:
                out.append(f"- correct: ${c.correct_tex}$" if c.correct_tex else f"- correct: `{c.correct}`")
            out.append("")
    return "\n".join(out)
