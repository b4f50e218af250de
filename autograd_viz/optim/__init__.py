"""Optimizers and learning-rate schedules: ``from autograd_viz import optim``."""

from autograd_viz.optim.optimizers import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    Adamax,
    Optimizer,
    RMSprop,
    make_optimizer,
)
from autograd_viz.optim.schedules import (
    SCHEDULES,
    Constant,
    CosineWarmRestarts,
    CyclicalLR,
    ExponentialDecay,
    InverseTimeDecay,
    Schedule,
    StepDecay,
    make_schedule,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adagrad",
    "Adam",
    "Adamax",
    "Constant",
    "CosineWarmRestarts",
    "CyclicalLR",
    "ExponentialDecay",
    "InverseTimeDecay",
    "Optimizer",
    "RMSprop",
    "Schedule",
    "StepDecay",
    "make_optimizer",
    "make_schedule",
]
