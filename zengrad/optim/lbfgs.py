"""L-BFGS with torch's two-loop recursion and its strong-Wolfe line search (from minFunc).

All parameters are treated as one flat vector x (in group order, each flattened in C order).
Scalars (dot products, step sizes) are kept as NumPy scalars of the parameters' dtype, so
float32 runs do their scalar arithmetic in float32 as torch's 0-d tensors do (NumPy 2 treats
Python floats as weak, as torch does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from zengrad import backend
from zengrad.autograd import enable_grad
from zengrad.autograd.tensor import Tensor
from zengrad.optim.optimizer import Optimizer, _as_index, _is_number, _short, check_nonnegative

_LINE_SEARCHES = (None, "strong_wolfe")


def _abs_max(a: np.ndarray):
    """max |a_i| without a temporary; NaN propagates (np.maximum, not the builtin max)."""
    return backend.xp_of(a).maximum(a.max(), -a.min())


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1, f1'=g1) and (x2, f2, f2'=g2), clipped to the
    bounds (default [min(x1, x2), max(x1, x2)]); the bounds' midpoint when it has none:
    d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2);  d2 = sqrt(d1^2 - g1 g2);
    x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)   (x2 the farther point)."""
    with np.errstate(all="ignore"):  # host: scalars; torch's 0-d tensors give inf/nan here silently
        return _cubic(x1, f1, g1, x2, f2, g2, bounds)


def _cubic(x1, f1, g1, x2, f2, g2, bounds):
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = backend.xp_of(d2_square).sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


class LBFGS(Optimizer):
    """Limited-memory BFGS over all parameters as one vector x, gradient g.

    Each step(closure) runs up to max_iter iterations (max_eval closure calls):
      direction: d = -H g, H the L-BFGS inverse Hessian from the last history_size pairs
        (s = t d, y = g_new - g_old, kept when y.s > 1e-10), by the two-loop recursion:
        q = -g;  for i newest..oldest: a_i = rho_i s_i.q, q -= a_i y_i  (rho_i = 1 / y_i.s_i);
        r = (y.s / y.y) q;  for i oldest..newest: b_i = rho_i y_i.r, r += (a_i - b_i) s_i;
        d = r  (d = -g at the very first iteration);
      step length: t = min(1, 1 / sum|g|) lr at the first iteration, else lr; with
        line_search_fn='strong_wolfe', t is refined by a bracketing + zoom search with cubic
        interpolation until f(x + t d) <= f + 1e-4 t g.d and |g(x + t d).d| <= 0.9 |g.d|;
      x = x + t d.
    It stops early when max|g| <= tolerance_grad, g.d > -tolerance_change,
    max|t d| <= tolerance_change or |f - f_prev| < tolerance_change. Returns the loss of the
    closure's first call. One parameter group only, as torch; all parameters of one dtype.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        _check_count("max_iter", max_iter)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]
        dtypes = {p.array.dtype for p in self._params}
        if len(dtypes) != 1:
            raise TypeError(
                "LBFGS: all parameters must have one dtype (they are optimized as one flat "
                f"vector), got {sorted(str(d) for d in dtypes)}"
            )
        self._dtype = dtypes.pop()
        self._sizes = [p.array.size for p in self._params]
        self._numel = sum(self._sizes)
        backend.xp_of_all("LBFGS", *(p.array for p in self._params))  # one device
        # flat work vectors, made once (named below), so iterations don't allocate
        self._bufs: dict[str, np.ndarray] = {}

    # ----- groups and hyperparameters ---------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _validate(self, group: dict[str, Any]) -> None:
        check_nonnegative("learning rate", group["lr"])
        for name in ("max_iter", "max_eval", "history_size"):
            _check_count(name, group[name])
        check_nonnegative("tolerance_grad", group["tolerance_grad"])
        check_nonnegative("tolerance_change", group["tolerance_change"])
        if group["line_search_fn"] not in _LINE_SEARCHES:
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r} (only 'strong_wolfe' is supported)"
            )

    # ----- the flat vector ----------------------------------------------------------
    @property
    def _xp(self):
        """The module of the parameters' device: the flat vectors live there too."""
        return backend.xp_of(self._params[0].array)

    def _buf(self, name: str) -> np.ndarray:
        xp = self._xp
        buf = self._bufs.get(name)
        if buf is None:
            buf = self._bufs[name] = xp.empty(self._numel, dtype=self._dtype)
        return buf

    def _check_params(self) -> None:
        """The flat layout was fixed at construction: refuse a p.array replaced by an array of
        another size or dtype, rather than mis-slicing it."""
        for i, (p, n) in enumerate(zip(self._params, self._sizes)):
            if p.array.size != n or p.array.dtype != self._dtype:
                raise ValueError(
                    f"LBFGS.step: params[{i}] now has shape {tuple(p.array.shape)} and dtype "
                    f"{p.array.dtype}, but had {n} elements of dtype {self._dtype} when the "
                    "optimizer was built (was p.array replaced?)"
                )

    def _segments(self):
        offset = 0
        for p, n in zip(self._params, self._sizes):
            yield p, slice(offset, offset + n)
            offset += n

    def _gather_flat_grad(self, out: np.ndarray) -> np.ndarray:
        """out <- the gradients, flattened and concatenated (zeros where p.grad is None)."""
        self._check_grads()
        for p, seg in self._segments():
            if p._grad is None:
                out[seg] = 0
            else:
                out[seg].reshape(p.array.shape)[...] = p._grad.array
        return out

    def _add_grad(self, t, d: np.ndarray) -> None:
        """x <- x + t d, parameter by parameter in place."""
        xp = self._xp
        tmp = self._buf("tmp")
        xp.multiply(d, t, out=tmp)
        for p, seg in self._segments():
            p.array += tmp[seg].reshape(p.array.shape)

    def _clone_param(self, out: np.ndarray) -> np.ndarray:
        for p, seg in self._segments():
            out[seg].reshape(p.array.shape)[...] = p.array
        return out

    def _set_param(self, x: np.ndarray) -> None:
        xp = self._xp
        for p, seg in self._segments():
            xp.copyto(p.array, x[seg].reshape(p.array.shape))

    @staticmethod
    def _evaluate(closure: Callable[[], Any]) -> tuple[Any, float]:
        """(what the closure returned, as a float), the closure run with gradients on."""
        with enable_grad():
            out = closure()
        try:
            return out, float(out)
        except (TypeError, ValueError) as e:
            raise TypeError(
                "LBFGS.step: the closure must return the loss (a number or a one-element "
                f"tensor), got {_short(out)}"
            ) from e

    def _directional_evaluate(self, closure, x: np.ndarray, t, d: np.ndarray):
        """(f, g) at x + t d (g in the 'g_new' buffer); the parameters are put back to x."""
        self._add_grad(t, d)
        _, loss = self._evaluate(closure)
        flat_grad = self._gather_flat_grad(self._buf("g_new"))
        self._set_param(x)
        return loss, flat_grad

    # ----- the step -----------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None):  # type: ignore[override]
        """Run up to max_iter L-BFGS iterations; closure() re-evaluates the model (zero_grad,
        forward, backward) and returns the loss. Returns the first evaluation's loss."""
        xp = self._xp
        if not callable(closure):
            raise TypeError(
                "LBFGS.step(closure) needs a closure that zeroes the gradients, re-evaluates "
                f"the model, calls backward() and returns the loss; got {_short(closure)}"
            )
        self._check_params()
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        # L-BFGS's state is global; torch files it under the first parameter
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad(self._buf("flat"))
        if _abs_max(flat_grad) <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        tmp = self._buf("tmp")

        n_iter = 0
        opt_cond = False
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- descent direction
            if d is None:  # d is kept in place from here on (the state owns it)
                d = xp.empty(self._numel, dtype=self._dtype)
            if state["n_iter"] == 1:
                xp.negative(flat_grad, out=d)
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y, s = self._buf("y"), self._buf("s")
                xp.subtract(flat_grad, prev_flat_grad, out=y)
                xp.multiply(d, t, out=s)
                ys = xp.dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        # drop the oldest pair; its arrays become the next y, s buffers
                        self._bufs["y"], self._bufs["s"] = old_dirs.pop(0), old_stps.pop(0)
                        ro.pop(0)
                    else:
                        del self._bufs["y"], self._bufs["s"]  # the history keeps these
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / xp.dot(y, y)  # scale of the initial inverse Hessian

                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                if len(al) < history_size:  # history_size raised after a load
                    al.extend([None] * (history_size - len(al)))
                q = xp.negative(flat_grad, out=self._buf("q"))
                for i in range(num_old - 1, -1, -1):
                    al[i] = xp.dot(old_stps[i], q) * ro[i]
                    xp.multiply(old_dirs[i], -al[i], out=tmp)
                    q += tmp
                r = xp.multiply(q, H_diag, out=d)
                for i in range(num_old):
                    be_i = xp.dot(old_dirs[i], r) * ro[i]
                    xp.multiply(old_stps[i], al[i] - be_i, out=tmp)
                    r += tmp

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                xp.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # ---- step length
            if state["n_iter"] == 1:
                xp.abs(flat_grad, out=tmp)
                t = min(1.0, 1.0 / tmp.sum()) * lr
            else:
                t = lr
            gtd = xp.dot(flat_grad, d)
            if gtd > -tolerance_change:  # not a descent direction (to tolerance)
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param(self._buf("x_init"))
                loss, ls_grad, t, ls_func_evals = self._strong_wolfe(
                    closure, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                xp.copyto(flat_grad, ls_grad)
                self._add_grad(t, d)
                opt_cond = _abs_max(flat_grad) <= tolerance_grad
            else:
                self._add_grad(t, d)
                if n_iter != max_iter:
                    # no evaluation after the last iteration: the next step() starts with one
                    _, loss = self._evaluate(closure)
                    self._gather_flat_grad(flat_grad)
                    opt_cond = _abs_max(flat_grad) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping tests
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(t) * _abs_max(d) <= tolerance_change:  # = max|t d|, rounding is monotone
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"] = d
        state["t"] = t
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = prev_loss
        return orig_loss

    def _strong_wolfe(self, closure, x, t, d, f, g, gtd, c1=1e-4, c2=0.9,
                      tolerance_change=1e-9, max_ls=25):
        """torch's line search along d from x (f, g, gtd = f(x), grad(x), grad(x).d):
        bracket an interval holding a strong-Wolfe point, then zoom in by cubic
        interpolation. Returns (f, g, t, evaluations) at the chosen t; g is a work buffer.
        tolerance_change stays at its default 1e-9, as torch calls it (the group's value is
        not passed on)."""
        xp = self._xp
        d_norm = _abs_max(d)
        # gradients the search keeps: the latest trial's (g_new), the previous trial's,
        # and the bracket's two ends; copied between fixed buffers, never allocated
        br = [self._buf("br0"), self._buf("br1")]
        g_prev_buf = self._buf("g_prev")
        f_new, g_new = self._directional_evaluate(closure, x, t, d)
        ls_func_evals = 1
        gtd_new = xp.dot(g_new, d)

        # bracketing phase
        t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
        done = False
        ls_iter = 0
        bracket_gtd: list = []
        while ls_iter < max_ls:
            if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
                bracket, bracket_f = [t_prev, t], [f_prev, f_new]
                xp.copyto(br[0], g_prev)
                xp.copyto(br[1], g_new)
                bracket_gtd = [gtd_prev, gtd_new]
                break
            if abs(gtd_new) <= -c2 * gtd:
                bracket, bracket_f = [t], [f_new]
                xp.copyto(br[0], g_new)
                done = True
                break
            if gtd_new >= 0:
                bracket, bracket_f = [t_prev, t], [f_prev, f_new]
                xp.copyto(br[0], g_prev)
                xp.copyto(br[1], g_new)
                bracket_gtd = [gtd_prev, gtd_new]
                break
            # extrapolate: a cubic step between 1.01 t and 10 t
            min_step = t + 0.01 * (t - t_prev)
            max_step = t * 10
            tmp = t
            t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                   bounds=(min_step, max_step))
            t_prev, f_prev, gtd_prev = tmp, f_new, gtd_new
            xp.copyto(g_prev_buf, g_new)
            g_prev = g_prev_buf
            f_new, g_new = self._directional_evaluate(closure, x, t, d)
            ls_func_evals += 1
            gtd_new = xp.dot(g_new, d)
            ls_iter += 1
        if ls_iter == max_ls:  # out of evaluations: bracket [0, t]
            bracket, bracket_f = [0, t], [f, f_new]
            xp.copyto(br[0], g)
            xp.copyto(br[1], g_new)

        # zoom phase: shrink the bracket until its low end satisfies the conditions
        insuf_progress = False
        low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
        while not done and ls_iter < max_ls:
            if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
                break
            t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                                   bracket[1], bracket_f[1], bracket_gtd[1])
            # a trial too close to an end (within 10% of the bracket) twice in a row, or
            # outside it, is moved 10% inside, so the bracket keeps shrinking
            hi, lo = max(bracket), min(bracket)
            eps = 0.1 * (hi - lo)
            if min(hi - t, t - lo) < eps:
                if insuf_progress or t >= hi or t <= lo:
                    t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
                    insuf_progress = False
                else:
                    insuf_progress = True
            else:
                insuf_progress = False

            f_new, g_new = self._directional_evaluate(closure, x, t, d)
            ls_func_evals += 1
            gtd_new = xp.dot(g_new, d)
            ls_iter += 1

            if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
                # not sufficiently lower (Armijo) or above the low end: new high end
                bracket[high_pos], bracket_f[high_pos] = t, f_new
                xp.copyto(br[high_pos], g_new)
                bracket_gtd[high_pos] = gtd_new
                low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
            else:
                if abs(gtd_new) <= -c2 * gtd:
                    done = True  # strong Wolfe conditions hold
                elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                    # the old low end becomes the high end (its gradient buffer moves along)
                    bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                    br[high_pos], br[low_pos] = br[low_pos], br[high_pos]
                    bracket_gtd[high_pos] = bracket_gtd[low_pos]
                # the trial becomes the low end
                bracket[low_pos], bracket_f[low_pos] = t, f_new
                xp.copyto(br[low_pos], g_new)
                bracket_gtd[low_pos] = gtd_new

        return bracket_f[low_pos], br[low_pos], bracket[low_pos], ls_func_evals

    # ----- checkpoints ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """torch's layout: {'state': {0: {'func_evals', 'n_iter', 'd', 't', 'old_dirs',
        'old_stps', 'ro', 'H_diag', 'prev_flat_grad', 'prev_loss', 'al'}}, 'param_groups':
        [...]}; flat vectors are 1-D arrays of all parameters' size, lists are copied."""
        sd = super().state_dict()
        for entry in sd["state"].values():
            for k, v in entry.items():
                if isinstance(v, list):
                    entry[k] = [backend.xp_of(a).array(a, copy=True) if backend.is_array(a) else a
                                for a in v]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what state_dict() saved; every problem is reported at once, nothing
        changes unless all of it is valid."""
        if not isinstance(state_dict, dict) or "state" not in state_dict:
            super().load_state_dict(state_dict)  # the base reports the structure problem
            return
        problems: list[str] = []
        groups = state_dict.get("param_groups")
        history_size = self.param_groups[0]["history_size"]
        if isinstance(groups, list) and groups and isinstance(groups[0], dict):
            history_size = groups[0].get("history_size", history_size)
        new_state = self._restore_state(state_dict["state"], history_size, problems)
        old = self.state, self.param_groups
        try:
            super().load_state_dict({**state_dict, "state": {}})
        except ValueError as e:
            if problems:
                raise ValueError(f"{e}; " + "; ".join(problems)) from None
            raise
        if problems:
            self.state, self.param_groups = old
            raise ValueError("LBFGS.load_state_dict: " + "; ".join(problems))
        self.state = new_state

    def _restore_state(self, saved: Any, history_size: Any,
                       problems: list[str]) -> dict[Tensor, dict[str, Any]]:
        if not isinstance(saved, dict):
            problems.append(f"'state' must be a dict, got {_short(saved)}")
            return {}
        new: dict[str, Any] = {}
        for key, values in saved.items():
            if _as_index(key) != 0:
                problems.append(f"state[{key!r}]: L-BFGS keeps its state under parameter 0")
                continue
            if not isinstance(values, dict):
                problems.append(f"state[{key!r}] must be a dict, got {_short(values)}")
                continue
            for name, v in values.items():
                try:
                    new[name] = self._restore_value(name, v, history_size)
                except (TypeError, ValueError) as e:
                    problems.append(f"state[{key!r}][{name!r}]: {e}")
        dirs, stps, ro = new.get("old_dirs"), new.get("old_stps"), new.get("ro")
        if dirs is not None and not (len(dirs) == len(stps or ()) == len(ro or ())):
            problems.append("state: 'old_dirs', 'old_stps' and 'ro' must have one length")
        return {self._params[0]: new} if new else {}

    def _restore_value(self, name: str, v: Any, history_size: Any) -> Any:
        scalar = self._dtype.type
        if isinstance(v, Tensor):
            v = v.array
        if name in ("func_evals", "n_iter"):
            if not (_is_number(v) and float(v) == int(v) >= 0):
                raise ValueError(f"must be a non-negative integer, got {_short(v)}")
            return int(v)
        if name in ("d", "prev_flat_grad"):
            return None if v is None else self._flat(v)
        if name in ("old_dirs", "old_stps"):
            if not isinstance(v, (list, tuple)):
                raise TypeError(f"must be a list of flat vectors, got {_short(v)}")
            if isinstance(history_size, int) and len(v) > history_size:
                raise ValueError(f"has {len(v)} entries, more than history_size "
                                 f"{history_size}")
            return [self._flat(a) for a in v]
        if name in ("ro", "al"):
            if not isinstance(v, (list, tuple)):
                raise TypeError(f"must be a list of numbers, got {_short(v)}")
            return [None if a is None else scalar(self._number(a)) for a in v]
        if name in ("t", "H_diag"):
            if v is None or isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                return v  # torch's H_diag starts as the int 1, t as lr
            return scalar(self._number(v))
        if name == "prev_loss":
            return None if v is None else float(self._number(v))
        raise ValueError("is not an L-BFGS state entry")

    @staticmethod
    def _number(v: Any) -> float:
        if backend.is_array(v):
            v = backend.asnumpy(v)
        if isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "iuf":
            v = v.reshape(()).item()
        if not _is_number(v):
            raise TypeError(f"must be a number, got {_short(v)}")
        return v

    def _flat(self, v: Any) -> np.ndarray:
        if isinstance(v, Tensor):
            v = v.array
        if backend.is_array(v):
            v = backend.asnumpy(v)  # checked on the host, then put on the parameters' device
        if not isinstance(v, np.ndarray) or v.dtype.kind not in "iuf":
            raise TypeError(f"must be an array of numbers, got {_short(v)}")
        if v.shape != (self._numel,):
            raise ValueError(f"has shape {v.shape}, but the parameters' flat vector has shape "
                             f"({self._numel},)")
        flat = np.array(v, dtype=self._dtype, copy=True)  # host
        return backend.to_device(flat, backend.device_of(self._params[0].array))


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Invalid {name} value: {value!r} (must be a positive integer)")
