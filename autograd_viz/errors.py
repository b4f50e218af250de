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
