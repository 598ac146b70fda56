"""Optimizers and learning-rate schedules, with PyTorch's names, defaults and state_dicts."""

from zengrad.optim import lr_scheduler
from zengrad.optim.adadelta import Adadelta
from zengrad.optim.adagrad import Adagrad
from zengrad.optim.adam import Adam, AdamW
from zengrad.optim.lbfgs import LBFGS
from zengrad.optim.optimizer import Optimizer
from zengrad.optim.rmsprop import RMSprop
from zengrad.optim.sgd import SGD

__all__ = [
    "LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop",
    "lr_scheduler",
]
