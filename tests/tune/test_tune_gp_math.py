"""The GP's analytic gradients against finite differences, and the stable log-EI pieces."""

import numpy as np
import pytest
import scipy.special
import scipy.stats

from zengrad.tune.samplers._gp import (
    Acquisition,
    GaussianProcess,
    OutputWarp,
    dlog_h,
    log_h,
    matern52,
    neg_log_posterior,
    neg_log_prior,
    theta_bounds,
    yeo_johnson,
    yeo_johnson_inverse,
    yeo_johnson_mle,
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


# -- issue 14: the lengthscale prior and the output warp -----------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_balanced_lengthscale_prior_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    theta = np.concatenate([rng.uniform(np.log(0.02), np.log(15.0), 3), [0.3], [-5.0]])
    value, grad = neg_log_prior(theta, 3, "balanced")
    fd = _fd_grad(lambda t: neg_log_prior(t, 3, "balanced")[0], theta)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6)
    X, y = _data(seed=seed)
    _, grad = neg_log_posterior(theta, X, y, True, "balanced")
    fd = _fd_grad(lambda t: neg_log_posterior(t, X, y, True, "balanced")[0], theta)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_balanced_prior_is_0_1_of_l2_plus_inverse_l2_and_penalizes_both_ends():
    def ls_part(ls):
        theta = np.array([np.log(ls), 0.0, np.log(1e-4)])
        return neg_log_prior(theta, 1, "balanced")[0] - neg_log_prior(
            np.array([0.0, 0.0, np.log(1e-4)]), 1, "balanced")[0]

    for ls in (0.05, 0.3, 1.0, 4.0, 20.0):
        assert ls_part(ls) == pytest.approx(0.1 * (ls**2 + ls**-2) - 0.2)
    assert ls_part(20.0) > 30 and ls_part(0.05) > 30 and ls_part(1.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="lengthscale_prior"):
        neg_log_prior(np.zeros(3), 1, "flat")


@pytest.mark.parametrize("lam", [-1.5, 0.0, 0.4, 1.0, 2.0, 3.2])
def test_yeo_johnson_matches_scipy_is_monotone_and_inverts(lam):
    x = np.concatenate([np.linspace(-4, 4, 80), [-1e-9, 0.0, 1e-9]])  # 80: no second 0
    w = yeo_johnson(x, lam)
    np.testing.assert_allclose(w, scipy.stats.yeojohnson(x, lmbda=lam), rtol=1e-10, atol=1e-12)
    order = np.argsort(x)
    assert np.all(np.diff(w[order]) > 0)  # strictly increasing: the best trial stays best
    np.testing.assert_allclose(yeo_johnson_inverse(w, lam), x, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_yeo_johnson_mle_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(rng.integers(3, 60))) * (1 + seed)
    x = np.exp(x) if seed % 2 else x  # heavy right tails too
    z = (x - x.mean()) / x.std()
    assert yeo_johnson_mle(z) == pytest.approx(scipy.stats.yeojohnson(z)[1], abs=1e-6)
    assert yeo_johnson_mle(-np.abs(z) - 0.1) == pytest.approx(
        scipy.stats.yeojohnson(-np.abs(z) - 0.1)[1], abs=1e-6)  # all negative


def test_output_warp_keeps_the_order_and_inverts_on_heavy_tails():
    rng = np.random.default_rng(0)
    y = np.exp(3 * rng.standard_normal(40))  # Rosenbrock-like: a few huge values
    z = (y - y.mean()) / y.std()
    w, warp = OutputWarp.fit(z)
    assert warp is not None
    assert np.array_equal(np.argsort(w), np.argsort(z))
    assert abs(w.mean()) < 1e-9 and abs(w.std() - 1) < 1e-9
    np.testing.assert_allclose(warp.inverse(w), z, rtol=1e-8, atol=1e-10)
    # a constant (or too short) column is left alone rather than warped into NaN
    assert OutputWarp.fit(np.zeros(5))[1] is None and OutputWarp.fit(z[:2])[1] is None
