"""When you outgrow autograd_viz: train here, export, continue in PyTorch (on a GPU when there is one), come back.

Trains a 784-128-64-10 MLP on Fashion-MNIST (or the MNIST test-set split) for two epochs here, writes its
weights to a .safetensors file in PyTorch's names and layout, loads that file into the PyTorch twin with
safetensors.torch.load_file (same test accuracy), trains two more epochs in PyTorch, and loads PyTorch's
weights back here (same accuracy again).

    AUTOGRAD_VIZ_DATA=/work/shared/data python examples/outgrow_to_torch.py          # 60,000 images
    python examples/outgrow_to_torch.py --dataset mnist-test-split                  # 8,000 digits
    python examples/outgrow_to_torch.py --quick                                     # 3,000 images

Needs PyTorch (a CPU wheel is enough) and safetensors: pip install "autograd-viz[torch]" after installing torch.
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--dataset", choices=("fashion-mnist", "mnist-test-split"), default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=2, help="epochs in each engine (default 2)")
    parser.add_argument("--out", default="outgrow_to_torch_out", help="folder for the .safetensors files")
    args = parser.parse_args()
    skip = 0 if args.quick else 1  # CI runs every example with --quick: a missing optional part is a skip there
    try:
        import safetensors.torch
        import torch
    except ImportError as exc:
        print(f"outgrow_to_torch: needs PyTorch and safetensors ({exc.name} is missing): install a CPU torch, then "
              "pip install 'autograd-viz[torch]'", file=sys.stderr)
        return skip

    from autograd_viz import nn, optim
    from autograd_viz.data import load_fashion_mnist, load_mnist_test_split
    from autograd_viz.errors import DataError
    from autograd_viz.torch import load_safetensors, save_safetensors, to_torch
    from autograd_viz.train import Trainer

    try:
        load = load_fashion_mnist if args.dataset == "fashion-mnist" else load_mnist_test_split
        ds = load(download=False, progress=False)
    except DataError:
        print(f"outgrow_to_torch: {args.dataset} not found: set AUTOGRAD_VIZ_DATA to the folder that holds "
              f"{args.dataset.split('-test')[0]}/", file=sys.stderr)
        return skip
    x, y, x_test, y_test = ds.arrays()
    if args.quick:
        x, y, x_test, y_test = x[:3000], y[:3000], x_test[:1000], y_test[:1000]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. here: two epochs with Adam
    model = nn.mlp([784, 128, 64, 10], seed=0)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), batch_size=64, seed=0)
    trainer.fit(x, y, args.epochs)
    acc_here = np.mean(trainer.predict(x_test).argmax(axis=1) == y_test)
    print(f"{ds.name}: {len(x):,} training images, {len(x_test):,} test images")
    print(f"autograd_viz, {args.epochs} epochs: test accuracy {100 * acc_here:.2f}%")

    # 2. export; PyTorch loads the file into the twin (a freshly initialised one, to show the weights come from it)
    exported = out / "mlp_autograd_viz.safetensors"
    save_safetensors(model, exported)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    twin = to_torch(nn.mlp([784, 128, 64, 10], seed=1))
    twin.load_state_dict(safetensors.torch.load_file(str(exported)))
    twin.to(device)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    xt_test = torch.from_numpy(x_test).to(device)

    def torch_accuracy() -> float:
        twin.eval()
        with torch.no_grad():
            predicted = twin(xt_test).argmax(dim=1).cpu().numpy()
        twin.train()
        return float(np.mean(predicted == y_test))

    acc_loaded = torch_accuracy()
    print(f"PyTorch, loaded from {exported.name}: test accuracy {100 * acc_loaded:.2f}% (the same model)")

    # 3. continue in PyTorch: two more epochs (a fresh Adam: optimizer state is not carried over)
    opt = torch.optim.Adam(twin.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(xt), generator=generator).split(64):
            batch = batch.to(device)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(twin(xt[batch]), yt[batch]).backward()
            opt.step()
    acc_torch = torch_accuracy()
    print(f"PyTorch on {device}, {args.epochs} more epochs: test accuracy {100 * acc_torch:.2f}%")

    # 4. and back: PyTorch's weights, loaded here
    returned = out / "mlp_pytorch.safetensors"
    safetensors.torch.save_file({k: v.cpu().contiguous() for k, v in twin.state_dict().items()}, str(returned))
    load_safetensors(model, returned)
    acc_back = np.mean(trainer.predict(x_test).argmax(axis=1) == y_test)
    print(f"autograd_viz, loaded from {returned.name}: test accuracy {100 * acc_back:.2f}% (the same model)")
    if abs(acc_loaded - acc_here) > 0.002 or abs(acc_back - acc_torch) > 0.002:
        print("outgrow_to_torch: the accuracy did not carry over", file=sys.stderr)
        return 1
    print("accuracy carried over both ways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
