"""mfat.theory.weight_variance (Theorem 5.4 and its residual counterpart) and the chapter-3 measurements.

Closed forms are checked against exact identities, numerical integration and Monte-Carlo simulation
(one SGD step of adversarial training on random networks); the forward-mode directional derivative of
mfat.experiments.weight_variance against reverse-mode autograd.
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from mfat import stats, theory
from mfat.data import gaussian_inputs
from mfat.experiments import weight_variance as wv
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig, batch_objective

gains = st.floats(0.2, 4.0)


# --------------------------------------------------------------------------- closed forms
def test_slope_values_and_conventions():
    s = theory.variance_slope(0.3, 23.2, 10, 1000, 2.0)
    assert s == pytest.approx(-2 * 0.3 * 23.2 / 1000)
    assert theory.variance_slope(0.3, 23.2, 10, 1000, 2.0, lr=0.01) == pytest.approx(0.01 * s)  # per SGD step
    assert theory.variance_slope(0.3, 23.2, 10, 1000, 2.0, c=1.0) == pytest.approx(s / 2)
    assert theory.variance_slope(0.3, 23.2, 10, 2000, 2.0) == pytest.approx(s / 2)  # 1/N
    res = theory.variance_slope(0.3, 23.2, 10, 1000, 0.5, residual=True)
    assert res == pytest.approx(-2 * 0.2 * 0.3 * 23.2 * 1.25**5 / 1000)
    assert theory.residual_fraction(0.5) == pytest.approx(0.2)
    assert theory.slope_from_measured_Ladv(5.0, 1000) == pytest.approx(-0.01)
    assert theory.slope_from_measured_Ladv(5.0, 1000, lr=0.1, fraction=0.5) == pytest.approx(-0.0005)


@pytest.mark.parametrize("call, name", [
    (lambda: theory.variance_slope(-0.1, 1, 2, 10, 2.0), "eps"),
    (lambda: theory.variance_slope(0.1, -1, 2, 10, 2.0), "beta"),
    (lambda: theory.variance_slope(0.1, 1, 0, 10, 2.0), "L"),
    (lambda: theory.variance_slope(0.1, 1, 2, 0, 2.0), "N"),
    (lambda: theory.variance_slope(0.1, 1, 2, 10, 2.0, lr=0), "lr"),
    (lambda: theory.variance_slope(0.1, 1, 2, 10, 2.0, c=0), "c"),
    (lambda: theory.slope_from_measured_Ladv(-1, 10), "mean_L_adv"),
    (lambda: theory.slope_from_measured_Ladv(1, 10, fraction=2), "fraction"),
    (lambda: theory.sigma_w2_linear(-1.0, 2.0, 0.1, 1, 2, 10), "t"),
    (lambda: theory.sigma_w2_ode([0, np.nan], 2.0, 0.1, 1, 2, 10), "t"),
    (lambda: theory.sigma_w2_weight_decay(1.0, 2.0, -1), "weight_decay"),
    (lambda: theory.frozen_rate_validity_time(1.5, 2.0, 0.1, 1, 4, 10), "tol"),
])
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        call()


@settings(max_examples=40, deadline=None)
@given(sw2=gains, L=st.integers(1, 12), res=st.booleans(), N=st.integers(10, 5000))
def test_ode_starts_on_the_line_and_solves_its_equation(sw2, L, res, N):
    """sigma_w2_ode(0) = sigma_w^2(0); its derivative is variance_slope at the current value (finite differences)."""
    eps, beta = 0.3, 23.2
    rate0 = theory.variance_slope(eps, beta, L, N, sw2, residual=res)
    T = 0.2 * sw2 / abs(rate0)  # a fifth of the line's time to zero
    t = np.linspace(0, T, 11)
    ode = theory.sigma_w2_ode(t, sw2, eps, beta, L, N, residual=res)
    assert ode[0] == pytest.approx(sw2, rel=1e-12)
    h = 1e-6 * T
    for s in t[1:-1]:
        up, dn = theory.sigma_w2_ode([s + h, s - h], sw2, eps, beta, L, N, residual=res)
        cur = float(theory.sigma_w2_ode(s, sw2, eps, beta, L, N, residual=res))
        assert (up - dn) / (2 * h) == pytest.approx(theory.variance_slope(eps, beta, L, N, cur, residual=res),
                                                    rel=1e-4)
    # first order in t: the ODE and the frozen line agree to O(t^2)
    small = np.array([1e-4 * T])
    assert theory.sigma_w2_ode(small, sw2, eps, beta, L, N, residual=res)[0] == pytest.approx(
        theory.sigma_w2_linear(small, sw2, eps, beta, L, N, residual=res)[0], rel=1e-7)


@pytest.mark.parametrize("L", [1, 2, 3, 10])
def test_vanilla_closed_form_matches_numerical_integration(L):
    eps, beta, N, sw2 = 0.3, 23.2, 200, 2.0
    t = np.linspace(0, 30.0, 7)
    sol = integrate.solve_ivp(lambda _s, y: [theory.variance_slope(eps, beta, L, N, max(y[0], 0.0))], (0, t[-1]),
                              [sw2], t_eval=t, rtol=1e-11, atol=1e-13)
    assert np.allclose(theory.sigma_w2_ode(t, sw2, eps, beta, L, N), sol.y[0], rtol=1e-7, atol=1e-9)


def test_residual_L2_is_exponential():
    """Residual, L = 2: d sigma^2/dt = -c alpha eps beta sigma^2 / N, so sigma^2(0) exp(-c alpha eps beta t / N)."""
    t = np.linspace(0, 50, 6)
    expected = 0.5 * np.exp(-2 * 0.5 * 0.3 * 23.2 * t / 100)
    assert np.allclose(theory.sigma_w2_ode(t, 0.5, 0.3, 23.2, 2, 100, residual=True), expected, rtol=1e-8)


def test_linear_law_is_clipped_at_zero_and_shapes_are_kept():
    t = np.array([[0.0, 1e6], [1.0, 2.0]])
    out = theory.sigma_w2_linear(t, 2.0, 0.3, 23.2, 4, 100)
    assert out.shape == (2, 2) and out[0, 1] == 0.0 and out[0, 0] == 2.0
    assert theory.sigma_w2_ode(t, 2.0, 0.3, 23.2, 4, 100).shape == (2, 2)
    assert theory.sigma_w2_ode(t, 0.5, 0.3, 23.2, 4, 100, residual=True).shape == (2, 2)


def test_validity_time_is_linear_in_N_and_solves_its_equation():
    args = dict(sigma_w2_0=2.0, eps=0.3, beta=23.2, L=10)
    t1 = theory.frozen_rate_validity_time(0.1, N=1000, **args)
    assert theory.frozen_rate_validity_time(0.1, N=2000, **args) == pytest.approx(2 * t1, rel=1e-8)
    line = theory.sigma_w2_linear(t1, 2.0, 0.3, 23.2, 10, 1000)
    ode = theory.sigma_w2_ode(t1, 2.0, 0.3, 23.2, 10, 1000)
    assert abs(ode - line) == pytest.approx(0.1 * (2.0 - line), rel=1e-6)
    assert theory.frozen_rate_validity_time(0.1, 2.0, 0.0, 23.2, 10, 1000) == math.inf


def test_weight_decay_law_matches_discrete_sgd_on_the_penalty():
    """W <- W - lr wd W gives ||W||^2 (1 - lr wd)^(2k) -> exp(-2 wd t) as lr -> 0 at fixed t = lr k."""
    wd, t_end = 0.7, 2.0
    for lr in (1e-3, 1e-4):
        k = round(t_end / lr)
        discrete = 2.0 * (1 - lr * wd) ** (2 * k)
        assert discrete == pytest.approx(float(theory.sigma_w2_weight_decay(t_end, 2.0, wd)), rel=3 * lr * wd**2 * t_end)


# --------------------------------------------------------------------------- measurements
def test_forward_mode_ratios_match_reverse_mode_autograd():
    """directional_ratios (torch.func.jvp) = <W^(l), grad> / L_adv from per-example reverse-mode autograd."""
    g = torch.Generator().manual_seed(0)
    net = ReLULikeNet(9, 12, 3, 3, 0.5, 0.1, residual=True, generator=g, dtype=torch.float64)
    x = gaussian_inputs(4, 9, generator=g)
    eta = 0.3 * torch.randn(4, 9, generator=g, dtype=torch.float64)
    ratios, values = wv.directional_ratios(net, x, eta, 2)
    for i in range(4):
        val = torch.linalg.vector_norm(net(x[i:i + 1] + eta[i:i + 1]) - net(x[i:i + 1]), dim=1).sum()
        grads = torch.autograd.grad(val, list(net.W))
        assert values[i] == pytest.approx(float(val.detach()), rel=1e-12)
        for layer, gW in enumerate(grads):
            assert ratios[i, layer] == pytest.approx(float((gW * net.W[layer].detach()).sum() / val.detach()), rel=1e-10)


@pytest.mark.parametrize("p, q", [("inf", "inf"), (2, 2), (1, 2), (2, "inf")])
def test_vanilla_identity_with_and_without_biases(p, q):
    g = torch.Generator().manual_seed(1)
    X = gaussian_inputs(16, 20, generator=g)
    plain = wv.identity_ratios(X, N=24, K=4, L=4, sigma_w2=2.0, sigma_b2=0.0, eps=0.5, p=p, q=q, attack_steps=5,
                               generator=g)
    assert np.abs(plain["per_example"] - 1).max() < 1e-10
    assert np.allclose(plain["batch"], 1, atol=1e-10)
    with_b = wv.identity_ratios(X, N=24, K=4, L=4, sigma_w2=2.0, sigma_b2=0.5, eps=0.5, p=p, q=q, attack_steps=5,
                                include_bias=True, generator=g)
    assert np.abs(with_b["per_example"] - 1).max() < 1e-10


@pytest.mark.slow
def test_residual_factor_monte_carlo():
    """Residual, small eps: the batch ratio averages to alpha sigma_w^2 / omega_r within 4 standard errors
    plus a finite-width allowance of 2/N per layer of depth (the mean-field factor is the N -> inf limit).
    One network's factor scatters widely (the shortcut and trainable paths are two random terms of comparable
    size), so the test averages over networks; the spread shrinks with d and K."""
    g = torch.Generator().manual_seed(2)
    X = gaussian_inputs(16, 512, generator=g)
    L, N = 3, 256
    r = wv.identity_ratios(X, N=N, K=10, L=L, sigma_w2=0.5, sigma_b2=0.0, eps=1e-3, p="inf", q="inf", residual=True,
                           n_networks=12, attack_steps=10, generator=g)
    per_net = r["batch"].mean(1)
    tol = stats.mean_tolerance(per_net.std(ddof=1), len(per_net)) + 2 * L / N
    print(f"measured {per_net.mean():.5g} tol {tol:.3g}")
    assert per_net.mean() == pytest.approx(theory.residual_fraction(0.5), abs=tol)


@pytest.mark.slow
@pytest.mark.parametrize("residual, sw2", [(False, 2.0), (True, 0.5)])
def test_variance_slope_against_one_sgd_step(residual, sw2):
    """Monte Carlo: one adv_only SGD step on fresh random networks (Gaussian inputs, small eps, p = q = inf,
    K = 1) moves sigma_w^2 by variance_slope(eps, beta, ...) * lr with beta_{inf,inf}(d, 1) = sqrt(2 d / pi)
    (E||z||_1 / sqrt(d) for a standard Gaussian row; for K = 1 PGD reaches the maximiser eps sign(J) exactly).
    Tolerance: 4 standard errors over networks plus a 4/N finite-width allowance (the law is the N -> inf one)."""
    d, K, N, L, lr, eps, n_net = 64, 1, 256, 3, 1e-3, 1e-3, 24
    beta = math.sqrt(2 * d / math.pi)
    g = torch.Generator().manual_seed(3)
    cfg = TrainConfig(objective="adv_only", lr=lr, steps=1, batch_size=8, eps=eps, p="inf", q="inf", attack_steps=3)
    X = gaussian_inputs(8, d, generator=g)
    y = torch.zeros(8, dtype=torch.int64)
    measured = []
    for _ in range(n_net):
        net = ReLULikeNet(d, N, K, L, sw2, 0.0, residual=residual, generator=g, dtype=torch.float64)
        before = net.sigma_w2_per_layer()
        out = batch_objective(net, X, y, cfg, generator=g)
        out["loss"].backward()
        with torch.no_grad():
            for w in net.W:
                w -= lr * w.grad
        measured.append(float((net.sigma_w2_per_layer() - before).mean()) / lr)
    measured = np.array(measured)
    predicted = theory.variance_slope(eps, beta, L, N, sw2, residual=residual)
    tol = stats.mean_tolerance(measured.std(ddof=1), n_net) + 4 / N * abs(predicted)
    print(f"measured {measured.mean():.5g} predicted {predicted:.5g} tol {tol:.3g}")
    assert measured.mean() == pytest.approx(predicted, abs=tol)


def test_secant_slope_and_departure_time():
    t = np.arange(0, 11) * 0.01
    table = pd.DataFrame({"step": np.arange(11), "t": t, "sigma_w2": 2.0 - 0.5 * t, "L_adv": np.full(11, 4.0)})
    slope, mean_L = wv.secant_slope(table, 5)
    assert slope == pytest.approx(-0.5) and mean_L == 4.0
    with pytest.raises(ValueError, match="'steps'"):
        wv.secant_slope(table.iloc[::2], 5)
    pred = 2.0 - 0.5 * t
    meas = pred.copy()
    meas[6:] += 0.2 * (pred[0] - pred[6:])  # 20% off from t = 0.06 on
    assert wv.departure_time(t, meas, pred, tol=0.1) == pytest.approx(0.06)
    assert wv.departure_time(t, pred, pred, tol=0.1) == math.inf


def test_update_rank_fraction():
    g = torch.Generator().manual_seed(4)
    W0 = torch.randn(50, 50, generator=g, dtype=torch.float64)
    u, v = torch.randn(50, 2, generator=g, dtype=torch.float64), torch.randn(50, 2, generator=g, dtype=torch.float64)
    assert wv.update_rank_fraction(W0, W0 + u @ v.T, 2) == pytest.approx(1.0)
    iid = wv.update_rank_fraction(W0, W0 + torch.randn(50, 50, generator=g, dtype=torch.float64), 2)
    assert 0.04 < iid < 0.3  # about 2/50 for an iid update, plus the spread of the top singular values


def test_summarise_run_bookkeeping_is_exact_for_one_sgd_step():
    """Vanilla, zero biases, float64: slope of the first update = -2 L_adv / N + lr ||g||^2 / (N L) exactly."""
    g = torch.Generator().manual_seed(5)
    X = gaussian_inputs(64, 16, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    cfg = TrainConfig(objective="adv_only", lr=0.05, steps=3, batch_size=16, eps=0.3, attack_steps=3, record_every=1)
    out = wv.train_run(X, y, cfg, N=24, K=3, L=3, sigma_w2=2.0, n_init=32, generator=g, dtype=torch.float64)
    s = wv.summarise_run(out, 1)
    assert s["predicted"] == pytest.approx(s["slope"], rel=1e-9)
    assert s["first_order"] == pytest.approx(-2 * out["table"]["L_adv"].iloc[0] / 24, rel=1e-12)
    assert s["sgd_term"] > 0 and s["N"] == 24 and s["L"] == 3
    assert out["rank_fraction"].shape == (3,) and np.all((out["rank_fraction"] > 0) & (out["rank_fraction"] <= 1))
    assert math.isfinite(out["L_adv0"]) and out["L_adv0"] > 0
