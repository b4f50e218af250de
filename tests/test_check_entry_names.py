"""Issue 12: a refuted matrix claim's counterexample names the entries as the student writes them (``W[0, 0]``)
in the terminal table and ``$W_{0,0}$`` in the Markdown report; a scalar called ``w_1_2`` stays ``w_1_2``; the
JSON keys stay the checker's own (``W_0_0``), a public contract."""

from __future__ import annotations

import ast
import json
import re
from io import BytesIO
from pathlib import Path

import pytest
import sympy as sp
from click.testing import CliRunner

from autograd_viz.check import report as fmt
from autograd_viz.check.model import Model
from autograd_viz.check.readable import entry_names
from autograd_viz.check.results import JSON_CLAIM_KEYS
from autograd_viz.check.runner import check_files
from autograd_viz.check.spec import load_spec
from autograd_viz.check.texprint import to_latex
from autograd_viz.cli import main

FILE = Path(__file__).parent / "fixtures" / "derivations" / "entry_names.toml"
MSE = "dL/dW = X (P - Y) / N (a transpose is missing)"
MIXED = "an entry and the scalar w_1_2"
SCALAR = "the scalar w_1_2 alone"
BOUND = "a bound over an entry and the scalar"
ENTRIES = {f"{m}_{i}_{j}": f"{m}[{i}, {j}]" for m in "WXY" for i in range(2) for j in range(2)}


@pytest.fixture(scope="module")
def claims():
    report = check_files([FILE], timeout=20.0)
    out = {c.name: c for c in report.files[0].claims}
    assert set(out) == {MSE, MIXED, SCALAR, BOUND}
    for c in out.values():
        assert c.verdict == "refuted" and c.agrees, c
    return out


def _block(c) -> str:
    return "\n".join(fmt.block(c))


def test_the_names_map_exactly_the_matrix_entries(claims):
    mse, mixed, scalar = claims[MSE], claims[MIXED], claims[SCALAR]
    assert set(mse.counterexample) == set(ENTRIES)  # the keys are unchanged
    assert mse.counterexample_names == ENTRIES
    assert set(mixed.counterexample) == {"W_1_0", "w_1_2"} and mixed.counterexample_names == {"W_1_0": "W[1, 0]"}
    assert set(scalar.counterexample) == {"w_1_2"} and scalar.counterexample_names == {}
    assert claims[BOUND].counterexample_names == {"W_0_1": "W[0, 1]"}
    readable = mse.readable_counterexample()
    assert readable == {ENTRIES[k]: v for k, v in mse.counterexample.items()}


def test_the_terminal_block_names_entries_as_written_with_their_values(claims):
    mse = claims[MSE]
    text = _block(mse)
    assert "where:" in text and not re.search(r"\b[WXY]_\d_\d\b", text), text
    lines = text.splitlines()
    for key, name in ENTRIES.items():  # each entry with its own value, never split across two lines
        item = f"{name} = {mse.counterexample[key]:.10g}"
        assert any(item in line for line in lines), (item, text)
    assert "W[0, 0] = " in fmt.table(_report(mse))


def test_a_scalar_named_like_an_entry_is_untouched(claims):
    mixed, scalar = _block(claims[MIXED]), _block(claims[SCALAR])
    assert f"W[1, 0] = {claims[MIXED].counterexample['W_1_0']:.10g}" in mixed
    assert f"w_1_2 = {claims[MIXED].counterexample['w_1_2']:.10g}" in mixed
    assert f"where:     w_1_2 = {claims[SCALAR].counterexample['w_1_2']:.10g}" in scalar
    assert "w[1, 2]" not in mixed + scalar and "W_1_0" not in mixed


def test_a_numerical_bound_names_its_point_as_written(claims):
    c = claims[BOUND]
    assert c.correct and "W[0, 1]=" in c.correct and "w_1_2=" in c.correct and "W_0_1" not in c.correct
    assert "W[0, 1] = " in _block(c)


def _report(*cs):
    from autograd_viz.check.results import CheckReport, FileResult

    return CheckReport([FileResult(str(FILE), "t", list(cs))])


def test_the_markdown_report_writes_entries_in_latex_and_they_render(claims):
    md = fmt.markdown(_report(*claims.values()))
    points = [line for line in md.splitlines() if line.startswith("- counterexample:")]
    assert len(points) == 4
    mse = next(p for p in points if "$X_{1,1}$" in p)
    for key, name in ENTRIES.items():
        tex = to_latex(ast.parse(name, mode="eval").body)
        assert f"${tex}$ = {claims[MSE].counterexample[key]:.6g}" in mse
    assert not re.search(r"\b[WXY]_\d_\d\b", "\n".join(points))
    assert any(re.search(r"\$W_\{1,0\}\$ = [-\d.e+]+, w_1_2 = ", p) for p in points), points
    assert any(p.startswith("- counterexample: w_1_2 = ") for p in points), points
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' installs matplotlib")
    spans = re.findall(r"\$([^$\n]+)\$ = ", md) + re.findall(r"^\$\$\n(.*?)\n\$\$$", md, flags=re.M | re.S)
    assert len(spans) >= 12 + 1 + 1 + 4
    for tex in spans:  # the entries, and the claims with the scalar w_1_2 in them
        mathtext.math_to_image(f"${tex}$", BytesIO(), format="png")  # raises on invalid LaTeX


def test_the_json_keeps_its_keys_and_placeholder_names() -> None:
    res = CliRunner().invoke(main, ["check", str(FILE), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    by_name = {c["name"]: c for c in data["files"][0]["claims"]}
    for c in by_name.values():
        assert list(c) == list(JSON_CLAIM_KEYS) and "counterexample_names" not in c
    assert set(by_name[MSE]["counterexample"]) == set(ENTRIES)
    assert set(by_name[MIXED]["counterexample"]) == {"W_1_0", "w_1_2"}


def test_the_cli_table_and_report_show_entries_as_written(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    res = CliRunner().invoke(main, ["check", str(FILE), "--report", str(out)])
    assert res.exit_code == 0, res.output
    assert "where:     W[0, 0] = " in res.output and "W_0_0" not in res.output
    assert "$W_{0,0}$ = " in out.read_text() and "W_0_0" not in out.read_text()


def test_entry_names_come_from_the_models_own_entry_symbols() -> None:
    model = Model(load_spec(FILE))
    symbols = [model.matrices["W"][0, 1], model.placeholders["P"][1, 0], model.symbols["w_1_2"],
               sp.Symbol("Q_0_0", real=True)]  # Q is no matrix of the file
    assert entry_names(model, symbols) == {"W_0_1": "W[0, 1]", "P_1_0": "P[1, 0]"}


def test_a_scalar_with_underscores_is_valid_latex() -> None:
    assert to_latex(ast.parse("w_1_2 + y_hat", mode="eval").body) == r"\mathrm{w\_1\_2} + \hat{y}"
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' installs matplotlib")
    mathtext.math_to_image(r"$\mathrm{w\_1\_2}^{2} + \hat{y}$", BytesIO(), format="png")


def test_the_claims_numbers_come_in_the_same_order_under_every_hash_seed() -> None:
    """The numbers of a claim seed the search's first points; a set's order varies with PYTHONHASHSEED, which
    made the same command print W[0, 0] = 0.5 on one run and -0.5 on the next."""
    import os
    import subprocess
    import sys

    code = ("import sympy as sp; from autograd_viz.check.numeric import claim_numbers; x = sp.Symbol('x'); "
            "print(claim_numbers([x/2 + 3*x**2 - sp.Rational(1, 3) + 7*x**5 - 11]))")  # 7x⁵+3x²+x/2-34/3
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2, 3, 4, 5)}
    assert len(outs) == 1, outs
    assert outs.pop().strip() == "[1/2, -1/2, 2, -2, 3, -3, 5, -5, 7, -7, -34/3, 34/3]"


def test_the_exact_point_the_correct_form_and_a_latex_mismatch_name_entries_as_written(tmp_path: Path) -> None:
    path = tmp_path / "entries.toml"
    path.write_text('''title = "entries in the exact point, the correct form and a LaTeX side"

[matrices]
W = [1, 2]

[[claim]]
name = "holds only at 0 and 1/3"
lhs = "W[0, 1]**2"
rhs = "W[0, 1]/3"
expect = "fails"

[[claim]]
name = "two forms that differ"
lhs = "trace(W.T @ W)"
lhs_latex = "\\\\operatorname{tr}(W^{T} W) + 1"
rhs = "W[0, 0]**2 + W[0, 1]**2"
''', encoding="utf-8")
    exact, latex = check_files([path], timeout=20.0, jobs=1).files[0].claims
    assert exact.verdict == "refuted" and exact.counterexample == {"W_0_1": pytest.approx(-1 / 3)}
    assert exact.message.endswith("exact point W[0, 1] = -1/3"), exact.message
    assert exact.correct == "W[0, 1]**2" and exact.correct_tex == "W_{0,1}^{2}"
    assert latex.verdict == "error" and "(at W[0, 0]=" in latex.message and "W_0_0" not in latex.message


def test_a_shape_mismatch_at_sizes_is_reported_without_values() -> None:
    """A claim refuted by its shapes at some sizes has those sizes as its counterexample and no lhs/rhs values:
    the Markdown report printed them with ``:.10g`` and crashed on None."""
    from autograd_viz.check.results import ClaimResult

    c = ClaimResult(name="dL/dW1 transposed", verdict="refuted", method="shapes",
                    counterexample={"N": 2, "m": 3, "h": 4}, message="lhs is a 3×4 matrix but rhs is a 4×3 matrix")
    md = fmt.markdown(_report(c))
    assert "- counterexample: N = 2, m = 3, h = 4\n" in md
    assert "where:     N = 2, m = 3, h = 4" in fmt.table(_report(c))


@pytest.mark.parametrize(("src", "tex"), [("det(X)*inv(X).T", r"\det\left(X\right) \cdot {X^{-1}}^{T}"),
                                          ("inv(X.T)", r"{X^{T}}^{-1}"), ("W.T", "W^{T}"), ("inv(W)", "W^{-1}")])
def test_a_transposed_inverse_has_one_superscript_per_level(src: str, tex: str) -> None:
    """The Matrix Cookbook's d det(X)/dX = det(X) X^{-T} printed X^{-1}^{T}: a double superscript."""
    assert to_latex(ast.parse(src, mode="eval").body) == tex
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' installs matplotlib")
    mathtext.math_to_image(f"${tex}$", BytesIO(), format="png")
