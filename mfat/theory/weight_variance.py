"""Weight variance under adversarial training: Theorem 5.4 and its residual counterpart (sources appendix: Theorem 5.4).

Time convention. Training is plain SGD, ``theta <- theta - lr * grad``; the gradient-flow time is
``t = lr * steps``, so that one unit of ``t`` is the same amount of training whatever the learning rate.
Every function below that takes ``t`` uses this convention. :func:`variance_slope` and
:func:`slope_from_measured_Ladv` take an ``lr`` argument: with the default ``lr = 1`` they return the rate per
unit of ``t``; with the learning rate of a run they return the change of sigma_w^2 per SGD step.

The constant ``c``. With the adversarial loss L_adv(x) = ||f(x + eta) - f(x)||_q (no factor 1/2) and the
exact identity <W^(l), grad_{W^(l)} L_adv> = L_adv of a vanilla network, gradient flow gives

    d||W^(l)||_F^2 / dt = -2 <W^(l), grad_{W^(l)} E L_adv> = -2 E L_adv,
    d sigma_w^2 / dt    = -c E L_adv / N,                                    c = 2,

and with E L_adv ~ eps beta_{p,q} omega^{L/2} (Theorem 5.1) the frozen-rate law of Theorem 5.4:

    sigma_w^2(t) = sigma_w^2(0) - c eps beta_{p,q} omega_v(0)^{L/2} t / N.

The paper's own constant is not confirmed (sources appendix: limitations; a Fisher-Rao formula it recalls implies c = 1),
so ``c`` is an argument; the book uses c = 2, the value this convention derives. For a residual network
the identity holds only on average, with the factor alpha sigma_w^2 / omega_r (sources appendix: Theorem 5.4).

All functions are pure float64 (numpy / scipy), with no torch state.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize

from mfat.validation import check_int, check_real
from mfat.theory.meanfield import alpha, omega

__all__ = [
    "residual_fraction",
    "variance_slope",
    "slope_from_measured_Ladv",
    "sigma_w2_linear",
    "sigma_w2_ode",
    "sigma_w2_weight_decay",
    "frozen_rate_validity_time",
]


def _check_common(eps, beta, L, N, sigma_w2, lr, c):
    eps = check_real("eps", eps, min_value=0.0)
    beta = check_real("beta", beta, min_value=0.0)
    L = check_int("L", L, min_value=1)
    N = check_int("N", N, min_value=1)
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    c = check_real("c", c, min_value=0.0, min_inclusive=False)
    return eps, beta, L, N, sigma_w2, lr, c


def residual_fraction(sigma_w2: float, u: float = 1.0, v: float = 0.0) -> float:
    """alpha sigma_w^2 / omega_r: the residual factor in E<W^(l), grad_{W^(l)} L_adv> ~ (this) * L_adv.

    It is the share of the per-layer gain omega_r = 1 + alpha sigma_w^2 that goes through the trainable
    path D W (the shortcut P^(l) carries the remaining 1 / omega_r). For a vanilla network the factor is 1.
    """
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    return alpha(u, v) * sigma_w2 / omega(sigma_w2, u, v, residual=True)


def variance_slope(eps: float, beta: float, L: int, N: int, sigma_w2: float, u: float = 1.0, v: float = 0.0,
                   residual: bool = False, lr: float = 1.0, c: float = 2.0) -> float:
    """Theorem 5.4: d sigma_w^2 / dt under adversarial training, at the current sigma_w^2.

    vanilla:   -c lr eps beta omega_v^{L/2} / N,                   omega_v = alpha sigma_w^2
    residual:  -c lr (alpha sigma_w^2 / omega_r) eps beta omega_r^{L/2} / N,   omega_r = 1 + alpha sigma_w^2

    ``lr = 1``: the rate per unit of gradient-flow time t = lr * steps; ``lr`` = the run's learning rate:
    the change per SGD step. ``beta`` = beta_{p,q}(d, K) (see :func:`mfat.theory.adversarial_loss.beta`).
    """
    eps, beta, L, N, sigma_w2, lr, c = _check_common(eps, beta, L, N, sigma_w2, lr, c)
    w = omega(sigma_w2, u, v, residual)
    frac = residual_fraction(sigma_w2, u, v) if residual else 1.0
    return -c * lr * frac * eps * beta * w ** (L / 2.0) / N


def slope_from_measured_Ladv(mean_L_adv: float, N: int, lr: float = 1.0, c: float = 2.0, *,
                             fraction: float = 1.0) -> float:
    """The slope predicted from a measured mean adversarial loss: -c lr fraction E[L_adv] / N.

    This is the exact gradient-flow identity d sigma_w^2/dt = -(2/N) <W, grad E L_adv> with
    <W^(l), grad_{W^(l)} L_adv> = fraction * L_adv (fraction = 1 for vanilla networks, exactly;
    :func:`residual_fraction` for residual networks, on average). Same ``lr`` convention as
    :func:`variance_slope`. When L_adv is weighted by lam in the objective, pass lam * E[L_adv].
    """
    mean_L_adv = check_real("mean_L_adv", mean_L_adv, min_value=0.0)
    N = check_int("N", N, min_value=1)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    c = check_real("c", c, min_value=0.0, min_inclusive=False)
    fraction = check_real("fraction", fraction, min_value=0.0, max_value=1.0)
    return -c * lr * fraction * mean_L_adv / N


def sigma_w2_linear(t, sigma_w2_0: float, eps: float, beta: float, L: int, N: int, u: float = 1.0,
                    v: float = 0.0, residual: bool = False, c: float = 2.0) -> np.ndarray:
    """Theorem 5.4 with the rate frozen at t = 0: sigma_w^2(0) + variance_slope(sigma_w^2(0)) * t.

    ``t`` (array-like, >= 0) is gradient-flow time (lr * steps). The line is clipped at 0 (a variance
    cannot be negative). Returns a float64 array of the shape of ``t``.
    """
    t = _times(t)
    rate = variance_slope(eps, beta, L, N, sigma_w2_0, u, v, residual, 1.0, c)
    return np.maximum(sigma_w2_0 + rate * t, 0.0)


def sigma_w2_ode(t, sigma_w2_0: float, eps: float, beta: float, L: int, N: int, u: float = 1.0, v: float = 0.0,
                 residual: bool = False, c: float = 2.0) -> np.ndarray:
    """The unfrozen law: d sigma_w^2/dt = variance_slope(sigma_w^2(t)) (sources appendix: Theorem 5.4).

    With w = alpha sigma_w^2 and k = c alpha eps beta / N:
      vanilla:  dw/dt = -k w^{L/2}, solved in closed form: w(t)^{1-L/2} = w(0)^{1-L/2} + (L/2 - 1) k t
                (L = 2: w(0) exp(-k t); L = 1: the solution reaches 0 in finite time and stays there);
      residual: dw/dt = -k w (1 + w)^{L/2-1}, integrated numerically (scipy LSODA, rtol 1e-10).
    ``t`` is gradient-flow time; returns a float64 array of the shape of ``t``.
    """
    t = _times(t)
    eps, beta, L, N, sigma_w2_0, _, c = _check_common(eps, beta, L, N, sigma_w2_0, 1.0, c)
    a = alpha(u, v)
    w0 = a * sigma_w2_0
    k = c * a * eps * beta / N
    if w0 == 0.0 or k == 0.0:
        return np.full_like(t, sigma_w2_0)
    if not residual:
        if L == 2:
            w = w0 * np.exp(-k * t)
        else:
            e = 1.0 - L / 2.0
            base = w0**e + (L / 2.0 - 1.0) * k * t
            w = np.where(base > 0, np.abs(base) ** (1.0 / e), 0.0) if e > 0 else base ** (1.0 / e)
        return w / a
    m = L / 2.0 - 1.0
    flat = t.ravel()
    order = np.argsort(flat)
    ts = flat[order]
    sol = integrate.solve_ivp(lambda _s, y: -k * y * (1.0 + y) ** m, (0.0, float(ts[-1]) if ts.size else 0.0),
                              [w0], method="LSODA", t_eval=ts, rtol=1e-10, atol=1e-14)
    if not sol.success:  # pragma: no cover - LSODA does not fail on this smooth monotone problem
        raise RuntimeError(f"sigma_w2_ode: integration failed: {sol.message}")
    out = np.empty_like(flat)
    out[order] = sol.y[0]
    return out.reshape(t.shape) / a


def sigma_w2_weight_decay(t, sigma_w2_0: float, weight_decay: float) -> np.ndarray:
    """l2 weight decay alone: penalty (lambda/2) ||W||_F^2 gives d sigma_w^2/dt = -2 lambda sigma_w^2, so
    sigma_w^2(t) = sigma_w^2(0) exp(-2 lambda t) (gradient-flow time t; width-independent, exponential)."""
    t = _times(t)
    sigma_w2_0 = check_real("sigma_w2_0", sigma_w2_0, min_value=0.0)
    weight_decay = check_real("weight_decay", weight_decay, min_value=0.0)
    return sigma_w2_0 * np.exp(-2.0 * weight_decay * t)


def frozen_rate_validity_time(tol: float, sigma_w2_0: float, eps: float, beta: float, L: int, N: int,
                              u: float = 1.0, v: float = 0.0, residual: bool = False, c: float = 2.0) -> float:
    """The time at which the frozen-rate line and the unfrozen ODE differ by ``tol`` times the line's drop.

    Solves |ODE(t) - line(t)| = tol (sigma_w^2(0) - line(t)) for t > 0 (gradient-flow time). Both laws
    scale time by N / (eps beta), so the answer is proportional to N: this is how long "early training"
    lasts *within* the theory (the real network may leave it sooner). Returns ``inf`` when the rate is 0.
    """
    tol = check_real("tol", tol, min_value=0.0, max_value=1.0, min_inclusive=False, max_inclusive=False)
    rate = variance_slope(eps, beta, L, N, sigma_w2_0, u, v, residual, 1.0, c)
    if rate == 0.0:
        return math.inf
    t_zero = sigma_w2_0 / -rate  # the line reaches 0 here

    def gap(s):
        lin = sigma_w2_0 + rate * s
        ode = float(sigma_w2_ode(s, sigma_w2_0, eps, beta, L, N, u, v, residual, c))
        return abs(ode - lin) - tol * (sigma_w2_0 - lin)

    hi = t_zero
    if gap(hi) <= 0:  # the ODE tracks the line all the way (e.g. L = 2 with tiny tol is impossible): none
        return math.inf
    lo = 1e-9 * t_zero
    return float(optimize.brentq(gap, lo, hi, xtol=1e-12 * t_zero, rtol=1e-12))


def _times(t) -> np.ndarray:
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"parameter 't' = {t!r} is out of range: allowed finite times >= 0 (t = lr * steps)")
    return arr
