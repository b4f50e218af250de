"""The `autograd-viz` command line: a click group whose commands load lazily from their own modules."""

from __future__ import annotations

import importlib
import sys
from typing import Any

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

#: command name -> the first sentence of its help, so ``autograd-viz --help`` lists the commands without
#: importing their modules (NumPy, SymPy, Graphviz). tests/test_lazy_imports.py checks that each equals the
#: short help click makes from the command itself; a command missing here is still listed (imported to ask it).
SHORT_HELP: dict[str, str] = {
    "graph": "Draw the forward and backward graph of EXPR at the --at values, and print each input's gradient.",
    "train": "Train an MLP (softmax cross-entropy) and report test accuracy.",
    "evaluate": "Test accuracy, per-class accuracy and confusion matrix of a trained model (model.npz).",
    "check": "Check the claims of derivation FILES.",
    "demo": "Draw the notes' example, check the built-in derivations and train on MNIST, all into one folder.",
    "explain": "Write the worked solution of EXPR at the --at values, every number and formula cross-checked.",
}


class _LazyGroup(click.Group):
    """Loads each command's module only when that command runs (``train`` never imports SymPy; ``--help``
    imports none), and turns the library's own errors into one line on stderr with exit code 2, never a
    traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``: registered commands described by a stand-in carrying their
        ``SHORT_HELP`` (click shortens it as it would the real help), so no command module is imported."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = listed_command(name) if name in COMMANDS else self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in rows])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            return load_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AutogradVizError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


def load_command(name: str) -> click.Command:
    """The click command registered as ``name`` in :data:`COMMANDS` (imports its module)."""
    module_name, attribute = COMMANDS[name].split(":")
    command: click.Command = getattr(importlib.import_module(module_name), attribute)
    return command


def listed_command(name: str) -> click.Command:
    """What ``--help`` lists for a registered command: a stand-in with its :data:`SHORT_HELP`, or, for a
    command without one, the command itself."""
    if name in SHORT_HELP:
        return click.Command(name, help=SHORT_HELP[name])
    return load_command(name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograd-viz")
def main() -> None:
    """See and check backprop: draw graphs, check derivations, train on MNIST."""
