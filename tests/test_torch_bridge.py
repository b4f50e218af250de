"""The PyTorch bridge: PyTorch graphs rebuilt with our op table match the same graphs built here (values,
gradients and edge labels node for node); every op with a PyTorch counterpart is mapped; unknown functions are
drawn by name; models and .safetensors files round-trip. Skipped without torch.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge tests need torch: pip install torch==2.13.0",
                            exc_type=ImportError)
TF = torch.nn.functional

import autograd_viz.functional as F  # noqa: E402
from autograd_viz import Tensor, draw, nn, optim  # noqa: E402
from autograd_viz.errors import AutogradVizError, DataError  # noqa: E402
from autograd_viz.ops import OPS  # noqa: E402
from autograd_viz.torch import (  # noqa: E402
    TorchBridgeError,
    compare,
    draw_torch,
    from_torch,
    load_safetensors,
    record_values,
    save_safetensors,
    to_torch,
    trace_torch,
)
from autograd_viz.viz.examples import notes_example  # noqa: E402

D = torch.float64


def normalized(dot: str) -> Counter:
    """The DOT text with node ids replaced by their labels: equal for the same graph built in either order."""
    dot = re.sub(r"cluster_([fb])\d+_", r"cluster_\1_", dot)  # cluster numbers follow the first member's order
    labels = dict(re.findall(r"^\s*(\w+) \[label=<(.*)> color", dot, flags=re.M))
    lines = Counter()
    for line in dot.splitlines():
        edge = re.match(r"^\s*(\w+) -> (\w+)(.*)$", line)
        node = re.match(r"^\s*(\w+) \[label=<(.*)> (color.*)$", line)
        if edge:
            a, b, rest = edge.groups()
            lines[f"{labels.get(a, a)} -> {labels.get(b, b)}{rest}"] += 1
        elif node:
            lines[f"{node.group(1)[0]}: {node.group(2)} {node.group(3)}"] += 1
        else:
            lines[line.strip()] += 1
    return lines


def notes_in_torch(a=0.5, b=-1.0, x0=2.0, y0=1.0):
    t = {k: torch.tensor(v, dtype=D, requires_grad=k in "ab") for k, v in dict(a=a, b=b, x0=x0, y0=y0).items()}
    z = t["a"] * t["x0"] + t["b"]
    y = torch.sigmoid(z)
    loss = 0.5 * (y - t["y0"]) ** 2
    return loss, {**t, "z": z, "y": y}


def test_notes_example_drawn_from_pytorch_matches_ours_node_for_node():
    loss, names = notes_in_torch()
    graph = trace_torch(loss, names)
    assert [f.ops for f in graph.unknown] == []
    dot = draw(graph.root).source
    # PyTorch records 0.5 * t as mul(t, 0.5): the only difference is the order of that product's factors
    assert dot.count("L</B> = v₃ × 0.5") == 1
    theirs = normalized(dot.replace("L</B> = v₃ × 0.5", "L</B> = 0.5 × v₃"))
    assert normalized(draw(notes_example(), kind="both").source) == theirs
    assert any("∂y/∂z = σ(z)(1−σ(z)) = 0.25" in k for k in theirs)
    table = compare(notes_example(), loss, names=names)
    assert {r.name for r in table.rows} == {"a", "b", "x0", "y0", "z", "y"} and not table.missing
    assert all(r.exact for r in table.rows), str(table)
    assert table["a"].ours_grad == pytest.approx(-0.25) and table["b"].theirs_grad == pytest.approx(-0.125)


def _mlp_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((5, 4)), "fc1.weight": rng.standard_normal((4, 6)),
            "fc1.bias": rng.standard_normal(6), "fc2.weight": rng.standard_normal((6, 3)),
            "fc2.bias": rng.standard_normal(3)}, rng.integers(0, 3, 5)


def test_small_mlp_drawn_from_pytorch_matches_ours_node_for_node():
    arrays, target = _mlp_arrays()
    ours = {k: Tensor(v, requires_grad=k != "x", name=k, role="input" if k == "x" else "param")
            for k, v in arrays.items()}
    h = (ours["x"] @ ours["fc1.weight"] + ours["fc1.bias"]).relu()
    h.name = "h"
    loss = F.cross_entropy(h @ ours["fc2.weight"] + ours["fc2.bias"], target)
    theirs = {k: torch.tensor(v, requires_grad=k != "x") for k, v in arrays.items()}
    th = (theirs["x"] @ theirs["fc1.weight"] + theirs["fc1.bias"]).relu()
    tloss = TF.cross_entropy(th @ theirs["fc2.weight"] + theirs["fc2.bias"], torch.from_numpy(target))
    graph = trace_torch(tloss, {**theirs, "h": th})
    assert not graph.unknown and graph.root.op.name == "cross_entropy"
    for kind in ("forward", "backward", "both"):
        assert normalized(draw(loss, kind=kind).source) == normalized(draw_torch(tloss, {**theirs, "h": th},
                                                                                 kind=kind).source)
    table = compare(loss, tloss, names={**theirs, "h": th})
    assert table.max_value_diff == 0.0 and table.max_grad_diff < 1e-12, str(table)


def test_pytorch_linear_model_traced_with_named_parameters():
    model = nn.mlp([4, 8, 3], seed=1, dtype=np.float64)
    twin = to_torch(model)
    x = np.random.default_rng(2).standard_normal((6, 4))
    target = np.array([0, 1, 2, 0, 1, 2])
    tloss = TF.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(target))
    graph = trace_torch(tloss, twin)
    names = [f.name for f in graph.functions]
    assert names.count("AddmmBackward0") == 2 and names.count("TBackward0") == 2
    assert {tuple(f.ops) for f in graph.mapped} == {("matmul", "add"), ("transpose",), ("relu",), ("cross_entropy",)}
    assert set(graph.named) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    graph.root.backward()
    for name, node in graph.named.items():
        np.testing.assert_allclose(node.grad, graph.torch_grads[name], rtol=1e-10, atol=1e-12)
    loss = F.cross_entropy(model(x), target)
    table = compare(loss, tloss, names=twin)
    assert table["fc1.weight"].transposed and table.ok(rtol=1e-9, atol=1e-12), str(table)
    dot = draw_torch(tloss, twin, kind="both").source
    assert "fc1.weightᵀ" in dot and "unknown" not in dot


def _leaf(shape, seed, positive=False):
    data = np.random.default_rng(seed).standard_normal(shape)
    return torch.tensor(np.abs(data) + 0.5 if positive else data, requires_grad=True)


#: op name -> (PyTorch function name, builder of a loss from leaves a (3, 4), b (3, 4), p > 0 (3, 4), w (4, 2))
CASES = {
    "add": ("AddBackward0", lambda a, b, p, w: (a + b).sum()),
    "sub": ("SubBackward0", lambda a, b, p, w: (a - b).sum()),
    "mul": ("MulBackward0", lambda a, b, p, w: (a * b).sum()),
    "div": ("DivBackward0", lambda a, b, p, w: (a / p).sum()),
    "neg": ("NegBackward0", lambda a, b, p, w: (-a).sum()),
    "pow": ("PowBackward1", lambda a, b, p, w: (p ** b).sum()),
    "powc": ("PowBackward0", lambda a, b, p, w: (a ** 3).sum()),
    "exp": ("ExpBackward0", lambda a, b, p, w: a.exp().sum()),
    "log": ("LogBackward0", lambda a, b, p, w: p.log().sum()),
    "sqrt": ("SqrtBackward0", lambda a, b, p, w: p.sqrt().sum()),
    "abs": ("AbsBackward0", lambda a, b, p, w: a.abs().sum()),
    "tanh": ("TanhBackward0", lambda a, b, p, w: a.tanh().sum()),
    "sigmoid": ("SigmoidBackward0", lambda a, b, p, w: a.sigmoid().sum()),
    "relu": ("ReluBackward0", lambda a, b, p, w: a.relu().sum()),
    "leaky_relu": ("LeakyReluBackward0", lambda a, b, p, w: TF.leaky_relu(a, 0.2).sum()),
    "matmul": ("MmBackward0", lambda a, b, p, w: (a @ w).sum()),
    "sum": ("SumBackward1", lambda a, b, p, w: (a.sum(0) * b[0]).sum()),
    "mean": ("MeanBackward1", lambda a, b, p, w: (a.mean(1, keepdim=True) * b).sum()),
    "max": ("AmaxBackward0", lambda a, b, p, w: (a.amax(1) * b[:, 0]).sum()),
    "reshape": ("ViewBackward0", lambda a, b, p, w: (a.reshape(12) * b.reshape(12)).sum()),
    "transpose": ("TBackward0", lambda a, b, p, w: (a.t() @ b).sum()),
    "getitem": ("IndexBackward0", lambda a, b, p, w: (a[torch.tensor([0, 2, 2])] * b[:3]).sum()),
    "softmax": ("SoftmaxBackward0", lambda a, b, p, w: (torch.softmax(a, 1) * b).sum()),
    "log_softmax": ("LogSoftmaxBackward0", lambda a, b, p, w: (torch.log_softmax(a, 0) * b).sum()),
    "cross_entropy": ("NllLossBackward0", lambda a, b, p, w: TF.cross_entropy(a, torch.tensor([0, 3, 1]))),
    "mse_loss": ("MseLossBackward0", lambda a, b, p, w: TF.mse_loss(a, b)),
    "sin": ("SinBackward0", lambda a, b, p, w: (a.sin() * b).sum()),
    "cos": ("CosBackward0", lambda a, b, p, w: (a.cos() * b).sum()),
    "erf": ("ErfBackward0", lambda a, b, p, w: (torch.erf(a) * b).sum()),
    "Phi": ("GeluBackward0", lambda a, b, p, w: (TF.gelu(a) * b).sum()),  # exact GELU: x·Φ(x)
    "softplus": ("SoftplusBackward0", lambda a, b, p, w: (TF.softplus(a) * b).sum()),
    "sign": ("SignBackward0", lambda a, b, p, w: (torch.sign(a) * b).sum()),
}
#: Ops of the table PyTorch has no differentiable function for: step ((x > 0).float() has no grad_fn).
NO_TORCH_COUNTERPART = {"step"}

#: More PyTorch functions mapped onto the same ops (scalar operands, other spellings).
MORE = {
    "Addmm: matmul + add": ("AddmmBackward0", lambda a, b, p, w: torch.addmm(b[0, :2], a, w).sum()),
    "scalar mul": ("MulBackward0", lambda a, b, p, w: (a * 3.0).sum()),
    "scalar div": ("DivBackward0", lambda a, b, p, w: (a / 4.0).sum()),
    "scalar add (solved)": ("AddBackward0", lambda a, b, p, w: ((a + 2.0) * b).sum()),
    "rsub (solved)": ("RsubBackward1", lambda a, b, p, w: ((1.0 - a) * b).sum()),
    "scalar ** x": ("PowBackward2", lambda a, b, p, w: (2.0 ** a).sum()),
    "reciprocal": ("ReciprocalBackward0", lambda a, b, p, w: (1.0 / p).sum()),
    "mv": ("MvBackward0", lambda a, b, p, w: (a @ w[:, 0]).sum()),
    "dot": ("DotBackward0", lambda a, b, p, w: a[0] @ b[0]),
    "permute": ("PermuteBackward0", lambda a, b, p, w: (a.permute(1, 0) @ b).sum()),
    "transpose(0, 1)": ("TransposeBackward0", lambda a, b, p, w: (a.transpose(0, 1) @ b).sum()),
    "sum all": ("SumBackward0", lambda a, b, p, w: a.sum() * b.sum()),
    "mean all": ("MeanBackward0", lambda a, b, p, w: a.mean() * b.sum()),
    "max all": ("MaxBackward1", lambda a, b, p, w: a.max() * b.sum()),
    "max(dim) no ties": ("MaxBackward0", lambda a, b, p, w: a.max(1)[0].sum()),
    "slice": ("SliceBackward0", lambda a, b, p, w: (a[1:3] * b[:2]).sum()),
    "select": ("SelectBackward0", lambda a, b, p, w: (a[:, 1] * b[:, 2]).sum()),
    "unsqueeze": ("UnsqueezeBackward0", lambda a, b, p, w: (a.unsqueeze(0) * b).sum()),
    "mse sum": ("MseLossBackward0", lambda a, b, p, w: TF.mse_loss(a, b.detach(), reduction="sum")),
    "cross_entropy sum": ("NllLossBackward0",
                          lambda a, b, p, w: TF.cross_entropy(a, torch.tensor([0, 3, 1]), reduction="sum")),
    "softplus beta=2: mul, softplus, div": ("SoftplusBackward0",
                                            lambda a, b, p, w: (TF.softplus(a, beta=2.0) * b).sum()),
    "gelu of an intermediate": ("GeluBackward0", lambda a, b, p, w: TF.gelu(a * b).sum()),
    # PyTorch's Φ is the composite 0.5·(1 + erf(x·0.7071)): mul, erf, add (AddBackward1), mul
    "special.ndtr": ("AddBackward1", lambda a, b, p, w: (torch.special.ndtr(a) * b).sum()),
}


def _check_case(fn_name, build):
    leaves = {"a": _leaf((3, 4), 1), "b": _leaf((3, 4), 2), "p": _leaf((3, 4), 3, positive=True),
              "w": _leaf((4, 2), 4)}
    loss = build(*leaves.values())
    graph = trace_torch(loss, leaves)
    records = [f for f in graph.functions if f.name == fn_name]
    assert records, f"{fn_name} not in {[f.name for f in graph.functions]}"
    assert all(r.ops for r in records), graph.report()
    assert not graph.unknown, graph.report()
    assert np.asarray(graph.root.data) == pytest.approx(loss.item(), rel=1e-12, abs=1e-12)
    graph.root.backward()
    for name, node in graph.named.items():
        expected = graph.torch_grads[name]
        got = node.grad if expected is not None else None
        if expected is None:
            continue
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12, err_msg=name)
    return records


@pytest.mark.parametrize("op", sorted(CASES))
def test_every_op_with_a_pytorch_counterpart_is_mapped(op):
    fn_name, build = CASES[op]
    records = _check_case(fn_name, build)
    assert any(op in r.ops for r in records), [r.ops for r in records]


def test_the_cases_cover_the_whole_op_table():
    assert set(CASES) | NO_TORCH_COUNTERPART == set(OPS) and not set(CASES) & NO_TORCH_COUNTERPART


@pytest.mark.parametrize("case", sorted(MORE))
def test_more_pytorch_spellings_are_mapped(case):
    _check_case(*MORE[case])


def test_unknown_function_is_drawn_by_name_without_a_derivative():
    x = torch.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    loss = (torch.cumsum(x, 0).tanh() * x).sum()
    graph = trace_torch(loss, {"x": x})
    assert [f.name for f in graph.unknown] == ["CumsumBackward0"]
    assert graph.unknown[0].note == "no counterpart in the op table"
    dot = draw(graph.root, kind="both").source
    edge = next(line for line in dot.splitlines() if "CumsumBackward0(" in line and "->" in line)
    assert "∂" not in edge and "+= CumsumBackward0(" in edge
    assert "unknown CumsumBackward0(x)" in dot
    graph.root.backward()  # PyTorch's own VJP below the unknown function: x's gradient is still right
    np.testing.assert_allclose(graph.named["x"].grad, graph.torch_grads["x"], rtol=1e-12)


def test_unknown_function_vjp_is_pytorchs_for_any_upstream_gradient():
    from autograd_viz.graph import input_gradients, topological_order

    x = torch.tensor([0.5, -1.0, 2.0, 3.0], dtype=D, requires_grad=True)
    graph = trace_torch((x.cumsum(0) * 2.0).sum(), {"x": x})
    (node,) = [n for n in topological_order(graph.root) if n.op is not None and n.op.name == "torch:CumsumBackward0"]
    for upstream in ([1.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0], [0.5, -1.0, 0.0, 4.0]):
        (got,) = input_gradients(node, np.array(upstream))
        np.testing.assert_allclose(got, np.cumsum(upstream[::-1])[::-1])


def test_several_outputs_are_drawn_as_one_unknown_node_each():
    a = torch.tensor(np.random.default_rng(5).standard_normal(6), requires_grad=True)
    with record_values() as values:
        first, second, third = a.split(2)
        loss = (first * second).sum() + third.tanh().sum()
    graph = trace_torch(loss, {"a": a}, values=values)
    assert [f.name for f in graph.unknown] == ["SplitBackward0"], graph.report()
    dot = draw(graph.root).source
    for k in range(3):
        assert f"unknown SplitBackward0[{k}](a)" in dot
    assert "non-finite" not in dot
    graph.root.backward()
    np.testing.assert_allclose(graph.named["a"].grad, graph.torch_grads["a"], rtol=1e-12, atol=1e-15)


def test_a_mapping_pytorch_disagrees_with_is_refused_and_drawn_as_unknown():
    x = torch.tensor([[1.0, 1.0, 0.0], [2.0, 0.0, 2.0]], dtype=D, requires_grad=True)
    loss = x.max(1)[0].sum()  # PyTorch sends a tie's gradient to one index; our max shares it
    graph = trace_torch(loss, {"x": x})
    (refused,) = [f for f in graph.functions if f.name == "MaxBackward0"]
    assert not refused.ops and refused.note.startswith("refused: our max gives a different gradient")
    assert "unknown MaxBackward0" in draw(graph.root).source
    graph.root.backward()
    np.testing.assert_array_equal(graph.named["x"].grad, graph.torch_grads["x"])


def test_batchnorm_and_dropout_model_in_float32_gradients_still_match():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(6, 3))
    loss = TF.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
    graph = trace_torch(loss, model)
    assert "NativeBatchNormBackward0" in {f.name for f in graph.unknown}
    assert "unknown NativeBatchNormBackward0" in draw(graph.root, kind="both").source
    graph.root.backward()
    for name, node in graph.named.items():
        np.testing.assert_allclose(node.grad, graph.torch_grads[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert "non-finite" in draw(graph.root, kind="forward").source  # BatchNorm's output: not saved by PyTorch
    with record_values() as values:  # ... unless the forward pass is recorded
        loss = TF.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
    graph = trace_torch(loss, model, values=values)
    assert [f.name for f in graph.unknown] == ["NativeBatchNormBackward0"], graph.report()
    dot = draw_torch(loss, model, values=values, kind="forward").source
    assert "non-finite" not in dot and "unknown NativeBatchNormBackward0" in dot


def test_max_nodes_collapse_and_svg_rendering_work_on_a_pytorch_graph(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    loss = TF.mse_loss(model(torch.randn(4, 3)), torch.zeros(4, 2))
    dot = draw_torch(loss, model, kind="both", max_nodes=8).source
    assert "earlier values not drawn" in dot
    graph = draw_torch(loss, model, kind="backward")
    draw.save(graph, tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_clear_errors():
    a = torch.tensor(2.0, requires_grad=True)
    loss = (a * a).exp()
    loss.backward()
    with pytest.raises(TorchBridgeError, match="retain_graph=True"):
        trace_torch(loss)
    with pytest.raises(TorchBridgeError, match="no autograd graph"):
        draw_torch(torch.ones(3))
    with pytest.raises(TorchBridgeError, match="expected a torch.Tensor"):
        draw_torch(np.ones(3))
    assert issubclass(TorchBridgeError, AutogradVizError)


def test_import_autograd_viz_does_not_import_torch_and_the_bridge_imports_pytorch_itself():
    code = ("import sys, autograd_viz, autograd_viz.nn, autograd_viz.cli\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "import autograd_viz.torch as bridge\n"
            "assert 'torch' not in sys.modules\n"
            "bridge.draw_torch\n"
            "import torch\n"
            "assert bridge.trace.torch is torch and hasattr(torch, 'autograd')\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- moving models ------------------------------------------------------------------------------------------

def _batches(n=5, seed=3):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((16, 6)).astype(np.float32), rng.integers(0, 3, 16)) for _ in range(n)]


@pytest.mark.parametrize("kwargs", [dict(), dict(batchnorm=True), dict(activation="tanh", dropout=0.3),
                                    dict(activation="leaky_relu"), dict(activation="sigmoid")])
def test_to_torch_and_back_give_the_same_outputs(kwargs):
    model = nn.mlp([6, 10, 8, 3], seed=0, **kwargs).eval()
    twin = to_torch(model)
    assert not twin.training
    x = _batches(1)[0][0]
    out = model(x).data
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), out, rtol=1e-5, atol=1e-6)
    back = from_torch(twin)
    assert [n for n, _ in back.named_parameters()] == [n for n, _ in model.named_parameters()]
    np.testing.assert_allclose(back(x).data, out, rtol=1e-5, atol=1e-6)


def test_five_adam_steps_agree_with_pytorch():
    model = nn.mlp([6, 10, 8, 3], seed=0)
    twin = to_torch(model)
    ours, theirs = optim.Adam(model.parameters(), lr=1e-2), torch.optim.Adam(twin.parameters(), lr=1e-2)
    for x, y in _batches():
        ours.zero_grad()
        F.cross_entropy(model(x), y).backward()
        ours.step()
        theirs.zero_grad()
        TF.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs.step()
    state = twin.state_dict()
    for name, p in model.named_parameters():
        t = state[name].numpy()
        np.testing.assert_allclose(p.data, t.T if t.ndim == 2 else t, rtol=0, atol=1e-5, err_msg=name)


def test_from_torch_names_the_first_unsupported_layer():
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Conv1d(1, 1, 1), torch.nn.GELU())
    with pytest.raises(TorchBridgeError, match=r"layer '2' \(Conv1d\) has no counterpart"):
        from_torch(module)
    with pytest.raises(TorchBridgeError, match="expected an autograd_viz nn.Sequential"):
        to_torch(nn.Linear(2, 2))


def test_safetensors_round_trip_both_ways(tmp_path):
    from safetensors.torch import load_file, save_file

    model = nn.mlp([6, 10, 3], seed=0, batchnorm=True).eval()
    x = _batches(1)[0][0]
    path = tmp_path / "model.safetensors"
    save_safetensors(model, path)
    twin = to_torch(nn.mlp([6, 10, 3], seed=9, batchnorm=True)).eval()
    twin.load_state_dict(load_file(str(path)))  # PyTorch's names and (out, in) layout, strict
    assert tuple(load_file(str(path))["fc1.weight"].shape) == (10, 6)
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), model(x).data, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        twin.fc1.weight.mul_(2.0)
    save_file(twin.state_dict(), str(path))
    again = load_safetensors(nn.mlp([6, 10, 3], seed=4, batchnorm=True), path).eval()
    np.testing.assert_allclose(again(x).data, twin(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again.fc1.weight.data, twin.fc1.weight.detach().numpy().T)
    with pytest.raises(DataError, match="cannot read"):
        load_safetensors(model, tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="not a valid .safetensors"):
        load_safetensors(model, tmp_path / "bad.safetensors")
    with pytest.raises(AutogradVizError, match="missing"):
        load_safetensors(nn.mlp([6, 10, 10, 3]), path)


def test_readme_section_example_runs(tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme[readme.index("## When you outgrow autograd_viz"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fc1.weightᵀ" in done.stdout and (tmp_path / "mlp.safetensors").is_file()


def test_compare_reads_gradients_from_a_mapping_of_retained_tensors():
    loss, names = notes_in_torch(a=0.3)
    for t in (names["z"], names["y"]):
        t.retain_grad()
    loss.backward()
    table = compare(notes_example(a=0.3), {k: names[k] for k in ("a", "b", "z", "y")})
    assert [r.name for r in table.rows] == ["a", "b", "z", "y"] and table.ok(rtol=1e-12, atol=1e-15), str(table)
    assert "max |Δ grad|" in str(table)
    broken = compare(notes_example(a=0.3, b=0.0), {k: names[k] for k in ("a", "b")})
    assert not broken.ok() and broken["b"].value_diff == pytest.approx(1.0)
    assert compare(notes_example(), {"nope": names["a"]}).missing == ["nope"]


def test_tracing_leaves_pytorchs_state_alone():
    """No .grad filled (leaves or retain_grad), no tensor hook run, the graph still usable for backward()."""
    a = torch.tensor([1.0, 2.0], dtype=D, requires_grad=True)
    h = a * 3
    h.retain_grad()
    calls = []
    h.register_hook(lambda g: calls.append(g))
    loss = (h.tanh() + a).sum()
    graph = trace_torch(loss, {"a": a, "h": h})
    assert a.grad is None and h.grad is None and calls == []
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), graph.torch_grads["a"], rtol=1e-15)
    np.testing.assert_allclose(h.grad.numpy(), graph.torch_grads["h"], rtol=1e-15)
    assert len(calls) == 1


def test_vocabulary_drawn_from_pytorch_has_our_derivative_labels():
    """A scalar PyTorch graph with GELU, sin, erf and sign is rebuilt with Values: every edge carries the op
    table's derivative text and PyTorch's gradient."""
    x = torch.tensor(0.7, dtype=D, requires_grad=True)
    y = torch.tensor(-0.4, dtype=D, requires_grad=True)
    loss = TF.gelu(x) * torch.sin(y) + torch.erf(x * y) + torch.sign(y) * x
    graph = trace_torch(loss, {"x": x, "y": y})
    assert not graph.unknown, graph.report()
    assert type(graph.root).__name__ == "Value"
    dot = draw(graph.root, kind="both").source
    labels = set(re.findall(r"label=<(∂[^>]*)>", dot))
    phi_density = math.exp(-0.7**2 / 2) / math.sqrt(2 * math.pi)  # Φ'(x) at x = 0.7, computed here
    erf_slope = 2 / math.sqrt(math.pi) * math.exp(-(0.7 * -0.4) ** 2)
    assert f"∂v₁/∂x = exp(−x²/2)/√(2π) = {phi_density:.4g}" in labels, labels
    assert f"∂v₃/∂y = cos(y) = {math.cos(-0.4):.4g}" in labels, labels
    assert f"∂v₆/∂v₅ = (2/√π)·exp(−v₅²) = {erf_slope:.4g}" in labels, labels
    assert "∂v₈/∂y = 0" in labels, labels  # sign
    graph.root.backward()
    loss.backward()
    assert graph.named["x"].grad == pytest.approx(x.grad.item(), rel=1e-12)
    assert graph.named["y"].grad == pytest.approx(y.grad.item(), rel=1e-12)


@pytest.mark.parametrize(("build", "why"), [
    (lambda a: TF.softplus(a * 30.0), "threshold"),  # PyTorch's softplus is the identity above 20
    (lambda a: TF.gelu(a, approximate="tanh"), "approximate='tanh'"),
])
def test_softplus_past_its_threshold_and_tanh_gelu_are_drawn_as_unknown(build, why):
    a = _leaf((3, 4), 1)
    graph = trace_torch((build(a) * a).sum(), {"a": a})
    assert [f.name for f in graph.unknown] in (["SoftplusBackward0"], ["GeluBackward0"])
    assert why in graph.unknown[0].note
    graph.root.backward()  # PyTorch's own VJP: a's gradient is still right
    np.testing.assert_allclose(graph.named["a"].grad, graph.torch_grads["a"], rtol=1e-12)


def test_special_ndtr_is_drawn_with_our_ops_when_its_value_is_known():
    """ndtr's inner 1 + erf is solved from ndtr's value (its ·0.5 undone exactly); with ndtr(x).sum() PyTorch keeps
    that value nowhere, so it is drawn as unknown unless the forward pass was recorded."""
    x = torch.tensor(np.array([[0.5, -1.2], [2.0, 0.3]]), requires_grad=True)
    graph = trace_torch(torch.special.ndtr(x).sum(), {"x": x})
    assert [f.name for f in graph.unknown] == ["AddBackward1"]
    with record_values() as values:
        loss = torch.special.ndtr(x).sum()
    graph = trace_torch(loss, {"x": x}, values=values)
    assert not graph.unknown, graph.report()
    assert [f.ops for f in graph.functions if f.name != "AccumulateGrad"] == [("mul",), ("erf",), ("add",),
                                                                              ("mul",), ("sum",)]
    add = next(f.node for f in graph.functions if f.name == "AddBackward1")
    assert add.parents[1].data == 1.0  # the constant solved is PyTorch's 1, exactly
    assert "</B> = v₂ + 1<BR/>" in draw(graph.root).source
    graph.root.backward()
    np.testing.assert_allclose(graph.named["x"].grad, graph.torch_grads["x"], rtol=1e-13)
