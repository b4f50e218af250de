"""train.threads: BLAS pinning through threadpoolctl, and clear errors without it or with a bad count."""

from __future__ import annotations

import sys

import pytest

from autograd_viz.errors import AutogradVizError, ConfigError, MissingDependencyError
from autograd_viz.train.threads import blas_threads, have_threadpoolctl


def test_bad_thread_count_is_a_config_error():
    with pytest.raises(ConfigError, match=r"blas_threads: the number of BLAS threads must be >= 1, got 0"):
        with blas_threads(0):
            pass


def test_none_leaves_the_pools_alone():
    with blas_threads(None):
        pass


def test_missing_threadpoolctl_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now raises ImportError
    assert not have_threadpoolctl()
    with pytest.raises(MissingDependencyError, match=r"pip install 'autograd-viz\[all\]'") as info:
        with blas_threads(1):
            pass
    assert isinstance(info.value, AutogradVizError) and isinstance(info.value, ImportError)


def test_pools_are_limited_inside_the_block():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="pip install 'autograd-viz[all]' adds threadpoolctl")
    import numpy as np

    np.ones((8, 8)) @ np.ones((8, 8))  # load the BLAS pool
    if not threadpoolctl.threadpool_info():
        pytest.skip("NumPy reports no BLAS thread pool on this machine")
    with blas_threads(1):
        assert {pool["num_threads"] for pool in threadpoolctl.threadpool_info()} == {1}
