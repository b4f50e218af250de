"""``autograd-viz graph``: values and gradients, JSON, drawings, --mlp, and hostile or broken input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograd_viz.cli import main
from autograd_viz.commands.graph import FUNCTIONS
from autograd_viz.ops import OPS
from autograd_viz.viz import ENV_VAR, available
from autograd_viz.viz.renderers import choose

NOTES = "0.5*(sigmoid(a*x0+b)-y0)**2"
AT = "a=0.7,b=-0.3,x0=1.5,y0=0.2"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["graph", *args], env=env)


def _closed_forms(a=0.7, b=-0.3, x0=1.5, y0=0.2) -> dict[str, float]:
    y = 1 / (1 + math.exp(-(a * x0 + b)))
    z_bar = (y - y0) * y * (1 - y)
    return {"value": 0.5 * (y - y0) ** 2, "a": z_bar * x0, "b": z_bar, "x0": z_bar * a, "y0": -(y - y0)}


def test_json_has_the_value_and_every_input_gradient() -> None:
    result = run(NOTES, "--at", AT, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = _closed_forms()
    assert out["expression"] == NOTES
    assert out["value"] == pytest.approx(expected["value"])
    assert [row["name"] for row in out["inputs"]] == ["a", "x0", "b", "y0"]
    for row in out["inputs"]:
        assert row["grad"] == pytest.approx(expected[row["name"]]), row["name"]
        assert row["value"] == {"a": 0.7, "b": -0.3, "x0": 1.5, "y0": 0.2}[row["name"]]


def test_table_lists_each_input_value_and_gradient() -> None:
    result = run(NOTES, "--at", AT)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{NOTES} = {_closed_forms()['value']:.6g}"
    rows = {ln.split()[0]: [float(v) for v in ln.split()[1:]] for ln in lines[2:]}
    assert rows["b"][0] == -0.3 and rows["b"][1] == pytest.approx(_closed_forms()["b"], rel=1e-5)
    assert "-o graph.svg" in result.stderr


def test_functions_come_from_the_op_table() -> None:
    assert {"sigmoid", "tanh", "relu", "exp", "log", "sqrt", "abs", "leaky_relu"} <= FUNCTIONS
    assert FUNCTIONS <= set(OPS) and "matmul" not in FUNCTIONS and "powc" not in FUNCTIONS
    result = run("leaky_relu(a, 0.1) + tanh(a) + relu(a)", "--at", "a=-2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inputs"][0]["grad"] == pytest.approx(0.1 + (1 - math.tanh(-2) ** 2))


@pytest.mark.parametrize("kind", ["forward", "backward", "both"])
def test_output_file_is_drawn(kind: str, tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    result = run(NOTES, "--at", AT, "--params", "a,b", "--kind", kind, "-o", str(out))
    assert result.exit_code == 0, result.output
    source = out.read_text(encoding="utf-8")
    assert ("n0 [" in source) == (kind != "backward") and ("<O>L</O>" in source) == (kind != "forward")
    assert "#cfe2ff" in source  # a and b drawn as parameters
    assert f"wrote {out}" in result.stderr


@pytest.mark.skipif(choose() is None, reason="no renderer: pip install graphviz-pure or apt-get install graphviz")
def test_svg_output_is_rendered(tmp_path: Path) -> None:
    result = run(NOTES, "--at", AT, "-o", str(tmp_path / "g.svg"))
    assert result.exit_code == 0, result.output
    assert "<svg" in (tmp_path / "g.svg").read_text(encoding="utf-8")


def test_without_a_renderer_the_dot_is_written_and_the_hint_is_one_line(tmp_path: Path) -> None:
    result = run(NOTES, "--at", AT, "-o", str(tmp_path / "g.svg"), env={ENV_VAR: "none"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.svg").exists()
    assert len([ln for ln in result.stderr.splitlines() if "renderer" in ln]) == 1


def test_mlp_step_graph(tmp_path: Path) -> None:
    out = tmp_path / "mlp.dot"
    result = run("--mlp", "20,8,3", "--batch", "5", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["name"] for r in data["inputs"]] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert data["inputs"][0]["shape"] == [20, 8] and data["inputs"][0]["grad"]["norm"] > 0
    assert data["value"] > 0
    source = out.read_text(encoding="utf-8")
    assert "cluster_backward" in source and "cluster_forward" in source and "(5, 20) float32" in source
    assert "_fc1 {" in source and "_fc2 {" in source


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("expr,at,message", [
    ("__import__('os')", "a=1", "unknown function '__import__'"),
    ("a.__class__", "a=1", "attribute access"),
    ("(lambda: a)()", "a=1", "calling anything but a plain function name"),
    ("lambda: a", "a=1", "lambda"),
    ("a[0]", "a=1", "subscripting"),
    ("'a' + a", "a=1", "constant 'a'"),
    ("foo(a)", "a=1", "unknown function 'foo'"),
    ("sigmoid(a, a)", "a=1", "sigmoid() takes 1 argument"),
    ("leaky_relu(a, a)", "a=1", "alpha must be a number"),
    ("a +* b", "a=1,b=2", "syntax error at column 4"),
    ("a * b", "a=1", "no value for 'b'"),
    ("a", "a=1,c=2", "'c', which the expression does not use"),
    ("a + " * 6000 + "a", "a=1", "longer than"),
    ("1 + 2", "", "does not depend on any input"),
    ("log(a)", "a=-1", "log: input -1.0 is outside the domain"),
    ("10**10**10 * a", "a=1", "arithmetic on its constants fails"),
])
def test_hostile_or_broken_expressions_are_refused_in_one_line(expr: str, at: str, message: str) -> None:
    assert message in _error(run(expr, "--at", at))


@pytest.mark.parametrize("at,message", [
    ("a", "expected name=value"),
    ("a=x", "'x' is not a number"),
    ("a=1,a=2", "given twice"),
    ("1a=2", "not a valid name"),
    ("a=nan", "must be finite"),
])
def test_bad_at_syntax_is_named(at: str, message: str) -> None:
    line = _error(run("a * 2", "--at", at))
    assert message in line and "--at item" in line


@pytest.mark.parametrize("args,message", [
    ((), "either an expression or --mlp"),
    (("a", "--mlp", "3,2"), "either an expression or --mlp"),
    (("--mlp", "3,x"), "expected layer sizes"),
    (("--mlp", "3"), "at least two sizes"),
    (("--mlp", "100000,100000"), "weights is more than"),
    (("--mlp", "3,2", "--at", "a=1"), "--at and --params apply to an expression"),
    (("a", "--at", "a=1", "--params", "q"), "--params names 'q'"),
])
def test_bad_command_lines_are_named(args: tuple, message: str) -> None:
    assert message in _error(run(*args))


def test_pdf_with_graphviz_pure_only_is_an_error(tmp_path: Path) -> None:
    if "graphviz-pure" not in available():
        pytest.skip("graphviz-pure not installed (pip install graphviz-pure)")
    line = _error(run(NOTES, "--at", AT, "-o", str(tmp_path / "g.pdf"), "--renderer", "graphviz-pure"))
    assert "PDF needs the system Graphviz" in line
