"""The checker's vocabulary (issue 12): constants pi and e, matrix functions, M[i, j], LaTeX input for them,
and one clear error for each misuse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograd_viz.check.latex import read as read_latex
from autograd_viz.check.runner import check_files

BUILTIN = Path(__file__).resolve().parents[1] / "derivations"


def _file(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "v.toml"
    p.write_text('title = "v"\n' + body, encoding="utf-8")
    return p


def _verdicts(tmp_path: Path, body: str) -> list:
    return check_files([_file(tmp_path, body)], timeout=20.0, jobs=1).files[0].claims


@pytest.mark.parametrize("name", ["matrix_cookbook.toml", "vocabulary.toml"])
def test_new_builtin_files_agree(name):
    claims = check_files([BUILTIN / name], timeout=20.0).files[0].claims
    assert all(c.agrees for c in claims), [(c.name, c.verdict, c.message) for c in claims if not c.agrees]
    assert any(c.verdict == "refuted" and c.diagnosis for c in claims)


def test_constants_and_a_false_claim_with_them(tmp_path):
    claims = _verdicts(tmp_path, '[symbols]\nx = "real"\n'
                                 '[[claim]]\nname = "a"\nlhs = "exp(log(e)) + cos(pi)"\nrhs = "e - 1"\n'
                                 '[[claim]]\nname = "b"\nlhs = "sin(pi/2)"\nrhs = "0"\nexpect = "fails"\n')
    assert [c.verdict for c in claims] == ["proved", "refuted"]


def test_a_declared_e_wins_over_the_constant(tmp_path):
    claims = _verdicts(tmp_path, '[symbols]\ne = "real"\n[[claim]]\nname = "a"\nlhs = "e"\nrhs = "2.718281828459045"\n'
                                 'expect = "fails"\n')
    assert claims[0].verdict == "refuted"


@pytest.mark.parametrize(("formula", "message"), [
    ("trace(x)", "trace() needs a matrix"),
    ("det(A)", "needs a square matrix"),
    ("inv(A @ A.T * 0)", "singular"),
    ("A[2, 0]", "outside the 2×3 matrix"),
    ("x[0, 0]", "is not a matrix"),
    ("eye(0)", "positive integer size"),
    ("diag(A)", "needs a vector"),
])
def test_misuse_is_one_clear_error(tmp_path, formula, message):
    claims = _verdicts(tmp_path, '[symbols]\nx = "real"\n[matrices]\nA = [2, 3]\n[define]\nZ = "A @ A.T * 0"\n'
                                 f'[[claim]]\nname = "m"\nlhs = "{formula}"\nrhs = "0"\n')
    assert claims[0].verdict == "error" and message in claims[0].message, claims[0].message


def test_latex_reads_the_vocabulary():
    names, mats = {"X", "A", "B", "z"}, {"X", "A", "B"}

    def read(text, *args):
        return ast.unparse(ast.parse(read_latex(text, *args), mode="eval"))
    assert read(r"\operatorname{tr}(A X B)", names, (), "t", mats) == "trace(A @ X @ B)"
    assert read(r"\log\det(X)", names, (), "t", mats) == "logdet(X)"
    assert read(r"(X^{-1})^T", names, (), "t", mats) == "inv(X).T"
    assert read(r"\det(X)", names, (), "t", mats) == "det(X)"
    assert read(r"\mathbb{1}(z > 0)", names, (), "t", mats) == "step(z)"
    assert read(r"\sqrt{2\pi}", names, (), "t", mats) == "sqrt(2 * pi)"
    assert read(r"\Phi(z)", names, (), "t", mats) == "Phi(z)"
