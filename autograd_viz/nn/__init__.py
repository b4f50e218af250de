"""Layers, initialisers and losses for the Tensor engine: ``from autograd_viz import nn``."""

from autograd_viz.nn import init
from autograd_viz.nn.layers import (
    ACTIVATIONS,
    BatchNorm1d,
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sigmoid,
    Tanh,
    mlp,
)
from autograd_viz.nn.losses import (
    CrossEntropyLoss,
    MSELoss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_penalty,
    l2_penalty,
    mse_loss,
)
from autograd_viz.nn.module import Module, Parameter, Sequential, summary

__all__ = [
    "ACTIVATIONS",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "Dropout",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "init",
    "l1_penalty",
    "l2_penalty",
    "mlp",
    "mse_loss",
    "summary",
]
