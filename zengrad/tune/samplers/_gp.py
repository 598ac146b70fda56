r"""Gaussian-process regression and acquisition functions, in NumPy/SciPy.

Inputs live in the unit cube [0, 1]^D (see ``_space.UnitSpace``), outputs are
standardized (zero mean, unit variance) and the model always *minimizes*.

Kernel: ARD Matern-5/2

    r(x, x') = sqrt( sum_d (x_d - x'_d)^2 / l_d^2 )
    k(x, x') = s2 * (1 + sqrt5 r + 5/3 r^2) * exp(-sqrt5 r)

Hyperparameters theta = (log l_1 .. log l_D, log s2, log noise), fitted by maximizing the
log marginal likelihood plus a prior (MAP): weak log-normals on s2 and noise, and on each
lengthscale either a weak log-normal (default, "lognormal": log l ~ N(log 0.5, 1.5^2)) or
("balanced")

    -log p(l) = 0.1 (l^2 + 1/l^2),     d/d log l = 0.2 (l^2 - 1/l^2)

which is flat near l = 1 (the width of the unit cube) and steep for l << 0.3 or l >> 3.
"balanced" did not pay in bench/tune/paired.py (level on Hartmann-6 and Rosenbrock-4 once
the objective is warped, worse on a space with two wide integers), so it is an option only.

    K = k(X, X) + noise * I,   alpha = K^{-1} y
    log p(y | X, theta) = -1/2 y^T alpha - sum_i log L_ii - n/2 log(2 pi)      (K = L L^T)
    d log p / d theta_j = 1/2 tr( (alpha alpha^T - K^{-1}) dK/dtheta_j )

with the kernel derivatives (the r cancels, so they are smooth at r = 0)

    dk/d log l_d  = s2 * 5/3 (1 + sqrt5 r) exp(-sqrt5 r) * (x_d - x'_d)^2 / l_d^2
    dk/d log s2   = k
    dK/d log noise = noise * I

Posterior at a point x, with k* = k(x, X):

    mu(x) = k*^T alpha,        var(x) = s2 - k*^T K^{-1} k*
    d mu / dx  = (dk*/dx)^T alpha,   d var / dx = -2 (dk*/dx)^T K^{-1} k*
    dk(x, x_i)/dx_d = -s2 * 5/3 (1 + sqrt5 r) exp(-sqrt5 r) * (x_d - x_id) / l_d^2

Acquisitions (all to be maximized; f* = best observed standardized value, z = (f* - mu)/sigma):

    EI     = sigma * h(z),         h(z) = z Phi(z) + phi(z)
             dEI/dx = phi(z) dsigma/dx - Phi(z) dmu/dx
    logEI  = log sigma + log h(z)   (computed stably for very negative z)
             dlogEI/dx = dsigma/dx / sigma + Phi(z)/h(z) * dz/dx,
             dz/dx = -(dmu/dx + z dsigma/dx) / sigma
    UCB    = -mu + beta * sigma     (the lower confidence bound of a minimization, negated)
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.special

SQRT5 = math.sqrt(5.0)
JITTER = 1e-8

# Weak log-normal prior (mean, std of the log) and hard bounds for each hyperparameter.
# Inputs are in [0, 1] and outputs standardized, so these ranges are generous.
PRIOR_LOG_LENGTHSCALE = (math.log(0.5), 1.5)
PRIOR_LOG_SIGNAL = (0.0, 1.5)
PRIOR_LOG_NOISE = (math.log(1e-4), 3.0)
BOUNDS_LENGTHSCALE = (1e-2, 2e1)
BOUNDS_SIGNAL = (1e-2, 1e2)
BOUNDS_NOISE = (1e-6, 1.0)
LENGTHSCALE_PRIORS = ("balanced", "lognormal")
BALANCED_WEIGHT = 0.1  # -log p(l) = w (l^2 + 1/l^2)


def matern52(
    X1: np.ndarray, X2: np.ndarray, lengthscales: np.ndarray, signal: float
) -> np.ndarray:
    """k(X1, X2): the (n1, n2) ARD Matern-5/2 kernel matrix."""
    diff = (X1[:, None, :] - X2[None, :, :]) / lengthscales
    r = np.sqrt(np.sum(diff * diff, axis=-1))
    return signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * np.exp(-SQRT5 * r)


def _prior_arrays(dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([PRIOR_LOG_LENGTHSCALE[0]] * dim + [PRIOR_LOG_SIGNAL[0], PRIOR_LOG_NOISE[0]])
    std = np.array([PRIOR_LOG_LENGTHSCALE[1]] * dim + [PRIOR_LOG_SIGNAL[1], PRIOR_LOG_NOISE[1]])
    return mean, std


def theta_bounds(
    dim: int, max_lengthscale: float | np.ndarray | None = None,
) -> list[tuple[float, float]]:
    """Box bounds on theta; ``max_lengthscale`` (one value, or one per input column)
    lowers the lengthscales' upper bound."""
    top = np.broadcast_to(BOUNDS_LENGTHSCALE[1] if max_lengthscale is None
                          else np.asarray(max_lengthscale, dtype=float), (dim,))
    ls = [(math.log(BOUNDS_LENGTHSCALE[0]), math.log(float(t))) for t in top]
    sig = (math.log(BOUNDS_SIGNAL[0]), math.log(BOUNDS_SIGNAL[1]))
    noise = (math.log(BOUNDS_NOISE[0]), math.log(BOUNDS_NOISE[1]))
    return ls + [sig, noise]


def neg_log_posterior(
    theta: np.ndarray, X: np.ndarray, y: np.ndarray, use_prior: bool = True,
    lengthscale_prior: str = "lognormal",
) -> tuple[float, np.ndarray]:
    """-(log marginal likelihood + log prior) and its analytic gradient wrt theta."""
    n, dim = X.shape
    ls, signal, noise = np.exp(theta[:dim]), math.exp(theta[dim]), math.exp(theta[dim + 1])
    diff = X[:, None, :] - X[None, :, :]
    sq = (diff / ls) ** 2  # (n, n, D): the per-dimension terms of r^2
    r = np.sqrt(np.sum(sq, axis=-1))
    e = np.exp(-SQRT5 * r)
    Kf = signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * e
    K = Kf + (noise + JITTER) * np.eye(n)
    try:
        cho = scipy.linalg.cho_factor(K, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = scipy.linalg.cho_solve(cho, y, check_finite=False)
    nll = 0.5 * y @ alpha + np.sum(np.log(np.diag(cho[0]))) + 0.5 * n * math.log(2 * math.pi)
    W = np.outer(alpha, alpha) - scipy.linalg.cho_solve(cho, np.eye(n), check_finite=False)
    grad = np.empty_like(theta)
    # 1/2 tr(W dK) = 1/2 sum(W * dK) for symmetric W, dK
    G = signal * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e * W
    grad[:dim] = -0.5 * np.einsum("ij,ijd->d", G, sq)
    grad[dim] = -0.5 * np.sum(W * Kf)
    grad[dim + 1] = -0.5 * noise * np.trace(W)
    if use_prior:
        penalty, dpenalty = neg_log_prior(theta, dim, lengthscale_prior)
        nll += penalty
        grad += dpenalty
    return float(nll), grad


def neg_log_prior(
    theta: np.ndarray, dim: int, lengthscale_prior: str = "lognormal"
) -> tuple[float, np.ndarray]:
    """-log p(theta) up to a constant: independent normals on the log parameters,

        -log p = 1/2 sum_j ((theta_j - m_j) / s_j)^2,   d/dtheta_j = (theta_j - m_j) / s_j^2

    except, with ``lengthscale_prior="balanced"``, the lengthscales (theta_d = log l_d):

        -log p = w (l^2 + 1/l^2) = w (e^{2 theta} + e^{-2 theta}),
        d/dtheta = 2 w (e^{2 theta} - e^{-2 theta})
    """
    if lengthscale_prior not in LENGTHSCALE_PRIORS:
        raise ValueError(f"lengthscale_prior must be one of {LENGTHSCALE_PRIORS}, "
                         f"got {lengthscale_prior!r}")
    mean, std = _prior_arrays(dim)
    z = (theta - mean) / std
    value, grad = 0.5 * z * z, z / std
    if lengthscale_prior == "balanced":
        up, down = np.exp(2.0 * theta[:dim]), np.exp(-2.0 * theta[:dim])
        value[:dim] = BALANCED_WEIGHT * (up + down)
        grad[:dim] = 2.0 * BALANCED_WEIGHT * (up - down)
    return float(value.sum()), grad


class OutputWarp:
    r"""Yeo-Johnson warping of standardized objective values, fitted by maximum likelihood.

    Heavy tails (a few very bad trials, as on Rosenbrock) squash the good region of a GP
    fitted to raw values; a monotone power transform makes the values closer to normal:

        psi(x) = ((x + 1)^lam - 1) / lam             x >= 0, lam != 0   (log(x + 1) at 0)
        psi(x) = -((1 - x)^(2-lam) - 1) / (2 - lam)  x < 0,  lam != 2   (-log(1 - x) at 2)

    psi is strictly increasing for every lam, so the order of the trials (the best one, and
    where improvement is) is kept.  The warped values are standardized again.  ``inverse``
    maps model outputs back (for plots); outside psi's range it clips to the range's edge.
    """

    def __init__(self, lam: float, mean: float, std: float) -> None:
        self.lam, self.mean, self.std = lam, mean, std

    @classmethod
    def fit(cls, z: np.ndarray) -> tuple[np.ndarray, OutputWarp | None]:
        """(warped, standardized values; the warp), or (z, None) when it cannot be fitted."""
        if len(z) < 3 or float(np.std(z)) < 1e-12:
            return z, None
        lam = yeo_johnson_mle(z)
        with np.errstate(all="ignore"):
            w = yeo_johnson(z, lam)
        std = float(np.std(w))
        if not (np.all(np.isfinite(w)) and math.isfinite(lam) and std > 1e-12):
            return z, None
        mean = float(np.mean(w))
        return (w - mean) / std, cls(float(lam), mean, std)

    def forward(self, z: np.ndarray) -> np.ndarray:
        return (yeo_johnson(z, self.lam) - self.mean) / self.std

    def inverse(self, w: np.ndarray) -> np.ndarray:
        return yeo_johnson_inverse(np.asarray(w) * self.std + self.mean, self.lam)


def yeo_johnson_mle(x: np.ndarray) -> float:
    """The maximum-likelihood lambda of the Yeo-Johnson transform of x (n values),

        llf(lam) = -n/2 log var(psi(x; lam)) + (lam - 1) sum_i sign(x_i) log(1 + |x_i|),

    maximized by bounded Brent (``fminbound``) over the lambdas for which psi of values up
    to 20 max|x| neither overflows nor underflows: the bounds and tolerance of
    ``scipy.stats.yeojohnson_normmax``, whose lambda this matches to 3e-8 (measured on 200
    random samples), at a fifteenth of its cost (its per-call overhead, not the arithmetic,
    dominated a 60-trial study's warping).
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    jacobian = float(np.sum(np.sign(x) * np.log1p(np.abs(x))))

    def negative_llf(lam: float) -> float:
        with np.errstate(all="ignore"):
            var = float(np.var(yeo_johnson(x, lam)))
        return 0.5 * n * math.log(var) - (lam - 1.0) * jacobian if var > 0 else math.inf

    log1p_max = math.log1p(20.0 * float(np.max(np.abs(x))))
    if log1p_max == 0.0:
        return 1.0
    eps, info = math.log(np.finfo(float).eps), np.finfo(float)
    lo = (math.log(info.tiny) - eps) / 2 / log1p_max
    hi = (math.log(info.max) + eps) / 2 / log1p_max
    if np.all(x < 0):
        lo, hi = 2 - hi, 2 - lo
    elif np.any(x < 0):
        lo, hi = max(2 - hi, lo), min(2 - lo, hi)
    return float(scipy.optimize.fminbound(negative_llf, lo, hi, xtol=1.48e-8))


def yeo_johnson(x: np.ndarray, lam: float) -> np.ndarray:
    """psi(x; lam), the Yeo-Johnson transform (as ``scipy.stats.yeojohnson(x, lam)``)."""
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = np.log1p(x[pos]) if abs(lam) < 1e-12 else np.expm1(lam * np.log1p(x[pos])) / lam
    b = 2.0 - lam
    out[~pos] = -np.log1p(-x[~pos]) if abs(b) < 1e-12 else \
        -np.expm1(b * np.log1p(-x[~pos])) / b
    return out


def yeo_johnson_inverse(w: np.ndarray, lam: float) -> np.ndarray:
    """psi^{-1}(w; lam):  (1 + lam w)^(1/lam) - 1 for w >= 0,  1 - (1 - (2-lam) w)^(1/(2-lam))
    for w < 0 (exp(w) - 1 and 1 - exp(-w) at lam = 0 and 2); clipped to psi's range."""
    w = np.asarray(w, dtype=float)
    out = np.empty_like(w)
    pos = w >= 0
    tiny = 1e-300  # 1 + lam w <= 0 is outside the range psi reaches (lam < 0, w >= -1/lam)
    if abs(lam) < 1e-12:
        out[pos] = np.expm1(w[pos])
    else:
        out[pos] = np.expm1(np.log(np.maximum(1.0 + lam * w[pos], tiny)) / lam)
    b = 2.0 - lam
    if abs(b) < 1e-12:
        out[~pos] = -np.expm1(-w[~pos])
    else:
        out[~pos] = -np.expm1(np.log(np.maximum(1.0 - b * w[~pos], tiny)) / b)
    return out


class GaussianProcess:
    """An exact GP posterior for fixed hyperparameters ``theta``."""

    def __init__(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> None:
        self.X, self.y, self.theta = X, y, np.asarray(theta, dtype=float)
        dim = X.shape[1]
        self.lengthscales = np.exp(self.theta[:dim])
        self.signal = math.exp(self.theta[dim])
        self.noise = math.exp(self.theta[dim + 1])
        K = matern52(X, X, self.lengthscales, self.signal)
        K[np.diag_indices_from(K)] += self.noise + JITTER
        self._cho = scipy.linalg.cho_factor(K, lower=True, check_finite=False)
        self._alpha = scipy.linalg.cho_solve(self._cho, y, check_finite=False)

    @classmethod
    def fit(
        cls, X: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_restarts: int = 3,
        theta0: np.ndarray | None = None, lengthscale_prior: str = "lognormal",
        max_lengthscale: float | np.ndarray | None = None,
    ) -> GaussianProcess:
        """MAP hyperparameters by L-BFGS-B from several starts (defaults, warm start, prior),
        within ``theta_bounds`` (``max_lengthscale``: a lower cap on the lengthscales)."""
        dim = X.shape[1]
        bounds = theta_bounds(dim, max_lengthscale)
        lo, hi = np.array(bounds).T
        mean, std = _prior_arrays(dim)
        starts = [mean.copy()]
        if theta0 is not None and theta0.shape == mean.shape:
            starts.append(np.clip(theta0, lo, hi))
        while len(starts) < max(n_restarts, 1):
            starts.append(np.clip(mean + std * rng.standard_normal(mean.shape), lo, hi))
        best_theta, best_val = starts[0], math.inf
        for start in starts:
            res = scipy.optimize.minimize(
                neg_log_posterior, start, args=(X, y, True, lengthscale_prior), jac=True,
                method="L-BFGS-B", bounds=bounds, options={"maxiter": 200},
            )
            if res.fun < best_val:
                best_theta, best_val = res.x, float(res.fun)
        return cls(X, y, best_theta)

    def predict(
        self, Xs: np.ndarray, return_grad: bool = False
    ) -> tuple[np.ndarray, ...]:
        """Posterior mean and variance of the latent function at rows of ``Xs``.

        With ``return_grad``, also d mean/dx and d var/dx, each of shape (m, D).
        """
        diff = Xs[:, None, :] - self.X[None, :, :]
        scaled = diff / self.lengthscales
        r = np.sqrt(np.sum(scaled * scaled, axis=-1))
        e = np.exp(-SQRT5 * r)
        ks = self.signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * e  # (m, n)
        mean = ks @ self._alpha
        v = scipy.linalg.cho_solve(self._cho, ks.T, check_finite=False)  # K^{-1} k*, (n, m)
        var = np.maximum(self.signal - np.einsum("mn,nm->m", ks, v), 1e-12)
        if not return_grad:
            return mean, var
        dks = (-self.signal * 5.0 / 3.0 * (1.0 + SQRT5 * r) * e)[:, :, None] * (
            diff / self.lengthscales**2
        )  # (m, n, D)
        dmean = np.einsum("mnd,n->md", dks, self._alpha)
        dvar = -2.0 * np.einsum("mnd,nm->md", dks, v)
        return mean, var, dmean, dvar


# -- acquisition functions -----------------------------------------------------------------
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_PI_2 = math.sqrt(math.pi / 2)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z Phi(z) + phi(z)), stable for very negative z.

    For z < 0 write h = phi(z) (1 + z Phi(z)/phi(z)), where
    Phi(z)/phi(z) = sqrt(pi/2) erfcx(-z/sqrt2);
    far in the tail (z < -1e3) use the asymptote h ~ phi(z) / z^2.
    """
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    mid = z >= -1.0
    out[mid] = np.log(z[mid] * scipy.special.ndtr(z[mid]) + np.exp(-0.5 * z[mid] ** 2)
                      / math.sqrt(2 * math.pi))
    tail = (z < -1.0) & (z >= -1e3)
    zt = z[tail]
    out[tail] = -0.5 * zt**2 - _LOG_SQRT_2PI + np.log1p(
        zt * _SQRT_PI_2 * scipy.special.erfcx(-zt / math.sqrt(2))
    )
    far = z < -1e3
    out[far] = -0.5 * z[far] ** 2 - _LOG_SQRT_2PI - 2.0 * np.log(-z[far])
    return out


def dlog_h(z: np.ndarray) -> np.ndarray:
    """d/dz log h(z) = Phi(z) / h(z), stably (h'(z) = Phi(z))."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    mid = z >= -1.0
    zm = z[mid]
    out[mid] = scipy.special.ndtr(zm) / (zm * scipy.special.ndtr(zm) + np.exp(-0.5 * zm**2)
                                        / math.sqrt(2 * math.pi))
    tail = (z < -1.0) & (z >= -1e3)
    ratio = _SQRT_PI_2 * scipy.special.erfcx(-z[tail] / math.sqrt(2))  # Phi/phi
    out[tail] = ratio / (1.0 + z[tail] * ratio)
    far = z < -1e3
    out[far] = -z[far] - 2.0 / z[far]
    return out


class Acquisition:
    """Acquisition value (and gradient wrt x) of a fitted GP; larger is better."""

    def __init__(self, gp: GaussianProcess, kind: str, best: float, beta: float = 2.0) -> None:
        if kind not in ("logei", "ei", "ucb"):
            raise ValueError(f"acquisition must be 'logei', 'ei' or 'ucb', got {kind!r}")
        self.gp, self.kind, self.best, self.beta = gp, kind, best, beta

    def __call__(self, Xs: np.ndarray) -> np.ndarray:
        mean, var = self.gp.predict(Xs)
        sigma = np.sqrt(var)
        if self.kind == "ucb":
            return -mean + self.beta * sigma
        z = (self.best - mean) / sigma
        if self.kind == "ei":
            return sigma * np.exp(log_h(z))
        return np.log(sigma) + log_h(z)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        mean, var, dmean, dvar = self.gp.predict(x[None, :], return_grad=True)
        sigma = np.sqrt(var)
        dsigma = dvar / (2.0 * sigma[:, None])
        if self.kind == "ucb":
            return float(-mean[0] + self.beta * sigma[0]), (-dmean + self.beta * dsigma)[0]
        z = (self.best - mean) / sigma
        if self.kind == "ei":
            phi = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
            value = sigma * np.exp(log_h(z))
            grad = phi[:, None] * dsigma - scipy.special.ndtr(z)[:, None] * dmean
            return float(value[0]), grad[0]
        dz = -(dmean + z[:, None] * dsigma) / sigma[:, None]
        value = np.log(sigma) + log_h(z)
        grad = dsigma / sigma[:, None] + dlog_h(z)[:, None] * dz
        return float(value[0]), grad[0]
