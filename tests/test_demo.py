"""`autograd-viz demo` end to end: with the shared data (quick), without any data, without matplotlib or a renderer."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograd_viz.check.runner import builtin_files
from autograd_viz.cli import main
from autograd_viz.commands import demo

DATA = os.environ.get("AUTOGRAD_VIZ_DATA")
needs_data = pytest.mark.skipif(not (DATA and Path(DATA, "mnist").is_dir()),
                                reason="set AUTOGRAD_VIZ_DATA to the folder with mnist/ and fashion-mnist/")
PICTURES = [f"notes_{kind}.{ext}" for kind in ("forward", "backward", "both") for ext in ("svg", "png")]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user cache, no Debian data set, and an unreachable mirror: nothing is found or downloaded by accident."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("AUTOGRAD_VIZ_MIRROR", "http://127.0.0.1:9/")
    monkeypatch.setattr("autograd_viz.data.sources.DEBIAN_FASHION", tmp_path / "no-debian-data")
    return home


def _expected_errors() -> int:
    """Claims encoded as printed (expect = "fails") in the quick files: each is a textbook error to report."""
    files = [f for f in builtin_files() if f.name in demo.QUICK_FILES]
    return sum(c.get("expect") == "fails" for f in files for c in tomllib.loads(f.read_text("utf-8"))["claim"])


def _run(args: list[str]):
    return CliRunner().invoke(main, ["demo", *args], catch_exceptions=False)


@needs_data
def test_demo_quick_with_data_writes_everything_and_an_index(tmp_path: Path, isolated: Path) -> None:
    out = tmp_path / "out"
    result = _run(["--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    names = ["check_report.md", "history.csv", "metrics.json", "learning_curves.png", "confusion_matrix.png",
             "index.md", *PICTURES]
    for name in names:
        assert (out / name).stat().st_size > 0, name
        assert f"  {name}" in result.output  # listed in the printed index
    for name in [n for n in names if n.endswith(".png")]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert all(f"[{k}/3]" in result.output for k in (1, 2, 3))
    # the shared data has no MNIST training images: it must say what it used instead and why
    assert "data: the MNIST test-set split" in result.output and "could not be had" in result.output
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    cm = metrics["confusion_matrix"]
    assert sum(map(sum, cm)) == metrics["test_samples"] == 2000
    assert metrics["test_accuracy"] == pytest.approx(sum(cm[i][i] for i in range(10)) / 2000)
    assert metrics["test_accuracy"] > 0.6  # 1,800 digits, 2 epochs: far above chance (0.1)
    report = (out / "check_report.md").read_text("utf-8")
    assert f"## Textbook errors found: {_expected_errors()}" in report
    assert "Correct: (yhat - y) dyhat/dw" in report  # the file's corrected claim is paired with the printed one
    assert not list(isolated.rglob("*.gz"))  # nothing was downloaded


def test_demo_without_data_draws_and_checks_and_prints_one_hint(tmp_path: Path, isolated: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOGRAD_VIZ_DATA", raising=False)
    out = tmp_path / "out"
    result = _run(["--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    for name in ["check_report.md", "index.md", *PICTURES]:
        assert (out / name).is_file(), name
    assert not (out / "metrics.json").exists() and not (out / "history.csv").exists()
    hint_lines = [line for line in result.output.splitlines() if "AUTOGRAD_VIZ_DATA" in line]
    assert len(hint_lines) == 1  # said once, as the closing note (the step line points to it)
    assert all(demo.DATA_HINT in line for line in hint_lines)
    assert "skipped: training skipped" not in result.output
    assert any(line.strip().startswith("skipped: no MNIST data") for line in result.output.splitlines())
    assert not list(isolated.rglob("*.gz"))


@needs_data
def test_demo_without_matplotlib_names_the_plot_extra(tmp_path: Path, isolated: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("autograd_viz.train.have_matplotlib", lambda: False)
    out = tmp_path / "out"
    result = _run(["--out", str(out), "--quick", "--limit", "300", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "autograd-viz[plot]" in result.output and "matplotlib" in result.output
    assert not (out / "learning_curves.png").exists() and (out / "history.csv").is_file()
    assert json.loads((out / "metrics.json").read_text("utf-8"))["train_samples"] == 270  # 300 less 10% held out


def test_demo_without_a_renderer_writes_dot_and_says_how(tmp_path: Path, isolated: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # the package attribute autograd_viz.draw is the draw() function: patch the module itself
    monkeypatch.setattr(sys.modules["autograd_viz.viz"], "available", lambda: {})
    run = demo.Run(tmp_path, lambda _line: None)
    demo.draw_notes_example(run)
    assert sorted(p.name for p, _ in run.written) == sorted(f"notes_{k}.dot" for k in ("forward", "backward", "both"))
    assert "cluster_backward" in (tmp_path / "notes_both.dot").read_text("utf-8")
    assert any("graphviz" in note for note in run.notes)


def test_demo_refuses_bad_options(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path), "--epochs", "0"])
    assert result.exit_code == 2 and "--epochs" in result.output


def test_demo_exits_1_when_a_verdict_disagrees(tmp_path: Path, isolated: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('title = "t"\n[symbols]\nx = "real"\n[[claim]]\nname = "d/dx x^2 = x"\nlhs = "diff(x**2, x)"\n'
                     'rhs = "x"\n', encoding="utf-8")
    monkeypatch.setattr("autograd_viz.check.runner.builtin_files", lambda: [wrong])
    monkeypatch.setattr(demo, "QUICK_FILES", ("wrong.toml",))
    monkeypatch.delenv("AUTOGRAD_VIZ_DATA", raising=False)
    result = _run(["--out", str(tmp_path / "out"), "--quick", "--offline"])
    assert result.exit_code == 1
    assert "! verdicts that disagree with the files' expectations: 1" in result.output
    report = (tmp_path / "out" / "check_report.md").read_text("utf-8")
    assert "## Verdicts that disagree with the file: 1" in report and "d/dx x^2 = x" in report
