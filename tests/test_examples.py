"""Every example in examples/ runs in CI and is listed in examples/README.md.

The drawing examples run here, each in a subprocess with an output folder; the training examples run in their
quick mode in tests/test_train_examples.py and the notebook in tests/test_notebook.py. Any other example runs
here with AUTOGRAD_VIZ_QUICK=1, so a new example is covered the day it is added.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def _run_elsewhere() -> set[str]:
    """The scripts tests/test_train_examples.py runs (its EXAMPLES dict, read without importing it)."""
    path = ROOT / "tests" / "test_train_examples.py"
    if not path.is_file():
        return set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "EXAMPLES" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


ELSEWHERE = _run_elsewhere()
HERE = [name for name in SCRIPTS if name not in ELSEWHERE]


def test_every_example_is_listed_in_the_index() -> None:
    assert ELSEWHERE <= set(SCRIPTS), "tests/test_train_examples.py names a script that is not in examples/"
    index = (EXAMPLES / "README.md").read_text("utf-8")
    for name in [*SCRIPTS, *(p.name for p in EXAMPLES.glob("*.ipynb"))]:
        assert f"[`{name}`]({name})" in index, f"examples/README.md has no line for {name}"
    listed = {line.split("`")[1] for line in index.splitlines() if line.startswith("| [`")}
    assert listed <= {p.name for p in EXAMPLES.iterdir()}, "examples/README.md lists a file that does not exist"


@pytest.mark.parametrize("name", HERE)
def test_example_runs(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "AUTOGRAD_VIZ_QUICK": "1", "MPLBACKEND": "Agg"}
    args = [str(tmp_path)] if name.startswith("draw_") else ["--quick"]
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    if name.startswith("draw_"):
        printed = [Path(line) for line in done.stdout.split()]
        assert printed and all(p.parent == tmp_path and p.stat().st_size > 0 for p in printed), done.stdout
