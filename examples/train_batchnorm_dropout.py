"""Note 001's regularised network: 784-512-265-10, BatchNorm1d after each hidden layer, Dropout 0.2 then 0.1,
RMSprop with weight decay 1e-4; validation each epoch with early stopping (patience 3, best weights restored).

    python examples/train_batchnorm_dropout.py                 # Fashion-MNIST, up to 15 epochs
    python examples/train_batchnorm_dropout.py --quick         # 1,500 images, 2 epochs, 2,000 test
"""

import argparse
import os

import numpy as np

from autograd_viz import nn, optim
from autograd_viz.data import load_fashion_mnist, train_val_split
from autograd_viz.errors import DataError
from autograd_viz.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential
from autograd_viz.train import Trainer


def build(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(
        ("fc1", Linear(784, 512, init="he", rng=rng)), ("bn1", BatchNorm1d(512)), ("act1", ReLU()),
        ("drop1", Dropout(0.2, rng=rng)),
        ("fc2", Linear(512, 265, init="he", rng=rng)), ("bn2", BatchNorm1d(265)), ("act2", ReLU()),
        ("drop2", Dropout(0.1, rng=rng)),
        ("fc3", Linear(265, 10, rng=rng)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()
    ds = load_fashion_mnist()
    x, y, x_test, y_test = ds.arrays()
    if args.quick:
        x, y, x_test, y_test = x[:1500], y[:1500], x_test[:2000], y_test[:2000]
    x, y, x_val, y_val = train_val_split(x, y, 0.1, seed=0)
    model = build()
    print(nn.summary(model))
    trainer = Trainer(model, optim.RMSprop(model.parameters(), lr=1e-3, weight_decay=1e-4), batch_size=64, seed=0)
    history = trainer.fit(x, y, 2 if args.quick else args.epochs, x_val, y_val, patience=3)
    scores = trainer.evaluate(x_test, y_test)
    print(f"best epoch {history.best_epoch}; test accuracy {100 * scores['accuracy']:.2f}% ({ds.name})")


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # no data here: one line saying how to get it, not a traceback
        raise SystemExit(f"error: {exc}") from None
