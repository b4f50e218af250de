"""Note 001's network: 784-512-512-10 with ReLU, RMSprop lr 1e-3 (momentum 0), cross-entropy with label
smoothing 0.01. Prints the summary (401,920 / 262,656 / 5,130 / 669,706 parameters) and test accuracy.

    python examples/train_rmsprop_001.py --dataset fashion-mnist     # 60,000 images, 5 epochs
    python examples/train_rmsprop_001.py --quick                     # 2,000 images, 1 epoch
"""

import argparse
import os

import numpy as np

from autograd_viz import nn, optim
from autograd_viz.data import load_fashion_mnist, load_mnist_test_split
from autograd_viz.errors import DataError
from autograd_viz.train import Trainer, confusion_matrix, per_class_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--dataset", choices=("mnist-test-split", "fashion-mnist"), default="mnist-test-split")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    ds = load_fashion_mnist() if args.dataset == "fashion-mnist" else load_mnist_test_split()
    x, y, x_test, y_test = ds.arrays()
    if args.quick:
        x, y = x[:2000], y[:2000]
    model = nn.mlp([784, 512, 512, 10], activation="relu", init="default", seed=0)  # PyTorch's default init
    print(nn.summary(model))
    opt = optim.RMSprop(model.parameters(), lr=1e-3, momentum=0.0)
    trainer = Trainer(model, opt, batch_size=64, label_smoothing=0.01, seed=0)
    trainer.fit(x, y, 1 if args.quick else args.epochs)
    predicted = trainer.predict(x_test).argmax(axis=1)
    print(f"test accuracy {100 * np.mean(predicted == y_test):.2f}% ({ds.name})")
    for name, acc in zip(ds.classes, per_class_accuracy(confusion_matrix(y_test, predicted, 10)), strict=True):
        print(f"  {name:>12}: {100 * acc:.1f}%")


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # no data here: one line saying how to get it, not a traceback
        raise SystemExit(f"error: {exc}") from None
