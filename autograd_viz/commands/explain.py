"""``autograd-viz explain``: the worked solution of a formula or named-step program at a point, checked.

Prints Markdown (default), a LaTeX fragment or JSON; ``--toml FILE`` also writes the derived gradients as a
derivation file that ``autograd-viz check FILE`` proves.
"""

from __future__ import annotations

import json
from typing import Any

import click

from autograd_viz.commands.options import parse_assignments
from autograd_viz.explain import FORMATS


@click.command("explain")
@click.argument("expr")
@click.option("--at", "at", default="", metavar="NAME=VALUE,...", help="Input values, e.g. a=0.5,b=-1,x0=2,y0=1.")
@click.option("--wrt", default="", metavar="NAMES", help="Inputs to differentiate by (default: all), e.g. a,b.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="Markdown with $…$ math, a LaTeX align fragment, or JSON.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the solution to FILE (atomically).")
@click.option("--toml", "toml_path", type=click.Path(dir_okay=False),
              help="Also write the derived gradients as a derivation file (prove it with autograd-viz check).")
@click.option("--step", default=None, metavar="NAME", help="With FILE.toml: explain this [define] step, not the last.")
@click.option("--unroll", is_flag=True, help="Tensor expressions: one Value per entry (shapes up to 4×4).")
@click.option("--shapes", default="", metavar="NAME=RxC,...",
              help="--unroll: tensor inputs and shapes, e.g. X=4x4,W=4x3.")
@click.option("--seed", type=int, default=0, show_default=True, help="--unroll: seed of the random tensor inputs.")
@click.option("--targets", default=None, metavar="I,J,...",
              help="--unroll: class indices for cross_entropy(Z) (default: row i gets class i mod C).")
@click.option("--draw", "draw_path", type=click.Path(dir_okay=False),
              help="Also draw the explained graph (the unrolled scalar graph with --unroll): .dot .svg .png .pdf.")
def explain_command(expr: str, at: str, wrt: str, fmt: str, output: str | None, toml_path: str | None,
                    step: str | None, unroll: bool, shapes: str, seed: int, targets: str | None,
                    draw_path: str | None) -> None:
    """Write the worked solution of EXPR at the --at values, every number and formula cross-checked.

    The chain-rule derivation as a teacher writes it: the forward table, the backward pass node by node, the
    gradients as formulas and numbers.

    EXPR is a formula, named steps ("z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2", the last step being the
    output) or a derivation FILE.toml (its [define] chain).

    Example: autograd-viz explain "z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2" --at a=0.5,b=-1,x0=2,y0=1
    """
    from autograd_viz import steps
    from autograd_viz.explain import ExplainError, derive, render

    names = [w.strip() for w in wrt.split(",") if w.strip()] or None
    if step is not None and not expr.endswith(".toml"):
        raise ExplainError("--step applies to a derivation FILE.toml")
    if unroll:
        from autograd_viz.explain.unroll import build_tensor_program, explain_unrolled

        if toml_path:
            raise ExplainError("--toml and --unroll cannot be combined")
        classes = _parse_targets(targets) if targets is not None else None
        root, _ = build_tensor_program(expr, parse_shapes(shapes), parse_assignments(at), seed, classes)
        result = explain_unrolled(root, names, fmt, expression=expr, draw_path=draw_path)
        if draw_path:
            click.echo(f"wrote {draw_path}", err=True)
        text = json.dumps(result, indent=2, ensure_ascii=False) if fmt == "json" else result
    else:
        if shapes or targets is not None:
            raise ExplainError("--shapes and --targets apply to --unroll")
        values = parse_assignments(at)
        if expr.endswith(".toml"):
            root, _ = steps.build_toml(expr, values, output=step)
        else:
            root, _ = steps.build_steps(expr, values)
        derivation = derive(root, names, expression=expr.strip())
        if fmt == "json":
            text = json.dumps(render.to_json(derivation), indent=2, ensure_ascii=False)
        else:
            text = render.markdown(derivation) if fmt == "md" else render.latex(derivation)
        if draw_path:
            from autograd_viz.viz import draw

            draw.save(draw(root, kind="both"), draw_path)  # type: ignore[attr-defined]  # save is set on draw
            click.echo(f"wrote {draw_path}", err=True)
        if toml_path:
            from autograd_viz.explain.proof import derivation_toml
            from autograd_viz.io import atomic_write_text

            atomic_write_text(toml_path, derivation_toml(derivation))
            click.echo(f"wrote {toml_path} (prove it: autograd-viz check {toml_path})", err=True)
    if output:
        from autograd_viz.io import atomic_write_text

        atomic_write_text(output, text if text.endswith("\n") else text + "\n")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text.rstrip("\n"))


def unrolled_graph(expr: str, shapes: str, at: dict[str, float], seed: int) -> tuple[Any, list[Any]]:
    """For ``graph EXPR --unroll X=4x4,...``: the unrolled scalar graph of a tensor program and its entry inputs."""
    from autograd_viz.explain.unroll import build_tensor_program, unroll

    root, _ = build_tensor_program(expr, parse_shapes(shapes), at, seed)
    scalar, inputs, _ = unroll(root)
    return scalar, [v for entries in inputs.values() for v in entries.reshape(-1)]


def _parse_targets(text: str) -> list[int]:
    from autograd_viz.explain import ExplainError

    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ExplainError(f"--targets {text!r}: expected class indices such as 0,2,1,0") from None


def parse_shapes(text: str) -> dict[str, tuple[int, ...]]:
    """``"X=4x4,W=4x3,b=3"`` -> ``{"X": (4, 4), "W": (4, 3), "b": (3,)}``; errors name the item."""
    from autograd_viz.explain import ExplainError

    shapes: dict[str, tuple[int, ...]] = {}
    for k, item in enumerate(t for t in text.split(",") if t.strip()):
        name, sep, raw = item.partition("=")
        name = name.strip()
        try:
            dims = tuple(int(s) for s in raw.lower().replace("×", "x").split("x"))
        except ValueError:
            dims = ()
        if not sep or not name.isidentifier() or not dims or min(dims) < 1 or len(dims) > 2:
            raise ExplainError(f"--shapes item {k + 1} {item.strip()!r}: expected NAME=ROWSxCOLS, e.g. X=4x4")
        if name in shapes:
            raise ExplainError(f"--shapes item {k + 1}: {name!r} is given twice")
        shapes[name] = dims
    return shapes


__all__ = ["explain_command", "parse_shapes", "unrolled_graph"]
