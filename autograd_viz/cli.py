"""The `autograd-viz` command line: a click group; each job adds its command here."""

from __future__ import annotations

import sys

import click

from autograd_viz.errors import AutogradVizError


class _Group(click.Group):
    """A click group that turns the library's own errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AutogradVizError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="autograd-viz")
def main() -> None:
    """See and check backprop: draw graphs, check derivations, train on MNIST."""


# Commands are registered below, one line each (keep this list sorted by name).
