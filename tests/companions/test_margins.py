"""Tests for mfat.companions.margins and mfat.theory.implicit_bias: max-margin solvers on problems with known answers, the KKT
residual of homogeneous models against an explicit oracle, and the closed-form bounds of chapter 7."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from mfat import theory
from mfat.companions import margins


def random_separable(seed, n=20, d=4, margin=0.5):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    X = rng.standard_normal((n, d))
    y = np.where(X @ u >= 0, 1.0, -1.0)
    return X + margin * y[:, None] * u, y


# ------------------------------------------------------------------------------------------- known answers
@pytest.mark.parametrize("method", ["dual", "primal"])
def test_single_point_svm(method):
    sol = margins.max_margin(np.array([[3.0, 4.0]]), np.array([1.0]), method=method)
    np.testing.assert_allclose(sol.direction, [0.6, 0.8], atol=1e-9)
    assert sol.margin == pytest.approx(5.0, rel=1e-9)
    np.testing.assert_allclose(sol.w, [0.6 / 5, 0.8 / 5], atol=1e-9)


@pytest.mark.parametrize("method", ["dual", "primal"])
def test_two_points_svm(method):
    # z1 = (1, 1), z2 = y2 x2 = (1, -1): the max-margin direction is (1, 0) with margin 1, both support vectors
    X = np.array([[1.0, 1.0], [-1.0, 1.0]])
    y = np.array([1.0, -1.0])
    sol = margins.max_margin(X, y, method=method)
    np.testing.assert_allclose(sol.direction, [1.0, 0.0], atol=1e-9)
    assert sol.margin == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(sol.alpha, [0.5, 0.5], atol=1e-7)
    assert sol.kkt < 1e-9


@pytest.mark.parametrize("method", ["dual", "primal"])
@pytest.mark.parametrize("eps", [0.5, 2.0, 3.5])
def test_single_point_linf_robust(method, eps):
    # max_{|u|=1} u.z - eps |u|_1 for z = (3, 4): u ~ (3 - eps, 4 - eps) while eps < 3, else (0, 1) (margin 4 - eps)
    sol = margins.max_margin(np.array([[3.0, 4.0]]), np.array([1.0]), eps, "inf", method=method)
    if eps < 3:
        v = np.array([3.0 - eps, 4.0 - eps])
        np.testing.assert_allclose(sol.direction, v / np.linalg.norm(v), atol=1e-7)
        assert sol.margin == pytest.approx(np.linalg.norm(v), rel=1e-7)
    else:
        np.testing.assert_allclose(sol.direction, [0.0, 1.0], atol=1e-7)
        assert sol.margin == pytest.approx(4.0 - eps, rel=1e-7)
    assert sol.kkt < 1e-7


def test_l2_shift_keeps_direction():
    X, y = random_separable(1)
    s0 = margins.max_margin(X, y)
    for frac in (0.2, 0.7):
        s = margins.max_margin(X, y, frac * s0.margin, 2)
        np.testing.assert_allclose(s.direction, s0.direction, atol=1e-12)
        assert s.margin == pytest.approx(theory.l2_robust_margin(s0.margin, frac * s0.margin), rel=1e-10)
        assert margins.linear_kkt_residual(s.w, s.alpha, X, y, frac * s0.margin, 2) < 1e-9
        # w solves (P): its worst-case margins are >= 1 with equality on the support
        c = margins.robust_margins(s.w, X, y, frac * s0.margin, 2)
        assert c.min() == pytest.approx(1.0, abs=1e-9)


def test_linf_at_zero_eps_is_svm():
    X, y = random_separable(2)
    a, b = margins.max_margin(X, y), margins.max_margin(X, y, 0.0, "inf")
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-9)


# ------------------------------------------------------------------------------------------- cross-checks
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), frac=st.floats(0.0, 0.6))
def test_dual_and_primal_agree_and_are_optimal(seed, frac):
    X, y = random_separable(seed, n=15, d=3)
    gamma = margins.max_margin(X, y).margin
    eps = frac * gamma / math.sqrt(3)  # ||u||_1 <= sqrt(d): the robust margin stays >= (1 - frac) gamma > 0
    dual = margins.max_margin(X, y, eps, "inf", method="dual")
    primal = margins.max_margin(X, y, eps, "inf", method="primal", polish=False)
    assert dual.margin == pytest.approx(primal.margin, rel=1e-6)
    assert dual.kkt < 1e-8
    # no nearby direction does better (local optimality of a concave maximisation = global)
    rng = np.random.default_rng(seed)
    best = margins.linear_margin(dual.direction, X, y, eps, "inf")
    assert best == pytest.approx(dual.margin, rel=1e-9)
    for _ in range(50):
        u = dual.direction + 0.05 * rng.standard_normal(3)
        assert margins.linear_margin(u, X, y, eps, "inf") <= best + 1e-12


def test_kkt_residual_detects_wrong_solution():
    X, y = random_separable(3)
    s = margins.max_margin(X, y)
    assert margins.linear_kkt_residual(s.w, s.alpha, X, y) < 1e-10
    assert margins.linear_kkt_residual(s.w * 1.1, s.alpha, X, y) > 1e-3
    w_bad = s.w + 0.1 * np.ones_like(s.w)
    assert margins.linear_kkt_residual(w_bad, s.alpha, X, y) > 1e-3


# ------------------------------------------------------------------------------------------- validation
def test_bad_inputs_raise():
    X, y = random_separable(4)
    with pytest.raises(ValueError, match="'y'"):
        margins.max_margin(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="'p'"):
        margins.max_margin(X, y, 0.1, 1)
    with pytest.raises(ValueError, match="'eps'"):
        margins.max_margin(X, y, -0.1)
    with pytest.raises(ValueError, match="'method'"):
        margins.max_margin(X, y, method="cvx")
    with pytest.raises(ValueError, match="'X'"):
        margins.max_margin(X[None], y)
    gamma = margins.max_margin(X, y).margin
    with pytest.raises(ValueError, match="'eps'"):
        margins.max_margin(X, y, 1.5 * gamma, 2)


def test_non_separable_raises():
    X = np.array([[1.0, 0.0], [1.0, 0.0]])
    y = np.array([1.0, -1.0])
    with pytest.raises(ValueError, match="not separable"):
        margins.max_margin(X, y)


# ------------------------------------------------------------------------------------------- homogeneous models
def test_normalized_and_smoothed_margin_sandwich():
    rng = np.random.default_rng(0)
    q = rng.uniform(0.5, 5.0, size=40)
    rho, L = 3.0, 2
    g = margins.normalized_margin(q, rho, L)
    gs = margins.smoothed_margin(q, rho, L, "exp")
    assert g == pytest.approx(q.min() / rho**2)
    assert gs <= g <= gs + theory.margin_gap_bound(len(q), rho, L) + 1e-15
    # exp: definition -log(sum e^{-q}) / rho^L
    assert gs == pytest.approx(-math.log(np.exp(-q).sum()) / rho**2, rel=1e-12)
    # logistic: ell(gamma~ rho^L) = sum_i ell(q_i)
    gl = margins.smoothed_margin(q, rho, L, "logistic")
    assert math.log1p(math.exp(-gl * rho**2)) == pytest.approx(np.log1p(np.exp(-q)).sum(), rel=1e-10)
    # huge margins: no underflow, and the smoothed margin tends to the hard one
    big = q * 1e4
    assert margins.smoothed_margin(big, rho, L, "exp") == pytest.approx(big.min() / rho**2, rel=1e-3)
    assert margins.smoothed_margin(big, rho, L, "logistic") == pytest.approx(big.min() / rho**2, rel=1e-3)
    with pytest.raises(ValueError, match="'loss'"):
        margins.smoothed_margin(q, rho, L, "hinge")
    with pytest.raises(ValueError, match="'degree'"):
        margins.normalized_margin(q, rho, 0)


def _kkt_oracle(theta, q, J, L):
    """Direct NNLS on the explicit (P + 1) x n system, theta (P,), J (n, P) = gradients of q_i."""
    qmin = q.min()
    tt = theta / qmin ** (1.0 / L)
    Jt = J * qmin ** (-(L - 1) / L)
    s2 = tt @ tt
    c = q / qmin - 1.0
    A = np.vstack([Jt.T / math.sqrt(s2), c[None, :] / s2])
    b = np.concatenate([tt / math.sqrt(s2), [0.0]])
    lam, r = optimize.nnls(A, b)
    return r, lam


def test_kkt_residual_matches_explicit_oracle():
    rng = np.random.default_rng(5)
    n, P, L = 8, 12, 2
    # a 2-homogeneous toy: q_i(theta) = theta^T M_i theta, grad = 2 M_i theta (Euler: grad.theta = 2 q)
    M = rng.standard_normal((n, P, P))
    M = M @ M.transpose(0, 2, 1) / P
    theta = rng.standard_normal(P)
    q = np.einsum("p,npq,q->n", theta, M, theta)
    J = 2 * np.einsum("npq,q->np", M, theta)
    res = margins.kkt_residual(q, J @ J.T, float(np.linalg.norm(theta)), L)
    r, _ = _kkt_oracle(theta, q, J, L)
    assert res.total == pytest.approx(r, rel=1e-6, abs=1e-10)
    # scale invariance: q scales as c^L, the Gram as c^(2(L-1)), ||theta|| as c
    c = 7.0
    res_c = margins.kkt_residual(q * c**L, (J @ J.T) * c ** (2 * (L - 1)), float(np.linalg.norm(theta)) * c, L)
    assert res_c.total == pytest.approx(res.total, rel=1e-8, abs=1e-12)


def test_kkt_residual_zero_at_svm():
    # a linear model (L = 1) at its max-margin solution is a KKT point of min ||w||^2/2 s.t. w.z_i >= 1
    X, y = random_separable(6)
    s = margins.max_margin(X, y)
    Z = y[:, None] * X
    q = Z @ s.w
    res = margins.kkt_residual(q, Z @ Z.T, float(np.linalg.norm(s.w)), 1)
    assert res.total < 1e-6
    # and not at another direction
    w = s.w + 0.05 * np.linalg.norm(s.w) * np.eye(len(s.w))[0]
    q = Z @ w
    assert q.min() > 0
    assert margins.kkt_residual(q, Z @ Z.T, float(np.linalg.norm(w)), 1).total > 1e-2
    with pytest.raises(ValueError, match="'q'"):
        margins.kkt_residual(-np.abs(q), Z @ Z.T, 1.0, 1)


# ------------------------------------------------------------------------------------------- theory.margin
def test_rank_one_and_alignment_bounds_hold_on_random_balanced_pairs():
    rng = np.random.default_rng(7)
    for _ in range(200):
        d0, d1 = 4, 3
        W2 = rng.standard_normal((1, d1)) * rng.uniform(1, 10)         # last layer: a row
        W1 = np.outer(W2[0], rng.standard_normal(d0)) / np.linalg.norm(W2) + 0.3 * rng.standard_normal((d1, d0))
        D = W2.T @ W2 - W1 @ W1.T
        nD = np.linalg.norm(D, 2)
        s1 = np.linalg.svd(W1, compute_uv=False)
        bound = theory.rank_one_bound(np.array([nD]))
        assert bound.shape == (2,) and bound[1] == 0.0
        assert s1[1] ** 2 <= bound[0] + 1e-12
        u, s, vh = np.linalg.svd(W1)
        v2 = W2[0] / np.linalg.norm(W2)
        gap = 1 - abs(u[:, 0] @ v2)
        assert gap <= theory.alignment_bound(nD, np.linalg.norm(W2), 0.0) + 1e-12


def test_theory_margin_validation_and_values():
    assert theory.adversarial_loss_floor(30) == pytest.approx(1 / 30)
    assert theory.adversarial_loss_floor(10, "logistic") == pytest.approx(math.log(2) / 10)
    np.testing.assert_allclose(theory.margin_gap_bound(10, np.array([1.0, 2.0]), 2), [math.log(10), math.log(10) / 4])
    assert theory.l2_robust_margin(1.0, 0.3) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="'n'"):
        theory.adversarial_loss_floor(0)
    with pytest.raises(ValueError, match="'loss'"):
        theory.adversarial_loss_floor(3, "hinge")
    with pytest.raises(ValueError, match="'rho'"):
        theory.margin_gap_bound(3, 0.0, 2)
    with pytest.raises(ValueError, match="'balance'"):
        theory.rank_one_bound([-1.0])
    np.testing.assert_allclose(theory.rank_one_bound([1.0, 2.0]), [3.0, 2.0, 0.0])
    assert theory.alignment_bound(1.0, 1.0, 0.0) == 1.0            # no gap: the bound is vacuous
