"""Worked solutions: the chain-rule derivation of any graph, step by step, symbolic and numeric, checked.

``autograd_viz.explain`` is the function :func:`explain` (the package ``__init__`` resolves it lazily and keeps the
submodule from shadowing it), while ``autograd_viz.explain.core`` and friends import as usual.

>>> from autograd_viz.viz.examples import notes_example
>>> explain(notes_example(), format="json")["gradients"]["a"]["value"]
-0.25
"""

from __future__ import annotations

from typing import Any

from autograd_viz.explain.core import Derivation, ExplainError, derive
from autograd_viz.graph import Node

FORMATS = ("md", "tex", "json")


def explain(root: Node, wrt: list[str] | str | None = None, format: str = "md", unroll: bool = False,
            expression: str | None = None) -> Any:
    """The worked solution of ``root``'s graph (``Value`` or ``Tensor``): the text (``"md"``, ``"tex"``) or the
    JSON dict (``"json"``). ``wrt`` names the inputs whose gradients to derive (default: all that require
    grad); ``unroll`` rebuilds a small tensor graph with one ``Value`` per entry and explains that instead.

    Runs ``root.backward()`` (leaf gradients are reset first). Every number and formula is cross-checked
    before it is returned; a failed check raises :class:`ExplainError`.
    """
    from autograd_viz.explain import render

    if format not in FORMATS:
        raise ExplainError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
    names = [w.strip() for w in wrt.split(",") if w.strip()] if isinstance(wrt, str) else wrt
    if unroll:
        from autograd_viz.explain.unroll import explain_unrolled

        return explain_unrolled(root, names, format)
    derivation = derive(root, names, expression)
    if format == "json":
        return render.to_json(derivation)
    return render.markdown(derivation) if format == "md" else render.latex(derivation)


__all__ = ["FORMATS", "Derivation", "ExplainError", "derive", "explain"]
