"""``autograd-viz demo``: the project's main job in one folder, one progress line per step.

1. the notes' example L = ½(σ(a·x₀ + b) − y₀)² drawn forward, backward and both (SVG and PNG);
2. the built-in derivation checks as a Markdown report, led by the textbook errors found and their corrections;
3. a short MNIST run (784-128-64-10, a few epochs) with its learning curve and confusion matrix.

Without data step 3 is skipped with a one-line hint; without an optional package the demo still runs and names
the extra that adds what is missing. It ends with an index of every file written (also saved as ``index.md``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from autograd_viz.commands.options import TIMEOUT
from autograd_viz.io import atomic_write_text, check_writable_dir, dumps_json, folder_lock

NOTES_AT = {"a": 0.5, "b": -1.0, "x0": 2.0, "y0": 1.0}
NOTES_TEXT = "L = ½(σ(a·x₀ + b) − y₀)²"
QUICK_FILES = ("backprop_example.toml", "perceptron.toml")
SIZES = [784, 128, 64, 10]
DATA_HINT = ("training skipped: no MNIST data here and none could be downloaded; to get it, rerun online "
             "(it downloads 11 MB into ~/.cache/autograd_viz) or set AUTOGRAD_VIZ_DATA to a folder holding mnist/ "
             "or fashion-mnist/ IDX files (or `apt-get install dataset-fashion-mnist`)")
EXTRA_HINT = "pip install 'autograd-viz[{extra}]'"


@dataclass
class Run:
    """The output folder, what was written (path, description) and how each step went."""

    out: Path
    echo: Callable[[str], None]
    written: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: bool = False

    def wrote(self, path: Path, what: str) -> None:
        self.written.append((Path(path), what))


def _step(run: Run, number: int, total: int, title: str) -> float:
    run.echo(f"[{number}/{total}] {title}")
    return time.perf_counter()


def _done(run: Run, start: float, message: str) -> None:
    run.echo(f"      {message} ({time.perf_counter() - start:.1f} s)")


# --- 1. graphs -------------------------------------------------------------------------------------------------
def draw_notes_example(run: Run) -> None:
    """Draw the notes' loss three ways; print its value and the parameters' gradients."""
    from autograd_viz.graph import topological_order
    from autograd_viz.viz import NoRendererWarning, available, draw, save
    from autograd_viz.viz.examples import notes_example

    start = _step(run, 1, 3, f"graphs of the notes' example {NOTES_TEXT} at "
                  + ", ".join(f"{k}={v:g}" for k, v in NOTES_AT.items()))
    loss = notes_example(**NOTES_AT)
    loss.backward()
    leaves = {n.name: n for n in topological_order(loss) if n.name in ("a", "b")}
    run.echo(f"      L = {loss.data:.6g}, ∂L/∂a = {leaves['a'].grad:.6g}, ∂L/∂b = {leaves['b'].grad:.6g}")
    what = {"forward": "forward pass: each value", "backward": "backward pass: adjoints ∂L/∂x, local derivatives "
            "on the edges", "both": "forward and backward, one above the other"}
    formats = ("svg", "png") if available() else ("dot",)
    if not available():
        run.notes.append("graphs written as .dot only: no Graphviz renderer (reinstall autograd-viz, which "
                         "depends on graphviz-pure, or `apt-get install graphviz`)")
    for kind, description in what.items():
        graph = draw(loss, kind=kind)
        for ext in formats:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoRendererWarning)
                path = save(graph, run.out / f"notes_{kind}.{ext}")
            run.wrote(path, f"{description} ({ext.upper()})")
    _done(run, start, f"wrote {len(what) * len(formats)} pictures: notes_{{forward,backward,both}}."
          f"{{{','.join(formats)}}}")


# --- 2. derivation checks ----------------------------------------------------------------------------------------
def check_derivations(run: Run, quick: bool, timeout: float) -> None:
    """Check the built-in derivations and write the Markdown report, textbook errors first."""
    from autograd_viz.check import report as fmt
    from autograd_viz.check.runner import builtin_files, check_files

    files = builtin_files()
    if quick:
        files = [f for f in files if f.name in QUICK_FILES]
    start = _step(run, 2, 3, f"checking the built-in derivations of the notes: {len(files)} files (SymPy, random "
                  f"points and backprop; {'a few seconds' if quick else 'about half a minute'})")
    result = check_files(files, timeout=timeout)
    claims = [(f, c) for f in result.files for c in f.claims]
    counts = {v: sum(c.verdict == v for _, c in claims) for v in ("proved", "numerical", "refuted")}
    errors = [(f, c) for f, c in claims if c.expect == "fails" and c.verdict == "refuted"]
    disagree = [(f, c) for f, c in claims if not c.agrees]
    path = run.out / "check_report.md"
    atomic_write_text(path, _report_markdown(errors, disagree, fmt.markdown(result), quick))
    run.wrote(path, "derivation report: the textbook errors found with corrections, then every claim in LaTeX")
    run.echo(f"      {len(claims)} claims: {counts['proved']} proved, {counts['numerical']} confirmed numerically, "
             f"{counts['refuted']} refuted; {len(errors)} textbook errors found, each with its correction")
    for f, c in sorted(errors, key=lambda fc: _corrected(*fc) is None)[:3]:  # those with a corrected claim first
        run.echo(f"        ✗ {Path(f.file).name}: {c.name}")
        run.echo(f"          correct: {_correction(f, c, markdown=False)}")
    if len(errors) > 3:
        run.echo(f"        … and {len(errors) - 3} more in check_report.md")
    if disagree:
        run.failed = True
        run.echo(f"      ! verdicts that disagree with the files' expectations: {len(disagree)} (see check_report.md)")
    _done(run, start, "wrote check_report.md")


def _corrected(f: Any, c: Any) -> Any:
    """The file's "<same prefix> corrected" claim next to a claim refuted "as printed", or None."""
    prefix = c.name.split(" as printed")[0]
    return next((o for o in f.claims if o is not c and o.expect == "holds"
                 and o.name.startswith(f"{prefix} corrected")), None)


def _correction(f: Any, c: Any, markdown: bool = True) -> str:
    """How the refuted claim reads when right: the file's corrected claim, else the checker's value of the left
    side (Markdown: with LaTeX; terminal: plain text, or a pointer to the report when it is long)."""
    from autograd_viz.check.report import REL_TEX

    other = _corrected(f, c)
    if other is not None:
        text = other.name.split(": ", 1)[-1]
        if markdown and other.lhs_tex and other.rhs_tex:
            text += f" — ${other.lhs_tex} {REL_TEX.get(other.relation, '=')} {other.rhs_tex}$"
        return f"{text} ({other.verdict})" if markdown else text
    if markdown and c.correct_tex and len(c.correct_tex) <= 160:
        return f"the left side is ${c.correct_tex}$"
    if not markdown and c.correct and len(c.correct) <= 60:
        return f"the left side is {c.correct}"
    return "see the claim below" if markdown else "see check_report.md"


def _report_markdown(errors: list, disagree: list, body: str, quick: bool) -> str:
    lines = ["# Derivation check of the lecture notes", "",
             "Written by `autograd-viz demo`" + (" --quick (two files)" if quick else "") + ". A claim encoded "
             "*as printed* with `expect = \"fails\"` that the checker refutes is a textbook error; the file's "
             "corrected claim, proved or confirmed in the same run, follows it.", "",
             f"## Textbook errors found: {len(errors)}", ""]
    for f, c in errors:
        lines.append(f"- `{Path(f.file).name}` **{c.name}** — refuted. Correct: {_correction(f, c)}")
    if disagree:
        lines += ["", f"## Verdicts that disagree with the file: {len(disagree)}", ""]
        lines += [f"- {c.name} (`{Path(f.file).name}`): {c.verdict}, expected {c.expect}" for f, c in disagree]
    body_lines = body.splitlines()
    if body_lines and body_lines[0].startswith("# "):
        body_lines = body_lines[1:]
    return "\n".join([*lines, "", "## Every claim", *[("#" + b if b.startswith("#") else b) for b in body_lines]])


# --- 3. MNIST --------------------------------------------------------------------------------------------------
def find_data(data_dir: str | None, download: bool) -> tuple[Any, str, str]:
    """Full MNIST (found or downloaded), else the MNIST test-set split, else Fashion-MNIST, whichever is found
    locally; returns (dataset or None, what it is, why not full MNIST or "")."""
    from autograd_viz import data
    from autograd_viz.errors import DataError

    try:
        return (data.load_mnist(data_dir, download=download, retries=1, timeout=15.0, progress=False),
                "MNIST (60,000 train / 10,000 test)", "")
    except DataError:
        pass
    why = "full MNIST could not be had (its 60,000 training images are missing" + ("" if download else
                                                                                    ", downloads off") + ")"
    for loader, name in ((data.load_mnist_test_split, "the MNIST test-set split (8,000 train / 2,000 test)"),
                         (data.load_fashion_mnist, "Fashion-MNIST (same shapes as MNIST: clothes, not digits)")):
        try:
            return loader(data_dir, download=False, progress=False), name, why
        except DataError:
            continue
    return None, "", why


def train_mnist(run: Run, data_dir: str | None, download: bool, epochs: int, limit: int | None) -> None:
    """A few epochs of 784-128-64-10 (Adam, 10% held out): learning curves, test accuracy, confusion matrix."""
    from autograd_viz import nn, optim
    from autograd_viz.data import train_val_split
    from autograd_viz.train import Trainer, confusion_matrix, have_matplotlib
    from autograd_viz.train.threads import have_threadpoolctl

    start = _step(run, 3, 3, f"training an MLP {'-'.join(map(str, SIZES))} (ReLU, Adam lr 1e-3, batch 64) "
                  f"for {epochs} epochs")
    ds, what, why = find_data(data_dir, download)
    if ds is None:
        run.echo("      skipped: no MNIST data (how to get it: see the note at the end)")
        run.notes.append(DATA_HINT)  # said once, in full, at the end
        return
    run.echo(f"      data: {what} from {ds.source}" + (f" — {why}" if why else ""))
    x, y, x_test, y_test = ds.arrays(np.float32)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x, y, x_val, y_val = train_val_split(x, y, 0.1, seed=0)
    if not have_threadpoolctl():
        run.notes.append("threadpoolctl is missing: BLAS may use every core, which is slow on a busy machine "
                         f"({EXTRA_HINT.format(extra='all')})")
    model = nn.mlp(SIZES, activation="relu", init="he", seed=0)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), batch_size=64, seed=0, quiet=True)
    run.echo(f"      {len(x):,} training and {len(x_val):,} validation images, {model.num_parameters():,} weights")
    for epoch in range(1, epochs + 1):
        row = trainer.fit(x, y, epoch, x_val, y_val, restore_best=False).rows[-1]
        run.echo(f"      epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}, val loss {row['val_loss']:.4f}, "
                 f"val accuracy {100 * row['val_accuracy']:.2f}% ({row['seconds']:.1f} s)")
    predicted = trainer.to_labels(trainer.predict(x_test))
    cm = confusion_matrix(y_test, predicted, 10)
    accuracy = float(np.trace(cm) / cm.sum())
    metrics = {"dataset": ds.name, "data": what, "source": ds.source, "why_not_full_mnist": why, "sizes": SIZES,
               "epochs": epochs,
               "train_samples": len(x), "test_samples": int(len(y_test)), "test_accuracy": accuracy,
               "confusion_matrix": cm.tolist(), "classes": list(ds.classes)}
    trainer.history.save(run.out / "history.csv")
    run.wrote(run.out / "history.csv", "loss and accuracy per epoch (train and validation)")
    atomic_write_text(run.out / "metrics.json", dumps_json(metrics, indent=2) + "\n")
    run.wrote(run.out / "metrics.json", "test accuracy, confusion matrix, data set used")
    run.echo(f"      test accuracy {100 * accuracy:.2f}% on {len(y_test):,} test images")
    if have_matplotlib():
        _plots(run, trainer.history, cm, ds, accuracy)
    else:
        run.notes.append("learning curve and confusion matrix PNGs skipped: they need matplotlib "
                         f"({EXTRA_HINT.format(extra='plot')}); the numbers are in history.csv and metrics.json")
    _done(run, start, "wrote history.csv, metrics.json" + (", learning_curves.png, confusion_matrix.png"
                                                           if have_matplotlib() else ""))


def _plots(run: Run, history: Any, cm: np.ndarray, ds: Any, accuracy: float) -> None:
    from autograd_viz.train import plot_confusion_matrix, plot_learning_curves

    title = f"{ds.name}, MLP {'-'.join(map(str, SIZES))}"
    plot_learning_curves(history, run.out / "learning_curves.png", title=title)
    run.wrote(run.out / "learning_curves.png", "learning curve: loss and accuracy per epoch")
    plot_confusion_matrix(cm, run.out / "confusion_matrix.png", ds.classes,
                          title=f"{ds.name}: test accuracy {100 * accuracy:.2f}%")
    run.wrote(run.out / "confusion_matrix.png", "confusion matrix on the test set (rows: true, columns: predicted)")


# --- index -----------------------------------------------------------------------------------------------------
def write_index(run: Run, seconds: float) -> None:
    """Print the index of the files written and save it as index.md (pictures embedded)."""
    lines = ["# autograd-viz demo", "", f"Written in {seconds:.0f} s.", ""]
    for path, what in run.written:
        rel = path.relative_to(run.out).as_posix()
        lines.append(f"- [{rel}]({rel}): {what}")
        if path.suffix in (".png",):
            lines += ["", f"  ![{rel}]({rel})", ""]
    lines += [*(["", "Notes:", ""] if run.notes else []), *[f"- {n}" for n in run.notes]]
    atomic_write_text(run.out / "index.md", "\n".join(lines) + "\n")
    run.wrote(run.out / "index.md", "this index, with the pictures")
    width = max(len(p.name) for p, _ in run.written)
    run.echo(f"\nwrote {len(run.written)} files to {run.out} in {seconds:.0f} s:")
    for path, what in run.written:
        run.echo(f"  {path.name:<{width}}  {what}")
    for note in run.notes:
        run.echo(f"note: {note}")


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False), default="autograd-viz-demo", show_default=True,
              help="Folder for everything the demo writes (created if missing; files in it are replaced).")
@click.option("--quick", is_flag=True, help="Two derivation files and 2,000 training images for 2 epochs (seconds).")
@click.option("--epochs", type=click.IntRange(1, 50), default=None, help="Training epochs [default: 5, quick: 2].")
@click.option("--limit", type=click.IntRange(min=100), default=None,
              help="Use only the first N training images [default: all, quick: 2000].")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the MNIST (or Fashion-MNIST) IDX files; also $AUTOGRAD_VIZ_DATA.")
@click.option("--offline", is_flag=True, help="Never download; use only data found locally.")
@click.option("--timeout", type=TIMEOUT, default=10.0, show_default=True,
              help="Seconds per derivation claim.")
def demo_command(out: str, quick: bool, epochs: int | None, limit: int | None, data_dir: str | None,
                 offline: bool, timeout: float) -> None:
    """Draw the notes' example, check the built-in derivations and train on MNIST, all into one folder.

    Exit 0 when done (training is skipped, with a hint, when no data can be had); 1 when a derivation verdict
    disagrees with its file's expectation.
    """
    from autograd_viz.train.threads import blas_threads, have_threadpoolctl

    begin = time.perf_counter()
    run = Run(Path(out), click.echo)
    check_writable_dir(run.out, "--out")  # a read-only or impossible --out fails now, in one line
    run.echo(f"autograd-viz demo: writing to {run.out.resolve()}")
    with folder_lock(run.out, "--out"):  # two demos into one folder: the second is refused, not interleaved
        draw_notes_example(run)
        check_derivations(run, quick, timeout)
        with blas_threads(1 if have_threadpoolctl() else None):
            train_mnist(run, data_dir, not offline, epochs or (2 if quick else 5),
                        limit if limit is not None else (2000 if quick else None))
        write_index(run, time.perf_counter() - begin)
    if run.failed:
        raise SystemExit(1)


__all__ = ["DATA_HINT", "demo_command", "find_data"]
