"""Every examples/train_*.py runs in its quick setting (AUTOGRAD_VIZ_QUICK=1) and prints its result line."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = os.environ.get("AUTOGRAD_VIZ_DATA")
EXAMPLES = {
    "train_scalar_vs_tensor.py": "faster",
    "train_14x14_000.py": "test accuracy",
    "train_regression_002.py": "confusion matrix",
    "train_rmsprop_001.py": "669,706",
    "train_batchnorm_dropout.py": "best epoch",
    "train_init_comparison.py": "zeros",
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs_quickly(name):
    if name != "train_scalar_vs_tensor.py" and not (DATA and Path(DATA, "mnist").is_dir()):
        pytest.skip("set AUTOGRAD_VIZ_DATA to the folder with mnist/ and fashion-mnist/")
    env = {**os.environ, "AUTOGRAD_VIZ_QUICK": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / name)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert EXAMPLES[name] in done.stdout
