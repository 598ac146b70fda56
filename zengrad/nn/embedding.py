"""Embedding: a lookup table of rows (F.embedding; the op is zengrad.ops.embedding)."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import init
from zengrad.nn.functional import embedding
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place
from zengrad.ops.embedding import normalize_padding_idx

__all__ = ["Embedding", "embedding"]


class Embedding(Module):
    """A table of num_embeddings vectors of size embedding_dim, looked up by index.

    weight (num_embeddings, embedding_dim) ~ N(0, 1), with the padding_idx row zero (it
    gets no gradient, so it stays zero in training). Input (*) int64 -> output (*, D).
    max_norm, norm_type, scale_grad_by_freq, sparse: as F.embedding.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: np.ndarray | None = None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
                raise ValueError(f"Embedding: {name} must be a positive int, got {n!r}")
        device = layer_device(device, "Embedding")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = normalize_padding_idx(padding_idx, self.num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        if _weight is None:
            shape = (self.num_embeddings, self.embedding_dim)
            self.weight = Parameter(np.empty(shape, dt), requires_grad=not _freeze)  # host
            self.reset_parameters()
        else:
            src = _weight.array if isinstance(_weight, Tensor) else _weight
            w = (backend.xp_of(src) if backend.is_array(src) else np).array(src, copy=True)
            if w.shape != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding: _weight must have shape ({self.num_embeddings}, "
                                 f"{self.embedding_dim}), got {w.shape}")
            self.weight = Parameter(w, requires_grad=not _freeze)
        place(self, device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of embeddings (V, D); frozen (no grad) by default."""
        arr = (embeddings.array if isinstance(embeddings, Tensor)
               else np.asarray(embeddings))  # host: array-likes
        if arr.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{arr.shape}")
        return cls(arr.shape[0], arr.shape[1], padding_idx, max_norm, norm_type,
                   scale_grad_by_freq, sparse, dtype=arr.dtype, _weight=arr, _freeze=freeze)

    def forward(self, input) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
