"""Bundled, offline datasets (nothing is downloaded at run time) and a name registry.

Loaders return NumPy arrays, `(x_train, y_train), (x_test, y_test)`, float32 inputs and
int64 class labels, split with a fixed seed; wrap them in TensorDataset for a DataLoader.
"""

from zengrad.data.datasets._common import OptionalDependencyError
from zengrad.data.datasets.images import load_digits, load_mnist
from zengrad.data.datasets.registry import Splits, get_dataset, list_datasets, register_dataset
from zengrad.data.datasets.synthetic import (
    make_moons,
    make_noisy_sine,
    make_sequence_task,
    make_spirals,
)
from zengrad.data.datasets.tabular import load_breast_cancer, load_diabetes, load_iris, load_wine
from zengrad.data.datasets.text import CharVocab, char_sequences, load_char_corpus, load_python_help
from zengrad.data.datasets.timeseries import load_co2, load_sunspots, sliding_windows
