"""Capacity: the Fisher-Rao norm at initialisation and under adversarial training (Theorem 5.8, sources appendix: Theorem 5.8).

The layerwise Fisher-Rao norm is ||w||_FR^2 = sum_l E_x ||<W^(l), grad_{W^(l)} f(x)>||^2 (see
:mod:`mfat.model.fisher_rao`). Holding the activation slopes fixed, <W^(l), grad_{W^(l)} f(x)> =
P_out M^(L)...M^(l+1) D^(l) W^(l) h^(l-1). Each factor multiplies the expected squared norm of a vector by a
known constant *exactly*, at any width, by the sign symmetry (W_i, b_i) -> (-W_i, -b_i) of a row:
E||D W g||^2 = alpha sigma_w^2 ||g||^2, E||P g||^2 = ||g||^2 with a vanishing cross term, and
E||P_out r||^2 = K ||r||^2 / N. Hence, for a fixed input with q^(0) = ||x||^2 / d,

    E ||w||_FR^2 = K sum_{l=1}^{L} alpha sigma_l^2 q^(l-1) prod_{k=l+1}^{L} omega_k,

with q^(l) the signal recursion of sources appendix: Definition 3.1 (its mean is exact at any width) and omega_k the gain of
layer k. With equal variances, sigma_b = 0 and ||x||^2 = d (q^(0) = 1) this is the paper's

    E ||w||_FR^2 = L K alpha sigma_w^2 omega^(L-1)       (= L K omega_v^L for a vanilla network).

What changes otherwise: for inputs with ||x||^2 / d != 1 (MNIST pixels in [0, 1] have E||x||^2 / d ~ 0.1)
and sigma_b = 0 the whole expression is multiplied by q^(0) = E_x ||x||^2 / d (it is linear in q^(0)); with a
bias, q^(l-1) = omega^(l-1) q^(0) + alpha sigma_b^2 (omega^(l-1) - 1)/(omega - 1) adds the bias-path signal.

Time evolution (Assumption 5.2: the weights stay i.i.d. with variance sigma_w^2(t)). Insert the weight
variance of Theorem 5.4 (:func:`mfat.theory.weight_variance.variance_slope`, constant c, time t = lr * steps) into
the formula above and keep the first order in t:

    E ||w(t)||_FR^2 ~ E ||w(0)||_FR^2 + (d E||w||_FR^2 / d sigma_w^2) (d sigma_w^2 / dt) t,

which for a vanilla network at omega_v = 1 and q^(0) = 1 is L K (1 - c eps alpha beta_{p,q} L t / N): the
summary's formula with c = 1, and with c = 2 in this book's gradient-flow convention (no factor 1/2 in the
loss). All functions are pure float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mfat.validation import check_int, check_real
from mfat.theory.meanfield import alpha, omega
from mfat.theory.weight_variance import variance_slope

__all__ = [
    "fisher_rao_layer_terms",
    "fisher_rao_expectation",
    "fisher_rao_dsigma2",
    "fisher_rao_adversarial_slope",
    "fisher_rao_linear",
    "fisher_rao_radial_slope",
]


def _variances(sigma_w2, L: int) -> np.ndarray:
    L = check_int("L", L, min_value=1)
    if isinstance(sigma_w2, (Sequence, np.ndarray)) and not isinstance(sigma_w2, str):
        arr = [check_real("sigma_w2", s, min_value=0.0) for s in np.asarray(sigma_w2, dtype=object).ravel()]
        if len(arr) != L:
            raise ValueError(f"parameter 'sigma_w2' has {len(arr)} entries: allowed one number or L = {L} numbers")
        return np.asarray(arr, dtype=np.float64)
    return np.full(L, check_real("sigma_w2", sigma_w2, min_value=0.0), dtype=np.float64)


def _terms_and_derivative(sig: np.ndarray, K: int, u: float, v: float, residual: bool, q0: float,
                          sigma_b2: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer expectations and their derivatives when every sigma_l^2 moves by the same amount."""
    a = alpha(u, v)
    L = len(sig)
    # forward: q^(l-1) and dq^(l-1)/dsigma (all layers together)
    q, dq = np.empty(L), np.empty(L)
    q_prev, dq_prev = q0, 0.0
    for layer in range(L):
        q[layer], dq[layer] = q_prev, dq_prev
        step, dstep = a * (sig[layer] * q_prev + sigma_b2), a * (q_prev + sig[layer] * dq_prev)
        q_prev, dq_prev = (q_prev + step, dq_prev + dstep) if residual else (step, dstep)
    gains = np.array([omega(s, u, v, residual) for s in sig])
    # backward products prod_{k>l} omega_k and their derivatives (d omega_k / d sigma = alpha)
    tail, dtail = np.empty(L), np.empty(L)
    t, dt = 1.0, 0.0
    for layer in reversed(range(L)):
        tail[layer], dtail[layer] = t, dt
        t, dt = t * gains[layer], dt * gains[layer] + t * a
    terms = K * a * sig * q * tail
    dterms = K * a * (q * tail + sig * dq * tail + sig * q * dtail)
    return terms, dterms


def _common(L, K, u, v, q0, sigma_b2):
    L = check_int("L", L, min_value=1)
    K = check_int("K", K, min_value=1)
    alpha(u, v)
    q0 = check_real("q0", q0, min_value=0.0)
    sigma_b2 = check_real("sigma_b2", sigma_b2, min_value=0.0)
    return L, K, q0, sigma_b2


def fisher_rao_layer_terms(sigma_w2, L: int, K: int, u: float = 1.0, v: float = 0.0, residual: bool = False,
                           q0: float = 1.0, sigma_b2: float = 0.0) -> np.ndarray:
    """E ||<W^(l), grad_{W^(l)} f(x)>||^2 for l = 1..L: K alpha sigma_l^2 q^(l-1) prod_{k>l} omega_k, shape (L,).

    ``sigma_w2``: one variance for every layer, or L per-layer variances sigma_l^2 (e.g. measured during
    training, to evaluate the formula under Assumption 5.2). ``q0`` = ||x||^2 / d of the input (or its mean
    over the data: the formula is affine in q0). Exact in expectation over the random network at any width.
    """
    L, K, q0, sigma_b2 = _common(L, K, u, v, q0, sigma_b2)
    return _terms_and_derivative(_variances(sigma_w2, L), K, u, v, residual, q0, sigma_b2)[0]


def fisher_rao_expectation(sigma_w2, L: int, K: int, u: float = 1.0, v: float = 0.0, residual: bool = False,
                           q0: float = 1.0, sigma_b2: float = 0.0) -> float:
    """Theorem 5.8 at initialisation: E ||w||_FR^2 (the sum of :func:`fisher_rao_layer_terms`).

    With sigma_b2 = 0 and equal variances: L K alpha sigma_w^2 omega^(L-1) q0 (vanilla: L K omega_v^L q0).
    """
    return float(fisher_rao_layer_terms(sigma_w2, L, K, u, v, residual, q0, sigma_b2).sum())


def fisher_rao_dsigma2(sigma_w2: float, L: int, K: int, u: float = 1.0, v: float = 0.0, residual: bool = False,
                       q0: float = 1.0, sigma_b2: float = 0.0) -> float:
    """d E||w||_FR^2 / d sigma_w^2 when every layer's variance moves together (exact derivative).

    sigma_b2 = 0: L K alpha q0 (omega^(L-1) + (L - 1) alpha sigma_w^2 omega^(L-2))
    (vanilla: L^2 K alpha omega^(L-1) q0).
    """
    L, K, q0, sigma_b2 = _common(L, K, u, v, q0, sigma_b2)
    sig = _variances(check_real("sigma_w2", sigma_w2, min_value=0.0), L)
    return float(_terms_and_derivative(sig, K, u, v, residual, q0, sigma_b2)[1].sum())


def fisher_rao_adversarial_slope(eps: float, beta: float, N: int, L: int, K: int, sigma_w2: float, u: float = 1.0,
                                 v: float = 0.0, residual: bool = False, c: float = 2.0, q0: float = 1.0,
                                 sigma_b2: float = 0.0) -> float:
    """Theorem 5.8: d E||w||_FR^2 / dt at sigma_w^2 under adversarial training, per unit of t = lr * steps.

    = :func:`fisher_rao_dsigma2` x :func:`mfat.theory.weight_variance.variance_slope` (Theorem 5.4, constant ``c``).
    Vanilla, omega_v = 1, q0 = 1: -L K c eps alpha beta L / N. ``eps * beta`` may be replaced by a measured
    E[L_adv] / omega^(L/2) (pass ``eps=E[L_adv]``, ``beta=1`` at omega = 1).
    """
    rate = variance_slope(eps, beta, L, N, sigma_w2, u, v, residual, 1.0, c)
    return fisher_rao_dsigma2(sigma_w2, L, K, u, v, residual, q0, sigma_b2) * rate


def fisher_rao_linear(t, eps: float, beta: float, N: int, L: int, K: int, sigma_w2: float, u: float = 1.0,
                      v: float = 0.0, residual: bool = False, c: float = 2.0, q0: float = 1.0,
                      sigma_b2: float = 0.0) -> np.ndarray:
    """The frozen-rate line E||w(0)||_FR^2 + slope * t, clipped at 0 (t = lr * steps, array-like >= 0).

    Vanilla, omega_v = 1, q0 = 1: L K (1 - c eps alpha beta L t / N).
    """
    t_arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(t_arr)) or np.any(t_arr < 0):
        raise ValueError(f"parameter 't' = {t!r} is out of range: allowed finite times >= 0 (t = lr * steps)")
    fr0 = fisher_rao_expectation(sigma_w2, L, K, u, v, residual, q0, sigma_b2)
    slope = fisher_rao_adversarial_slope(eps, beta, N, L, K, sigma_w2, u, v, residual, c, q0, sigma_b2)
    return np.maximum(fr0 + slope * t_arr, 0.0)


def fisher_rao_radial_slope(fisher_rao: float, mean_L_adv: float, N: int, L: int, sigma_w2, lam: float = 1.0,
                            c: float = 2.0) -> float:
    """The part of dFR/dt carried by the shrinking of the weight norms, for a bias-free vanilla network.

    FR is 2-homogeneous in each W^(l) (v_l = f(x) for every l), so <grad_{W^(l)} FR, W^(l)> = 2 FR; the
    identity <W^(l), grad_{W^(l)} L_adv> = L_adv moves ||W^(l)||_F^2 at rate -c lam E[L_adv] (c = 2 under
    gradient flow, t = lr * steps). The radial projection of the flow therefore changes FR at

        sum_l 2 FR * (-c lam E[L_adv] / 2) / ||W^(l)||_F^2 = -c lam E[L_adv] FR sum_l 1 / (N sigma_l^2),

    exactly; with sigma_l^2 = sigma_w^2 it is -c L lam E[L_adv] FR / (N sigma_w^2), the mean-field rate of
    Theorem 5.8 evaluated at the measured FR and E[L_adv]. ``sigma_w2``: one value or L per-layer values.
    """
    fisher_rao = check_real("fisher_rao", fisher_rao, min_value=0.0)
    mean_L_adv = check_real("mean_L_adv", mean_L_adv, min_value=0.0)
    N = check_int("N", N, min_value=1)
    lam = check_real("lam", lam, min_value=0.0)
    c = check_real("c", c, min_value=0.0, min_inclusive=False)
    sig = _variances(sigma_w2, L)
    if np.any(sig <= 0):
        raise ValueError(f"parameter 'sigma_w2' = {sigma_w2!r} is out of range: allowed positive variances")
    return float(-c * lam * mean_L_adv * fisher_rao * np.sum(1.0 / (N * sig)))
