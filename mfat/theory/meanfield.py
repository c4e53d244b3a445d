"""Mean-field closed forms for Definition 3.1 networks (sources appendix: Definition 3.1 and Theorem 4.1).

Pure functions of floats, evaluated in float64; no torch state. ``residual`` selects the
architecture: vanilla ``h = phi(W h + b)`` or residual ``h = P h + phi(W h + b)``.
"""

from __future__ import annotations

import numpy as np

from mfat.validation import check_int, check_real

__all__ = [
    "alpha",
    "omega",
    "var_J",
    "var_a",
    "signal_recursion",
    "output_second_moment",
    "critical_sigma_w2",
]


def alpha(u: float = 1.0, v: float = 0.0) -> float:
    """Activation constant alpha = (u^2 + v^2) / 2 = E[phi'(z)^2] for symmetric z (sources appendix: Notation)."""
    u = check_real("u", u)
    v = check_real("v", v)
    if u == 0.0 and v == 0.0:
        raise ValueError("parameters 'u' and 'v' are both 0: allowed slopes with u^2 + v^2 > 0")
    return (u * u + v * v) / 2.0


def omega(sigma_w2: float, u: float = 1.0, v: float = 0.0, residual: bool = False) -> float:
    """Per-layer gain: omega_v = alpha sigma_w^2 (vanilla), omega_r = 1 + alpha sigma_w^2 (residual)."""
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    gain = alpha(u, v) * sigma_w2
    return 1.0 + gain if residual else gain


def var_J(d: int, L: int, sigma_w2: float, u: float = 1.0, v: float = 0.0, residual: bool = False) -> float:
    """Theorem 4.1: Var J_ij(x) = omega^L / d."""
    d = check_int("d", d, min_value=1)
    L = check_int("L", L, min_value=1)
    return omega(sigma_w2, u, v, residual) ** L / d


def var_a(
    L: int, sigma_w2: float, sigma_b2: float, u: float = 1.0, v: float = 0.0, residual: bool = False
) -> float:
    """Theorem 4.1: Var a_i(x) = alpha sigma_b^2 sum_{k=1}^{L} omega^(k-1)."""
    L = check_int("L", L, min_value=1)
    sigma_b2 = check_real("sigma_b2", sigma_b2, min_value=0.0)
    w = omega(sigma_w2, u, v, residual)
    return alpha(u, v) * sigma_b2 * float(np.sum(w ** np.arange(L, dtype=np.float64)))


def signal_recursion(
    q0: float,
    L: int,
    sigma_w2: float,
    sigma_b2: float,
    u: float = 1.0,
    v: float = 0.0,
    residual: bool = False,
) -> np.ndarray:
    """Mean-field length map q^(l) = ||h^(l)||^2 / N for l = 0..L (sources appendix: Definition 3.1).

    vanilla:  q^(l) = alpha (sigma_w^2 q^(l-1) + sigma_b^2)
    residual: q^(l) = q^(l-1) + alpha (sigma_w^2 q^(l-1) + sigma_b^2)
    ``q0 = ||x||^2 / d``. Returns a float64 array of shape (L + 1,).
    """
    q0 = check_real("q0", q0, min_value=0.0)
    L = check_int("L", L, min_value=0)
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    sigma_b2 = check_real("sigma_b2", sigma_b2, min_value=0.0)
    a = alpha(u, v)
    q = np.empty(L + 1, dtype=np.float64)
    q[0] = q0
    for layer in range(1, L + 1):
        step = a * (sigma_w2 * q[layer - 1] + sigma_b2)
        q[layer] = q[layer - 1] + step if residual else step
    return q


def output_second_moment(
    q0: float,
    L: int,
    sigma_w2: float,
    sigma_b2: float,
    u: float = 1.0,
    v: float = 0.0,
    residual: bool = False,
) -> float:
    """E f_i(x)^2 = omega^L q0 + alpha sigma_b^2 sum_{k=1}^L omega^(k-1) = q^(L) (P_out has variance 1/N)."""
    return float(signal_recursion(q0, L, sigma_w2, sigma_b2, u, v, residual)[-1])


def critical_sigma_w2(u: float = 1.0, v: float = 0.0) -> float:
    """The vanilla critical point omega_v = 1, i.e. sigma_w^2 = 1 / alpha (= 2 for ReLU)."""
    return 1.0 / alpha(u, v)
