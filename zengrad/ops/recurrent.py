"""Fused recurrent sequences: one Function runs one layer in one direction over all time steps.

Each op takes the whole sequence x (L, N, I), an optional initial state h0 (N, H) (None means
zeros, and skips the work on it), and the weights in PyTorch's layout, and returns the hidden
state of every time step (L, N, H), indexed by position in x (a reverse op reads x from the
end, so its state after reading x_t sits at t, as in PyTorch's bidirectional layers).

Speed comes from keeping the loop over time thin:
- RNN and GRU: the input projection of all time steps is one GEMM before the loop,
  X (L*N, I) @ W_ih^T, and each step does only h @ W_hh^T and the gate math; the LSTM does
  both in one GEMM per step, [W_hh | W_ih | b] @ [h; x_t; 1];
- the gate math runs in place in buffers allocated once;
- sigmoid(a) = 0.5 tanh(a / 2) + 0.5 for the RNN and GRU (one transcendental, no overflow);
  the LSTM works on its gates in i, f, o, g order internally, so one exp covers the three
  sigmoid gates (s = 1 / (1 + exp(-a)): NumPy's exp costs about half its tanh); in float32
  where Numba runs, a step's whole elementwise work (sigmoids, tanh of g, c_t, tanh c_t, h_t)
  is one compiled loop with ops.float32_math's exp and tanh (_fused_step);
- backward stores the steps' gate gradients and forms dW_ih, dW_hh, db and dx with one GEMM
  (or sum) each over all time steps (the LSTM: over blocks of steps, while in cache; where
  Numba runs its step writes them straight into the block, _slot_grad_kernels).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from zengrad import backend
from zengrad.autograd.function import Function
from zengrad.autograd.tensor import Tensor
from zengrad.ops import float32_math, kernels
from zengrad.ops.kernels import Kernel


def _sigmoid_(a: np.ndarray) -> None:
    """a <- sigmoid(a) = 0.5 tanh(a / 2) + 0.5, in place."""
    xp = backend.xp_of(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _lstm_kernels(with_prev: bool) -> tuple[Kernel, Kernel]:
    """The elementwise work of one LSTM step (ops.kernels), forward and backward, over the
    (H, N) blocks of the gates i, f, o, g; with_prev: a previous cell state c_{t-1} (cp)
    exists (every step but a first one without c_0)."""

    def cell(ai, af, ao, ag, cp, one):
        """Gates i, f, o already exp(-a) (from negated pre-activations), g already tanh'd:
        s = 1 / (1 + exp(-a)) for i, f, o, and c_t = i g + f c_{t-1}."""
        i, f, o = one / (one + ai), one / (one + af), one / (one + ao)
        return i, f, o, (i * ag + f * cp if with_prev else i * ag)

    def gate_grads(ai, af, ao, ag, tc, h, cp, dh, dc, one, zero):
        """dc_t = dc + dh o (1 - tanh^2 c) = dc + dh (o - h tanh c) (h = o tanh c), then the
        pre-activation gradients (sigma' = (1 - s) s, tanh' = 1 - g^2) and dc_{t-1} = dc_t f."""
        c = dc + (ao - h * tc) * dh
        df = c * cp * ((one - af) * af) if with_prev else zero * ((one - af) * af)
        return (c * ag * ((one - ai) * ai), df, dh * tc * ((one - ao) * ao),
                c * ai * (one - ag * ag), c * af)

    return (Kernel(cell, 5, 1, (0, 1, 2, None)),
            Kernel(gate_grads, 9, 2, (None, None, None, None, 8)))


_STEP_KERNELS = {True: _lstm_kernels(True), False: _lstm_kernels(False)}
@functools.cache
def _slot_grad_kernels():
    """{with_prev: k(a, tc, h, cp, dh, dc, blk, slot, one, zero)}: the backward step's gate
    gradients (_lstm_kernels' gate_grads, the same expressions: the same bits) for each (H, N)
    element, written straight into blk[:, slot] (4H, k, N) and dc in place, where Numba runs;
    the NumPy path wrote a contiguous block and copied it there (one 4H x N copy a step).
    None without Numba."""
    numba = kernels.numba_module()
    if not numba:
        return None

    def make(with_prev):
        grads = numba.njit(_STEP_KERNELS[with_prev][1].fn, nogil=True, error_model="numpy")

        @numba.njit(nogil=True, error_model="numpy")
        def step(a, tc, h, cp, dh, dc, blk, slot, one, zero):
            hid, n = tc.shape
            for r in range(hid):
                for j in range(n):
                    di, df, do, dg, dcp = grads(
                        a[r, j], a[hid + r, j], a[2 * hid + r, j], a[3 * hid + r, j],
                        tc[r, j], h[r, j], cp[r, j], dh[r, j], dc[r, j], one, zero)
                    blk[r, slot, j] = di
                    blk[hid + r, slot, j] = df
                    blk[2 * hid + r, slot, j] = do
                    blk[3 * hid + r, slot, j] = dg
                    dc[r, j] = dcp
        return step

    return {True: make(True), False: make(False)}


def _fused_step(dtype):
    """{with_prev: k(a, cp, ct, tc, h, m)}: one LSTM step's elementwise work over the
    gate block a (4m flat: i, f, o rows negated pre-activations, then g's), in one compiled
    loop with ops.float32_math's exp and tanh: i, f, o <- 1 / (1 + exp(-a)), g <- tanh(g),
    ct = i g + f cp (i g without a previous state), tc = tanh(ct), h = o tc, the values the
    NumPy path stores. float32 where Numba runs (LSTM step, 1 thread: see bench/README.md);
    None otherwise."""
    return _fused_step_kernels() if np.dtype(dtype) == np.float32 else None


@functools.cache
def _fused_step_kernels():
    """_fused_step's compiled loops, or None without Numba."""
    fns = float32_math.functions()
    if fns is None:
        return None
    numba = kernels.numba_module()
    exp32, tanh32 = fns
    one = np.float32(1.0)

    def make(with_prev):
        @numba.njit(nogil=True, error_model="numpy")
        def step(a, cp, ct, tc, h, m):
            for j in range(m):
                i = one / (one + exp32(a[j]))
                f = one / (one + exp32(a[m + j]))
                o = one / (one + exp32(a[2 * m + j]))
                g = tanh32(a[3 * m + j])
                c = i * g + f * cp[j] if with_prev else i * g
                t = tanh32(c)
                a[j], a[m + j], a[2 * m + j], a[3 * m + j] = i, f, o, g
                ct[j], tc[j], h[j] = c, t, o * t
        return step

    return {True: make(True), False: make(False)}


def _all_zero(a) -> bool:
    """Whether every element of a is +0.0: the maximum of its bits read as unsigned integers
    is 0 (one max-reduce, 8 us over 1 MB against 37 for any()'s cast to bool). -0.0 and NaN
    count as nonzero; for the caller that only means the general path."""
    if a.size == 0:
        return True
    if not a.flags.c_contiguous:
        return not a.any()
    return int(a.reshape(-1).view(f"u{a.dtype.itemsize}").max()) == 0


# the gate gradients of this many bytes of time steps go to the weight GEMMs at once
BLOCK_BYTES = 1 << 20


def _scratch(xp, dtype, *shapes: tuple[int, ...]) -> list:
    """Buffers for a loop, carved from one allocation so that no two start at the same
    address modulo 4 KiB: buffers of a power-of-two size, allocated one by one, all start at
    one offset within a page, and a ufunc reading one while writing another at the same
    page offset stalls on false store-to-load dependences ("4K aliasing", 1.8-2x slower
    passes here). Each buffer starts 64 elements + one cache line past the previous one's end."""
    itemsize = np.dtype(dtype).itemsize
    gap = 64 + 64 // itemsize
    sizes = [int(math.prod(s)) for s in shapes]
    flat = xp.empty(sum(sizes) + gap * len(shapes), dtype)
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(flat[start : start + size].reshape(shape))
        start += size + gap
    return out


def _swap_go(w: np.ndarray) -> np.ndarray:
    """PyTorch's LSTM gate blocks i, f, g, o <-> i, f, o, g along axis 0 (an involution)."""
    h = w.shape[0] // 4
    return backend.xp_of(w).concatenate((w[: 2 * h], w[3 * h :], w[2 * h : 3 * h]))


def _input_projection(x: np.ndarray, w_ih: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """A = X W_ih^T + bias for all time steps at once: (L, N, I) -> (L, N, G), one GEMM."""
    seq, n, _ = x.shape
    xp = backend.xp_of(x)
    a = xp.empty((seq, n, w_ih.shape[0]), x.dtype)
    xp.matmul(x.reshape(seq * n, x.shape[2]), w_ih.T, out=a.reshape(seq * n, w_ih.shape[0]))
    if bias is not None:
        a += bias
    return a


def _order(seq: int, reverse: bool) -> range:
    return range(seq - 1, -1, -1) if reverse else range(seq)


def _prev(states: np.ndarray, t: int, reverse: bool, h0: np.ndarray | None):
    """The state a step at position t started from (h0, possibly None, at the first step)."""
    first = states.shape[0] - 1 if reverse else 0
    if t == first:
        return h0
    return states[t + 1] if reverse else states[t - 1]


def _recurrent_weight_grad(
    dgates: np.ndarray, states: np.ndarray, h0: np.ndarray | None, reverse: bool
) -> np.ndarray:
    """dW_hh = sum_t dgates_t^T h_prev(t): one (G, (L-1)*N) @ ((L-1)*N, H) GEMM over the
    stored states, plus the first step's term when h0 was given (zero otherwise)."""
    seq, n, g = dgates.shape
    h = states.shape[-1]
    if reverse:
        d_rest, h_rest, d_first = dgates[: seq - 1], states[1:seq], dgates[seq - 1]
    else:
        d_rest, h_rest, d_first = dgates[1:], states[: seq - 1], dgates[0]
    dw = d_rest.reshape(-1, g).T @ h_rest.reshape(-1, h)
    if h0 is not None:
        dw += d_first.T @ h0
    return dw


def _input_grads(ctx, dgates: np.ndarray, w_ih: np.ndarray, w_ih_index: int):
    """dx = dgates W_ih and dW_ih = dgates^T X, each one GEMM over all time steps."""
    x = ctx.x
    seq, n, g = dgates.shape
    d2 = dgates.reshape(seq * n, g)
    dx = (d2 @ w_ih).reshape(x.shape) if ctx.needs_input_grad[0] else None
    dw_ih = d2.T @ x.reshape(seq * n, x.shape[2]) if ctx.needs_input_grad[w_ih_index] else None
    return dx, dw_ih


class RNNSequence(Function):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu.

    Backward: da_t = (g_t + dh_t) act'(a_t) with tanh' = 1 - h_t^2, relu' = [h_t > 0];
    dh_{t-1} = da_t W_hh; dW_ih = sum_t da_t^T x_t, dW_hh = sum_t da_t^T h_{t-1}, db = sum_t da_t.
    """


    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity="tanh", reverse=False):
        xp = ctx.xp = backend.xp_of(x)
        bias = None if b_ih is None else b_ih + b_hh
        out = _input_projection(x, w_ih, bias)  # pre-activations, turned into states in place
        rec = xp.empty(out.shape[1:], x.dtype)
        whh_t = w_hh.T
        h = h0
        for t in _order(x.shape[0], reverse):
            a = out[t]
            if h is not None:
                xp.matmul(h, whh_t, out=rec)
                a += rec
            if nonlinearity == "tanh":
                xp.tanh(a, out=a)
            else:
                xp.maximum(a, 0, out=a)
            h = a
        ctx.x, ctx.h0, ctx.w_ih, ctx.w_hh, ctx.out = x, h0, w_ih, w_hh, out
        ctx.relu, ctx.reverse, ctx.has_bias = nonlinearity == "relu", reverse, b_ih is not None
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        out, w_hh, h0, reverse = ctx.out, ctx.w_hh, ctx.h0, ctx.reverse
        needs = ctx.needs_input_grad
        seq = out.shape[0]
        da = xp.empty_like(out)
        dh = None
        order = _order(seq, reverse)
        first = order[0]  # the step that started from h0
        for t in reversed(order):
            d = da[t]
            if dh is None:
                xp.copyto(d, g[t])
            else:
                xp.add(g[t], dh, out=d)
            h = out[t]
            if ctx.relu:
                d *= h > 0
            else:
                d -= d * h * h  # tanh' = 1 - h^2
            if t != first or (h0 is not None and needs[1]):
                dh = d @ w_hh
        dx, dw_ih = _input_grads(ctx, da, ctx.w_ih, 2)
        dh0 = dh if h0 is not None and needs[1] else None
        dw_hh = _recurrent_weight_grad(da, out, h0, reverse) if needs[3] else None
        db_ih = db_hh = None
        if ctx.has_bias:
            db = da.reshape(-1, da.shape[-1]).sum(0)
            db_ih = db if needs[4] else None
            db_hh = db.copy() if needs[5] else None  # leaves must not share one gradient array
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


class LSTMSequence(Function):
    """i, f, o = sigmoid(.), g = tanh(.) of W_ih x_t + b_ih + W_hh h_{t-1} + b_hh (PyTorch's
    i, f, g, o blocks); c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    Returns [h_1 .. h_L; c_last] as one (L + 1, N, H) array: a Function has one output, and
    c_last (the cell state after the last step read) is the only other thing callers need.
    Backward (dh_t = g_t + the recurrent term, dc from c_last's grad and step t+1):
    dc_t += dh_t o (1 - tanh^2 c_t); di = dc g, df = dc c_{t-1}, do = dh tanh c_t, dg = dc i;
    gate pre-activations times sigma' = s (1 - s), tanh' = 1 - g^2; dc_{t-1} = dc_t f;
    dh_{t-1} = W_hh^T dgates.

    Layout (why it is fast): everything a step touches is feature-major and contiguous. A
    step's gates are one (4H, N) block and each gate an (H, N) block; c_t and tanh c_t are
    (H, N) blocks of (L, H, N) arrays, h_t the h rows of the next step's GEMM operand
    z = [h; x_t; 1]. Elementwise passes over strided views ran 2-4x slower than over
    contiguous blocks: the column slices of (N, 4H) rows, the transposed (H, N) view of an
    (N, H) row block, and the rows of one step in a (4H, L * N) matrix (one row of N floats
    per page). So the states are transposed into the caller's (L + 1, N, H) layout in one
    pass after the loop, and the backward forms a step's gate gradients in one contiguous
    (4H, N) block whose last pass writes them into a block of BLOCK_BYTES worth of steps,
    the operand of the weight-gradient GEMMs (_LSTMWeightGrads). The sigmoid rows of W_ih,
    W_hh and the bias are negated once, so ONE exp covers the three sigmoid gates
    (sigmoid(a) = 1 / (1 + exp(-a)); negating is exact; an exp that overflows gives the
    sigmoid's 0). Against one tanh over all four gates (sigmoid(a) = 0.5 tanh(a / 2) + 0.5):
    NumPy's float32 tanh costs ~3 ns an element on an AVX2 host, exp ~1.5, so exp over the
    three sigmoid gates and tanh over g took 62-67 us a step where one tanh took 100-112
    (batch 64, hidden 128).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = ctx.xp = backend.xp_of(x)
        seq, n, inp = x.shape
        hid = w_hh.shape[1]
        s3 = 3 * hid
        w_ih_p, w_hh_p = _swap_go(w_ih), _swap_go(w_hh)
        # one GEMM per step computes the whole pre-activation: [W_hh | W_ih | b] (4H, K) @
        # z_t = [h_{t-1}; x_t; 1] (K, N). Against a separate input projection (before the
        # loop) and a per-step `+= W_hh h`, this drops the (L, 4H, N) projection, bias and
        # add passes, and the elementwise work reads gates the GEMM just wrote (in cache)
        k = hid + inp + (b_ih is not None)
        w = xp.empty((4 * hid, k), x.dtype)
        w[:, :hid] = w_hh_p
        w[:, hid : hid + inp] = w_ih_p
        if b_ih is not None:
            w[:, -1] = _swap_go(b_ih + b_hh)
        w[:s3] *= -1  # sigmoid rows negated: exp(-a) for them, tanh(a) for g
        # z_t at position t is z[t] reading forward, z[t + 1] in reverse; the step writes h_t
        # into the h rows of the next z (the last one's goes to the spare block)
        gates, cells, tanh_c, z = _scratch(
            xp, x.dtype, (seq, 4 * hid, n), (seq, hid, n), (seq, hid, n), (seq + 1, k, n))
        zin = z[1:] if reverse else z[:seq]
        hs = z[:seq, :hid] if reverse else z[1:, :hid]
        zin[:, hid : hid + inp] = x.transpose(0, 2, 1)
        if b_ih is not None:
            zin[:, -1] = 1
        i_, f_, o_ = slice(0, hid), slice(hid, 2 * hid), slice(2 * hid, s3)
        order = _order(seq, reverse)
        if h0 is None:  # no h rows in the first step's GEMM
            first = order[0]
            xp.matmul(w[:, hid:], zin[first, hid:], out=gates[first])
        else:
            zin[order[0], :hid] = h0.T
        c = None if c0 is None else xp.ascontiguousarray(c0.T)
        tanh, exp, mul, matmul = xp.tanh, xp.exp, xp.multiply, xp.matmul
        # exp(-a) = inf is the sigmoid's 0, exp(-a) = 0 its 1: as they should be (NumPy's
        # warning state, on the host; CuPy warns of neither)
        fused = _fused_step(x.dtype) if xp is np else None
        with np.errstate(over="ignore", under="ignore"):  # host
            for t in order:
                a = gates[t]
                if h0 is not None or t != order[0]:
                    matmul(w, zin[t], out=a)
                if fused is not None:  # float32: the whole step's elementwise work, one loop
                    ct = cells[t]
                    fused[c is not None](a.reshape(-1), (ct if c is None else c).reshape(-1),
                                         ct.reshape(-1), tanh_c[t].reshape(-1),
                                         hs[t].reshape(-1), hid * n)
                    c = ct
                    continue
                # NumPy's exp and tanh (SIMD), then the sigmoids and c_t in one kernel
                exp(a[:s3], out=a[:s3])
                tanh(a[s3:], out=a[s3:])
                ct = cells[t]
                cell = _STEP_KERNELS[c is not None][0]
                cell([a[i_], a[f_], a[o_], a[s3:], a[s3:] if c is None else c], (1,), [ct])
                tc = tanh_c[t]
                tanh(ct, out=tc)
                mul(a[o_], tc, out=hs[t])
                c = ct
        # h_1..h_L, then c_last, in the caller's (L + 1, N, H) layout (contiguous, as torch's
        # output: .view works on it)
        states = xp.empty((seq + 1, n, hid), x.dtype)
        states[:seq] = hs.transpose(0, 2, 1)
        states[seq] = c.T
        ctx.x, ctx.h0, ctx.c0, ctx.w_ih_p, ctx.w_hh_p = x, h0, c0, w_ih_p, w_hh_p
        ctx.gates, ctx.cells, ctx.tanh_c, ctx.states = gates, cells, tanh_c, states
        ctx.hs = hs  # h_t feature-major, (H, N) blocks of z
        ctx.reverse, ctx.has_bias = reverse, b_ih is not None
        return states

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gates, cells, tanh_c, hs = ctx.gates, ctx.cells, ctx.tanh_c, ctx.hs
        h0, c0, reverse = ctx.h0, ctx.c0, ctx.reverse
        needs = ctx.needs_input_grad
        seq, hid, n = cells.shape
        s3 = 3 * hid
        # steps per block of gate gradients: the block (4H, k N) is the A of one GEMM per
        # weight gradient, filled step by step while it stays in cache
        k = max(1, min(seq, BLOCK_BYTES // max(1, 4 * hid * n * g.dtype.itemsize)))
        blk, d, dc, dh, dht = _scratch(
            xp, g.dtype, (4 * hid, k, n), (4 * hid, n), (hid, n), (hid, n), (hid, n))
        xp.copyto(dc, g[seq].T)
        w_hh_t = ctx.w_hh_p.T
        c0t = None if c0 is None else xp.ascontiguousarray(c0.T)
        i_, f_, o_ = slice(0, hid), slice(hid, 2 * hid), slice(2 * hid, s3)
        grads = _LSTMWeightGrads(ctx, blk, needs, g.dtype)
        order = _order(seq, reverse)
        first = order[0]  # the step that started from h0
        # a model that reads only the last state (h_n -> a head) sends zeros for every other
        # step: then dh_t is the recurrent term alone, without the (H, N) add of a transposed
        # view (7 us a step; the check reads g's bits once, 8 us). The bits are the add's
        # (x + 0 = x) but for the sign of a zero
        zero_g = _all_zero(g[1:seq] if reverse else g[: seq - 1])  # (the first step copies)
        slot_kernels = _slot_grad_kernels() if xp is np else None
        one, zero = g.dtype.type(1), g.dtype.type(0)
        have_dh = False
        for t in reversed(order):
            a, tc = gates[t], tanh_c[t]
            if have_dh:
                if zero_g:
                    dht, dh = dh, dht  # dh_t = the recurrent term; the other buffer is free
                else:
                    xp.add(g[t].T, dh, out=dht)
            else:
                xp.copyto(dht, g[t].T)
            c_prev = c0t if t == first else cells[t + 1 if reverse else t - 1]
            slot = blk[:, t % k]  # (4H, N) rows k N apart: BLAS reads it as it is
            if slot_kernels is not None:  # straight into the step's column of blk
                slot_kernels[c_prev is not None](
                    a, tc, hs[t], tc if c_prev is None else c_prev, dht, dc, blk, t % k,
                    one, zero)
                dsrc = slot
            else:
                # the gate gradients into a contiguous block, then copied into the step's
                # column of blk (ufuncs over blk's strided rows ran 2-4x slower)
                grad_kernel = _STEP_KERNELS[c_prev is not None][1]
                grad_kernel([a[i_], a[f_], a[o_], a[s3:], tc, hs[t],
                             tc if c_prev is None else c_prev, dht, dc], (1, 0),
                            [d[i_], d[f_], d[o_], d[s3:]])
                xp.copyto(slot, d)
                dsrc = d
            if t != first or (h0 is not None and needs[1]):
                xp.matmul(w_hh_t, dsrc, out=dh)
                have_dh = True
            if (t % k == 0) if not reverse else (t % k == k - 1 or t == seq - 1):
                lo = t - t % k
                grads.add(lo, min(lo + k, seq))
        dh0 = xp.ascontiguousarray(dh.T) if h0 is not None and needs[1] else None
        dc0 = xp.ascontiguousarray(dc.T) if c0 is not None and needs[2] else None
        return grads.dx, dh0, dc0, *grads.results()


class _LSTMWeightGrads:
    """The LSTM's input and weight gradients, summed block by block of time steps.

    A block holds the gate gradients of steps lo..hi-1 as one (4H, (hi - lo) N) matrix D
    (column block j = step lo + j); then dx[lo:hi] = D^T W_ih and
    [dW_hh | dW_ih | db] += D Z[lo:hi], Z (L N, K) holding [h_{t-1} | x_t | 1] for every step
    and sequence (h_{t+1} in reverse; h0, or zeros, for the first step). One GEMM per block
    for all three gradients, while D is in cache: 609 us against 468 + 189 for D H_prev and
    D [X | 1] apart (1 thread, 8 steps of batch 64, hidden 128, input 32); Z costs one copy
    of the states."""

    def __init__(self, ctx, blk, needs, dtype) -> None:
        self.xp, self.blk, self.needs = ctx.xp, blk, needs
        self.has_bias = ctx.has_bias
        self.w_ih_p = ctx.w_ih_p
        seq, n, inp = ctx.x.shape
        hid = ctx.states.shape[2]
        xp = self.xp
        self.dx = xp.empty((seq, n, inp), dtype) if needs[0] else None
        self.z = self.dw = None
        if needs[3] or needs[4] or (ctx.has_bias and (needs[5] or needs[6])):
            k = hid + inp + int(ctx.has_bias)
            z = self.z = xp.empty((seq, n, k), dtype)
            states, h0 = ctx.states, ctx.h0
            # the state step t read: h_{t-1} reading forward, h_{t+1} in reverse
            first = seq - 1 if ctx.reverse else 0
            if ctx.reverse:
                z[: seq - 1, :, :hid] = states[1:seq]
            else:
                z[1:, :, :hid] = states[: seq - 1]
            z[first, :, :hid] = 0 if h0 is None else h0
            z[..., hid : hid + inp] = ctx.x
            if ctx.has_bias:
                z[..., -1] = 1
            self.dw = xp.zeros((4 * hid, k), dtype)

    def add(self, lo: int, hi: int) -> None:
        xp, n, inp = self.xp, self.blk.shape[2], self.w_ih_p.shape[1]
        rows = (hi - lo) * n  # (explicit sizes, not -1: the batch may be empty)
        d = self.blk[:, : hi - lo].reshape(self.blk.shape[0], rows)
        if self.dx is not None:
            xp.matmul(d.T, self.w_ih_p, out=self.dx[lo:hi].reshape(rows, inp))
        if self.dw is not None:
            self.dw += d @ self.z[lo:hi].reshape(rows, self.z.shape[2])

    def results(self) -> tuple:
        """dW_ih, dW_hh, db_ih, db_hh in PyTorch's gate order (None where not needed)."""
        needs, dw = self.needs, self.dw
        if dw is None:
            return None, None, None, None
        hid, inp = dw.shape[0] // 4, self.w_ih_p.shape[1]
        dw_ih = _swap_go(dw[:, hid : hid + inp]) if needs[3] else None
        dw_hh = _swap_go(dw[:, :hid]) if needs[4] else None
        db_ih = db_hh = None
        if self.has_bias:
            db = _swap_go(dw[:, -1])
            db_ih = db if needs[5] else None
            db_hh = db.copy() if needs[6] else None  # leaves must not share one gradient array
        return dw_ih, dw_hh, db_ih, db_hh


class GRUSequence(Function):
    """r, z = sigmoid(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z});
    n = tanh(W_in x_t + b_in + r (W_hn h_{t-1} + b_hn)); h_t = (1 - z) n + z h_{t-1}.

    Backward, with hn = W_hn h_{t-1} + b_hn and dh = g_t + the recurrent term:
    da_n = dh (1 - z)(1 - n^2); da_z = dh (h_{t-1} - n) z (1 - z); da_r = da_n hn r (1 - r);
    the input side sees (da_r, da_z, da_n), the recurrent side (da_r, da_z, da_n r);
    dh_{t-1} = dh z + (da_r, da_z, da_n r) W_hh.
    """


    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False):
        xp = ctx.xp = backend.xp_of(x)
        seq, n, _ = x.shape
        hid = w_hh.shape[1]
        s2 = 2 * hid
        gates = _input_projection(x, w_ih, b_ih)  # r, z, n; activated in place
        if b_hh is not None:
            gates[..., :s2] += b_hh[:s2]  # the r, z recurrent biases add like the input ones
        b_hn = None if b_hh is None else b_hh[s2:]
        hn_all = xp.empty((seq, n, hid), x.dtype)
        out = xp.empty((seq, n, hid), x.dtype)
        rec = xp.empty((n, 3 * hid), x.dtype)
        whh_t = w_hh.T
        h = h0
        for t in _order(seq, reverse):
            a, hn, ht = gates[t], hn_all[t], out[t]
            if h is not None:
                xp.matmul(h, whh_t, out=rec)
                a[:, :s2] += rec[:, :s2]
                hn[...] = rec[:, s2:]
                if b_hn is not None:
                    hn += b_hn
            elif b_hn is not None:
                hn[...] = b_hn
            else:
                hn[...] = 0
            _sigmoid_(a[:, :s2])
            r, z, nn_ = a[:, :hid], a[:, hid:s2], a[:, s2:]
            xp.multiply(r, hn, out=ht)
            nn_ += ht
            xp.tanh(nn_, out=nn_)
            if h is None:  # h_t = n - z n
                xp.multiply(z, nn_, out=ht)
                xp.subtract(nn_, ht, out=ht)
            else:  # h_t = n + z (h - n)
                xp.subtract(h, nn_, out=ht)
                ht *= z
                ht += nn_
            h = ht
        ctx.x, ctx.h0, ctx.w_ih, ctx.w_hh = x, h0, w_ih, w_hh
        ctx.gates, ctx.hn, ctx.out = gates, hn_all, out
        ctx.reverse, ctx.has_bias = reverse, b_ih is not None
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gates, hn_all, out, h0, reverse, w_hh = (
            ctx.gates, ctx.hn, ctx.out, ctx.h0, ctx.reverse, ctx.w_hh
        )
        needs = ctx.needs_input_grad
        seq, n, hid = out.shape
        s2 = 2 * hid
        drec = xp.empty_like(gates)  # recurrent side: da_r, da_z, da_n r
        dan_all = xp.empty((seq, n, hid), g.dtype)  # input side of n: da_n
        tmp = xp.empty((n, hid), g.dtype)
        dsig = xp.empty((n, s2), g.dtype)
        dh = None
        order = _order(seq, reverse)
        first = order[0]  # the step that started from h0
        for t in reversed(order):
            a, d, dan = gates[t], drec[t], dan_all[t]
            r, z, nn_ = a[:, :hid], a[:, hid:s2], a[:, s2:]
            dht = g[t] if dh is None else g[t] + dh
            h_prev = _prev(out, t, reverse, h0)
            xp.subtract(1, z, out=tmp)  # da_n = dh (1 - z) (1 - n^2)
            xp.multiply(dht, tmp, out=dan)
            xp.multiply(nn_, nn_, out=tmp)
            xp.subtract(1, tmp, out=tmp)
            dan *= tmp
            if h_prev is None:  # da_z = dh (h_prev - n) before sigma'
                xp.negative(nn_, out=d[:, hid:s2])
            else:
                xp.subtract(h_prev, nn_, out=d[:, hid:s2])
            d[:, hid:s2] *= dht
            xp.multiply(dan, hn_all[t], out=d[:, :hid])  # da_r = da_n hn before sigma'
            s = a[:, :s2]
            xp.subtract(1, s, out=dsig)
            dsig *= s
            d[:, :s2] *= dsig
            xp.multiply(dan, r, out=d[:, s2:])
            if t != first or (h0 is not None and needs[1]):
                dh = d @ w_hh
                xp.multiply(dht, z, out=tmp)
                dh += tmp
        dgates = drec.copy()
        dgates[..., s2:] = dan_all
        dx, dw_ih = _input_grads(ctx, dgates, ctx.w_ih, 2)
        dh0 = dh if h0 is not None and needs[1] else None
        dw_hh = _recurrent_weight_grad(drec, out, h0, reverse) if needs[3] else None
        db_ih = db_hh = None
        if ctx.has_bias:
            db_ih = dgates.reshape(-1, 3 * hid).sum(0) if needs[4] else None
            db_hh = drec.reshape(-1, 3 * hid).sum(0) if needs[5] else None
        return dx, dh0, dw_ih, dw_hh, db_ih, db_hh


def _check_sequence_args(
    name: str, gates: int, x: Tensor, states: dict, w_ih: Tensor, w_hh: Tensor, b_ih, b_hh
) -> None:
    """Shapes and dtypes of one fused sequence op's arguments, with the offending values."""
    if not isinstance(x, Tensor) or x.array.ndim != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: x must be a 3-D tensor (L, N, input_size), got {shape}")
    dtype = x.array.dtype
    if dtype.kind != "f":
        raise TypeError(f"{name}: x must be a floating point tensor, got {dtype}")
    seq, n, inp = x.array.shape
    if seq < 1:
        raise ValueError(f"{name}: the sequence length must be at least 1, got x of shape "
                         f"{tuple(x.shape)}")
    if w_hh.array.ndim != 2 or w_hh.array.shape[0] != gates * w_hh.array.shape[1]:
        raise ValueError(f"{name}: w_hh must be ({gates} * hidden_size, hidden_size), got "
                         f"{tuple(w_hh.shape)}")
    hid = w_hh.array.shape[1]
    expected = {"w_ih": (gates * hid, inp), "w_hh": (gates * hid, hid)}
    given = {"w_ih": w_ih, "w_hh": w_hh}
    if (b_ih is None) != (b_hh is None):
        raise ValueError(f"{name}: give both b_ih and b_hh or neither")
    if b_ih is not None:
        expected.update(b_ih=(gates * hid,), b_hh=(gates * hid,))
        given.update(b_ih=b_ih, b_hh=b_hh)
    for key, t in states.items():
        if t is not None:
            expected[key] = (n, hid)
            given[key] = t
    for key, shape in expected.items():
        t = given[key]
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: {key} must be a Tensor, got {type(t).__name__}")
        if t.array.shape != shape:
            raise ValueError(f"{name}: {key} must have shape {shape} for x of shape "
                             f"{tuple(x.shape)} and hidden_size {hid}, got {tuple(t.shape)}")
        if t.array.dtype != dtype:
            raise TypeError(f"{name}: {key} is {t.array.dtype} but x is {dtype}; "
                            "they must have the same dtype")


def rnn_sequence(
    x: Tensor,
    h0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    reverse: bool = False,
) -> Tensor:
    """Elman RNN over x (L, N, I) from h0 (N, H) or zeros: all states (L, N, H)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: unknown nonlinearity {nonlinearity!r} "
                         "(expected 'tanh' or 'relu')")
    _check_sequence_args("rnn_sequence", 1, x, {"h0": h0}, w_ih, w_hh, b_ih, b_hh)
    return RNNSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=nonlinearity,
                             reverse=bool(reverse))


def lstm_sequence(
    x: Tensor,
    h0: Tensor | None,
    c0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> Tensor:
    """LSTM over x (L, N, I) from (h0, c0) (N, H) or zeros: [h_1..h_L; c_last] (L + 1, N, H)."""
    _check_sequence_args("lstm_sequence", 4, x, {"h0": h0, "c0": c0}, w_ih, w_hh, b_ih, b_hh)
    return LSTMSequence.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=bool(reverse))


def gru_sequence(
    x: Tensor,
    h0: Tensor | None,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> Tensor:
    """GRU over x (L, N, I) from h0 (N, H) or zeros: all states (L, N, H)."""
    _check_sequence_args("gru_sequence", 3, x, {"h0": h0}, w_ih, w_hh, b_ih, b_hh)
    return GRUSequence.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=bool(reverse))
