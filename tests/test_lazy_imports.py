"""``import autograd_viz`` and ``autograd-viz --help`` stay light: the heavy packages load only when used.

Each check runs in a fresh interpreter (the test process has long since imported everything), and the lists of
loaded modules are compared, so putting an eager ``import graphviz`` back anywhere on these paths fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import autograd_viz
from autograd_viz import cli

#: modules the package itself must not load: optional/heavy third-party packages and the non-engine layers
HEAVY = ("graphviz", "matplotlib", "sympy", "click", "autograd_viz.viz", "autograd_viz.check", "autograd_viz.nn",
         "autograd_viz.optim", "autograd_viz.data", "autograd_viz.train", "autograd_viz.commands",
         "autograd_viz.cli")


def loaded_after(code: str) -> list[str]:
    """Names of every module loaded in a fresh interpreter after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def heavy_in(modules: list[str], heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in heavy)]


@pytest.mark.parametrize("statement", ["import autograd_viz", "import autograd_viz.graph",
                                       "import autograd_viz.errors", "from autograd_viz import Value, Tensor"])
def test_import_loads_no_heavy_package(statement: str) -> None:
    assert heavy_in(loaded_after(statement)) == []


def test_import_autograd_viz_does_not_load_numpy() -> None:
    # the CLI's --help imports the package (through autograd_viz.errors): it must not pay for NumPy either
    assert heavy_in(loaded_after("import autograd_viz"), ("numpy",)) == []


def test_lazy_names_load_what_they_need() -> None:
    # the laziness is real: reading the name is what imports the drawing package and Graphviz
    modules = loaded_after("import autograd_viz; autograd_viz.draw")
    assert "autograd_viz.viz" in modules and "graphviz" in modules


def test_every_public_name_resolves_in_a_fresh_interpreter() -> None:
    script = ("import autograd_viz, types\n"
              "for name in autograd_viz.__all__:\n"
              "    value = getattr(autograd_viz, name)\n"
              "    assert not isinstance(value, types.ModuleType), name\n"
              "assert callable(autograd_viz.draw.save) and callable(autograd_viz.draw.render)\n"
              "import autograd_viz.gradcheck\n"  # the submodule import must not replace the function
              "import sys\n"
              "assert sys.modules['autograd_viz.gradcheck'].gradcheck is autograd_viz.gradcheck\n"
              "assert autograd_viz.gradcheck.__module__ == 'autograd_viz.gradcheck'\n"
              "from autograd_viz import gradcheck\n"
              "assert callable(gradcheck) and not isinstance(gradcheck, types.ModuleType)\n"
              "print('ok')")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_public_names_are_the_real_objects() -> None:
    from autograd_viz.graph import no_grad
    from autograd_viz.scalar import Value
    from autograd_viz.symbolic import to_sympy
    from autograd_viz.tensor import Tensor
    from autograd_viz.viz import draw

    assert (autograd_viz.Value, autograd_viz.Tensor, autograd_viz.draw) == (Value, Tensor, draw)
    assert (autograd_viz.no_grad, autograd_viz.to_sympy) == (no_grad, to_sympy)
    assert set(autograd_viz.__all__) <= set(dir(autograd_viz))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        autograd_viz.not_a_name  # noqa: B018


def test_submodules_read_as_attributes() -> None:
    import autograd_viz.nn as nn_module

    assert autograd_viz.nn is nn_module
    assert hasattr(autograd_viz.viz, "draw")


def test_help_imports_no_command_module() -> None:
    code = ("import sys\nsys.argv = ['autograd-viz', '--help']\nfrom autograd_viz.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    modules = loaded_after(code)
    assert heavy_in(modules, ("autograd_viz.commands", "numpy", "sympy", "graphviz")) == []


def test_every_command_has_its_short_help_in_the_registry() -> None:
    assert sorted(cli.SHORT_HELP) == sorted(cli.COMMANDS)


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
@pytest.mark.parametrize("limit", [20, 45, 56, 74, 120])
def test_registry_short_help_equals_the_commands_own(name: str, limit: int) -> None:
    listed = cli.listed_command(name)
    real = cli.load_command(name)
    assert listed is not real  # the stand-in, not the imported command
    assert listed.get_short_help_str(limit) == real.get_short_help_str(limit)


def test_help_lists_what_the_commands_would_say(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = CliRunner().invoke(cli.main, ["--help"], terminal_width=80)
    # click's own listing: imports every command and asks it for its short help
    monkeypatch.setattr(cli._LazyGroup, "format_commands", click.Group.format_commands)
    eager = CliRunner().invoke(cli.main, ["--help"], terminal_width=80)
    assert lazy.exit_code == eager.exit_code == 0
    assert lazy.output == eager.output
    for name in cli.COMMANDS:
        assert f"\n  {name} " in lazy.output
