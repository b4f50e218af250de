"""Training: the loop (``Trainer``), metrics and history, plots, checkpoints."""

from autograd_viz.train.checkpoint import Checkpoint, CheckpointError, load_checkpoint, restore, save_checkpoint
from autograd_viz.train.loop import Trainer, TrainingDiverged, argmax_labels
from autograd_viz.train.metrics import History, accuracy, confusion_matrix, per_class_accuracy
from autograd_viz.train.plots import have_matplotlib, plot_confusion_matrix, plot_learning_curves

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "History",
    "Trainer",
    "TrainingDiverged",
    "accuracy",
    "argmax_labels",
    "confusion_matrix",
    "have_matplotlib",
    "load_checkpoint",
    "per_class_accuracy",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "restore",
    "save_checkpoint",
]
