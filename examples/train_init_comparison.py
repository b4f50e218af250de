"""Initialisation comparison (note 001): the same 784-128-64-10 ReLU network and SGD with momentum, started
from zeros, U[0,1], N(0,1), Xavier/Glorot and He/Kaiming weights (biases 0).

Zeros show the symmetry problem: every hidden unit computes the same thing (and with ReLU gets no gradient at
all), so fc1 has one distinct column. U[0,1] and N(0,1) start with huge activations; Xavier and He train.

    python examples/train_init_comparison.py            # MNIST test-set split 8,000 / 2,000, 3 epochs each
    python examples/train_init_comparison.py --quick    # 1,000 images, 1 epoch each
"""

import argparse
import os

import numpy as np

from autograd_viz import nn, optim
from autograd_viz.data import load_mnist_test_split
from autograd_viz.errors import DataError
from autograd_viz.train import Trainer, TrainingDiverged

SCHEMES = ("zeros", "uniform", "normal", "xavier", "he")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    ds = load_mnist_test_split()
    x, y, x_test, y_test = ds.arrays()
    if args.quick:
        x, y = x[:1000], y[:1000]
    print(f"{'init':>8}  {'first-batch loss':>16}  {'distinct fc1 units':>18}  {'test accuracy':>13}")
    for scheme in SCHEMES:
        model = nn.mlp([784, 128, 64, 10], activation="relu", init=scheme, seed=0)
        trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01, momentum=0.9), batch_size=64, seed=0,
                          quiet=True)
        first = trainer.evaluate(x[:64], y[:64])["loss"]
        try:
            trainer.fit(x, y, 1 if args.quick else args.epochs)
            acc = f"{100 * trainer.evaluate(x_test, y_test)['accuracy']:.1f}%"
        except TrainingDiverged:
            acc = "diverged"
        distinct = np.unique(np.round(model.fc1.weight.data, 6), axis=1).shape[1]
        print(f"{scheme:>8}  {first:16.3g}  {distinct:18d}  {acc:>13}")


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # no data here: one line saying how to get it, not a traceback
        raise SystemExit(f"error: {exc}") from None
