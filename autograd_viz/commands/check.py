"""``autograd-viz check``: check derivation files (or the built-in ones) and print a table or JSON."""

from __future__ import annotations

import os
import sys

import click

from autograd_viz.commands.options import TIMEOUT
from autograd_viz.io import atomic_write_text, check_writable, dumps_json


@click.command("check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--builtin", is_flag=True, help="Check the built-in derivations of the lecture notes.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option("--timeout", type=TIMEOUT, default=10.0, show_default=True,
              help="Seconds per claim; a claim still running is killed and reported as timeout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Also write a Markdown report (claims in LaTeX, verdicts, correct forms); - for stdout.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes (default: up to 2).")
@click.option("--strict", is_flag=True,
              help="Only 'proved' agrees with expect = \"holds\"; a 'numerical' verdict counts as a disagreement.")
def check(files: tuple[str, ...], builtin: bool, as_json: bool, timeout: float, report_path: str | None,
          jobs: int | None, strict: bool) -> None:
    """Check the claims of derivation FILES. Exit 0 when every verdict agrees with its expect, 1 when any
    disagrees, errors or times out, 2 when a file cannot be read."""
    from autograd_viz.check import report as fmt
    from autograd_viz.check.runner import builtin_files, check_files

    paths: list[str | os.PathLike[str]] = [*files, *(builtin_files() if builtin else [])]
    if not paths:
        raise click.UsageError("give derivation FILE(s) or --builtin")
    if report_path:
        check_writable(report_path, "--report")  # before the checks run, not after
    result = check_files(paths, timeout=timeout, jobs=jobs, strict=strict)
    if as_json:
        click.echo(dumps_json(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(fmt.table(result))
    for f in result.files:
        if f.unreadable:
            click.echo(f"error: {f.claims[0].message}", err=True)
    if report_path:
        atomic_write_text(report_path, fmt.markdown(result))
    sys.exit(result.exit_code)
