"""Named-step programs: parsing, evaluation, errors, derivation files, and the ``graph`` command's use of them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograd_viz.cli import main
from autograd_viz.errors import AutogradVizError, ExpressionError
from autograd_viz.graph import topological_order
from autograd_viz.ops import EXPR_FUNCTIONS
from autograd_viz.steps import (
    FUNCTIONS,
    build_steps,
    build_toml,
    input_names,
    is_program,
    parse_steps,
    program_from_toml,
)

NOTES = "z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2"
AT = {"a": 0.7, "b": -0.3, "x0": 1.5, "y0": 0.2}
ROOT = Path(__file__).resolve().parents[1]


def _closed_forms(a=0.7, b=-0.3, x0=1.5, y0=0.2) -> dict[str, float]:
    y = 1 / (1 + math.exp(-(a * x0 + b)))
    z_bar = (y - y0) * y * (1 - y)
    return {"L": 0.5 * (y - y0) ** 2, "a": z_bar * x0, "b": z_bar, "x0": z_bar * a, "y0": -(y - y0)}


def test_named_steps_give_the_notes_loss_and_gradients() -> None:
    root, inputs = build_steps(NOTES, AT)
    root.backward()
    expected = _closed_forms()
    assert root.name == "L"
    assert root.data == pytest.approx(expected["L"], rel=1e-12)
    for node in inputs:
        assert node.grad == pytest.approx(expected[node.name], rel=1e-12), node.name


def test_each_step_names_its_node() -> None:
    root, _ = build_steps(NOTES, AT)
    named = [n.name for n in topological_order(root) if n.op is not None and n.name is not None]
    assert named == ["z", "y", "L"]


def test_newlines_and_a_bare_final_expression() -> None:
    at = {"x1": 2, "w1": -3, "x2": 0, "w2": 1, "b": 6.8813735870195432}
    at = {"x1": 2, "w1": -3, "x2": 0, "w2": 1, "b": 6.8813735870195432}
    root, inputs = build_steps("n = x1*w1 + x2*w2 + b\ntanh(n)", at)
    root.backward()
    n = 2 * -3 + 6.8813735870195432
    assert root.data == pytest.approx(math.tanh(n))
    assert {i.name: i.grad for i in inputs}["w1"] == pytest.approx(2 * (1 - math.tanh(n) ** 2))


def test_the_readme_neuron_is_a_valid_program() -> None:
    root, _ = build_steps("n = x1*w1 + x2*w2 + b; o = tanh(n)", {"x1": 2, "w1": -3, "x2": 0, "w2": 1, "b": 6.88})
    assert root.name == "o"


def test_functions_come_from_the_op_table() -> None:
    assert FUNCTIONS <= set(EXPR_FUNCTIONS)
    assert {"sigmoid", "tanh", "exp", "log", "relu"} <= FUNCTIONS


def test_is_program() -> None:
    assert is_program(NOTES)
    assert not is_program("0.5*(sigmoid(a*x0+b)-y0)**2")


def test_input_names_in_order_of_first_use() -> None:
    assert input_names(parse_steps(NOTES)) == ["a", "x0", "b", "y0"]


@pytest.mark.parametrize(("text", "message"), [
    ("a*b; L = a", "only the last step may be a bare expression"),
    ("L = y*2; y = a*3", "step 1 uses 'y' before step 2 defines it"),
    ("z = z + a", "used in its own definition"),
    ("sigmoid = a*2", "is a function name"),
    ("z = a*2; z = a*3", "already defined in step 1"),
    ("z = a*2; L = z", "only renames z"),
    ("z = a*2; L = z +", "step 2 (L)"),
    ("z = __import__('os')", "unknown function '__import__'"),
    ("z = a.b", "not allowed"),
    ("z = foo(a)", "unknown function 'foo'"),
    ("", "empty"),
])
def test_bad_programs_are_refused_naming_the_step(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_steps(text, {"a": 1.0, "b": 2.0} if "b" in text.split("=")[-1] else {"a": 1.0})


def test_missing_and_unused_values_are_named() -> None:
    with pytest.raises(ExpressionError, match="no value for 'y0'"):
        build_steps(NOTES, {"a": 1, "b": 2, "x0": 3})
    with pytest.raises(ExpressionError, match="'q', which the expression does not use"):
        build_steps(NOTES, {**AT, "q": 1})


def test_output_picks_an_earlier_step() -> None:
    root, inputs = build_steps(NOTES, {"a": 0.7, "b": -0.3, "x0": 1.5}, output="y")
    assert root.name == "y" and [i.name for i in inputs] == ["a", "x0", "b"]
    with pytest.raises(ExpressionError, match="no step named 'q'"):
        build_steps(NOTES, AT, output="q")


def test_derivation_file_define_chain() -> None:
    path = ROOT / "derivations" / "backprop_example.toml"
    assert program_from_toml(path).splitlines() == ["z = a*x0 + b", "y = sigmoid(z)", "L = (y - y0)**2 / 2"]
    root, inputs = build_toml(path, AT)
    root.backward()
    assert root.data == pytest.approx(_closed_forms()["L"])
    # --step y: the other symbols' values are accepted (one --at line for every step)
    root, _ = build_toml(path, AT, output="y")
    assert root.name == "y"


def test_derivation_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ExpressionError, match="cannot read"):
        program_from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'x'\n[symbols]\na = 'real'\n")
    with pytest.raises(ExpressionError, match="no \\[define\\]"):
        program_from_toml(bad)
    bad.write_text("title = 'x'\n[define]\nM = 'A @ B'\n")
    with pytest.raises(AutogradVizError, match="bad.toml: \\[define\\]"):
        build_toml(bad, {"A": 1, "B": 2})


def test_graph_command_accepts_named_steps() -> None:
    at = ",".join(f"{k}={v}" for k, v in AT.items())
    result = CliRunner().invoke(main, ["graph", NOTES, "--at", at, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    expected = _closed_forms()
    assert out["value"] == pytest.approx(expected["L"])
    assert {r["name"]: r["grad"] for r in out["inputs"]} == pytest.approx({k: expected[k] for k in AT})


def test_graph_command_draws_a_derivation_file(tmp_path: Path) -> None:
    at = ",".join(f"{k}={v}" for k, v in AT.items())
    out = tmp_path / "g.dot"
    result = CliRunner().invoke(main, ["graph", str(ROOT / "derivations" / "backprop_example.toml"), "--at", at,
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    dot = out.read_text()
    for name in ("z", "y", "L"):
        assert f">{name}<" in dot or f"{name} =" in dot or f"<b>{name}</b>" in dot, name


def test_graph_command_step_errors_are_one_line() -> None:
    result = CliRunner().invoke(main, ["graph", "L = y*2; y = a", "--at", "a=1"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: step 1 uses 'y'")
    assert "Traceback" not in result.output
