"""Pin BLAS/OpenMP threads with threadpoolctl (the optional extra ``bench``).

At MNIST batch sizes a second BLAS thread does not help, and on a busy 2-core machine spinning BLAS threads
can make an epoch 10-100x slower, so the CLI trains on one thread by default when threadpoolctl is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autograd_viz.errors import AutogradVizError

INSTALL_HINT = "pinning threads needs threadpoolctl: pip install 'autograd-viz[bench]'"


def have_threadpoolctl() -> bool:
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
        raise AutogradVizError(f"threads must be >= 1, got {n}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise AutogradVizError(INSTALL_HINT) from None
    with threadpool_limits(limits=n):
        yield


def thread_report() -> list[dict[str, Any]]:
    """The thread pools NumPy (and anything else loaded) uses: library, API and thread count."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [{"library": i.get("internal_api"), "api": i.get("user_api"), "threads": i.get("num_threads")}
            for i in threadpool_info()]
