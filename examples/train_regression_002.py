"""Note 002's framing: digits as regression. 784-21-1 with sigmoid units, MSE on label/10, rounded to a class.

    python examples/train_regression_002.py            # MNIST test-set split 8,000 / 2,000, 30 epochs
    python examples/train_regression_002.py --quick    # 1,000 images, 3 epochs (or AUTOGRAD_VIZ_QUICK=1)

Prints the accuracy and the confusion matrix: most errors are between neighbouring digits (rounding).
"""

import argparse
import os

import numpy as np

from autograd_viz import nn, optim
from autograd_viz.data import load_mnist_test_split
from autograd_viz.errors import DataError
from autograd_viz.train import Trainer, confusion_matrix


def to_class(outputs: np.ndarray) -> np.ndarray:
    """Round 10 * prediction back to a digit, as note 002 does."""
    return np.clip(np.rint(10 * outputs[:, 0]), 0, 9).astype(int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    ds = load_mnist_test_split()
    x, y, x_test, y_test = ds.arrays()
    epochs = 3 if args.quick else args.epochs
    if args.quick:
        x, y = x[:1000], y[:1000]
    model = nn.mlp([784, 21, 1], activation="sigmoid", output_activation="sigmoid", init="xavier", seed=0)
    print(nn.summary(model))
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=3e-3),
                      loss_fn=lambda out, target: 0.5 * nn.mse_loss(out, target),  # L = ||Y - Ŷ||² / 2n
                      target_fn=lambda labels: (labels / 10.0).astype(np.float32).reshape(-1, 1),
                      to_labels=to_class, batch_size=64, seed=0)
    trainer.fit(x, y, epochs)
    predicted = to_class(trainer.predict(x_test))
    print(f"test accuracy {100 * np.mean(predicted == y_test):.1f}% ({ds.name}); chance is 10%")
    print("confusion matrix (rows: true digit, columns: predicted):")
    print(confusion_matrix(y_test, predicted, 10))


if __name__ == "__main__":
    try:
        main()
    except DataError as exc:  # no data here: one line saying how to get it, not a traceback
        raise SystemExit(f"error: {exc}") from None
