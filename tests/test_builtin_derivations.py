"""The built-in textbook derivations (derivations/*.toml) through the checker: every verdict agrees with
its ``expect``, every known textbook error is refuted with a counterexample and a correct form, and the suprema
the checker reports for the sigmoid-chain bound match an independent computation."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

from autograd_viz.check import check_builtin

BUILTIN = Path(__file__).resolve().parents[1] / "derivations"
FILES = sorted(BUILTIN.glob("*.toml"))


@pytest.fixture(scope="session")
def report():
    """One run of the whole built-in set per test session (the slow part, shared by the tests below)."""
    return check_builtin()


@pytest.fixture(scope="session")
def claims(report):
    """(file name, claim result) for every claim of the built-in set."""
    return [(Path(f.file).name, c) for f in report.files for c in f.claims]


def _raw(name: str) -> dict:
    return tomllib.loads((BUILTIN / name).read_text(encoding="utf-8"))


def test_the_builtin_set_covers_the_issue_topics():
    names = {p.name for p in FILES}
    for topic in ("perceptron", "one_hidden_layer", "backprop_example", "softmax_cross_entropy",
                  "sigmoid_chain_bound", "initialisation", "adam", "parameter_counts"):
        assert f"{topic}.toml" in names, f"no built-in file for {topic}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_file_cites_a_note_and_pairs_each_printed_error_with_a_correction(path):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    source = data.get("source")
    assert isinstance(source, str) and re.search(r"\b00[0-4]\b", source), f"{path.name}: source must cite a note"
    assert data.get("title"), f"{path.name}: no title"
    holds = [c for c in data["claim"] if c.get("expect", "holds") == "holds"]
    for bad in (c for c in data["claim"] if c.get("expect") == "fails"):
        partner = [c for c in holds if c["lhs"] == bad["lhs"] or c["rhs"] == bad["rhs"]]
        assert partner, f"{path.name}: {bad['name']!r} has no corrected claim with the same lhs or rhs"


def test_the_readme_lists_every_file_and_its_claim_count():
    readme = (BUILTIN / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        row = re.search(rf"^\| `{re.escape(path.name)}` \|.*\| (\d+) \|$", readme, re.M)
        assert row, f"README.md has no table row for {path.name}"
        assert int(row.group(1)) == len(_raw(path.name)["claim"]), f"README.md: wrong claim count for {path.name}"


def test_every_file_is_read_with_its_source(report):
    assert sorted(Path(f.file).name for f in report.files) == [p.name for p in FILES]
    for f in report.files:
        assert not f.unreadable, f.claims[0].message
        assert f.source == _raw(Path(f.file).name)["source"]


def test_every_verdict_agrees_with_its_expect(claims):
    wrong = [f"{name}: {c.name!r} -> {c.verdict} (expected {c.expect}) {c.message}" for name, c in claims
             if not c.agrees]
    assert not wrong, "\n".join(wrong)


def test_each_known_error_is_refuted_with_a_counterexample_and_a_correct_form(claims):
    known = [(name, c) for name, c in claims if c.expect == "fails"]
    assert len(known) >= 20
    for name, c in known:
        assert c.verdict == "refuted", f"{name}: {c.name!r} is {c.verdict}, not refuted: {c.message}"
        assert c.correct, f"{name}: {c.name!r} refuted without a correct form"
        if c.relation == "==":  # a point (empty when the claim has no variables) where the two sides differ
            assert c.counterexample is not None, f"{name}: {c.name!r} has no counterexample"
            assert c.lhs_value is not None and c.lhs_value != c.rhs_value, f"{name}: {c.name!r}: {c.message}"
        else:
            assert c.correct.startswith("sup"), f"{name}: {c.name!r}: a bound must report its supremum"


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _chain_slope(x: float, n: int) -> float:
    """d/dx of sigma applied n times, by the chain rule: the product of sigma' along the chain."""
    slope = 1.0
    for _ in range(n):
        s = _sigmoid(x)
        slope, x = slope * s * (1.0 - s), s
    return slope


def _max_chain_slope(n: int) -> float:
    """The supremum of the chain's slope over x: a grid, then golden-section search around the best point."""
    best = max((k / 1000.0 for k in range(-5000, 5001)), key=lambda x: _chain_slope(x, n))
    lo, hi = best - 0.002, best + 0.002
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(100):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (a, hi) if _chain_slope(a, n) < _chain_slope(b, n) else (lo, b)
    return _chain_slope((lo + hi) / 2.0, n)


def _reported_sup(correct: str) -> float:
    approx = re.match(r"sup = [^≈]+ ≈ ([0-9.eE+-]+)$", correct)  # the exact form, then its value
    if approx:
        return float(approx.group(1))
    match = re.match(r"sup\s*(?:=|≈)\s*([0-9.eE+-]+)(?:\s*/\s*([0-9.eE+-]+))?", correct)
    assert match, f"cannot read a supremum from {correct!r}"
    value = float(match.group(1))
    return value / float(match.group(2)) if match.group(2) else value


def _chain_claims(claims, kind: str) -> dict[int, object]:
    found = {}
    for name, c in claims:
        m = re.match(rf"n = (\d) {kind}", c.name)
        if name == "sigmoid_chain_bound.toml" and m:
            found[int(m.group(1))] = c
    assert sorted(found) == list(range(1, 7)), f"sigmoid_chain_bound.toml: {kind} claims for n = 1..6"
    return found


def test_printed_chain_bound_reports_the_supremum_of_the_function(claims):
    for n, c in _chain_claims(claims, "as printed").items():
        # sigma^(n) increases to its limit sigma^(n-1)(1) as x -> infinity (1 for n = 1)
        true_sup = 1.0
        for _ in range(n - 1):
            true_sup = _sigmoid(true_sup)
        assert _reported_sup(c.correct) == pytest.approx(true_sup, rel=1e-6), f"n = {n}: {c.correct}"


def test_corrected_chain_bound_holds_and_its_reported_supremum_is_tight(claims):
    for n, c in _chain_claims(claims, "corrected").items():
        true_sup = _max_chain_slope(n)
        assert true_sup <= 0.25 ** n * (1 + 1e-12)
        assert c.verdict in ("proved", "numerical"), f"n = {n}: {c.verdict} {c.message}"
        assert c.correct, f"n = {n}: the checker reports no supremum for the derivative bound"
        assert _reported_sup(c.correct) == pytest.approx(true_sup, rel=1e-6), f"n = {n}: {c.correct}"
    # the bound 1/4^n is attained only for n = 1
    assert _max_chain_slope(1) == pytest.approx(0.25, rel=1e-12)
    assert _max_chain_slope(2) < 0.95 * 0.25 ** 2
