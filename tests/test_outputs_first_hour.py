"""What a new user sees in the first hour: long labels that Graphviz would refuse, exact-zero gradients told
apart from vanishing ones, the learning-curve labels, the progress bar on a narrow terminal, --at repeated,
--mlp with one class."""

from __future__ import annotations

import io
import re
import shutil

import pytest
from hostile import run_cli

from autograd_viz import Value
from autograd_viz.viz import draw
from autograd_viz.viz.style import COLORS, MAX_NAME_CHARS, DrawOptions, exact_zeros, grad_state, pretty_name


def test_a_name_longer_than_graphviz_allows_is_shortened_with_the_full_text_in_a_tooltip(tmp_path):
    long = "a" * 15_000 + "z"
    a, b = Value(1.0, name=long), Value(2.0, name="b")
    graph = draw(a * b)
    assert graph.source.count(long) == 1  # the full name, once, as the tooltip
    huge = draw(Value(1.0, name="q" * 40_000) * b).source  # tooltips are capped too, labels stay short
    assert max(len(line) for line in huge.splitlines()) < 17_000
    without_tooltips = re.sub(r"tooltip=\S+", "", graph.source)
    assert max(len(line) for line in without_tooltips.splitlines() if "label=<" in line) < 2000
    if not shutil.which("dot"):
        pytest.skip("rendering needs Graphviz's dot (apt-get install graphviz)")
    svg = draw.save(graph, tmp_path / "long.svg").read_text()
    assert "aaaa…" in svg and long in svg  # shown shortened, hover shows it all


def test_shorten_keeps_both_ends():
    name = "layer_" + "x" * 100 + "_weight"
    shown = pretty_name(name)
    assert len(shown) == MAX_NAME_CHARS and shown.startswith("layer_x") and shown.endswith("weight")
    assert "…" in shown
    assert pretty_name("x0") == "x₀"


def _micrograd_neuron():
    x1, x2 = Value(2.0, name="x1"), Value(0.0, name="x2")
    w1, w2, b = Value(-3.0, name="w1"), Value(1.0, name="w2"), Value(6.8813735870195432, name="b")
    return (x1 * w1 + x2 * w2 + b).tanh(), w2, x2


def test_an_exact_zero_adjoint_is_not_called_vanishing():
    out, w2, x2 = _micrograd_neuron()
    source = draw(out, kind="backward").source
    w2_line = next(line for line in source.splitlines() if "<O>w₂</O>" in line and "label=<" in line)
    assert "exactly zero" in w2_line and COLORS["zero"][0] in w2_line
    assert "vanishing" not in w2_line
    x2_line = next(line for line in source.splitlines() if "<O>x₂</O>" in line and "label=<" in line)
    assert "zero" not in x2_line  # x̄₂ = w₂ · v̄ = 0.5: not zero at all


def test_underflow_through_a_saturated_sigmoid_is_still_vanishing():
    w = Value(60.0, name="w")
    out = (w * Value(1.0, name="x", requires_grad=False)).sigmoid()
    lines = draw(out, kind="backward").source.splitlines()
    line = next(text for text in lines if "<O>w</O>" in text and "label=<" in text)
    assert "vanishing" in line and COLORS["vanishing"][0] in line and "zero" not in line


def test_relu_that_is_off_gives_exact_zero_and_grad_state_defaults_to_vanishing():
    x = Value(-1.0, name="x")
    out = (x * Value(3.0, name="k")).relu() + Value(1.0, name="c")
    from autograd_viz.viz.backward import compute_adjoints
    from autograd_viz.viz.scene import build_scene

    options = DrawOptions()
    scene = build_scene(out, options)
    adjoints = compute_adjoints(scene).value
    assert id(x) in exact_zeros(out, adjoints)
    assert grad_state(0.0, options) == "vanishing"  # a caller that cannot tell keeps the old meaning
    assert grad_state(0.0, options, exact=True) == "zero"
    assert grad_state(0.0, DrawOptions(vanishing=None), exact=True) is None


def test_learning_curve_labels_do_not_sit_on_the_other_panel(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib", reason="pip install 'autograd-viz[plot]'")
    from autograd_viz.train import History, plots

    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    history = History()
    for epoch in range(1, 6):
        history.append({"epoch": epoch, "train_loss": 1 / epoch, "train_accuracy": 0.8 + epoch / 100,
                        "val_loss": 1.1 / epoch, "val_accuracy": 0.79 + epoch / 100})
    plots.plot_learning_curves(history, tmp_path / "lc.png", title="t")
    fig = figures[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = fig.axes
    label = right.yaxis.label.get_window_extent(renderer)
    left_box = left.get_tightbbox(renderer)
    assert label.x0 > left_box.x1, (label, left_box)  # the "accuracy" label clears the loss panel entirely


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("columns", [40, 80, 120])
def test_progress_bar_fits_the_terminal(monkeypatch, columns):
    from autograd_viz.train.progress import ProgressBar

    monkeypatch.setenv("COLUMNS", str(columns))
    stream = _Tty()
    bar = ProgressBar(10, 938, stream)
    bar.update(10, 938, 0.123456, 0.96123, 123456.7)
    redraws = [part for part in stream.getvalue().split("\r") if part]
    assert redraws and all(len(part) < columns for part in redraws), [len(p) for p in redraws]
    assert "epoch 10/10" in redraws[-1]


def test_repeated_at_is_merged_and_a_name_twice_is_refused():
    done = run_cli(["graph", "a*b", "--at", "a=2", "--at", "b=3", "--json"], timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"value": 6.0' in done.stdout
    twice = run_cli(["graph", "a*b", "--at", "a=2,b=1", "--at", "b=3"], timeout=60)
    assert twice.returncode == 2 and "'b' twice" in twice.stderr and "Traceback" not in twice.stderr


def test_mlp_with_one_output_warns():
    done = run_cli(["graph", "--mlp", "2,3,1", "--batch", "4"], timeout=60)
    assert done.returncode == 0, done.stderr
    assert "one output" in done.stderr and "always 0" in done.stderr
    quiet = run_cli(["graph", "--mlp", "2,3,2", "--batch", "4"], timeout=60)
    assert "one output" not in quiet.stderr


def test_graph_to_stdout_is_only_the_drawing(tmp_path):
    done = run_cli(["graph", "a*b", "--at", "a=1,b=2", "-o", "-", "--format", "dot"], timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith("digraph") and "name" not in done.stdout.splitlines()[-1]


@pytest.mark.parametrize("script", ["train_14x14_000.py", "train_batchnorm_dropout.py", "train_init_comparison.py",
                                    "train_regression_002.py", "train_rmsprop_001.py"])
def test_examples_without_data_end_in_one_line_saying_how_to_get_it(script, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / script
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRAD_VIZ_DATA"}
    env.update(XDG_CACHE_HOME=str(tmp_path), AUTOGRAD_VIZ_MIRROR="http://127.0.0.1:9/", AUTOGRAD_VIZ_QUICK="1")
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "To fix:" in lines[0], done.stderr
