"""The README stays true: its commands and flags exist, its pictures exist, its Python and TOML examples run and
give what it says, the test command is where .ci/run reads it, and its comparison figures come from BENCHMARKS.md."""

from __future__ import annotations

import math
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from autograd_viz.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text("utf-8")
BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README) if lang == language]


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start:end if end != -1 else None]


def _extras() -> dict[str, set[str]]:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    return {name: {re.split(r"[<>=!~ \[]", d)[0].lower() for d in deps} for name, deps in extras.items()}


def _installed_extra(command: str) -> str:
    """The extra a README ``pip install -e ".[extra]" && ...`` line installs."""
    match = re.match(r'pip install -e "\.\[([a-z,]+)\]" && ', command)
    assert match, f"not a `pip install -e \".[extra]\" && ...` line: {command!r}"
    return match.group(1)


def test_ci_reads_a_pytest_run_with_the_test_extra_from_the_readme() -> None:
    # .ci/run takes the line two below the marker (sed '/<!-- test-command -->/{n;n;p;}'): do the same here
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "sed -n '/<!-- test-command -->/{n;n;p;}' README.md" in ci
    lines = README.splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1] == "```bash" and lines[marker + 3] == "```"  # shown to readers as one command
    command = lines[marker + 2]
    assert _installed_extra(command) == "test"
    runner = shlex.split(command.split("&&", 1)[1])
    assert runner[:3] == ["python", "-m", "pytest"]
    assert "pytest" in _extras()["test"]


def test_first_command_installs_everything_the_demo_imports() -> None:
    first = _blocks("bash")[0].strip()
    extra = _installed_extra(first)
    assert shlex.split(first.split("&&", 1)[1]) == ["autograd-viz", "demo"]
    # every optional package the demo and the training it runs import must come with that extra
    demo_sources = "".join((ROOT / "autograd_viz" / path).read_text("utf-8")
                           for path in ("commands/demo.py", "train/plots.py", "train/threads.py"))
    optional = {name for name in ("matplotlib", "threadpoolctl") if re.search(rf"\bimport {name}\b|from {name}\b",
                                                                              demo_sources)}
    assert optional == {"matplotlib", "threadpoolctl"}
    assert optional <= _extras()[extra]
    assert _extras()["plot"] <= _extras()[extra]
    assert {"nbclient", "nbformat", "ipykernel"} <= _extras()["test"]  # tests/test_notebook.py runs the notebook


def _cli_lines() -> list[list[str]]:
    return [shlex.split(line) for body in _blocks("bash") for line in body.splitlines()
            if line.startswith("autograd-viz ") or " && autograd-viz " in line]


@pytest.mark.parametrize("argv", _cli_lines(), ids=lambda argv: " ".join(argv)[:60])
def test_readme_commands_and_flags_exist(argv: list[str]) -> None:
    argv = argv[argv.index("autograd-viz") + 1:]
    assert argv[0] in COMMANDS, f"README runs `autograd-viz {argv[0]}`, which is not a command"
    with click.Context(main) as ctx:
        command = main.get_command(ctx, argv[0])
    assert command is not None
    options = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for token in argv[1:]:
        if token.startswith("-"):
            assert token.split("=")[0] in options, f"`autograd-viz {argv[0]}` has no option {token}"


def test_every_picture_exists_and_is_relative() -> None:
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(pictures) >= 4
    for path in pictures:
        assert not path.startswith(("/", "http")), path
        assert (ROOT / path).is_file(), f"README shows {path}, which does not exist"


def test_python_example_runs_and_prints_the_derivative_its_comment_gives() -> None:
    code = next(body for body in _blocks("python") if "from autograd_viz import" in body)
    assert "# dy/da = 3 σ(7)(1 − σ(7))" in code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    s = 1.0 / (1.0 + math.exp(-7.0))
    assert float(done.stdout.split()[0]) == pytest.approx(3 * s * (1 - s), rel=1e-12)


def test_repeated_backward_recomputes_intermediates_and_accumulates_leaves() -> None:
    """What the README says about calling backward() more than once, checked on both engines."""
    import numpy as np

    from autograd_viz import Tensor, Value

    a = Value(2.0, name="a")
    h = a * 3 + 1
    y = h.sigmoid()
    s = 1.0 / (1.0 + math.exp(-7.0))
    for times in (1, 2, 3):
        y.backward()
        assert h.grad == pytest.approx(s * (1 - s), rel=1e-12)  # recomputed, not summed
        assert a.grad == pytest.approx(times * 3 * s * (1 - s), rel=1e-12)  # accumulated
    a.zero_grad()
    y.backward()
    assert a.grad == pytest.approx(3 * s * (1 - s), rel=1e-12)

    w = Tensor(np.array([1.0, -2.0]), requires_grad=True, name="w")
    z = w * w
    loss = z.sum()
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(z.grad, [1.0, 1.0])
    np.testing.assert_allclose(w.grad, 2 * (2 * w.data))
    w.zero_grad()
    loss.backward()
    np.testing.assert_allclose(w.grad, 2 * w.data)


def test_derivation_format_example_gives_the_verdicts_the_readme_shows(tmp_path: Path) -> None:
    from autograd_viz.check import check_file

    path = tmp_path / "mine.toml"
    path.write_text(_blocks("toml")[0], encoding="utf-8")
    verdicts = {c.name: c.verdict for c in check_file(path, jobs=1).claims}
    assert verdicts == {"abar = (y0 - y) sigma'(z) x0": "refuted", "sigma' <= 1/4 everywhere": "numerical"}
    shown = _section("Check a derivation")
    for name, verdict in verdicts.items():
        assert re.search(re.escape(name) + r"\s+" + verdict, shown), (name, verdict)


def test_comparison_figures_are_quoted_from_benchmarks() -> None:
    benchmarks = (ROOT / "BENCHMARKS.md").read_text("utf-8")
    comparison = _section("Compared with micrograd, torchviz and SymPy")
    brackets = re.findall(r'\[("[^\]]*)\]', comparison)  # ["Section one", "Section two"] after each claim
    cited = [title for bracket in brackets for title in re.findall(r'"([^"]+)"', bracket)]
    assert len(cited) >= 4
    for title in cited:
        assert f"## {title}" in benchmarks, f"README cites a BENCHMARKS.md section {title!r} that does not exist"
    for figure in re.findall(r"\d+(?:\.\d+)?(?=\s*(?:µs|s\b|×|%))", comparison):
        assert figure in benchmarks, f"README quotes {figure} but BENCHMARKS.md does not have it"


def test_render_a_graph_command_prints_the_table_the_readme_shows(tmp_path: Path) -> None:
    """The first command of "Render a graph" (named steps, as the picture shows them) prints the README's table,
    and its drawing names the boxes z, y and L as the picture does."""
    from click.testing import CliRunner

    section = _section("Render a graph")
    bodies = BLOCK.findall(section)
    command = next(body for lang, body in bodies if lang == "bash").strip()
    shown = next(body for lang, body in bodies if lang == "").strip()
    argv = shlex.split(command)[1:]
    argv[argv.index("-o") + 1] = str(tmp_path / "notes_both.dot")
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    printed = [line.split() for line in result.stdout.strip().splitlines()]
    assert printed == [line.split() for line in shown.splitlines()]
    dot = (tmp_path / "notes_both.dot").read_text("utf-8")
    for label in ("<B>z</B>", "<B>y</B>", "<B>L</B>", "σ(z)"):
        assert label in dot, f"the drawing has no {label}"


def test_the_named_mistake_example_prints_the_table_the_readme_shows(tmp_path: Path) -> None:
    """The mse.toml example (matrix entries named W[0, 0]): the README's table is the checker's, seconds aside."""
    from autograd_viz.check import check_file
    from autograd_viz.check import report as fmt
    from autograd_viz.check.results import CheckReport

    toml = next(b for b in _blocks("toml") if "Mean squared error in matrix form" in b)
    path = tmp_path / "mse.toml"
    path.write_text(toml, encoding="utf-8")
    printed = fmt.table(CheckReport([check_file(path, jobs=1)])).split("\n\n")[0]
    shown = next(b for lang, b in BLOCK.findall(README) if not lang and b.startswith("file ") and "mse.toml" in b)

    def seconds_aside(text: str) -> list[str]:
        return [re.sub(r"\s+\d+\.\d\d$", "", line) for line in text.strip().splitlines()]

    assert "W[0, 0] = " in shown and "W_0_0" not in shown
    assert seconds_aside(printed) == seconds_aside(shown)
