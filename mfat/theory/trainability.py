"""(M, m)-trainability, Lemma 5.5, Theorems 5.6 and 5.7, and the Fig. 5 boundary N*(L) (sources appendix: Theorems 5.6-5.7).

Definition 5.5 (as reconstructed in the sources appendix): a network of depth L is (M, m)-trainable when its squared
Jacobian gain omega^L (= d Var J_ij, Theorem 4.1) satisfies ``m <= omega^L <= M`` with ``0 < m <= 1 <= M``.

- Lemma 5.5: vanilla (omega = alpha sigma_w^2) is trainable iff ``m^(1/L) <= alpha sigma_w^2 <= M^(1/L)``;
  residual (omega = 1 + alpha sigma_w^2) iff ``alpha sigma_w^2 <= M^(1/L) - 1`` (the lower condition always holds).
- Theorem 5.6: under adversarial training sigma_w^2 decreases (Theorem 5.4, :mod:`mfat.theory.weight_variance`); a
  vanilla network leaves the trainable set at the time T where ``alpha sigma_w^2(T) = m^(1/L)``. Two versions:
  the *linear law* (rate frozen at t = 0, the paper's statement) and the *unfrozen ODE*
  ``d sigma_w^2 / dt = variance_slope(sigma_w^2(t))`` (the rate falls with omega^(L/2)).
- Theorem 5.7: a residual network that starts trainable stays trainable (sigma_w^2 only decreases, so
  omega_r^L stays in [1, M]); its exit time is infinite.
- Fig. 5: with a fixed budget t_budget, the trainable widths are ``N >= N*(L) = t_budget N / T(N)`` (T is
  exactly linear in N for both laws).

Time is in the convention of :func:`mfat.theory.weight_variance.variance_slope` (``lr`` and ``c`` are passed through
unchanged). Pure float64 functions, no torch state.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate

from mfat.validation import check_choice, check_int, check_real
from mfat.theory.meanfield import alpha, omega
from mfat.theory.weight_variance import variance_slope

__all__ = [
    "gain",
    "trainable_interval",
    "is_trainable",
    "exit_threshold_sigma_w2",
    "exit_time",
    "critical_width",
    "residual_stays_trainable",
    "LAWS",
]

LAWS = ("linear", "ode")


def _check_Mm(M: float, m: float) -> tuple[float, float]:
    M = check_real("M", M, min_value=1.0)
    m = check_real("m", m, min_value=0.0, max_value=1.0, min_inclusive=False)
    return M, m


def gain(sigma_w2: float, L: int, u: float = 1.0, v: float = 0.0, residual: bool = False) -> float:
    """The squared Jacobian gain omega^L of Definition 5.5 (= d Var J_ij by Theorem 4.1)."""
    L = check_int("L", L, min_value=1)
    return omega(sigma_w2, u, v, residual) ** L


def trainable_interval(L: int, M: float = 1e4, m: float = 1e-4, residual: bool = False) -> tuple[float, float]:
    """Lemma 5.5: the interval ``[lo, hi]`` of ``alpha sigma_w^2`` for which depth ``L`` is (M, m)-trainable.

    vanilla: ``[m^(1/L), M^(1/L)]``; residual: ``[0, M^(1/L) - 1]``.
    """
    L = check_int("L", L, min_value=1)
    M, m = _check_Mm(M, m)
    if residual:
        return 0.0, M ** (1.0 / L) - 1.0
    return m ** (1.0 / L), M ** (1.0 / L)


def is_trainable(sigma_w2: float, L: int, M: float = 1e4, m: float = 1e-4, u: float = 1.0, v: float = 0.0,
                 residual: bool = False) -> bool:
    """Definition 5.5: ``m <= omega^L <= M`` (evaluated in log space, so that huge L does not overflow)."""
    L = check_int("L", L, min_value=1)
    M, m = _check_Mm(M, m)
    w = omega(sigma_w2, u, v, residual)
    if w == 0.0:
        return False
    log_gain = L * math.log(w)
    return math.log(m) <= log_gain <= math.log(M)


def exit_threshold_sigma_w2(L: int, m: float = 1e-4, u: float = 1.0, v: float = 0.0) -> float:
    """The vanilla weight variance at which omega_v^L = m: ``sigma_w^2 = m^(1/L) / alpha`` (Theorem 5.6)."""
    L = check_int("L", L, min_value=1)
    m = check_real("m", m, min_value=0.0, max_value=1.0, min_inclusive=False)
    return m ** (1.0 / L) / alpha(u, v)


def exit_time(N: int, L: int, eps: float, beta: float, sigma_w2_0: float | None = None, *, m: float = 1e-4,
              M: float = 1e4, lr: float = 1.0, c: float = 2.0, u: float = 1.0, v: float = 0.0,
              residual: bool = False, law: str = "linear") -> float:
    """Theorem 5.6 (vanilla) / 5.7 (residual): the time T after which the network stops being (M, m)-trainable.

    ``sigma_w2_0`` defaults to the critical value 1/alpha (omega_v(0) = 1). The rate is
    :func:`mfat.theory.weight_variance.variance_slope`; with ``law="linear"`` it is frozen at t = 0:

        T = (sigma_w^2(0) - m^(1/L)/alpha) / |variance_slope(sigma_w^2(0))|
          = N (alpha sigma_w^2(0) - m^(1/L)) / (c lr alpha eps beta omega_v(0)^(L/2))   (c = 2 convention),

    with ``law="ode"`` the unfrozen flow is integrated exactly,
    ``T = int_{m^(1/L)/alpha}^{sigma_w^2(0)} d s / |variance_slope(s)|`` (for L > 2 this equals
    ``N (m^(1/L - 1/2) - w_0^(1 - L/2)) / ((L/2 - 1) c lr alpha eps beta)`` with ``w_0 = alpha sigma_w^2(0)``).
    Residual networks: ``math.inf`` (Theorem 5.7). Raises ValueError if the network does not start
    (M, m)-trainable (the theorems assume it does).
    """
    N = check_int("N", N, min_value=1)
    L = check_int("L", L, min_value=1)
    eps = check_real("eps", eps, min_value=0.0, min_inclusive=False)
    beta = check_real("beta", beta, min_value=0.0, min_inclusive=False)
    M, m = _check_Mm(M, m)
    law = check_choice("law", law, LAWS)
    a = alpha(u, v)
    s0 = 1.0 / a if sigma_w2_0 is None else check_real("sigma_w2_0", sigma_w2_0, min_value=0.0)
    if not is_trainable(s0, L, M, m, u, v, residual):
        lo, hi = trainable_interval(L, M, m, residual)
        raise ValueError(f"parameter 'sigma_w2_0' = {s0!r} is out of range: allowed alpha sigma_w^2(0) in "
                         f"[{lo:.6g}, {hi:.6g}] (the network must start (M, m)-trainable)")
    if residual:
        return math.inf

    def rate(s: float) -> float:  # |d sigma_w^2 / dt| at sigma_w^2 = s
        return -variance_slope(eps, beta, L, N, s, u, v, False, lr, c)

    s_exit = exit_threshold_sigma_w2(L, m, u, v)
    if law == "linear":
        return (s0 - s_exit) / rate(s0)
    # 1/rate ~ s^(-L/2): substitute s = exp(y) for a smooth integrand over many decades
    value, _ = integrate.quad(lambda y: math.exp(y) / rate(math.exp(y)), math.log(s_exit), math.log(s0),
                              epsabs=0.0, epsrel=1e-11, limit=200)
    return value


def critical_width(L: int, t_budget: float, eps: float, beta: float, sigma_w2_0: float | None = None, *,
                   m: float = 1e-4, M: float = 1e4, lr: float = 1.0, c: float = 2.0, u: float = 1.0,
                   v: float = 0.0, law: str = "linear") -> float:
    """The Fig. 5 boundary N*(L): the width at which the vanilla exit time T equals the budget ``t_budget``.

    T is exactly proportional to N for both laws (the rate of Theorem 5.4 is proportional to 1/N), so
    ``N*(L) = t_budget / (T(N) / N)``; for the linear law and omega_v(0) = 1,
    ``N* = c lr t_budget alpha eps beta / (1 - m^(1/L))`` (sources appendix: Theorems 5.6-5.7). Widths ``N >= N*`` stay trainable
    for the whole budget. A real number (not rounded).
    """
    t_budget = check_real("t_budget", t_budget, min_value=0.0)
    ref = 1024
    return t_budget * ref / exit_time(ref, L, eps, beta, sigma_w2_0, m=m, M=M, lr=lr, c=c, u=u, v=v, law=law)


def residual_stays_trainable(sigma_w2_path, L: int, M: float = 1e4, m: float = 1e-4, u: float = 1.0,
                             v: float = 0.0) -> np.ndarray:
    """Theorem 5.7 along a path: for each sigma_w^2(t) in ``sigma_w2_path`` (any shape), whether the residual
    network is (M, m)-trainable. Returns a bool array of the same shape."""
    path = np.asarray(sigma_w2_path, dtype=np.float64)
    return np.vectorize(lambda s: is_trainable(float(s), L, M, m, u, v, True), otypes=[bool])(path)
