"""The `check` command and the file-level error paths: JSON keys, exit codes 0/1/2, the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograd_viz.check import UnreadableFileError, check_files
from autograd_viz.check.results import JSON_CLAIM_KEYS
from autograd_viz.check.spec import DerivationError, load_spec
from autograd_viz.cli import main

FIX = Path(__file__).parent / "fixtures" / "derivations"
KEYS = ["name", "verdict", "expect", "agrees", "method", "counterexample", "lhs_value", "rhs_value", "correct",
        "seconds", "message", "diagnosis"]


def _run(*args: str):
    return CliRunner().invoke(main, ["check", *args])


def test_json_keys_exactly_and_exit_0() -> None:
    res = _run(str(FIX / "numerical.toml"), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert list(data) == ["files", "summary"]
    assert data["summary"] == {"claims": 2, "agree": 2, "disagree": 0, "proved": 0, "numerical": 2, "strict": False}
    (f,) = data["files"]
    assert list(f) == ["file", "title", "claims"]
    assert f["title"] == "True, but SymPy does not simplify it to zero"
    for c in f["claims"]:
        assert list(c) == KEYS
        assert c["verdict"] == "numerical" and c["agrees"] is True
    assert list(JSON_CLAIM_KEYS) == KEYS


def test_strict_counts_numerical_as_disagreeing_and_the_summary_says_how_many() -> None:
    plain = _run(str(FIX / "numerical.toml"))
    assert plain.exit_code == 0 and "2 only numerical" in plain.output
    strict = _run(str(FIX / "numerical.toml"), "--strict", "--json")
    assert strict.exit_code == 1
    data = json.loads(strict.output)
    assert data["summary"]["strict"] is True and data["summary"]["disagree"] == 2
    assert all(c["verdict"] == "numerical" and c["agrees"] is False for c in data["files"][0]["claims"])


def test_refuted_claim_json_has_counterexample_and_correct(tmp_path: Path) -> None:
    f = tmp_path / "one.toml"
    f.write_text('title = "t"\n[symbols]\nx = "real"\n[[claim]]\nname = "d"\nlhs = "diff(x**3, x)"\n'
                 'rhs = "3*x"\nexpect = "fails"\n', encoding="utf-8")
    res = _run(str(f), "--json")
    assert res.exit_code == 0, res.output
    (c,) = json.loads(res.output)["files"][0]["claims"]
    assert c["verdict"] == "refuted" and c["agrees"]
    x = c["counterexample"]["x"]
    assert c["lhs_value"] == pytest.approx(3 * x * x) and c["rhs_value"] == pytest.approx(3 * x)
    assert c["correct"].replace(" ", "") == "3*x**2"


def test_exit_1_when_a_verdict_disagrees_and_table_marks_it() -> None:
    res = _run(str(FIX / "bad_define.toml"))
    assert res.exit_code == 1
    assert "error !" in res.output and "'zz'" in res.output


def test_exit_2_for_an_unreadable_file_and_others_still_checked() -> None:
    res = _run(str(FIX / "bad_toml.toml"), str(FIX / "numerical.toml"), "--json")
    assert res.exit_code == 2
    assert "bad TOML" in res.stderr if hasattr(res, "stderr") else "bad TOML" in res.output
    missing = _run(str(FIX / "does_not_exist.toml"))
    assert missing.exit_code == 2


def test_report_is_written_with_latex_and_correct_form(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.md"
    res = _run(str(FIX / "perceptron.toml"), "--report", str(out), "--timeout", "20")
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert r"\frac{\partial L}{\partial w}" in text and r"\hat{y}" in text
    assert "**refuted**" in text and "- correct:" in text and "counterexample" in text
    assert not list(out.parent.glob(".*tmp"))  # atomic write leaves no temp file


def test_no_files_is_a_usage_error() -> None:
    res = _run()
    assert res.exit_code == 2 and "FILE" in res.output


def test_api_structure() -> None:
    rep = check_files([FIX / "bad_toml.toml"])
    assert rep.exit_code == 2 and rep.files[0].unreadable
    assert rep.to_dict()["files"][0]["claims"][0]["verdict"] == "error"


@pytest.mark.parametrize(("text", "needle"), [
    ('title = "t"\n[symbols]\nx = "complex"\n', "unknown assumption"),
    ('title = "t"\n[matrices]\nA = [2, "k"]\n', "neither a positive integer nor a symbol"),
    ('title = "t"\n[random]\nu = "Cauchy(0, 1)"\n', "unknown function 'Cauchy'"),
    ('title = "t"\n[symbols]\nx = "real"\n[define]\nx = "1"\n', "already declared"),
    ('title = "t"\n[define]\nexp = "1"\n', "reserved"),
    ('title = "t"\n[define]\ny = "__import__(1)"\n', "__import__"),
])
def test_section_errors(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(text + '[[claim]]\nname = "c"\nlhs = "1"\nrhs = "1"\n', encoding="utf-8")
    spec = load_spec(f)
    assert spec.error is not None and needle in spec.error


@pytest.mark.parametrize(("claim", "needle"), [
    ('name = "c"\nlhs = "1"\n', "'rhs' (or 'rhs_latex') is required"),
    ('name = "c"\nlhs = "1"\nrhs = "1"\nrelation = "!="\n', "relation"),
    ('name = "c"\nlhs = "1"\nrhs = "1"\nexpect = "maybe"\n', "expect"),
    ('name = "c"\nlhs = "1"\nrhs = "1"\nextra = 1\n', "unknown key"),
])
def test_claim_errors(tmp_path: Path, claim: str, needle: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text('title = "t"\n[[claim]]\n' + claim, encoding="utf-8")
    (c,) = load_spec(f).claims
    assert c.error is not None and needle in c.error


def test_unreadable_and_missing_title(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFileError, match="bad TOML"):
        load_spec(FIX / "bad_toml.toml")
    f = tmp_path / "t.toml"
    f.write_text('[[claim]]\nname = "c"\nlhs = "1"\nrhs = "1"\n', encoding="utf-8")
    with pytest.raises(DerivationError, match="title"):
        load_spec(f)


def test_used_before_definition_and_bad_forall(tmp_path: Path) -> None:
    f = tmp_path / "o.toml"
    f.write_text('title = "t"\n[symbols]\nx = "real"\n[define]\na = "b + x"\nb = "x"\n'
                 '[[claim]]\nname = "c"\nlhs = "x"\nrhs = "x"\nrelation = "<="\nforall = ["q"]\n', encoding="utf-8")
    (c,) = check_files([f], jobs=1).files[0].claims
    assert c.verdict == "error" and "forall: 'q' is not a symbol" in c.message
    f.write_text(f.read_text(encoding="utf-8").replace('forall = ["q"]', 'forall = ["x"]'), encoding="utf-8")
    (c,) = check_files([f], jobs=1).files[0].claims
    assert c.verdict == "error" and "'b' is used before its definition" in c.message
