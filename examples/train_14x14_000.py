"""Note 000's network: 14x14 digits (every second pixel), 196-128-64-10 with ReLU, Adam lr 1e-3, batch 64.

    python examples/train_14x14_000.py            # MNIST test-set split 8,000 / 2,000, 10 epochs
    python examples/train_14x14_000.py --quick    # 2,000 images, 2 epochs (or AUTOGRAD_VIZ_QUICK=1)
"""

import argparse
import os

import numpy as np

from autograd_viz import nn, optim
from autograd_viz.data import downsample2x, flatten, load_mnist_test_split, scale
from autograd_viz.errors import DataError
from autograd_viz.train import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    ds = load_mnist_test_split()
    prep = lambda images: flatten(scale(downsample2x(images)))  # noqa: E731  (N, 196) floats in [0, 1]
    x, y, x_test, y_test = prep(ds.train_images), ds.train_labels, prep(ds.test_images), ds.test_labels
    if args.quick:
        x, y = x[:2000], y[:2000]
    model = nn.mlp([196, 128, 64, 10], activation="relu", init="he", seed=0)
    print(nn.summary(model))
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), batch_size=64, seed=0)
    trainer.fit(x, y, 2 if args.quick else args.epochs)
    scores = trainer.evaluate(x_test, y_test.astype(np.intp))
    print(f"test accuracy {100 * scores['accuracy']:.2f}% on {len(x_test):,} images ({ds.name}, 14x14)")


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # no data here: one line saying how to get it, not a traceback
        raise SystemExit(f"error: {exc}") from None
