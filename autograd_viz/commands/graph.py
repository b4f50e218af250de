"""``autograd-viz graph``: draw the forward/backward graph of a formula (or one MLP training step) and print
every input's value and gradient.

The formula is read by :mod:`autograd_viz.expr` (``ast`` plus a whitelist, never ``eval``); its functions are
the one-input ops of the op table that ``Value`` implements (sigmoid, tanh, relu, exp, log, ...).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np

from autograd_viz.commands.options import SEED, merge_assignments, parse_assignments
from autograd_viz.errors import ExpressionError
from autograd_viz.expr import Evaluator, Grammar, names_in, parse
from autograd_viz.graph import Node
from autograd_viz.io import check_writable, dumps_json
from autograd_viz.ops import OPS, SCALAR_OPS
from autograd_viz.scalar import Value
from autograd_viz.steps import call_function, make_inputs
from autograd_viz.viz import NoRendererWarning, draw
from autograd_viz.viz.renderers import RENDERERS, choose, save
from autograd_viz.viz.stepper import is_stepper_output, write_outputs
from autograd_viz.viz.style import KINDS, RANKDIRS

#: Functions an expression may call: the op table's one-input ops that ``Value`` has a method for.
FUNCTIONS: frozenset[str] = frozenset(
    name for name in SCALAR_OPS if OPS[name].arity == 1 and callable(getattr(Value, name, None)))
MAX_MLP_WEIGHTS = 50_000_000
MAX_BATCH = 100_000


def _output_path(output: str, fmt: str | None) -> str:
    """``-o`` as given; refuse an extension that contradicts ``--format``."""
    from autograd_viz.viz.renderers import FORMATS

    suffix = Path(output).suffix.lower()
    if fmt is not None and output != "-" and suffix in FORMATS and FORMATS[suffix] != fmt:
        raise ExpressionError(f"-o {output} is a {FORMATS[suffix]} name but --format says {fmt}")
    return output


def build_expression(text: str, at: dict[str, float], params: set[str]) -> tuple[Value, list[Value]]:
    """Parse ``text``, make a ``Value`` per name from ``at`` and evaluate; returns (output, inputs in order)."""
    tree = parse(text, Grammar(functions=FUNCTIONS))
    names = names_in(tree)
    inputs = make_inputs(names, at, params)

    evaluate = Evaluator(name=lambda n, _node: inputs[n], call=call_function, number=float)
    try:
        out = evaluate(tree)
    except (ZeroDivisionError, OverflowError) as exc:
        raise ExpressionError(f"expression {text.strip()[:60]!r}: arithmetic on its constants fails: {exc}") from None
    if not isinstance(out, Value) or not out.requires_grad:
        raise ExpressionError(f"expression {text.strip()[:60]!r} does not depend on any input")
    return out, list(inputs.values())


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _stats(data: np.ndarray) -> dict[str, float | None]:
    return {"min": _number(float(data.min())), "mean": _number(float(data.mean())),
            "max": _number(float(data.max())), "norm": _number(float(np.linalg.norm(data)))}


def parse_sizes(text: str) -> list[int]:
    """``"784,128,64,10"`` -> layer sizes, refusing non-integers and models too large to build here."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise ExpressionError(f"--mlp {text!r}: expected layer sizes such as 784,128,64,10") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ExpressionError(f"--mlp {text!r}: need at least two sizes, all >= 1")
    weights = sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
    if weights > MAX_MLP_WEIGHTS:
        raise ExpressionError(f"--mlp {text!r}: {weights:,} weights is more than {MAX_MLP_WEIGHTS:,}")
    return sizes


def build_mlp_step(sizes: list[int], batch: int, seed: int) -> tuple[Any, list[Any]]:
    """One training step's graph: random inputs and labels through an MLP (ReLU) into cross-entropy."""
    import autograd_viz.functional as F
    from autograd_viz.tensor import Tensor

    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((batch, sizes[0])).astype(np.float32), name="x", role="input")
    target = rng.integers(0, sizes[-1], size=batch)
    from autograd_viz.nn import mlp

    model = mlp(sizes, seed=seed)
    logits = model(x)
    params = list(model.parameters())
    loss = F.cross_entropy(logits, target)
    loss.name = "loss"
    return loss, params


@click.command("graph")
@click.argument("expr", required=False)
@click.option("--at", "at", multiple=True, metavar="NAME=VALUE,...",
              help="Input values, e.g. a=0.5,b=-1,x0=2,y0=1 (may be repeated: the lists are merged).")
@click.option("--params", multiple=True, metavar="NAMES",
              help="Inputs drawn as parameters (blue), e.g. a,b (may be repeated).")
@click.option("--kind", type=click.Choice(KINDS), default="both", show_default=True, help="What to draw.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Save the drawing: .dot .svg .png .pdf (by extension), .html the step-through page, .gif its "
                   "animation, or - for standard output.")
@click.option("--format", "fmt", type=click.Choice(("svg", "png", "pdf", "dot")), default=None,
              help="Format of -o when its extension does not say (needed for -o -; default svg).")
@click.option("--quiz", is_flag=True,
              help="-o .html writes the step-through page, .gif its animation; --quiz: the student types each adjoint.")
@click.option("--frames", type=click.Path(file_okay=False), metavar="DIR", help="Write one PNG per step into DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the value and gradients as JSON instead of a table.")
@click.option("--mlp", "mlp_sizes", metavar="SIZES", help="Draw one training step of an MLP, e.g. 784,128,64,10.")
@click.option("--batch", type=click.IntRange(1, MAX_BATCH), default=64, show_default=True, help="Batch size (--mlp).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Random seed for --mlp weights and data.")
@click.option("--renderer", type=click.Choice(RENDERERS), default=None,
              help="Force a renderer (default: system dot, else graphviz-pure).")
@click.option("--rankdir", type=click.Choice(RANKDIRS), default="LR", show_default=True)
@click.option("--precision", type=click.IntRange(1, 17), default=4, show_default=True, help="Significant digits.")
@click.option("--max-nodes", type=click.IntRange(2), default=2000, show_default=True,
              help="Draw at most this many boxes (both: two per value); the rest collapse into one box.")
@click.option("--step", default=None, metavar="NAME", help="With FILE.toml: draw this [define] step, not the last.")
@click.option("--unroll", is_flag=True, help="Tensor EXPR drawn with one Value per entry (shapes up to 4x4).")
@click.option("--shapes", default="", metavar="NAME=RxC,...", help="--unroll: tensor inputs, e.g. X=4x4,W=4x3.")
def graph_command(expr: str | None, at: tuple[str, ...], params: tuple[str, ...], kind: str, output: str | None,
                  fmt: str | None, as_json: bool, mlp_sizes: str | None, batch: int, seed: int, renderer: str | None,
                  rankdir: str, precision: int, max_nodes: int, step: str | None, unroll: bool, shapes: str,
                  quiz: bool = False, frames: str | None = None) -> None:
    """Draw the forward and backward graph of EXPR at the --at values, and print each input's gradient.

    Example: autograd-viz graph "0.5*(sigmoid(a*x0+b)-y0)**2" --at a=0.5,b=-1,x0=2,y0=1 --params a,b -o g.svg
    """
    if (expr is None) == (mlp_sizes is None):
        raise ExpressionError("give either an expression or --mlp SIZES (not both)")
    if output is not None:
        output = _output_path(output, fmt)
        check_writable(output, "-o")  # before any graph is built or laid out
    if mlp_sizes is not None:
        if any(at) or any(params):
            raise ExpressionError("--at and --params apply to an expression, not to --mlp")
        sizes = parse_sizes(mlp_sizes)
        if sizes[-1] == 1:
            click.echo(f"warning: --mlp {mlp_sizes} has one output: cross-entropy over a single class is always 0, "
                       "so every gradient drawn is 0; use at least 2 outputs (e.g. "
                       f"{','.join(map(str, sizes[:-1]))},2)", err=True)
        root: Any
        inputs: list[Any]
        root, inputs = build_mlp_step(sizes, batch, seed)
        title = f"one training step: MLP {'-'.join(map(str, sizes))}, batch {batch}"
        description = f"mlp {','.join(map(str, sizes))} batch {batch}"
    else:
        assert expr is not None
        wanted = {p.strip() for group in params for p in group.split(",") if p.strip()}
        from autograd_viz import steps  # named steps "z = ...; L = ..." and FILE.toml [define] chains

        values = merge_assignments(at)
        if unroll:  # tensors rebuilt with one Value per entry (--seed values)
            from autograd_viz.commands.explain import unrolled_graph

            root, inputs = unrolled_graph(expr, shapes, values, seed)
        elif expr.endswith(".toml") or steps.is_program(expr):
            build = steps.build_toml if expr.endswith(".toml") else steps.build_steps
            root, inputs = build(expr, values, wanted, output=step)
        else:
            root, inputs = build_expression(expr, values, wanted)
        title, description = None, expr
    root.backward()
    if quiz or frames is not None or is_stepper_output(output):  # the step-through page (viz/stepper.py)
        if renderer is not None:
            choose(renderer)
        for line in write_outputs(root, output, frames, quiz=quiz, rankdir=rankdir, precision=precision,
                                  max_nodes=max_nodes, title=title, renderer=renderer):
            click.echo(line, err=True)
    if output is not None and not is_stepper_output(output):
        if renderer is not None:
            choose(renderer)  # a forced renderer that is missing is an error before any layout work
        graph = draw(root, kind=kind, rankdir=rankdir, precision=precision, max_nodes=max_nodes, title=title)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoRendererWarning)
            written = save(graph, output, renderer=renderer, fmt=fmt)
        for warning in caught:
            click.echo(str(warning.message), err=True)
        if not caught and str(written) != "-":
            click.echo(f"wrote {written}", err=True)
    if output == "-":  # the drawing is standard output: the table would corrupt it
        return
    _report(description, root, inputs, as_json)
    if output is None and not as_json:
        click.echo("(add -o graph.svg to save the drawing: .dot .svg .png .pdf)", err=True)


def _report(description: str, root: Node, inputs: list[Any], as_json: bool) -> None:
    value = float(np.asarray(root.data).reshape(-1)[0])
    if as_json:
        rows: list[dict[str, Any]] = []
        for node in inputs:
            if isinstance(node, Value):
                rows.append({"name": node.name, "value": _number(node.data), "grad": _number(node.grad)})
            else:
                rows.append({"name": node.name, "shape": list(node.data.shape), "value": _stats(node.data),
                             "grad": _stats(node.grad)})
        click.echo(dumps_json({"expression": description, "value": value, "inputs": rows}, indent=2))
        return
    click.echo(f"{description} = {value:.6g}")
    width = max([4, *(len(str(n.name)) for n in inputs)])
    if inputs and isinstance(inputs[0], Value):
        click.echo(f"{'name':<{width}}  {'value':>12}  {'grad':>12}")
        for node in inputs:
            click.echo(f"{node.name:<{width}}  {node.data:>12.6g}  {node.grad:>12.6g}")
        return
    click.echo(f"{'name':<{width}}  {'shape':<12}  {'grad mean':>12}  {'grad norm':>12}")
    for node in inputs:
        stats = _stats(node.grad)
        mean, norm = (f"{v:.4g}" if v is not None else "nan" for v in (stats["mean"], stats["norm"]))
        click.echo(f"{node.name:<{width}}  {str(tuple(node.data.shape)):<12}  {mean:>12}  {norm:>12}")


__all__ = ["FUNCTIONS", "build_expression", "graph_command", "parse_assignments"]
