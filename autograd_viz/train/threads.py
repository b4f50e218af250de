"""Pin BLAS/OpenMP threads with threadpoolctl (in the optional extras ``all`` and ``bench``).

At MNIST batch sizes a second BLAS thread does not help, and on a busy 2-core machine spinning BLAS threads
can make an epoch 10-100x slower, so the CLI trains on one thread by default when threadpoolctl is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from autograd_viz.errors import ConfigError, MissingDependencyError

INSTALL_HINT = "pinning threads needs threadpoolctl: pip install 'autograd-viz[all]'"


def have_threadpoolctl() -> bool:
    """Whether threadpoolctl can be imported (the CLI pins one BLAS thread only then)."""
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit BLAS/OpenMP pools to ``n`` threads inside the block; ``None`` leaves them alone."""
    if n is None:
        yield
        return
    if n < 1:
        raise ConfigError(f"blas_threads: the number of BLAS threads must be >= 1, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise MissingDependencyError(INSTALL_HINT) from None
    with threadpool_limits(limits=n):
        yield
