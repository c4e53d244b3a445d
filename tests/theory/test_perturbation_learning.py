"""Tests for mfat.theory.perturbation_learning: the closed-form kernel Phi and the lazy-regime formulas (chapter 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat import stats, theory
from mfat.companions.perturbation import kernel_matrix
from mfat.companions.two_layer import kernel_monte_carlo


def pairs(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n input pairs of random lengths whose angles cover [0, pi]."""
    rng = np.random.default_rng(seed)
    u1 = rng.standard_normal((n, d))
    u1 /= np.linalg.norm(u1, axis=1, keepdims=True)
    u2 = rng.standard_normal((n, d))
    u2 -= (u2 * u1).sum(1, keepdims=True) * u1
    u2 /= np.linalg.norm(u2, axis=1, keepdims=True)
    ang = np.linspace(0, math.pi, n)[:, None]
    r1, r2 = rng.uniform(0.1, 3.0, (n, 1)), rng.uniform(0.1, 3.0, (n, 1))
    return math.sqrt(d) * r1 * u1, math.sqrt(d) * r2 * (np.cos(ang) * u1 + np.sin(ang) * u2)


@pytest.mark.parametrize("gamma", [0.0, 0.5])
def test_closed_form_matches_monte_carlo_within_0005(gamma):
    """The issue's acceptance: |Phi_closed - Phi_MC| <= 0.005, and within 4 Monte Carlo standard errors."""
    Z1, Z2 = pairs(25, 30, seed=1)
    n_draws = 200_000
    mc = torch.diagonal(kernel_monte_carlo(torch.from_numpy(Z1), torch.from_numpy(Z2), gamma, n_draws=n_draws,
                                           generator=torch.Generator().manual_seed(3))).numpy()
    closed = np.diag(theory.phi_kernel(Z1, Z2, gamma))
    assert np.abs(mc - closed).max() <= 0.005
    # phi'phi' takes values in {1, gamma, gamma^2}: its standard deviation is at most 1/2
    assert np.all(np.abs(mc - closed) <= stats.mean_tolerance(0.5, n_draws))


def test_monte_carlo_estimator_against_direct_numpy_sampling():
    """An independent oracle for kernel_monte_carlo: sample the two pre-activations directly."""
    z1, z2 = pairs(1, 12, seed=5)
    rng = np.random.default_rng(0)
    n = 400_000
    w = rng.standard_normal((n, 12)) / math.sqrt(12)
    b = rng.standard_normal(n)
    gamma = 0.3
    s1 = np.where(w @ z1[0] + b >= 0, 1.0, gamma)
    s2 = np.where(w @ z2[0] + b >= 0, 1.0, gamma)
    direct = (s1 * s2).mean()
    closed = theory.phi_kernel(z1, z2, gamma)[0, 0]
    assert abs(direct - closed) <= stats.mean_tolerance((s1 * s2).std(), n)


def test_special_values():
    z = np.random.default_rng(0).standard_normal((4, 7))
    for gamma in (0.0, 0.3, 0.9):
        assert np.allclose(np.diag(theory.phi_kernel(z, z, gamma)), theory.phi_kernel_diagonal(gamma))
        assert theory.kernel_from_angle(math.pi, gamma) == pytest.approx(gamma)  # opposite pre-activations
        assert theory.kernel_from_angle(0.0, gamma) == pytest.approx((1 + gamma**2) / 2)
    assert np.allclose(theory.phi_kernel(z, -z, 0.999999), 1.0, atol=1e-5)  # gamma -> 1: Phi -> 1
    # z = 0 against anything: rho = 1 / sqrt(|z|^2/d + 1)
    zero = np.zeros((1, 7))
    rho = 1.0 / math.sqrt((z[0] ** 2).sum() / 7 + 1.0)
    assert theory.phi_kernel(zero, z[:1], 0.0)[0, 0] == pytest.approx((math.pi - math.acos(rho)) / (2 * math.pi))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), gamma=st.floats(0.0, 0.99), d=st.integers(1, 20))
def test_properties(seed, gamma, d):
    """Symmetric, between gamma and (1 + gamma^2)/2, decreasing in the angle."""
    rng = np.random.default_rng(seed)
    Z1, Z2 = rng.standard_normal((5, d)) * rng.uniform(0.1, 5), rng.standard_normal((6, d))
    K = theory.phi_kernel(Z1, Z2, gamma)
    assert K.shape == (5, 6)
    assert np.allclose(K, theory.phi_kernel(Z2, Z1, gamma).T)
    assert np.all(K >= gamma - 1e-12) and np.all(K <= (1 + gamma**2) / 2 + 1e-12)
    theta = np.linspace(0, math.pi, 50)
    assert np.all(np.diff(theory.kernel_from_angle(theta, gamma)) <= 1e-15)


def test_torch_kernel_matrix_equals_numpy_closed_form():
    Z1, Z2 = pairs(9, 11, seed=2)
    for gamma in (0.0, 0.6):
        got = kernel_matrix(torch.from_numpy(Z1), torch.from_numpy(Z2), gamma).numpy()
        assert np.allclose(got, theory.phi_kernel(Z1, Z2, gamma), atol=1e-12)
    batched = kernel_matrix(torch.from_numpy(np.stack([Z1, Z2])), torch.from_numpy(np.stack([Z2, Z1])), 0.2)
    assert np.allclose(batched[1].numpy(), theory.phi_kernel(Z2, Z1, 0.2), atol=1e-12)


def test_lazy_formulas_against_explicit_sums():
    rng = np.random.default_rng(4)
    X, Z = rng.standard_normal((8, 5)), rng.standard_normal((3, 5))
    y = rng.choice([-1.0, 1.0], 8)
    t, gamma = 2.5, 0.2
    K = theory.phi_kernel(Z, X, gamma)
    out = np.array([sum(t / 8 * y[n] * K[i, n] * (Z[i] @ X[n] + 1) for n in range(8)) for i in range(3)])
    grad = np.array([sum(t / 8 * y[n] * K[i, n] * X[n] for n in range(8)) for i in range(3)])
    assert np.allclose(theory.lazy_output_change(Z, X, y, t, gamma), out)
    assert np.allclose(theory.lazy_gradient_change(Z, X, y, t, gamma), grad)
    w = rng.uniform(0, 1, 8)
    assert np.allclose(theory.lazy_output_change(Z, X, y, 0.0, gamma, weights=w),
                       (K * (Z @ X.T + 1)) @ (w * y))


def test_validation_names_the_parameter():
    z = np.ones((2, 3))
    with pytest.raises(ValueError, match="gamma"):
        theory.phi_kernel(z, z, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        theory.phi_kernel(z, z, -0.1)
    with pytest.raises(ValueError, match="Z2"):
        theory.phi_kernel(z, np.ones((2, 4)))
    with pytest.raises(ValueError, match="Z1"):
        theory.phi_kernel(np.array([[np.nan, 1.0, 1.0]]), z)
    with pytest.raises(ValueError, match="'y'"):
        theory.lazy_output_change(z, z, [1.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="'t'"):
        theory.lazy_output_change(z, z, [1.0, -1.0], -1.0)
    with pytest.raises(ValueError, match="weights"):
        theory.lazy_gradient_change(z, z, [1.0, -1.0], 1.0, weights=[1.0, -1.0])
