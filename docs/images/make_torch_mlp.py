"""Draw the README's pair of pictures: one PyTorch MLP's backward graph by autograd_viz.torch and by torchviz.

    python docs/images/make_torch_mlp.py      # needs torch; torchviz 0.0.3 (pip install torchviz==0.0.3) optional
"""

from pathlib import Path

import torch

from autograd_viz import draw
from autograd_viz.torch import draw_torch

HERE = Path(__file__).resolve().parent

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
x, target = torch.randn(8, 4), torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
loss = torch.nn.functional.cross_entropy(model(x), target)

ours = draw_torch(loss, params={"x": x, **dict(model.named_parameters())}, kind="backward",
                  title="autograd_viz.torch.draw_torch")
draw.save(ours, HERE / "torch_mlp_ours.png")
try:
    import torchviz
except ImportError:
    print("torchviz is not installed: drew ours only (pip install torchviz==0.0.3 for the other picture)")
else:
    theirs = torchviz.make_dot(loss, params=dict(model.named_parameters()))
    theirs.render(str(HERE / "torch_mlp_torchviz"), format="png", cleanup=True)
