"""The README stays true: its commands and flags exist, its pictures exist, its Python and TOML examples run and
give what it says, the test command is where .ci/run reads it, and its comparison figures come from BENCHMARKS.md."""

from __future__ import annotations

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


def test_test_command_is_two_lines_below_the_marker() -> None:
    lines = README.splitlines()
    marker = lines.index("<!-- test-command -->")
    assert lines[marker + 1] == "```bash"
    assert lines[marker + 2] == 'pip install -e ".[test]" && python -m pytest -q'  # what .ci/run executes


def test_first_command_installs_everything_the_demo_uses() -> None:
    first = _blocks("bash")[0].strip()
    assert first == 'pip install -e ".[all]" && autograd-viz demo'
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["optional-dependencies"]
    assert set(extras["plot"]) <= set(extras["all"])
    assert {"nbclient", "nbformat", "ipykernel"} <= {re.split(r"[<>=!~ ]", d)[0] for d in extras["test"]}


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


def test_python_example_runs_and_backward_semantics_are_stated() -> None:
    code = next(body for body in _blocks("python") if "from autograd_viz import" in body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.split()[0]) == pytest.approx(0.0027306, rel=1e-4)  # 3 σ(7)(1 − σ(7))
    sentence = " ".join(README.split())
    assert ("intermediate gradients are recomputed each time, leaf gradients accumulate like PyTorch until "
            "`zero_grad()`") in sentence


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
