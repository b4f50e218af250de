"""The named mistake (issue 12): every refuted claim of the mistakes fixtures gets the kind its name announces,
its repair is a claim the checker verifies, holding claims get no diagnosis; the table teaches (wraps, a block
per refuted claim) and every formula of the Markdown report renders."""

from __future__ import annotations

import dataclasses
import re
from io import BytesIO
from pathlib import Path

import pytest

from autograd_viz.check import report as fmt
from autograd_viz.check.diagnose import KINDS
from autograd_viz.check.runner import check_files
from autograd_viz.check.spec import load_spec
from autograd_viz.check.texprint import fix_subscripts
from autograd_viz.check.verify import check_claim

HERE = Path(__file__).parent / "fixtures" / "derivations"
MISTAKES = sorted((HERE / "mistakes").glob("*.toml"))
BUILTIN = Path(__file__).parent.parent / "derivations"


@pytest.fixture(scope="module")
def mistakes():
    return check_files(MISTAKES, timeout=20.0)


def test_every_mistake_is_named_with_its_kind(mistakes):
    named = 0
    for f in mistakes.files:
        for c in f.claims:
            expected = c.name.split(":")[0]
            if expected == "holds":
                assert c.verdict == "proved" and c.diagnosis is None, c
                continue
            assert expected in KINDS
            assert c.verdict == "refuted", c
            assert c.diagnosis is not None, c.name
            assert set(c.diagnosis) == {"kind", "text", "repaired"}
            assert c.diagnosis["kind"] == expected, (c.name, c.diagnosis)
            assert c.correct == c.diagnosis["repaired"]
            named += 1
    assert named == 20


def test_each_repair_is_a_claim_the_checker_verifies(mistakes):
    for path, f in zip(MISTAKES, mistakes.files, strict=True):
        spec = load_spec(path)
        by_name = {c.name: c for c in spec.claims}
        for c in f.claims:
            if c.diagnosis is None:
                continue
            repaired = dataclasses.replace(by_name[c.name], rhs=c.diagnosis["repaired"], expect="holds")
            again = check_claim(spec, repaired, 20.0)
            assert again.verdict in ("proved", "numerical"), (c.name, again)
            assert again.diagnosis is None


def test_matrix_correct_forms_are_matrix_notation_on_one_line(mistakes):
    matrix = next(f for f in mistakes.files if f.file.endswith("matrix.toml"))
    for c in matrix.claims:
        if c.verdict == "refuted":
            assert c.correct == "X.T @ (P - Y) / N"


def test_json_has_diagnosis_on_every_claim(mistakes):
    for f in mistakes.to_dict()["files"]:
        for c in f["claims"]:
            assert "diagnosis" in c
            assert (c["diagnosis"] is None) == (c["verdict"] != "refuted")


def test_table_wraps_and_teaches(mistakes):
    text = fmt.table(mistakes)
    words = set(text.split())
    for f in mistakes.files:
        for c in f.claims:
            assert set(c.name.split()) <= words, c.name  # the whole name, wrapped, not cut
    assert "…" not in text
    assert "    mistake:   [transpose] Your grad(L, W) is the correct one with X.T replaced by X" in text
    assert "    correct:   X.T @ (P - Y) / N" in text
    assert "    where:     " in text and "    lhs there: " in text and "    rhs there: " in text


def test_errors_show_the_whole_hint(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('title = "t"\n[symbols]\nx = "real"\n[[claim]]\nname = "n"\nlhs = "x + undeclared_name_here"\n'
                 'rhs = "x"\n', encoding="utf-8")
    text = fmt.table(check_files([p], timeout=10.0, jobs=1))
    assert "declare it in [symbols], [matrices], [random] or [define]" in " ".join(text.split())


def test_fix_subscripts():
    assert fix_subscripts(r"w_{16}_{i} + \mathrm{wx}_{1}_{i}") == r"w_{16,i} + \mathrm{wx}_{1,i}"
    assert fix_subscripts(r"a_{1} b_{2}") == r"a_{1} b_{2}"


def _formulas(markdown: str) -> list[str]:
    return re.findall(r"^\$\$\n(.*?)\n\$\$$", markdown, flags=re.M | re.S) + re.findall(
        r"- correct: \$(.*?)\$ \(", markdown) + re.findall(r"\$([^$\n]+)\$ = ", markdown)  # + entries W_{0,0}


@pytest.mark.parametrize("names", [None, ["initialisation.toml", "adam.toml", "sigmoid_chain_bound.toml",
                                          "perceptron_batch.toml"]])
def test_every_report_formula_renders(names, mistakes):
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' installs matplotlib")
    result = mistakes if names is None else check_files([BUILTIN / n for n in names], timeout=20.0)
    formulas = _formulas(fmt.markdown(result))
    assert len(formulas) >= 15
    for tex in formulas:
        assert not re.search(r"_\{[^{}]*\}_", tex), tex
        mathtext.math_to_image(f"${tex}$", BytesIO(), format="png")  # raises on invalid LaTeX


def test_an_infinite_extremum_reads_as_unbounded():
    import sympy as sp

    from autograd_viz.check.inequality import _exact_text

    assert _exact_text(sp.oo) == "= ∞ (unbounded above)" and _exact_text(-sp.oo) == "= −∞ (unbounded below)"
    assert _exact_text(sp.log(3)) == "= log(3) ≈ 1.098612289"
    assert _exact_text(sp.E / (1 + sp.E)) == "= exp(1)/(1 + exp(1)) ≈ 0.7310585786"  # E is the expectation in a file
    assert _exact_text(sp.Rational(1, 4)) == "= 1/4"
