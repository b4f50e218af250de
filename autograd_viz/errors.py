"""Exception types: every error a user can cause has a clear type and a one-line message."""


class AutogradVizError(Exception):
    """Base class of the library's own errors; the CLI prints these as one line, without a traceback."""


class ShapeError(AutogradVizError, ValueError):
    """Operand shapes do not fit the op (the message names the op and both shapes)."""


class GraphError(AutogradVizError, RuntimeError):
    """The graph cannot do what was asked (backward on a non-scalar without a gradient, ...)."""


class DomainError(AutogradVizError, ValueError):
    """An op got a value outside its domain (log of a negative number, ...) or a non-finite value."""


class OperandError(AutogradVizError, TypeError):
    """An operand of an unsupported type (a string, a list of Values, a Tensor mixed with a Value, ...)."""


class GradcheckError(AutogradVizError, AssertionError):
    """Analytic and numeric gradients disagree (the message names the input, index and both numbers)."""


class ExpressionError(AutogradVizError, ValueError):
    """A formula could not be read: a syntax error (with its column), an unknown name or a refused construct."""


class DataError(AutogradVizError, ValueError):
    """A data file is missing, truncated or corrupt (the message names the file and what is wrong)."""


class DeadlineExceeded(DataError):
    """A download as a whole took longer than its deadline (a mirror trickling bytes resets no timer)."""


class ConfigError(AutogradVizError, ValueError):
    """A setting is out of range or unknown: a layer size, a learning rate, an initialisation or schedule name
    (the message names the owner and the setting, the value given and what is allowed)."""


class ModelError(AutogradVizError, ValueError):
    """A model does not fit together: a layer that is not a ``Module``, a repeated layer name, a state dict with
    missing or unexpected entries, an attribute set before ``Module.__init__`` ran."""


class OptimizerError(AutogradVizError, ValueError):
    """An optimizer cannot work with what it was given: no parameters, a parameter that is not a trainable
    leaf or appears twice, a saved state that does not fit its parameters."""


class MissingDependencyError(AutogradVizError, ImportError):
    """An optional package that a feature needs is not installed (the message names the extra that adds it)."""


class OutputPathError(AutogradVizError, OSError):
    """An output cannot be written: read-only folder, a parent that is a file, a full disk, a directory or a FIFO
    without a reader where a file goes, or an output folder another run holds (the message names the path)."""


class InputFileError(AutogradVizError, ValueError):
    """A file to read is not a regular file (a FIFO, device or directory), is larger than allowed, or unreadable."""


class CheckpointError(AutogradVizError, ValueError):
    """A checkpoint or model file is missing, unreadable, tampered with, or does not fit the model."""


class TrainingConfigError(AutogradVizError, ValueError):
    """A training setting is invalid or contradicts another (batch size, early stopping, a resumed run's options)."""


class PlotError(AutogradVizError, RuntimeError):
    """A plot cannot be drawn: matplotlib is missing or there is nothing to plot."""


class TorchBridgeError(AutogradVizError, ValueError):
    """A PyTorch object the bridge cannot take (a freed graph, an unsupported layer, a tensor without a graph)."""


class ExplainError(AutogradVizError, RuntimeError):
    """A worked solution failed one of its cross-checks (the message names the node, the op and both numbers)."""


class LocalTextError(AutogradVizError, ValueError):
    """A local-derivative text is not a formula this module can read (``broadcast ḡ``)."""


class DerivationError(AutogradVizError, ValueError):
    """A derivation file or one of its claims is malformed (the message names the claim and position)."""


class UnreadableFileError(DerivationError):
    """The file cannot be read at all (missing, not UTF-8, not TOML): the CLI exits 2."""


class DomainSpecError(DerivationError):
    """An assumption string of a derivation file that cannot be read or describes an empty set."""


class DrawError(AutogradVizError, ValueError):
    """A drawing option is invalid or the graph is larger than ``max_nodes`` with ``overflow="error"``."""


class RenderError(AutogradVizError, RuntimeError):
    """The renderer is missing, cannot write the format, failed or timed out (the message says which)."""


class StepperError(DrawError):
    """The step-through page cannot be made as asked (wrong output suffix, quiz without a page, ...)."""


class TrainingDiverged(AutogradVizError):
    """The loss became NaN or infinite; the message names the epoch, the step and the layer."""
