"""The GP's analytic gradients against finite differences, and the stable log-EI pieces."""

import numpy as np
import pytest
import scipy.special

from zengrad.tune.samplers._gp import (
    Acquisition,
    GaussianProcess,
    dlog_h,
    log_h,
    matern52,
    neg_log_posterior,
    theta_bounds,
)


def _data(n=12, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 - 0.5 * X[:, 2] + 0.01 * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def _fd_grad(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


@pytest.mark.parametrize("use_prior", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_marginal_likelihood_gradient_matches_finite_differences(use_prior, seed):
    X, y = _data(seed=seed)
    rng = np.random.default_rng(seed + 10)
    theta = np.concatenate([np.log(rng.uniform(0.1, 2.0, 3)), [rng.normal(0, 0.5)],
                            [np.log(rng.uniform(1e-3, 1e-1))]])
    value, grad = neg_log_posterior(theta, X, y, use_prior)
    fd = _fd_grad(lambda t: neg_log_posterior(t, X, y, use_prior)[0], theta)
    assert np.isfinite(value)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_fit_improves_likelihood_and_respects_bounds():
    X, y = _data(n=20)
    gp = GaussianProcess.fit(X, y, np.random.default_rng(0), n_restarts=3)
    start = np.array([np.log(0.5)] * 3 + [0.0, np.log(1e-4)])
    assert neg_log_posterior(gp.theta, X, y)[0] < neg_log_posterior(start, X, y)[0]
    lo, hi = np.array(theta_bounds(3)).T
    assert np.all(gp.theta >= lo - 1e-9) and np.all(gp.theta <= hi + 1e-9)
    # interpolates the (almost noise-free) data it was fitted to
    mean, var = gp.predict(X)
    assert np.max(np.abs(mean - y)) < 0.1


def test_kernel_is_matern52():
    x1, x2 = np.array([[0.1, 0.2]]), np.array([[0.4, 0.6]])
    ls, s2 = np.array([0.5, 2.0]), 1.7
    r = np.sqrt(((0.3 / 0.5) ** 2) + (0.4 / 2.0) ** 2)
    expected = s2 * (1 + np.sqrt(5) * r + 5 / 3 * r * r) * np.exp(-np.sqrt(5) * r)
    assert matern52(x1, x2, ls, s2)[0, 0] == pytest.approx(expected)


def test_predictive_gradients_match_finite_differences():
    X, y = _data()
    gp = GaussianProcess(X, y, np.array([np.log(0.4), np.log(0.8), np.log(1.5), 0.1, -6.0]))
    x = np.array([0.31, 0.72, 0.45])
    _, _, dmean, dvar = gp.predict(x[None], return_grad=True)
    fd_mean = _fd_grad(lambda z: gp.predict(z[None])[0][0], x)
    fd_var = _fd_grad(lambda z: gp.predict(z[None])[1][0], x)
    np.testing.assert_allclose(dmean[0], fd_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dvar[0], fd_var, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["logei", "ei", "ucb"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_acquisition_gradient_matches_finite_differences(kind, seed):
    X, y = _data(seed=seed)
    gp = GaussianProcess(X, y, np.array([np.log(0.3), np.log(0.5), np.log(1.0), 0.0, -7.0]))
    acq = Acquisition(gp, kind, best=float(y.min()), beta=2.0)
    x = np.random.default_rng(seed + 100).random(3)
    value, grad = acq.value_and_grad(x)
    assert value == pytest.approx(acq(x[None])[0])
    fd = _fd_grad(lambda z: acq.value_and_grad(z)[0], x)
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-7)


def test_logei_gradient_far_from_the_data_is_finite_and_correct():
    # best far below the posterior: z very negative, EI underflows but logEI does not
    X, y = _data()
    gp = GaussianProcess(X, y, np.array([np.log(0.3)] * 3 + [0.0, -7.0]))
    acq = Acquisition(gp, "logei", best=float(y.min()) - 40.0)
    x = np.array([0.5, 0.5, 0.5])
    value, grad = acq.value_and_grad(x)
    assert np.isfinite(value) and value < -100
    fd = _fd_grad(lambda z: acq.value_and_grad(z)[0], x, eps=1e-6)
    np.testing.assert_allclose(grad, fd, rtol=1e-4)


def test_log_h_matches_direct_formula_and_is_stable():
    z = np.linspace(-30, 5, 200)
    direct = np.log(z * scipy.special.ndtr(z) + np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi))
    ok = np.isfinite(direct) & (z > -20)
    np.testing.assert_allclose(log_h(z)[ok], direct[ok], rtol=1e-6)
    far = log_h(np.array([-50.0, -1e3 + 1, -1e3 - 1, -1e5]))
    assert np.all(np.isfinite(far)) and np.all(np.diff(far) < 0)
    # d/dz log h = Phi / h, checked numerically across all three regimes
    zs = np.array([-2000.0, -500.0, -30.0, -3.0, -0.5, 0.0, 2.0])
    eps = 1e-5 * np.maximum(1, np.abs(zs))
    fd = (log_h(zs + eps) - log_h(zs - eps)) / (2 * eps)
    np.testing.assert_allclose(dlog_h(zs), fd, rtol=1e-5)
