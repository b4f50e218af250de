"""The graph core: edges with repeats, reuse, deep chains, repeated backward, no_grad and detach.

These are the cases where micrograd-style engines go wrong (``a*a``, a reused intermediate, recursion depth).
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from autograd_viz import Tensor, Value, gradcheck, is_grad_enabled, no_grad, topological_order
from autograd_viz.errors import DomainError, OperandError, ShapeError
from autograd_viz.graph import input_gradients, walk_backward


def test_a_times_a_has_two_edges_and_gradient_2a():
    a = Value(3.0, name="a")
    y = a * a
    assert y.op.name == "mul" and y.parents == (a, a)
    y.backward()
    assert a.grad == 6.0
    assert [n for n in topological_order(y)] == [a, y]  # each node once, however often it is used


def test_reused_intermediate_accumulates_from_every_use():
    x = Value(0.5, name="x")
    h = x.tanh()  # used three times
    y = h * h + 2 * h
    y.backward()
    t = np.tanh(0.5)
    assert h.grad == pytest.approx(2 * t + 2, rel=1e-15)
    assert x.grad == pytest.approx((2 * t + 2) * (1 - t * t), rel=1e-15)


def test_reused_intermediate_tensor_and_broadcasting():
    x = Tensor(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    b = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    h = x * b  # b broadcast over rows
    y = (h * h + h).sum()
    y.backward()
    dh = 2 * h.data + 1
    np.testing.assert_allclose(h.grad, dh)
    np.testing.assert_allclose(x.grad, dh * b.data)
    np.testing.assert_allclose(b.grad, (dh * x.data).sum(axis=0))
    assert b.grad.shape == (3,)


def test_node_fields_creation_index_and_names():
    a, b = Value(1.0, name="a"), Value(2.0)
    c = a + b
    d = c * 3
    assert c.parents == (a, b) and c.op.name == "add" and c.data == 3.0
    assert a.index < b.index < c.index < d.index
    assert d.parents[1].role == "const" and not d.parents[1].requires_grad
    assert a.label() == "a" and b.label() == f"v{b.index}"
    assert a.is_leaf and not c.is_leaf
    order = topological_order(d)
    assert order[-1] is d and len(order) == 5
    position = {id(n): i for i, n in enumerate(order)}
    assert all(position[id(p)] < position[id(n)] for n in order for p in n.parents)


def test_deep_chain_backprops_without_recursion_error():
    """A chain 50x deeper than the recursion limit: the sort and the walk are iterative, so depth never matters
    (the 1,000,000-op chain is timed in benchmarks/bench_chain.py)."""
    depth = 50 * sys.getrecursionlimit()
    x = Value(0.3, name="x")
    y = x
    for _ in range(depth):
        y = -y
    y.backward()
    assert x.grad == (1.0 if depth % 2 == 0 else -1.0)
    assert y.parents[0].grad == -1.0 and y.grad == 1.0
    assert len(topological_order(y)) == depth + 1


def test_deep_tensor_chain():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_backward_twice_recomputes_intermediates_and_accumulates_leaves():
    a = Value(2.0, name="a")
    h = a * a
    y = h * 3
    y.backward()
    assert (a.grad, h.grad, y.grad) == (12.0, 3.0, 1.0)
    y.backward()
    assert (a.grad, h.grad, y.grad) == (24.0, 3.0, 1.0)  # leaves accumulate, intermediates are fresh
    a.zero_grad()
    y.backward()
    assert a.grad == 12.0


def test_backward_twice_tensor():
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    h = w * 2
    loss = h.sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(w.grad, [4.0, 4.0])
    np.testing.assert_array_equal(h.grad, [1.0, 1.0])
    w.zero_grad()
    assert w.grad is None


def test_backward_from_an_intermediate_of_a_larger_graph():
    a = Value(1.5)
    h = a.exp()
    y = h * 2  # built but not the root of this backward
    h.backward()
    assert a.grad == pytest.approx(np.exp(1.5)) and y.grad == 0.0


def test_leaf_gradients_do_not_share_memory():
    """``a + b`` sends the same upstream array to both inputs: each leaf must own a copy."""
    a = Tensor(np.zeros(3), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 10  # an optimizer scaling one gradient in place
    np.testing.assert_array_equal(b.grad, np.ones(3))
    seed = np.array([1.0, 2.0, 3.0])
    c = Tensor(np.zeros(3), requires_grad=True)
    c.backward(seed)  # a leaf as the root: the seed array is the caller's
    c.grad += 1
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])


def test_input_gradients_are_the_edge_contributions():
    x = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    b = Tensor(np.array([3.0]), requires_grad=True)
    y = x * b
    gx, gb = input_gradients(y, np.ones((1, 2)))
    np.testing.assert_array_equal(gx, [[3.0, 3.0]])
    np.testing.assert_array_equal(gb, [3.0])  # reduced to the input's shape


def test_no_grad_records_nothing_and_restores():
    a = Value(1.0)
    w = Tensor(np.ones(2), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = a * 2 + 1
        t = (w * 2).sum()
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert not y.requires_grad and y.parents == () and y.op is None
    assert not t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("inside")
    assert is_grad_enabled()


def test_no_grad_is_per_context_not_leaking_into_later_graphs():
    with no_grad():
        pass
    a = Value(2.0)
    (a * a).backward()
    assert a.grad == 4.0


def test_detach_stops_the_gradient():
    a = Value(3.0)
    y = a * a.detach()  # d/da = a.detach() only
    y.backward()
    assert a.grad == 3.0
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = (w * 2).detach()
    assert d.is_leaf and not d.requires_grad and d.op is None
    (w * d).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_constants_and_non_grad_leaves_get_no_gradient():
    a = Value(2.0)
    c = Value(5.0, requires_grad=False)
    y = a * c + 1
    y.backward()
    assert a.grad == 5.0 and c.grad == 0.0
    assert all(p.grad == 0.0 for p in y.parents if p.role == "const")


def test_graphs_built_in_threads_backprop_independently():
    results = {}

    def work(k: int) -> None:
        x = Value(float(k))
        y = x
        for _ in range(1000):
            y = y * 1.0 + 0.0
        y.backward()
        results[k] = x.grad

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}


@pytest.mark.parametrize("number", [2, 0.5, np.float64(1.5), np.float32(3.0)])
def test_operators_with_plain_numbers_on_either_side(number):
    """+ - * / ** and unary - accept numbers on both sides; @ takes arrays on both sides (Tensor)."""
    def scalar_expr(a):
        return (number + a) * (a - number) / (number - a * 3) + number / a - number * a + a**number \
            + number**a + (-a)

    assert gradcheck(scalar_expr, Value(0.7, name="a"))
    x = Tensor(np.array([[0.7, 1.2], [0.4, 0.9]]), requires_grad=True)
    m = np.array([[1.0, -2.0], [0.5, 3.0]])
    assert gradcheck(lambda t: scalar_expr(t) @ m + m @ t - (m * t) / number, x)


def test_grad_mode_is_per_thread():
    """Two threads toggling no_grad never switch recording off in a third (a process-wide flag did)."""
    stop = threading.Event()
    seen_off = []

    def toggler() -> None:
        while not stop.is_set():
            with no_grad():
                pass

    def recorder() -> None:
        a = Value(1.0)
        for _ in range(20_000):
            if not is_grad_enabled() or not (a * 2).requires_grad:
                seen_off.append(True)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so an interleaving that leaks is likely to happen
    try:
        togglers = [threading.Thread(target=toggler) for _ in range(2)]
        for t in togglers:
            t.start()
        worker = threading.Thread(target=recorder)
        worker.start()
        worker.join()
        stop.set()
        for t in togglers:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not seen_off, f"recording was off {len(seen_off)} times in a thread that never called no_grad"
    assert is_grad_enabled()


def test_no_grad_in_a_thread_does_not_leak_into_the_main_thread():
    """Deterministic: while another thread sits inside no_grad, this one still records."""
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with no_grad():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    try:
        assert is_grad_enabled() and (Value(1.0) * 2).requires_grad
    finally:
        release.set()
        t.join()


def test_walk_backward_yields_every_adjoint_once_consumers_first():
    a, b = Value(2.0, name="a"), Value(-3.0, name="b")
    h = a * b
    y = h * a + b.tanh()
    steps = list(walk_backward(y, 1.0))
    nodes = [n for n, _, _ in steps]
    assert len(nodes) == len(set(map(id, nodes))) and nodes[0] is y
    position = {id(n): i for i, n in enumerate(nodes)}
    for n in nodes:  # every consumer comes before its inputs
        assert all(position[id(n)] < position[id(p)] for p in n.parents if id(p) in position)
    adjoints = {id(n): g for n, g, _ in steps}
    for n, g, parts in steps:  # each adjoint is the sum of the contributions along its out-edges
        expected = sum(p[i] for m, _, p in steps for i, q in enumerate(m.parents) if q is n and p[i] is not None)
        if n is not y:
            assert g == pytest.approx(expected, rel=1e-15)
        assert len(parts) == len(n.parents)
    assert a.grad == 0.0 and h.grad == 0.0  # the walk stores nothing
    y.backward()
    for n in nodes:
        assert n.grad == pytest.approx(adjoints[id(n)], rel=1e-15)
    assert a.grad == pytest.approx(2 * a.data * b.data)


def test_walk_backward_skips_inputs_that_need_no_gradient():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    y = (w * c).sum()
    steps = {id(n): (g, parts) for n, g, parts in walk_backward(y, np.ones(()))}
    assert id(c) not in steps
    product = y.parents[0]
    g, (gw, gc) = steps[id(product)]
    assert gc is None
    np.testing.assert_array_equal(gw, [3.0, 4.0])


@pytest.mark.parametrize("make", [lambda: Value(1.0, "a"), lambda: Value(1.0, "a", True),
                                  lambda: Tensor(np.ones(2), "w"), lambda: Tensor(np.ones(2), True)])
def test_arguments_after_data_are_keyword_only(make):
    with pytest.raises(OperandError, match=r"pass the arguments after data by keyword"):
        make()


def test_keyword_arguments_still_work():
    v = Value(1.5, name="a", requires_grad=False, role="const")
    t = Tensor([1, 2], requires_grad=False, name="w", dtype=np.float32, role="input")
    assert (v.name, v.requires_grad, v.role) == ("a", False, "const")
    assert (t.name, t.dtype, t.role) == ("w", np.float32, "input")


@pytest.mark.parametrize(("axes", "pattern"), [((2, 3), r"axis 2 is out of range for shape \(2, 3\)"),
                                               ((0, 2), r"axis 2 is out of range"),
                                               ((0,), r"do not permute"), ((1, 1), r"do not permute"),
                                               ((0, 1, 2), r"axis 2 is out of range"),
                                               ((0.0, 1), r"axis 0.0 is out of range"),
                                               ((True, 0), r"axis True is out of range")])
def test_transpose_validates_axes_like_numpy(axes, pattern):
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(ShapeError, match=pattern):
        x.transpose(*axes)
    with pytest.raises(ShapeError):
        x.transpose(axes)


def test_transpose_accepts_negative_axes():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    y = x.transpose(-1, 0, -2)
    np.testing.assert_array_equal(y.data, x.data.transpose(2, 0, 1))
    assert gradcheck(lambda t: t.transpose(-1, 0, -2) * np.arange(24.0).reshape(4, 2, 3), x)


def test_softmax_and_sum_refuse_out_of_range_or_bool_axes():
    x = Tensor(np.ones((2, 3)))
    for bad in (2, -3, True):
        with pytest.raises(ShapeError):
            x.softmax(axis=bad)
        with pytest.raises(ShapeError):
            x.sum(axis=bad)


def test_pow_exponent_derivative_at_a_negative_base_is_nan_for_tensors():
    """d(x^y)/dy = x^y ln x is undefined for x < 0: nan (as PyTorch), never a silent 0; 0 at x = 0."""
    x = Tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    y = Tensor(np.array([3.0, 2.0, 2.0]), requires_grad=True)
    (x**y).sum().backward()
    assert np.isnan(y.grad[0])
    assert y.grad[1] == 0.0
    assert y.grad[2] == pytest.approx(9.0 * np.log(3.0))
    np.testing.assert_allclose(x.grad, [3 * 4.0, 0.0, 6.0])  # d/dx is defined everywhere here


def test_pow_exponent_derivative_at_a_negative_base_is_a_domain_error_for_values():
    x, y = Value(-2.0, name="x"), Value(3.0, name="y")
    out = x**y
    assert out.data == -8.0
    with pytest.raises(DomainError, match=r"pow: the derivative of x\^y with respect to y is undefined at the "
                                          r"negative base x = -2.0"):
        out.backward()
    c = Value(3.0, requires_grad=False)
    z = x**c  # the exponent needs no gradient: nothing undefined is asked for
    z.backward()
    assert x.grad == pytest.approx(12.0)
    zero = Value(0.0)
    (zero**Value(2.0)).backward()
    assert zero.grad == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_scalar_fast_path_agrees_with_the_graph_walk(seed):
    """Value.backward (scalar.backpropagate, the float loop) gives every node the adjoint the core walk yields."""
    rng = np.random.default_rng(seed)
    leaves = [Value(float(v), name=f"x{i}") for i, v in enumerate(rng.uniform(0.5, 1.5, 4))]
    nodes = list(leaves)
    for _ in range(30):
        a, b = (nodes[int(i)] for i in rng.integers(0, len(nodes), 2))
        kind = int(rng.integers(0, 6))
        nodes.append([a * b, a + b * 0.5, (a - b).tanh(), a.sigmoid() * 2, a / (b * b + 1), (a * a + 1).log()][kind])
    root = sum(nodes[-6:], Value(0.0, requires_grad=False))
    walked = {id(n): g for n, g, _ in walk_backward(root, 1.0)}
    root.backward()
    for n in topological_order(root):
        if n.requires_grad:
            assert n.grad == pytest.approx(walked[id(n)], rel=1e-12, abs=1e-15), n.label()
        else:
            assert id(n) not in walked
