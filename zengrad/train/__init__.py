"""Training: Trainer (fit / evaluate / predict), callbacks, metrics, History, and the
command line's training recipe (zengrad.train.recipe)."""

from zengrad.train import metrics, recipe
from zengrad.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
)
from zengrad.train.history import History
from zengrad.train.trainer import NonFiniteLossError, Trainer
