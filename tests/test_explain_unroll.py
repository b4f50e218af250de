"""``explain --unroll``: tensor graphs rebuilt with one Value per entry, the tensor rule next to its entries."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import autograd_viz.functional as F
from autograd_viz import Tensor, Value
from autograd_viz.cli import main
from autograd_viz.explain import ExplainError, explain
from autograd_viz.explain.unroll import build_tensor_program, unroll
from autograd_viz.graph import topological_order


def _renders(tex: str) -> None:
    mathtext = pytest.importorskip("matplotlib.mathtext", reason="pip install -e '.[test]' for matplotlib")
    mathtext.math_to_image(f"${tex}$", io.BytesIO(), dpi=50, format="png")


def _layer(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 4)), name="X")
    w = Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="W")
    b = Tensor(rng.standard_normal(3), requires_grad=True, name="b")
    z = x @ w
    z.name = "Z"
    g = z + b
    g.name = "G"
    loss = F.cross_entropy(g, np.array([0, 2, 1, 0]))
    loss.name = "L"
    return loss, x, w, b


def test_unrolled_graph_computes_the_same_loss_and_gradients() -> None:
    loss, x, w, b = _layer()
    scalar, inputs, _ = unroll(loss)
    assert isinstance(scalar, Value)
    assert scalar.data == pytest.approx(float(loss.data), rel=1e-12)
    scalar.backward()
    loss.backward()
    got_w = np.vectorize(lambda v: v.grad)(inputs["W"]).astype(float)
    got_b = np.vectorize(lambda v: v.grad)(inputs["b"]).astype(float)
    assert np.allclose(got_w, w.grad, rtol=1e-10)
    assert np.allclose(got_b, b.grad, rtol=1e-10)
    names = {n.name for n in topological_order(scalar) if n.name}
    assert {"X[0,1]", "W[3,2]", "b[2]", "G[1,2]", "L"} <= names


def test_explain_unroll_shows_rule_and_matching_entries() -> None:
    loss, x, w, _ = _layer()
    out = explain(loss, wrt="W,b", format="json", unroll=True)
    rules = out["unrolled"]["rules"]
    assert rules["W"]["tensor"] == "X^{\\top} \\bar{Z}"
    assert rules["W"]["entry"] == "\\bar{W}_{ij} = \\sum_{k} X_{ki} \\bar{Z}_{kj}"
    assert rules["b"]["entry"] == "\\bar{b}_{j} = \\sum_{k} \\bar{G}_{kj}"
    rows = out["unrolled"]["entries"]["W"]
    assert len(rows) == 12 and rows[5]["entry"] == "W[1,2]"
    # independent of explain: the cross-entropy gradient in closed form
    logits = x.data @ w.data + _layer()[3].data
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(4), [0, 2, 1, 0]] -= 1
    expected = x.data.T @ p / 4
    for r in rows:
        assert r["scalar"] == pytest.approx(expected[tuple(r["index"])], rel=1e-9)
        assert r["tensor"] == pytest.approx(r["scalar"], rel=1e-9)


def test_unroll_markdown_renders() -> None:
    loss, *_ = _layer()
    text = explain(loss, wrt="W", unroll=True)
    assert "### 4. Unrolled: one `Value` per entry" in text
    assert "| $\\bar{W}_{1,2}$ |" in text
    for tex in re.findall(r"\$\$(.+?)\$\$", text, flags=re.S):
        _renders(tex)


def test_unroll_tex() -> None:
    loss, *_ = _layer()
    text = explain(loss, wrt="W", format="tex", unroll=True)
    assert "\\bar{W}_{ij} &= \\sum_{k} X_{ki} \\bar{Z}_{kj}" in text


def test_a_wrong_scalar_rebuild_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entries are compared with the tensor rule: a rebuild that transposes W is an error, not a page."""
    from autograd_viz.explain import unroll as unroll_module

    original = unroll_module._unrolled_op

    def wrong(node, xs):
        if node.op.name == "matmul":
            xs = [xs[0], xs[1][::-1]]
        return original(node, xs)

    monkeypatch.setattr(unroll_module, "_unrolled_op", wrong)
    loss, *_ = _layer()
    with pytest.raises(ExplainError, match="--unroll: W\\[.*the unrolled scalar graph gives"):
        explain(loss, wrt="W", unroll=True)


@pytest.mark.parametrize("case", ["getitem", "reshape", "transpose", "mean", "softmax", "log_softmax", "mse",
                                  "sigmoid_div"])
def test_other_tensor_ops_explain_and_unroll(case: str) -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True, name="X")
    build = {
        "getitem": lambda: (x[1:, :2] * 2).sum(),
        "reshape": lambda: (x.reshape(4, 3) @ Tensor(np.ones((3, 1)), name="o")).sum(),
        "transpose": lambda: (x.T * x.T).sum(),
        "mean": lambda: x.mean(axis=0).tanh().sum(),
        "softmax": lambda: (x.softmax(axis=1) * Tensor(np.arange(12.0).reshape(3, 4), name="c")).sum(),
        "log_softmax": lambda: x.log_softmax(axis=1)[0, 1] * -1,
        "mse": lambda: F.mse_loss(x, np.zeros((3, 4))),
        "sigmoid_div": lambda: (x.sigmoid() / (1 + x.exp())).mean(),
    }[case]
    plain = explain(build(), format="json")
    unrolled = explain(build(), format="json", unroll=True)
    for row in unrolled["unrolled"]["entries"]["X"]:
        assert row["scalar"] == pytest.approx(plain["gradients"]["X"]["value"][row["index"][0]][row["index"][1]],
                                              rel=1e-9, abs=1e-12)


def test_refusals() -> None:
    rng = np.random.default_rng(0)
    big = Tensor(rng.standard_normal((5, 4)), requires_grad=True, name="X")
    with pytest.raises(ExplainError, match="X has shape \\(5, 4\\); unrolling is limited to 4×4"):
        explain((big * 2).sum(), unroll=True)
    small = Tensor(rng.standard_normal((2, 2)), requires_grad=True, name="S")
    with pytest.raises(ExplainError, match="the op max has no scalar form"):
        explain(small.max(axis=1).sum(), unroll=True)
    with pytest.raises(ExplainError, match="Tensor graphs"):
        explain(Value(1.0, name="a") * 2, unroll=True)


def test_cli_unroll_with_drawing(tmp_path: Path) -> None:
    drawing = tmp_path / "unrolled.dot"
    result = CliRunner().invoke(main, ["explain", "G = X @ W; L = cross_entropy(G)", "--unroll", "--shapes",
                                       "X=4x4,W=4x3", "--wrt", "W", "--targets", "0,1,2,0", "--draw", str(drawing),
                                       "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["gradients"]["W"]["shape"] == [4, 3]
    dot = drawing.read_text()
    assert "X[0,1]" in dot and "W[3,2]" in dot


@pytest.mark.parametrize(("args", "message"), [
    (["L = sum(X @ W)", "--unroll", "--shapes", "X=5x4,W=4x3"], "error: --unroll: X has shape (5, 4)"),
    (["L = sum(X @ W)", "--unroll", "--shapes", "X=4"], "error: step 1 (L): no value for 'W'"),
    (["L = sum(X @ W)", "--unroll", "--shapes", "X=4by4"], "error: --shapes item 1 'X=4by4'"),
    (["L = X @ W", "--unroll", "--shapes", "X=2x2,W=2x2"], "error: the output has shape (2, 2)"),
    (["G = X @ W; L = cross_entropy(G)", "--unroll", "--shapes", "X=2x2,W=2x2", "--targets", "0,5"],
     "error: step 2 (L): --targets must be 2 class indices"),
])
def test_cli_unroll_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["explain", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message), result.stderr


def test_tensor_program_builder() -> None:
    root, inputs = build_tensor_program("H = tanh(X @ W); L = mean(H)", {"X": (3, 2), "W": (2, 2)}, {}, 1)
    assert set(inputs) == {"X", "W"} and root.name == "L"
    assert inputs["X"].data.dtype == np.float64


def test_graph_command_unroll_draws_entries(tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    result = CliRunner().invoke(main, ["graph", "G = X @ W; L = sum(G)", "--unroll", "--shapes", "X=2x3,W=3x2",
                                       "--json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)["inputs"]}
    assert len(rows) == 12 and "W[2,1]" in rows
    x = np.array([[rows[f"X[{i},{k}]"]["value"] for k in range(3)] for i in range(2)])
    w_grad = np.array([[rows[f"W[{k},{j}]"]["grad"] for j in range(2)] for k in range(3)])
    assert np.allclose(w_grad, x.T @ np.ones((2, 2)), rtol=1e-12)  # W̄ = Xᵀ Ḡ with Ḡ = 1
    assert "X[1,2]" in out.read_text()
