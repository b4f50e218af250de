"""The `autograd-viz` command line: a click group whose commands load lazily from their own modules."""

from __future__ import annotations

import importlib
import sys

import click

from autograd_viz.errors import AutogradVizError

#: command name -> "module:attribute" of its click command (each job registers its command here).
COMMANDS: dict[str, str] = {
    "graph": "autograd_viz.commands.graph:graph_command",
    "train": "autograd_viz.commands.train:train_command",
    "evaluate": "autograd_viz.commands.train:evaluate_command",
    "check": "autograd_viz.commands.check:check",
    "demo": "autograd_viz.commands.demo:demo_command",
    "explain": "autograd_viz.commands.explain:explain_command",
}


class _LazyGroup(click.Group):
    """Loads each command's module only when that command runs (``train`` never imports SymPy), and turns
    the library's own errors into one line on stderr with exit code 2, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attribute = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AutogradVizError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograd-viz")
def main() -> None:
    """See and check backprop: draw graphs, check derivations, train on MNIST."""
