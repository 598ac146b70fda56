"""Helpers around modules: gradient clipping, parameter vectors, weight penalties, summary."""

from zengrad.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)
from zengrad.nn.utils.penalties import l1_penalty, l2_penalty
from zengrad.nn.utils.summary import ModelSummary, summary

__all__ = [
    "ModelSummary", "clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty",
    "parameters_to_vector", "summary", "vector_to_parameters",
]
