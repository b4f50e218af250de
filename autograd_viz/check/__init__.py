"""The derivation checker: claims about derivatives, matrix gradients, variances and bounds, written in TOML,
checked with SymPy, random points and the library's own backprop.

>>> from autograd_viz.check import check_file  # doctest: +SKIP
>>> check_file("my_derivation.toml").to_dict()  # doctest: +SKIP
"""

from autograd_viz.check.results import CheckReport, ClaimResult, FileResult
from autograd_viz.check.runner import builtin_files, check_builtin, check_file, check_files
from autograd_viz.errors import DerivationError, UnreadableFileError

__all__ = ["CheckReport", "ClaimResult", "DerivationError", "FileResult", "UnreadableFileError", "builtin_files",
           "check_builtin", "check_file", "check_files"]
