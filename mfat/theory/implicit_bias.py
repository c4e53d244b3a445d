"""Closed forms of chapter 7: margins of adversarially trained homogeneous models (Lyu & Zhu, ICLR 2022, reconstructed).

Pure float64 functions, no torch state.

- :func:`l2_robust_margin`: the l2 worst case shifts every margin of a unit-norm linear classifier by -eps, so
  the robust max-margin direction is the SVM direction u* and the robust margin is gamma* - eps.
- :func:`adversarial_loss_floor`: for eps >= gamma* (l2) no classifier has a positive worst-case margin, so the
  mean adversarial loss is at least ell(0)/n at every step.
- :func:`margin_gap_bound`: gamma~ <= gamma <= gamma~ + log(n) / rho^L (exponential loss), which turns the
  monotonicity of the smoothed margin gamma~ into "gamma(t2) >= gamma(t1) - log(n) / rho(t1)^L".
- :func:`rank_one_bound`, :func:`alignment_bound`: what the gradient-flow invariant
  D_l = W_{l+1}^T W_{l+1} - W_l W_l^T of a deep linear network implies for its layers (Weyl, Davis-Kahan).
"""

from __future__ import annotations

import math

import numpy as np

from mfat.validation import check_int, check_real

__all__ = [
    "l2_robust_margin",
    "adversarial_loss_floor",
    "margin_gap_bound",
    "rank_one_bound",
    "alignment_bound",
]


def l2_robust_margin(gamma_star: float, eps: float) -> float:
    """max_{||u||=1} min_i (y_i u.x_i - eps) = gamma* - eps, attained at u = u* (<= 0: not robustly separable)."""
    gamma_star = check_real("gamma_star", gamma_star, min_value=0.0, min_inclusive=False)
    eps = check_real("eps", eps, min_value=0.0)
    return gamma_star - eps


def adversarial_loss_floor(n: int, loss: str = "exp") -> float:
    """ell(0)/n: a lower bound on (1/n) sum_i ell(q_i) whenever some q_i <= 0 (exp: 1/n, logistic: log(2)/n)."""
    n = check_int("n", n, min_value=1)
    if loss not in ("exp", "logistic"):
        raise ValueError(f"parameter 'loss' = {loss!r} is out of range: allowed 'exp' or 'logistic'")
    return (1.0 if loss == "exp" else math.log(2.0)) / n


def margin_gap_bound(n: int, rho, degree: int):
    """log(n) / rho^L: the largest gap between the normalised margin min_i q_i / rho^L and Lyu & Li's smoothed
    margin -log(sum_i e^{-q_i}) / rho^L (exponential loss). ``rho`` may be an array."""
    n = check_int("n", n, min_value=1)
    degree = check_int("degree", degree, min_value=1)
    rho = np.asarray(rho, dtype=np.float64)
    if np.any(rho <= 0):
        raise ValueError("parameter 'rho' has entries <= 0: allowed ||theta|| > 0")
    out = math.log(n) / rho**degree
    return float(out) if out.ndim == 0 else out


def rank_one_bound(balance) -> np.ndarray:
    """Upper bounds on sigma_2(W_l)^2, l = 1..L, from ||D_k||_2 (k = 1..L-1), D_k = W_{k+1}^T W_{k+1} - W_k W_k^T.

    W_L (1 x d_{L-1}) has rank one, and W_l W_l^T = W_{l+1}^T W_{l+1} - D_l, so by Weyl's inequality
    sigma_2(W_l)^2 <= sigma_2(W_{l+1})^2 + ||D_l|| <= sum_{k >= l} ||D_k||. ``balance`` (..., L-1) -> (..., L).
    """
    b = np.asarray(balance, dtype=np.float64)
    if np.any(b < 0):
        raise ValueError("parameter 'balance' has negative entries: allowed spectral norms >= 0")
    tail = np.cumsum(b[..., ::-1], axis=-1)[..., ::-1]
    return np.concatenate([tail, np.zeros(b.shape[:-1] + (1,))], axis=-1)


def alignment_bound(balance, sigma1_next, sigma2_next) -> np.ndarray:
    """Upper bound on 1 - |<u_1(W_l), v_1(W_{l+1})>| (top left singular vector of W_l, top right one of W_{l+1}).

    W_l W_l^T = W_{l+1}^T W_{l+1} - D_l; by Davis-Kahan sin(angle) <= ||D_l|| / (s1^2 - s2^2 - ||D_l||) with
    s1, s2 the top singular values of W_{l+1}, so 1 - |cos| <= 1 - sqrt(1 - sin^2) (1 where the gap is not
    positive or sin >= 1). Arrays broadcast.
    """
    b = np.asarray(balance, dtype=np.float64)
    gap = np.asarray(sigma1_next, dtype=np.float64) ** 2 - np.asarray(sigma2_next, dtype=np.float64) ** 2 - b
    with np.errstate(divide="ignore", invalid="ignore"):
        sin = np.where(gap > 0, b / np.where(gap > 0, gap, 1.0), np.inf)
    out = np.where(sin < 1.0, 1.0 - np.sqrt(np.clip(1.0 - sin**2, 0.0, 1.0)), 1.0)
    return float(out) if out.ndim == 0 else out
