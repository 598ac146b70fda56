"""Training: Trainer (fit / evaluate / predict), callbacks, metrics and History."""

from zengrad.train import metrics
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
