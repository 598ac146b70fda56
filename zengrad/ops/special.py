"""Ops of the special family (being written); exported by zengrad/ops/__init__.py."""

from __future__ import annotations

__all__: list[str] = []
# Tensor methods this family gives: {method name: function}
TENSOR_METHODS: dict = {}
