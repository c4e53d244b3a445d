"""The activation-derivative kernel Phi of a wide two-layer network and its lazy-regime predictions
(chapter 6; Kumano, Kera, Yamasaki, NeurIPS 2024; sources appendix: the setting and Theorems A and B).

For the two-layer network f(x) = sum_k a_k phi(w_k^T x + b_k) with leaky slope gamma,
w_k ~ N(0, I_d / d) and b_k ~ N(0, 1),

    Phi(z1, z2) = E[phi'(w^T z1 + b) phi'(w^T z2 + b)]
                = ((1 + gamma^2)(pi - theta) + 2 gamma theta) / (2 pi),

where theta = arccos rho and rho = (z1.z2/d + 1) / sqrt((|z1|^2/d + 1)(|z2|^2/d + 1)) is the correlation
of the two pre-activations. (Both pre-activations are >= 0 with probability (pi - theta)/(2 pi), both < 0
with the same probability, and of opposite signs with probability theta/pi.)

The two helpers :func:`kernel_correlation` and :func:`kernel_from_angle` use arithmetic only, so the
torch implementation in :mod:`mfat.companions.perturbation` shares this formula instead of copying it. The other
functions are pure numpy, float64.
"""

from __future__ import annotations

import math

import numpy as np

from mfat.validation import check_real

__all__ = [
    "kernel_correlation",
    "kernel_from_angle",
    "phi_kernel",
    "phi_kernel_diagonal",
    "lazy_output_change",
    "lazy_gradient_change",
]


def _gamma(gamma) -> float:
    return check_real("gamma", gamma, min_value=0.0, max_value=1.0, max_inclusive=False)


def kernel_correlation(dot, sq1, sq2, d: int):
    """rho = (z1.z2/d + 1) / sqrt((|z1|^2/d + 1)(|z2|^2/d + 1)) from dot = z1.z2, sq_i = |z_i|^2.

    Broadcasts; works on numpy arrays and torch tensors alike (arithmetic only).
    """
    return (dot / d + 1.0) / ((sq1 / d + 1.0) * (sq2 / d + 1.0)) ** 0.5


def kernel_from_angle(theta, gamma: float):
    """Phi = ((1 + gamma^2)(pi - theta) + 2 gamma theta) / (2 pi) for theta in [0, pi] (arithmetic only)."""
    gamma = _gamma(gamma)
    return ((1.0 + gamma * gamma) * (math.pi - theta) + 2.0 * gamma * theta) / (2.0 * math.pi)


def _rows(name: str, z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[None, :]
    if z.ndim != 2 or z.shape[1] == 0 or not np.all(np.isfinite(z)):
        raise ValueError(f"parameter '{name}' has shape {z.shape}: allowed finite (n, d) or (d,) arrays")
    return z


def phi_kernel(Z1, Z2, gamma: float = 0.0) -> np.ndarray:
    """Closed-form Phi(z1, z2) for all pairs (sources appendix: the setting): Z1 (n1, d), Z2 (n2, d) -> (n1, n2).

    One-dimensional inputs are treated as single rows. ``gamma`` in [0, 1) is the leaky slope.
    """
    gamma = _gamma(gamma)
    Z1, Z2 = _rows("Z1", Z1), _rows("Z2", Z2)
    if Z1.shape[1] != Z2.shape[1]:
        raise ValueError(f"parameter 'Z2' has dimension {Z2.shape[1]}: allowed the dimension of Z1, {Z1.shape[1]}")
    d = Z1.shape[1]
    rho = kernel_correlation(Z1 @ Z2.T, (Z1**2).sum(1)[:, None], (Z2**2).sum(1)[None, :], d)
    return kernel_from_angle(np.arccos(np.clip(rho, -1.0, 1.0)), gamma)


def phi_kernel_diagonal(gamma: float = 0.0) -> float:
    """Phi(z, z) = (1 + gamma^2) / 2 for every z (theta = 0)."""
    gamma = _gamma(gamma)
    return (1.0 + gamma * gamma) / 2.0


def lazy_output_change(Z, X, y, t: float, gamma: float = 0.0, weights=None) -> np.ndarray:
    """Lazy-regime change of the output after gradient-flow time t (sources appendix: Theorems A and B):

        f_t(z) - f_0(z) = sum_n Lambda_n y_n Phi(z, x_n) (z.x_n + 1),   Lambda_n = t / N (identity loss).

    Z (nz, d), X (N, d), y (N,) in {-1, +1} -> (nz,). ``weights`` (N,) replaces the identity-loss
    weights t/N by Lambda_n (then ``t`` is ignored).
    """
    K, coef = _lazy_terms(Z, X, y, t, gamma, weights)
    Z, X = _rows("Z", Z), _rows("X", X)
    return (K * (Z @ X.T + 1.0)) @ coef


def lazy_gradient_change(Z, X, y, t: float, gamma: float = 0.0, weights=None) -> np.ndarray:
    """Lazy-regime change of the input gradient (sources appendix: Theorems A and B, Theorem A's weighted sum):

        grad f_t(z) - grad f_0(z) = sum_n Lambda_n y_n Phi(z, x_n) x_n,   Lambda_n = t / N.

    Z (nz, d), X (N, d), y (N,) -> (nz, d).
    """
    K, coef = _lazy_terms(Z, X, y, t, gamma, weights)
    return (K * coef[None, :]) @ _rows("X", X)


def _lazy_terms(Z, X, y, t, gamma, weights):
    X = _rows("X", X)
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape[0] != X.shape[0] or not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError(f"parameter 'y' must hold {X.shape[0]} labels in {{-1, +1}}: got shape {y.shape}")
    if weights is None:
        t = check_real("t", t, min_value=0.0)
        lam = np.full(X.shape[0], t / X.shape[0])
    else:
        lam = np.asarray(weights, dtype=np.float64).ravel()
        if lam.shape != y.shape or np.any(lam < 0) or not np.all(np.isfinite(lam)):
            raise ValueError(f"parameter 'weights' must be {X.shape[0]} finite non-negative numbers")
    return phi_kernel(Z, X, gamma), lam * y
