"""Theorem 4.1 against simulation, and the closed forms of mfat.theory.random_linear_map.

Monte-Carlo tolerances come from the sample size (z = 4 standard errors; variance ratios use the exact
finite-width kurtosis). Explicit networks (mfat.model.linearize) are the ground truth; the samplers of
mfat.laws.linear_map are checked against them in tests/test_sampling.py.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sst

from mfat import theory
from mfat.model.networks import NetworkSpec
from mfat.laws.linear_map import sample_chain, sample_explicit, sample_units
from mfat.stats import (Z_DEFAULT, batch_standard_error, correlation_tolerance, fisher_correlation_tolerance,
                        uncorrelated_tolerance, variance_ratio_tolerance)

ARCHS = [  # (residual, u, v, sigma_w2)
    (False, 1.0, 0.0, 2.0),   # vanilla ReLU, critical
    (False, 1.0, 0.4, 2.2),   # vanilla leaky ReLU
    (True, 1.0, 0.0, 0.5),    # residual ReLU
    (True, 1.0, 0.3, 0.2),    # residual leaky ReLU
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- Monte Carlo: Var J, Var a
@pytest.mark.slow
@pytest.mark.parametrize("residual, u, v, sw2", ARCHS)
def test_var_J_and_var_a_of_explicit_networks(residual, u, v, sw2):
    """Explicit networks at moderate width: Var J_11 = omega^L/d and Var a_1 = alpha sigma_b^2 sum omega^(k-1)."""
    d, N, L, sb2, n = 30, 48, 4, 0.1, 400
    spec = NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual)
    x = torch.randn(1, d, generator=gen(1), dtype=torch.float64)
    out = sample_explicit(spec, n, generator=gen(2), x=x)
    mom = theory.finite_width_moments(d, N, L, sw2, sb2, u, v, residual)
    for key, pred, kurt in (("J", theory.var_J(d, L, sw2, u, v, residual), mom["kurt_J"][-1]),
                            ("a", theory.var_a(L, sw2, sb2, u, v, residual), mom["kurt_a"][-1])):
        ratio = float((out[key][:, 0, 0] ** 2).mean()) / pred
        assert abs(ratio - 1) <= variance_ratio_tolerance(n, excess_kurtosis=kurt), (key, ratio)


@pytest.mark.slow
@pytest.mark.parametrize("residual, u, v, sw2", ARCHS)
def test_var_J_var_a_and_independence_with_the_unit_sampler(residual, u, v, sw2):
    """Wider networks (N = 256) through the O(N) sampler: variances, corr(J, a) = 0, near-Gaussian J."""
    d, N, L, sb2, n = 100, 256, 4, 0.05, 2000
    spec = NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual)
    x = torch.randn(1, d, generator=gen(3), dtype=torch.float64) * 2.0
    out = sample_units(spec, x, n, generator=gen(4))
    J, a = out["J"][:, 0, 0].numpy(), out["a"][:, 0, 0].numpy()
    mom = theory.finite_width_moments(d, N, L, sw2, sb2, u, v, residual)
    assert abs((J**2).mean() / theory.var_J(d, L, sw2, u, v, residual) - 1) <= variance_ratio_tolerance(
        n, excess_kurtosis=mom["kurt_J"][-1])
    assert abs((a**2).mean() / theory.var_a(L, sw2, sb2, u, v, residual) - 1) <= variance_ratio_tolerance(
        n, excess_kurtosis=mom["kurt_a"][-1])
    tol = uncorrelated_tolerance(n, mom["kurt_J"][-1], mom["kurt_a"][-1], mom["corr_sq"][-1])
    assert abs(np.corrcoef(J, a)[0, 1]) <= tol
    assert sst.kstest(J, "norm", args=(0, math.sqrt(theory.var_J(d, L, sw2, u, v, residual)))).pvalue > 1e-4


# ----------------------------------------------------------------------------- exact finite-width moments
@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3000), L=st.integers(1, 25), sw2=st.floats(0.05, 3.0), sb2=st.floats(0.0, 1.0),
       u=st.floats(0.1, 2.0), v=st.floats(-1.0, 1.0), res=st.booleans(), d=st.integers(1, 2000))
def test_finite_width_variances_equal_theorem_41_at_every_width(N, L, sw2, sb2, u, v, res, d):
    m = theory.finite_width_moments(d, N, L, sw2, sb2, u, v, res)
    for l in range(1, L + 1):
        assert m["var_J"][l - 1] == pytest.approx(theory.var_J(d, l, sw2, u, v, res), rel=1e-9)
        assert m["var_a"][l - 1] == pytest.approx(theory.var_a(l, sw2, sb2, u, v, res), rel=1e-9, abs=1e-300)
    assert np.all(m["cov_Ja"] == 0.0)
    assert m["kurt_J"][-1] == pytest.approx(theory.jacobian_excess_kurtosis(N, L, sw2, u, v, res), rel=1e-8)


def test_kurtosis_values_and_mean_field_limit():
    # vanilla ReLU: c = 5, so 3[(1 + 2/N)(1 + 5/N)^L - 1]
    assert theory.jacobian_excess_kurtosis(5000, 10, 2.0) == pytest.approx(3 * ((1.0004) * 1.001**10 - 1), rel=1e-12)
    ks = [theory.jacobian_excess_kurtosis(N, 10, 2.0, residual=True) for N in (10**3, 10**4, 10**5)]
    assert ks[0] > ks[1] > ks[2] > 0 and ks[1] / ks[2] == pytest.approx(10, rel=0.01)  # O(1/N)
    m = theory.finite_width_moments(100, 10**6, 5, 2.0, 0.1)
    assert abs(m["kurt_a"][-1]) < 1e-4 and abs(m["corr_sq"][-1]) < 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("N, L, residual, u, v, sw2", [(12, 2, False, 1.0, 0.5, 1.6), (10, 2, True, 0.8, -0.3, 1.0)])
def test_exact_fourth_moments_against_explicit_networks(N, L, residual, u, v, sw2):
    """Small widths, where J and a are visibly non-Gaussian: E J^4, E a^4, E J^2 a^2 of explicit networks.

    (At still smaller widths the excess kurtosis is in the tens and a sample mean of J^4 does not converge
    at any affordable n: its own variance involves E J^8.)"""
    d, sb2, n = 3, 0.2, 2500
    spec = NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual)
    out = sample_explicit(spec, n, generator=gen(5), x=torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64))
    J, a = out["J"][:, 0, 0].numpy(), out["a"][:, 0, 0].numpy()
    m = theory.finite_width_moments(d, N, L, sw2, sb2, u, v, residual)
    vJ, va = m["var_J"][-1], m["var_a"][-1]
    preds = {"J4": (m["kurt_J"][-1] + 3) * vJ**2, "a4": (m["kurt_a"][-1] + 3) * va**2}
    sq = m["corr_sq"][-1] * math.sqrt((preds["J4"] - vJ**2) * (preds["a4"] - va**2)) + vJ * va
    for name, values, pred in (("J4", J**4, preds["J4"]), ("a4", a**4, preds["a4"]), ("J2a2", J**2 * a**2, sq)):
        se = batch_standard_error(values, np.mean, n_batches=40)
        assert abs(values.mean() - pred) <= Z_DEFAULT * se, (name, values.mean(), pred)


@pytest.mark.slow
def test_kurtosis_and_square_correlation_against_the_chain():
    d, N, L, sw2, sb2 = 50, 16, 3, 2.0, 0.05
    out = sample_chain(NetworkSpec(d, N, 1, L, sw2, sb2), 300_000, generator=gen(6))
    J, a = out["J"][:, 0].numpy(), out["a"][:, 0].numpy()
    m = theory.finite_width_moments(d, N, L, sw2, sb2)
    rows = np.stack([J, a], 1)
    kse = batch_standard_error(J, sst.kurtosis, n_batches=40)
    assert abs(sst.kurtosis(J) - m["kurt_J"][-1]) <= Z_DEFAULT * kse
    r2 = lambda s: float(np.corrcoef(s[:, 0] ** 2, s[:, 1] ** 2)[0, 1])  # noqa: E731
    assert abs(r2(rows) - m["corr_sq"][-1]) <= Z_DEFAULT * batch_standard_error(rows, r2, n_batches=40)


def test_law_does_not_depend_on_x_for_explicit_networks():
    """Finite width, two very different fixed inputs: the same law (two-sample KS), though J(x) and J(x') correlate."""
    d, N, L = 6, 5, 3
    spec = NetworkSpec(d, N, 1, L, 2.0, 0.1)
    x = torch.tensor([[0.1, 0.0, 0.0, 0.0, 0.0, 0.0], [5.0, -3.0, 2.0, 9.0, 0.5, -1.0]], dtype=torch.float64)
    n = 1500
    out = sample_explicit(spec, n, generator=gen(7), x=x)
    J = out["J"][:, :, 0].numpy()
    crit = math.sqrt(math.log(2e4) / 2 * 2 / n)  # two-sample KS at level 1e-4, equal sizes
    assert sst.ks_2samp(J[:, 0], J[:, 1]).statistic <= crit  # (dependent samples: conservative in practice)
    assert np.corrcoef(J.T)[0, 1] > correlation_tolerance(n)


# ----------------------------------------------------------------------------- mean-field cross-input correlation
def test_orthant_moments_against_quadrature():
    """One-dimensional quadrature over X, with Y | X = x ~ N(rho x, 1 - rho^2)."""
    for rho in (-0.9, -0.2, 0.0, 0.5, 0.99):
        s = math.sqrt(1 - rho * rho)
        pos = lambda x: sst.norm.cdf(rho * x / s)  # noqa: E731  P(Y > 0 | X = x)
        ypos = lambda x: rho * x * pos(x) + s * sst.norm.pdf(rho * x / s)  # noqa: E731  E[Y; Y > 0 | X = x]
        P = integrate.quad(lambda x: sst.norm.pdf(x) * pos(x), 0, 12, epsabs=1e-12)[0]
        exx = integrate.quad(lambda x: x * x * sst.norm.pdf(x) * pos(x), 0, 12, epsabs=1e-12)[0]
        exy = integrate.quad(lambda x: x * sst.norm.pdf(x) * ypos(x), 0, 12, epsabs=1e-12)[0]
        assert theory.orthant_moments(rho) == pytest.approx((P, exx, exy), abs=1e-9)


def test_input_correlation_limits():
    d, L = 30, 6
    x = np.random.default_rng(0).normal(size=(1, d))
    same = theory.linear_map_input_correlation(np.vstack([x, 2.5 * x]), L, 2.0, 0.0)
    assert same["corr_J"][-1, 0, 1] == pytest.approx(1.0, abs=1e-9)  # same ray, no bias: same region
    opposite = theory.linear_map_input_correlation(np.vstack([x, -x]), L, 2.0, 0.0)
    assert opposite["corr_J"][0, 0, 1] == pytest.approx(0.0, abs=1e-12)  # ReLU: disjoint active sets at layer 1
    lin = theory.linear_map_input_correlation(np.random.default_rng(1).normal(size=(2, d)), L, 1.0, 0.3, 1.0, 1.0)
    assert lin["corr_J"][-1, 0, 1] == pytest.approx(1.0, abs=1e-12)  # a linear network has one J for all x
    one = theory.linear_map_input_correlation(x, L, 2.0, 0.1)
    assert one["corr_J"].shape == (L, 1, 1) and one["corr_J"][-1, 0, 0] == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("residual, u, v, sw2", ARCHS[1:3])
def test_input_correlation_against_the_unit_sampler(residual, u, v, sw2):
    d, N, L, sb2, n = 40, 300, 3, 0.1, 1500
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, d))
    x[2] = 0.8 * x[0] + 0.6 * x[2]  # a correlated pair
    x[1] *= 1.7
    pred = theory.linear_map_input_correlation(x, L, sw2, sb2, u, v, residual)
    out = sample_units(NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual), torch.tensor(x), n, generator=gen(8))
    for key, pk in (("J", "corr_J"), ("a", "corr_a")):
        C = np.corrcoef(out[key][:, :, 0].numpy().T)
        for i, j in ((0, 1), (0, 2), (1, 2)):
            assert abs(C[i, j] - pred[pk][-1, i, j]) <= fisher_correlation_tolerance(C[i, j], n), (key, i, j)


# ----------------------------------------------------------------------------- KS of a scale mixture
def test_scale_mixture_ks_first_order():
    """X | s ~ N(0, s^2), s^2 ~ chi^2_nu / nu: the exact sup |F - Phi| by quadrature vs kappa * 0.5504 / 24."""
    assert theory.SCALE_MIXTURE_KS_CONSTANT == pytest.approx(0.55059, abs=1e-5)
    for nu in (200.0, 2000.0):
        kappa = 3 * 2 / nu  # excess kurtosis of the mixture: 3 Var(s^2)
        grid = np.linspace(0.0, 4.0, 401)
        # E Phi(t / s) over s^2 by the quantile (midpoint) rule on 10,000 equal-probability nodes
        s2 = sst.gamma.ppf((np.arange(10_000) + 0.5) / 10_000, nu / 2, scale=2 / nu)
        cdf = sst.norm.cdf(grid[:, None] / np.sqrt(s2)[None, :]).mean(1)
        exact = float(np.max(np.abs(cdf - sst.norm.cdf(grid))))
        assert theory.scale_mixture_ks(kappa) == pytest.approx(exact, rel=0.1)
    with pytest.raises(ValueError, match="excess_kurtosis"):
        theory.scale_mixture_ks(-1.0)


@pytest.mark.parametrize("call, name", [
    (lambda: theory.finite_width_moments(0, 5, 2, 2.0), "'d'"),
    (lambda: theory.finite_width_moments(5, 0, 2, 2.0), "'N'"),
    (lambda: theory.finite_width_moments(5, 5, 0, 2.0), "'L'"),
    (lambda: theory.finite_width_moments(5, 5, 2, 2.0, -1.0), "sigma_b2"),
    (lambda: theory.jacobian_excess_kurtosis(5, 2, 0.0), "sigma_w2"),
    (lambda: theory.linear_map_input_correlation(np.ones((2, 3)), 2, 2.0, direction=3), "direction"),
    (lambda: theory.orthant_moments(1.5), "rho"),
])
def test_validation(call, name):
    with pytest.raises(ValueError, match=name):
        call()
