"""The step-through page without a browser: its steps against the engine, the sentences, the page's HTML (one
file, nothing fetched), the save hooks, the CLI (-o .html/.gif, --frames, --quiz) and the errors."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from stepper_cases import CASES, check_steps, fan_out, tanh_neuron, tensor_mlp

from autograd_viz import Value, draw
from autograd_viz.cli import main
from autograd_viz.viz import available
from autograd_viz.viz.stepper import Stepper, StepperError, page_data
from autograd_viz.viz.style import DrawError

needs_renderer = pytest.mark.skipif(not available(), reason="needs a Graphviz renderer: pip install graphviz-pure "
                                                             "(a dependency) or apt-get install graphviz")
NOTES = "0.5*(sigmoid(a*x0+b)-y0)**2"
AT = "a=0.5,b=-1,x0=2,y0=1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_step_carries_the_engines_numbers(name: str) -> None:
    root = CASES[name]()
    check_steps(root, Stepper(root).steps)


def test_the_notes_sentences() -> None:
    texts = [s["text"] for s in Stepper(CASES["notes"]()).steps]
    assert "z = v₁ + b = 1 + (−1) = 0" in texts
    assert "y = σ(z) = σ(0) = 0.5" in texts
    assert "z̅ += y̅ · σ(z)(1−σ(z)) = −0.5 × 0.25 = −0.125" in texts
    assert "a̅ += v̅₁̅ · x₀ = −0.125 × 2 = −0.25" in texts
    assert texts.index("L̅ = 1: the backward pass starts at the output (∂L/∂L = 1)") == 10  # after 10 forward steps


def test_fan_out_shows_the_running_sum() -> None:
    steps = Stepper(fan_out()).steps
    into_a = [s for s in steps if s["node"] == "g0"]
    assert [s["total"] for s in into_a] == [1.0, 3.0, 5.0]
    assert into_a[-1]["text"].endswith("a̅ = 1 + 2 + 2 = 5 (all 3 paths)")
    assert [s["edge"] for s in into_a] == ["b2_1", "b1_0", "b1_1"]  # a*a: one edge per input slot
    assert [s["complete"] for s in into_a] == [False, False, True]


def test_tanh_neuron_matches_micrograds_figures() -> None:
    steps = Stepper(tanh_neuron()).steps
    final = {s["node"]: s["total"] for s in steps if s["kind"] == "backward"}
    names = {s["node"]: s["text"].split(" ")[0] for s in steps if s["kind"] == "forward"}
    by_name = {names["n" + k[1:]]: v for k, v in final.items()}
    assert by_name["w₁"] == pytest.approx(1.0) and by_name["x₁"] == pytest.approx(-1.5)
    assert by_name["x₂"] == pytest.approx(0.5) and by_name["w₂"] == pytest.approx(0.0, abs=1e-12)
    assert by_name["n"] == pytest.approx(0.5) and by_name["o"] == 1.0


def test_tensor_steps_name_the_matrix_form_and_the_broadcast_sum() -> None:
    steps = Stepper(tensor_mlp()).steps
    texts = [s["text"] for s in steps]
    assert any("@ fc2.weightᵀ" in t for t in texts), texts  # h̄ = ȳ @ Wᵀ
    assert any(t.startswith("∂loss/∂fc1.weight += xᵀ @ v̅₁̅ → (3, 5)") for t in texts), texts
    broadcast = "Σ over the broadcast batch axis: (4, 5) → (5,)"
    assert any(t.startswith("∂loss/∂fc1.bias += v̅₂̅ · 1") and broadcast in t for t in texts)
    assert all(len(s["array"]) == math.prod(s["shape"]) for s in steps if "array" in s)


def test_quiz_data_names_the_missing_path_and_the_sign() -> None:
    last = [s for s in Stepper(fan_out(), quiz=True).steps if s["node"] == "g0"][-1]
    quiz = last["quiz"]
    assert quiz["answer"] == 5.0
    hints = {value: text for value, text in quiz["hints"]}
    assert len(hints) == len(quiz["hints"])  # one hint per wrong value: the page shows the first match
    assert "missing the path through L" in hints[4.0]  # 5 − 1: forgot L = v₁ + a's direct path
    assert "missing the path through v₁" in hints[3.0]
    assert "sign" in hints[-5.0]
    assert all(abs(v - 5.0) > 0.025 for v in hints)  # no hint for the right answer


@needs_renderer
def test_the_page_is_one_file_that_fetches_nothing(tmp_path: Path) -> None:
    stepper = Stepper(tensor_mlp())
    page = stepper.html()
    assert "default-src 'none'" in page  # the browser refuses any request the page might make
    without_namespaces = re.sub(r'xmlns(:xlink)?="http://www\.w3\.org/[^"]*"', "", page)
    assert not re.search(r"https?://", without_namespaces)
    assert not re.search(r"<link|@import|url\(|\bsrc=", page, re.I)
    ids = set(re.findall(r'\bid="([^"]+)"', page))
    for step in stepper.steps:
        assert step["node"] in ids
        assert step["edge"] is None or step["edge"] in ids
        assert all(e in ids for e in step.get("inputs", []))
    assert {c["id"] for c in page_data(stepper.model)["clusters"]} <= ids
    assert len({c["name"] for c in stepper.model.clusters}) == 2  # fc1 and fc2, forward and backward


@needs_renderer
def test_draw_save_html_is_the_stepper_page(tmp_path: Path) -> None:
    root = CASES["notes"]()
    graph = draw(root)
    graph.save(str(tmp_path / "a.html"))
    draw.save(graph, tmp_path / "b.html")
    expected = Stepper(root).html()
    assert (tmp_path / "a.html").read_text("utf-8") == expected == (tmp_path / "b.html").read_text("utf-8")
    graph.save(str(tmp_path / "g.dot"))  # graphviz's own save still writes DOT
    assert (tmp_path / "g.dot").read_text("utf-8") == graph.source


@needs_renderer
def test_jupyter_shows_the_page_in_an_iframe() -> None:
    stepper = Stepper(fan_out())
    shown = stepper._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"")
    assert html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0]) == stepper.html()


def test_errors_are_one_clear_line() -> None:
    with pytest.raises(DrawError, match="does not depend on anything that requires grad"):
        Stepper(Value(1.0, requires_grad=False) * 2)
    with pytest.raises(StepperError, match=r"\.html .*\.gif"):
        Stepper(fan_out()).save("steps.txt")


def run(*args: str):
    return CliRunner().invoke(main, ["graph", *args])


@needs_renderer
def test_cli_page_quiz_gif_and_frames(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    result = run(NOTES, "--at", AT, "--params", "a,b", "-o", str(page))
    assert result.exit_code == 0, result.output
    assert "window.autogradViz" in page.read_text("utf-8") and "(page, 20 steps)" in result.output
    quiz = tmp_path / "quiz.html"
    assert run(NOTES, "--at", AT, "--quiz", "-o", str(quiz)).exit_code == 0
    assert '"quiz":true' in quiz.read_text("utf-8")
    pytest.importorskip("PIL", reason="frames and GIFs need Pillow: pip install -e '.[test]'")
    from PIL import Image

    gif, frames = tmp_path / "steps.gif", tmp_path / "frames"
    result = run(NOTES, "--at", AT, "-o", str(gif), "--frames", str(frames))
    assert result.exit_code == 0, result.output
    with Image.open(gif) as image:
        assert image.n_frames == 20
    pngs = sorted(frames.glob("step_*.png"))
    assert len(pngs) == 20
    sizes = {Image.open(p).size for p in pngs}
    assert len(sizes) == 1  # the boxes keep their place: every frame has the same size


@needs_renderer
def test_cli_mlp_page(tmp_path: Path) -> None:
    page = tmp_path / "mlp.html"
    result = run("--mlp", "6,4,3", "--batch", "2", "-o", str(page))
    assert result.exit_code == 0, result.output
    assert "Σ over the broadcast batch axis" in page.read_text("utf-8")


def test_cli_quiz_without_a_page_is_an_error() -> None:
    result = run("a*a + a", "--at", "a=2", "--quiz", "-o", "x.svg")
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == "error: --quiz makes a page: add -o QUIZ.html"


def test_a_collapsed_graph_still_sums_every_path() -> None:
    """Past max_nodes, contributions through values not drawn are steps without an edge; every drawn adjoint's
    last total is still the engine's gradient."""
    x = [Value(float(k + 1) / 7, name=f"x{k}", role="input") for k in range(6)]
    h = [(xi * (k + 1) + x[0]).tanh() for k, xi in enumerate(x)]
    loss = sum(h[1:], h[0]) * x[0]
    stepper = Stepper(loss, max_nodes=16)
    assert stepper.model.scene.hidden > 0
    loss.backward()
    last = {s["node"]: s for s in stepper.steps if s["kind"] == "backward"}
    scene = stepper.model.scene
    checked = 0
    for node in scene.nodes:
        step = last.get(f"g{scene.key(node)}")
        if step is not None:
            assert step["total"] == pytest.approx(node.grad, rel=1e-12, abs=0), step["text"]
            checked += 1
    assert checked >= 5
    hidden = [s for s in stepper.steps if s["kind"] == "backward" and s["edge"] is None][1:]  # after the seed
    assert hidden and all("through values not drawn" in s["text"] for s in hidden)
