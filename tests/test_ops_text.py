"""The op table's readable derivatives: every template formats, and powc reads as a person writes it."""

import pytest

from autograd_viz.ops import OPS

ATTRS = {"p": 3.0, "alpha": 0.1, "axis": 1, "keepdims": False, "shape": (2, 3), "axes": (1, 0), "index": 0,
         "target": None, "label_smoothing": 0.0, "reduction": "mean"}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_derivative_text_formats(name):
    op = OPS[name]
    labels = ["x", "y"][: op.arity]
    attrs = {key: ATTRS[key] for key in op.attr_names}
    for i in range(op.arity):
        text = op.local_derivative(i, labels, "out", attrs)
        assert text and "{" not in text


@pytest.mark.parametrize(("p", "expected"), [(2.0, "2·x"), (3.0, "3·x^2"), (0.5, "0.5·x^(-0.5)"), (1.0, "1"),
                                             (-1.0, "-1·x^(-2)")])
def test_power_rule_text(p, expected):
    assert OPS["powc"].local_derivative(0, ["x"], attrs={"p": p}) == expected
