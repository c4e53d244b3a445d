"""Lemma 5.5, Theorems 5.6 / 5.7 and the Fig. 5 boundary (mfat.theory.trainability): closed forms, their laws,
simulation of the flows they summarise, and a Monte Carlo check of the gain omega^L they are built on."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat import stats, theory
from mfat.experiments.trainability import agreement, depth_gains
from mfat.theory import trainability as tr
from mfat.theory.weight_variance import sigma_w2_linear, sigma_w2_ode, variance_slope

EPS, BETA = 0.3, 23.2


def test_reexported_from_theory():
    for name in tr.__all__:
        assert getattr(theory, name) is getattr(tr, name)


def test_lemma_5_5_intervals():
    lo, hi = tr.trainable_interval(10, M=1e4, m=1e-4)
    assert lo == pytest.approx(10 ** -0.4, rel=1e-14) and hi == pytest.approx(10 ** 0.4, rel=1e-14)
    lo, hi = tr.trainable_interval(10, M=1e4, m=1e-4, residual=True)
    assert lo == 0.0 and hi == pytest.approx(10 ** 0.4 - 1, rel=1e-14)
    assert tr.gain(2.0, 7) == pytest.approx(1.0)
    assert tr.gain(0.5, 3, residual=True) == pytest.approx(1.25 ** 3)


@settings(max_examples=200, deadline=None)
@given(s=st.floats(0.0, 10.0), L=st.integers(1, 60), logm=st.floats(-8, 0), logM=st.floats(0, 8),
       v=st.sampled_from([0.0, 0.2, 0.5]), residual=st.booleans())
def test_is_trainable_matches_interval(s, L, logm, logM, v, residual):
    m, M = 10.0 ** logm, 10.0 ** logM
    lo, hi = tr.trainable_interval(L, M, m, residual)
    w = theory.alpha(1.0, v) * s
    inside = lo <= w <= hi
    # avoid floating-point ties at the interval's ends
    if min(abs(w - lo), abs(w - hi)) > 1e-9 * max(1.0, hi):
        assert tr.is_trainable(s, L, M, m, 1.0, v, residual) == inside
    if residual:  # the lower condition is automatic for residual networks
        assert tr.gain(s, L, 1.0, v, True) >= m


def test_theorem_5_6_linear_closed_form_and_laws():
    a = 0.5
    for L in (2, 5, 10, 20):
        T = tr.exit_time(1000, L, EPS, BETA)
        assert T == pytest.approx(1000 * (1 - 1e-4 ** (1 / L)) / (2 * a * EPS * BETA), rel=1e-12)
        # the linear law reaches the threshold exactly at T
        s = sigma_w2_linear(T, 2.0, EPS, BETA, L, 1000)
        assert float(s) == pytest.approx(tr.exit_threshold_sigma_w2(L, 1e-4), rel=1e-10)
    # laws: linear in N, 1/eps, 1/beta, 1/lr (in steps) and 1/c
    T0 = tr.exit_time(500, 8, EPS, BETA)
    assert tr.exit_time(1500, 8, EPS, BETA) == pytest.approx(3 * T0, rel=1e-12)
    assert tr.exit_time(500, 8, 2 * EPS, BETA) == pytest.approx(T0 / 2, rel=1e-12)
    assert tr.exit_time(500, 8, EPS, 4 * BETA) == pytest.approx(T0 / 4, rel=1e-12)
    assert tr.exit_time(500, 8, EPS, BETA, c=1.0) == pytest.approx(2 * T0, rel=1e-12)
    # about 1/L: L T -> N ln(1/m) / (c alpha eps beta) as L grows
    limit = 500 * math.log(1e4) / (2 * a * EPS * BETA)
    LT = [L * tr.exit_time(500, L, EPS, BETA) for L in (10, 100, 1000)]
    assert abs(LT[2] - limit) < abs(LT[1] - limit) < abs(LT[0] - limit)
    assert LT[2] == pytest.approx(limit, rel=5e-3)


def test_theorem_5_6_ode_closed_form_and_flow():
    a, N = 0.5, 800
    k = 2 * a * EPS * BETA / N
    for L in (3, 4, 10, 20):
        T = tr.exit_time(N, L, EPS, BETA, law="ode")
        closed = (1e-4 ** (1 / L - 0.5) - 1.0) / ((L / 2 - 1) * k)
        assert T == pytest.approx(closed, rel=1e-8)
        assert float(sigma_w2_ode(T, 2.0, EPS, BETA, L, N)) == pytest.approx(tr.exit_threshold_sigma_w2(L), rel=1e-7)
        assert T > tr.exit_time(N, L, EPS, BETA)  # the unfrozen flow slows down: a later exit
    T2 = tr.exit_time(N, 2, EPS, BETA, law="ode")  # L = 2: exponential decay
    assert T2 == pytest.approx(math.log(1.0 / 1e-4 ** 0.5) / k, rel=1e-8)
    # spec example: L = 10, m = 1e-4 gives (39.8 - 1) / 4 against 0.602 for the linear law
    ratio = tr.exit_time(N, 10, EPS, BETA, law="ode") / tr.exit_time(N, 10, EPS, BETA)
    assert ratio == pytest.approx(((10 ** 1.6 - 1) / 4) / (1 - 10 ** -0.4), rel=1e-8)


def test_ode_exit_time_against_simulated_flow():
    """Euler simulation of d sigma_w^2 / dt = variance_slope(sigma_w^2) crosses the threshold at T (to O(dt))."""
    N, L, s0 = 300, 6, 2.2
    T = tr.exit_time(N, L, EPS, BETA, s0, law="ode")
    thr = tr.exit_threshold_sigma_w2(L)
    for n_steps, tol in ((20000, 2e-3), (80000, 5e-4)):
        dt = 1.5 * T / n_steps
        s, t = s0, 0.0
        while s > thr:
            s += dt * variance_slope(EPS, BETA, L, N, s)
            t += dt
        assert t == pytest.approx(T, rel=tol)


def test_critical_width():
    for L in (2, 6, 20):
        for law in tr.LAWS:
            Nstar = tr.critical_width(L, 7.5, EPS, BETA, law=law)
            # N* is where the exit time equals the budget (T is linear in N)
            assert tr.exit_time(1000, L, EPS, BETA, law=law) * Nstar / 1000 == pytest.approx(7.5, rel=1e-10)
        assert tr.critical_width(L, 7.5, EPS, BETA) == pytest.approx(2 * 7.5 * 0.5 * EPS * BETA / (1 - 1e-4 ** (1 / L)))
    # the linear-law boundary grows with depth; the ODE boundary is below it
    lin = [tr.critical_width(L, 5.0, EPS, BETA) for L in range(2, 21)]
    assert np.all(np.diff(lin) > 0)
    assert all(tr.critical_width(L, 5.0, EPS, BETA, law="ode") < b for L, b in zip(range(2, 21), lin))


def test_theorem_5_7_residual():
    assert tr.exit_time(100, 10, EPS, BETA, 0.5, residual=True) == math.inf
    t = np.linspace(0, 100, 50)  # about seven time constants N / (c alpha eps beta)
    path = sigma_w2_ode(t, 0.5, EPS, BETA, 10, 100, residual=True)
    assert np.all(np.diff(path) <= 1e-12) and path[-1] < 0.01
    assert tr.residual_stays_trainable(path, 10).all()
    # a residual network that starts above M^(1/L) - 1 is not covered by the theorem
    with pytest.raises(ValueError, match="sigma_w2_0"):
        tr.exit_time(100, 10, EPS, BETA, 10.0, residual=True)


def test_validation():
    with pytest.raises(ValueError, match="'L'"):
        tr.trainable_interval(0)
    with pytest.raises(ValueError, match="'m'"):
        tr.trainable_interval(3, m=0.0)
    with pytest.raises(ValueError, match="'m'"):
        tr.is_trainable(2.0, 3, m=2.0)
    with pytest.raises(ValueError, match="'M'"):
        tr.trainable_interval(3, M=0.5)
    with pytest.raises(ValueError, match="'law'"):
        tr.exit_time(10, 3, EPS, BETA, law="exact")
    with pytest.raises(ValueError, match="'eps'"):
        tr.exit_time(10, 3, 0.0, BETA)
    with pytest.raises(ValueError, match="sigma_w2_0"):
        tr.exit_time(10, 3, EPS, BETA, 1e-6)  # already below m^(1/L) / alpha
    with pytest.raises(ValueError, match="'t_budget'"):
        tr.critical_width(3, -1.0, EPS, BETA)


def test_agreement():
    obs = np.array([[False, False], [True, False], [True, True]])
    out = agreement(obs, [10, 100, 1000], [50, 500])
    assert out["predicted"].tolist() == [[False, False], [True, False], [True, True]]
    assert out["fraction"] == 1.0
    assert agreement(~obs, [10, 100, 1000], [50, 500])["fraction"] == 0.0
    with pytest.raises(ValueError, match="observed_trainable"):
        agreement(obs, [10, 100], [50, 500])


@pytest.mark.slow
@pytest.mark.parametrize("sigma_w2,residual", [(1.6, False), (2.4, False), (0.5, True)])
def test_measured_gain_matches_omega_L(sigma_w2, residual):
    """Monte Carlo: the per-layer factor has mean omega (exact at any width for sigma_b^2 = 0) and the gain
    ||J_l||_F^2 / K has mean omega^l, within 4 standard errors (Bonferroni over the depths for the gain)."""
    from scipy.stats import norm

    n, L = 40, 6
    out = depth_gains(40, 96, L, sigma_w2, residual=residual, n_networks=n, generator=torch.Generator().manual_seed(3))
    f = out["factor"].ravel()  # unbiased and uncorrelated across layers: n * L samples
    w = theory.omega(sigma_w2, residual=residual)
    assert abs(f.mean() - w) <= stats.mean_tolerance(f.std(ddof=1), f.size)
    z = norm.isf(3e-5 / L)
    g = out["gain"]
    for layer in range(L):
        pred = tr.gain(sigma_w2, layer + 1, residual=residual)
        assert abs(g[:, layer].mean() - pred) <= stats.mean_tolerance(g[:, layer].std(ddof=1), n, z=z), layer


def test_experiment_and_profile_validation():
    from mfat.chapter import settings as profiles

    with pytest.raises(ValueError, match="'n_networks'"):
        depth_gains(4, 8, 2, 2.0, n_networks=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="'batch_size'"):
        profiles.get("04_trainability", "quick", {"batch_size": 10**6})
    with pytest.raises(ValueError, match="'widths'"):
        profiles.get("04_trainability", "quick", {"widths": "64"})
    full = profiles.get("04_trainability", "full")
    assert full.depths == tuple(range(2, 21, 2)) and full.widths == tuple(2**k for k in range(6, 13))
