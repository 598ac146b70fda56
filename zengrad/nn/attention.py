"""MultiheadAttention with PyTorch's parameters, arguments and mask conventions.

    head_i = softmax((q W_q,i) (k W_k,i)^T / sqrt(d) + mask) (v W_v,i),   d = E / H
    out = concat(head_1 .. head_H) W_o^T + b_o

The layer holds the parameters and checks its arguments once, in __init__; forward is
F.multi_head_attention_forward (zengrad.ops.multihead_attention: its paths, the fused
packed self-attention among them).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from zengrad import backend
from zengrad.autograd.tensor import Tensor
from zengrad.nn import functional as F
from zengrad.nn import init
from zengrad.nn.linear import Linear
from zengrad.nn.module import Module
from zengrad.nn.parameter import Parameter
from zengrad.nn.placement import layer_device, place


class MultiheadAttention(Module):
    """Attention over H heads of size E / H, with PyTorch's layout:
    in_proj_weight (3E, E) = [W_q; W_k; W_v] (or q/k/v_proj_weight when kdim or vdim != E),
    in_proj_bias (3E), out_proj (Linear E -> E).

    Inputs (L, N, E) / (S, N, kdim) / (S, N, vdim), or (N, L, E) ... with batch_first, or
    unbatched (L, E). Returns (attn_output, attn_weights): weights (N, L, S) averaged over
    heads, (N, H, L, S) with average_attn_weights=False, None when need_weights=False.
    key_padding_mask (N, S) and attn_mask (L, S) or (N H, L, S): bool True = not allowed to
    attend, float = added to the scores.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                      "supported")
        device = layer_device(device, "MultiheadAttention")
        dt = np.dtype(dtype) if dtype is not None else backend.get_default_dtype()
        e = int(embed_dim)
        self.embed_dim, self.num_heads, self.head_dim = e, int(num_heads), e // int(num_heads)
        self.kdim = int(kdim) if kdim is not None else e
        self.vdim = int(vdim) if vdim is not None else e
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        self.dropout = dropout
        self.batch_first = batch_first
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dt))  # host
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dt))  # host
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dt))  # host
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dt))  # host
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * e, dt))  # host
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        self._reset_parameters()
        place(self, device)

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # ----------------------------------------------------------------- forward
    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        separate = not self._qkv_same_embed_dim
        return F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, None, None, False, self.dropout, self.out_proj.weight,
            self.out_proj.bias, training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask, use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, batch_first=self.batch_first,
        )

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
