"""Theorem 5.8 closed forms (mfat.theory.capacity) against exact identities and Monte Carlo over random networks."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from mfat import stats, theory
from mfat.experiments.capacity import capacity_run, fisher_rao_at_init, initial_slopes, input_q0
from mfat.model.fisher_rao import fisher_rao_norm
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("L, sigma_w2, u, v", [(1, 2.0, 1.0, 0.0), (5, 2.0, 1.0, 0.0), (4, 1.3, 1.0, 0.5)])
def test_vanilla_is_LK_omega_L(L, sigma_w2, u, v):
    w = theory.omega(sigma_w2, u, v)
    assert theory.fisher_rao_expectation(sigma_w2, L, 7, u, v, q0=0.3) == pytest.approx(L * 7 * w**L * 0.3, rel=1e-13)


@pytest.mark.parametrize("L, sigma_w2", [(1, 0.5), (3, 0.5), (6, 0.1)])
def test_residual_is_LK_alpha_sigma_omega_L_minus_1(L, sigma_w2):
    a, w = theory.alpha(), theory.omega(sigma_w2, residual=True)
    got = theory.fisher_rao_expectation(sigma_w2, L, 4, residual=True)
    assert got == pytest.approx(L * 4 * a * sigma_w2 * w ** (L - 1), rel=1e-13)


@pytest.mark.parametrize("residual", [False, True])
def test_bias_uses_the_signal_recursion(residual):
    q = theory.signal_recursion(0.7, 4, 1.8, 0.2, 1.0, 0.3, residual)
    a, w = theory.alpha(1.0, 0.3), theory.omega(1.8, 1.0, 0.3, residual)
    expected = sum(3 * a * 1.8 * q[l - 1] * w ** (4 - l) for l in range(1, 5))
    got = theory.fisher_rao_expectation(1.8, 4, 3, 1.0, 0.3, residual, q0=0.7, sigma_b2=0.2)
    assert got == pytest.approx(expected, rel=1e-13)


def test_per_layer_variances_reduce_to_the_scalar_form_and_validate():
    assert theory.fisher_rao_expectation([2.0] * 3, 3, 5) == pytest.approx(theory.fisher_rao_expectation(2.0, 3, 5))
    terms = theory.fisher_rao_layer_terms([1.0, 2.0, 4.0], 3, 1)  # vanilla: every term = K prod_k omega_k
    assert np.allclose(terms, 0.5 * 1.0 * 2.0 * 1.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.fisher_rao_expectation([2.0, 2.0], 3, 5)
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.fisher_rao_expectation(-1.0, 3, 5)
    with pytest.raises(ValueError, match="'L'"):
        theory.fisher_rao_expectation(2.0, 0, 5)
    with pytest.raises(ValueError, match="q0"):
        theory.fisher_rao_expectation(2.0, 3, 5, q0=-1.0)
    with pytest.raises(ValueError, match="'t'"):
        theory.fisher_rao_linear(-1.0, 0.3, 1.0, 100, 3, 5, 2.0)


@pytest.mark.parametrize("residual, sigma_b2", [(False, 0.0), (False, 0.1), (True, 0.0), (True, 0.2)])
def test_dsigma2_is_the_derivative(residual, sigma_b2):
    s, h = 0.9 if residual else 1.7, 1e-6
    args = (5, 3, 1.0, 0.2, residual, 0.4, sigma_b2)
    fd = (theory.fisher_rao_expectation(s + h, *args) - theory.fisher_rao_expectation(s - h, *args)) / (2 * h)
    assert theory.fisher_rao_dsigma2(s, *args) == pytest.approx(fd, rel=1e-7)


def test_adversarial_line_is_the_papers_formula_at_criticality():
    """Vanilla ReLU at omega = 1, q0 = 1: E||w(t)||_FR^2 = L K (1 - c eps alpha beta L t / N)."""
    eps, beta, N, L, K, c = 0.3, 23.2, 1000, 10, 10, 2.0
    t = np.array([0.0, 0.5, 3.0])
    got = theory.fisher_rao_linear(t, eps, beta, N, L, K, 2.0, c=c)
    assert np.allclose(got, L * K * (1 - c * eps * 0.5 * beta * L * t / N), rtol=1e-13)
    # the slope is (dE/dsigma^2) x Theorem 5.4's variance slope, also for residual networks
    rate = theory.variance_slope(eps, beta, L, N, 0.5, residual=True, c=c)
    assert theory.fisher_rao_adversarial_slope(eps, beta, N, L, K, 0.5, residual=True, c=c) == pytest.approx(
        theory.fisher_rao_dsigma2(0.5, L, K, residual=True) * rate, rel=1e-13)


def test_radial_slope_formula_equals_the_mean_field_rate():
    """At omega = 1 (sigma_w^2 = 2, ReLU) the radial rate with FR = L K and E L_adv = eps beta is the theorem's."""
    got = theory.fisher_rao_radial_slope(10 * 3, 0.3 * 5.0, 200, 10, 2.0)
    assert got == pytest.approx(theory.fisher_rao_adversarial_slope(0.3, 5.0, 200, 10, 3, 2.0), rel=1e-13)
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.fisher_rao_radial_slope(1.0, 1.0, 10, 2, [1.0, 0.0])


# ----------------------------------------------------------------------------- Monte Carlo over networks
MC_CASES = [
    # (residual, L, sigma_w2, sigma_b2, u, v, input scale)
    (False, 3, 2.0, 0.0, 1.0, 0.0, 1.0),     # vanilla ReLU at criticality, ||x|| = sqrt(d)
    (False, 4, 1.6, 0.0, 1.0, 0.5, 1.0),     # leaky, critical for alpha = 0.625
    (True, 3, 0.5, 0.0, 1.0, 0.0, 1.0),      # residual
    (False, 3, 2.0, 0.1, 1.0, 0.0, 0.5),     # bias, ||x||^2 / d = 0.25
    (True, 4, 0.3, 0.05, 1.0, 0.2, 0.5),     # residual, leaky, bias, small inputs
]


@pytest.mark.parametrize("residual, L, sigma_w2, sigma_b2, u, v, scale", MC_CASES)
def test_monte_carlo_over_random_networks(residual, L, sigma_w2, sigma_b2, u, v, scale):
    """The formula is exact in expectation at any width: the mean over n networks lies within 4 standard errors."""
    n = 300
    X = None
    if scale != 1.0:
        gen_x = torch.Generator().manual_seed(11)
        X = scale * torch.randn(6, 20, dtype=torch.float64, generator=gen_x)
    res = fisher_rao_at_init(20, 48, 3, L, sigma_w2, sigma_b2=sigma_b2, u=u, v=v, residual=residual, n_networks=n,
                             n_inputs=6, X=X, generator=torch.Generator().manual_seed(3))
    predicted = theory.fisher_rao_expectation(sigma_w2, L, 3, u, v, residual, q0=res["q0"], sigma_b2=sigma_b2)
    mean, tol = res["fr"].mean(), stats.mean_tolerance(res["fr"].std(ddof=1), n)
    assert abs(mean - predicted) <= tol, (mean, predicted, tol)
    # the per-layer terms too
    terms = theory.fisher_rao_layer_terms(sigma_w2, L, 3, u, v, residual, q0=res["q0"], sigma_b2=sigma_b2)
    for layer in range(L):
        col = res["layers"][:, layer]
        assert abs(col.mean() - terms[layer]) <= stats.mean_tolerance(col.std(ddof=1), n)


def test_input_q0():
    X = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert input_q0(X) == pytest.approx(25.0 / 2 / 2)


# ----------------------------------------------------------------------------- slopes
def _tiny(seed=0):
    net = ReLULikeNet(12, 40, 3, 3, 2.0, 0.0, seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    X = torch.rand(32, 12, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 3, (32,), generator=gen)
    return net, X, y


def test_radial_slope_is_the_exact_vanilla_identity():
    """<W, grad_W L_adv> = L_adv and the 2-homogeneity of FR make the radial part equal the closed form."""
    net, X, y = _tiny()
    cfg = TrainConfig(objective="adv_only", eps=0.1, attack_steps=5)
    s = initial_slopes(net, X, y, X[:16], cfg, generator=torch.Generator().manual_seed(0))
    expected = theory.fisher_rao_radial_slope(s["fr"], s["L_adv"], 40, 3, s["sigma_w2_layers"])
    assert s["radial"] == pytest.approx(expected, rel=1e-9)
    assert s["fr"] == pytest.approx(fisher_rao_norm(net, X[:16]), rel=1e-12)
    assert s["full"] < 0 and s["radial"] < 0


def test_full_slope_is_the_first_order_change_along_the_gradient_flow():
    """Oracle: -<grad FR, grad CE> vs a central difference of FR along -grad CE (standard training)."""
    net, X, y = _tiny(1)
    s = initial_slopes(net, X, y, X[:16], TrainConfig(objective="standard"), generator=torch.Generator())
    params = [*net.W, *net.b]
    g = torch.autograd.grad(F.cross_entropy(net(X), y), params)
    h = 1e-6
    with torch.no_grad():
        for p, gi in zip(params, g):
            p.sub_(h * gi)
        ahead = fisher_rao_norm(net, X[:16])
        for p, gi in zip(params, g):
            p.add_(2 * h * gi)
        behind = fisher_rao_norm(net, X[:16])
    assert s["full"] == pytest.approx((ahead - behind) / (2 * h), rel=1e-5)
    assert math.isnan(s["L_adv"])


def test_capacity_run_records_fr_and_the_mean_field_curve():
    net_gen = torch.Generator().manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(64, 10, generator=gen)
    y = torch.randint(0, 3, (64,), generator=gen)
    cfg = TrainConfig(objective="adv_only", lr=0.01, steps=4, batch_size=16, eps=0.1, attack_steps=2, record_every=2,
                      eval_size=32)
    out = capacity_run(X, y, X[:8], N=16, L=2, K=3, sigma_w2=2.0, config=cfg, generator=net_gen)
    assert list(out["step"]) == [0, 2, 4] and out["fr"].shape == (3,) and out["fr_mf"].shape == (3,)
    assert out["fr_mf"][0] == pytest.approx(theory.fisher_rao_expectation(
        [out["sigma_w2_1"][0], out["sigma_w2_2"][0]], 2, 3, q0=input_q0(X[:8])), rel=1e-12)
    assert out["fr"][-1] < out["fr"][0]
