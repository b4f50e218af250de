"""Errors have one home: every exception a user can catch is a subclass of AutogradVizError defined in errors.py."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil

import pytest

import autograd_viz
from autograd_viz import errors

#: control flow inside the checker, explain and the torch bridge: caught where raised, never reach a user
INTERNAL = {
    "autograd_viz.check.budget.BudgetExceeded",
    "autograd_viz.check.engine.Unsupported",
    "autograd_viz.check.montecarlo.Unsupported",
    "autograd_viz.explain.budget._TimeUp",
    "autograd_viz.check.matrixexpr.NotMatrixAlgebra",
    "autograd_viz.check.model.NeedsSizes",
    "autograd_viz.torch.mappers._Unmappable",
}


def _exceptions_defined_in_the_package() -> dict[str, type[BaseException]]:
    pytest.importorskip("graphviz", reason="the drawing package needs graphviz (pip install -e .)")
    pytest.importorskip("sympy", reason="the checker needs sympy (pip install -e .)")
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(autograd_viz.__path__, "autograd_viz."):
        try:
            module = importlib.import_module(info.name)
        except errors.MissingDependencyError:  # the PyTorch bridge without torch installed
            assert info.name.startswith("autograd_viz.torch.")
            continue
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and not issubclass(obj, Warning)
                    and obj.__module__ == info.name):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_error_is_an_autograd_viz_error_defined_in_errors_py() -> None:
    found = _exceptions_defined_in_the_package()
    assert "autograd_viz.errors.ConfigError" in found  # the walk does see errors.py
    for qualified, cls in found.items():
        if qualified in INTERNAL:
            continue
        assert issubclass(cls, errors.AutogradVizError), f"{qualified} is not an AutogradVizError"
        assert cls.__module__ == "autograd_viz.errors", f"{qualified}: define it in autograd_viz/errors.py"


def test_the_exception_lists_name_classes_that_exist() -> None:
    found = _exceptions_defined_in_the_package()
    expected = set(INTERNAL)
    if importlib.util.find_spec("torch") is None:  # the bridge's modules cannot be imported without torch
        expected = {name for name in expected if not name.startswith("autograd_viz.torch.")}
    stale = sorted(expected - set(found))
    assert not stale, f"no longer defined there (moved?): remove from this test's lists: {stale}"


def test_errors_py_classes_say_what_went_wrong() -> None:
    classes = [obj for obj in vars(errors).values() if inspect.isclass(obj) and issubclass(obj, BaseException)]
    assert len(classes) >= 12
    for cls in classes:
        assert issubclass(cls, errors.AutogradVizError)
        assert cls.__doc__ and len(cls.__doc__.split()) >= 6, f"{cls.__name__} needs a docstring saying when"
    # the standard base of each lets `except ValueError` / `except ImportError` code keep working
    assert issubclass(errors.ConfigError, ValueError) and issubclass(errors.ModelError, ValueError)
    assert issubclass(errors.OptimizerError, ValueError)
    assert issubclass(errors.MissingDependencyError, ImportError)
