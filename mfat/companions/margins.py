"""Max-margin directions of linear classifiers, normalised margins and the KKT residual (chapter 7).

Linear classifiers through the origin, ``sign(w . x)``, on data ``X`` (n, d) with labels ``y`` (n,) in {-1, +1};
write ``z_i = y_i x_i``. Against a perturbation ``||delta||_p <= eps`` the worst-case margin of ``w`` is

    y_i w.(x_i + delta_i)  >=  z_i.w - eps ||w||_{p*}        (p* the dual exponent: p = 2 -> 2, p = inf -> 1),

with equality at ``delta_i = -eps y_i w/||w||_2`` (p = 2) or ``-eps y_i sign(w)`` (p = inf). The robust max-margin
problem (Li et al. 2020's "mixed-norm margin"; the limit of adversarial training in chapter 7) is

    (P)   min_w  1/2 ||w||_2^2   s.t.   z_i.w - eps ||w||_{p*} >= 1,   i = 1..n,

whose solution ``w*`` gives the direction ``u = w*/||w*||`` and the robust margin ``gamma = 1/||w*||`` =
max_{||u||_2 = 1} min_i (z_i.u - eps ||u||_{p*}). ``eps = 0`` is the hard-margin SVM (u*, gamma*).

- p = 2: the shift ``-eps ||w||_2`` is the same for every example, so the direction is u* and the margin
  gamma* - eps (:func:`max_margin` solves eps = 0 and shifts).
- p = inf: (P) is a convex QP. Its Lagrange dual (derived in the chapter) is

      (D)   max_{alpha >= 0}  sum_i alpha_i - 1/2 || S(Z^T alpha, eps sum_i alpha_i) ||^2,
            w = S(Z^T alpha, eps sum_i alpha_i),     S(v, t) = sign(v) max(|v| - t, 0) (soft threshold),

  so the robust direction is a soft-thresholded (sparser) combination of the support vectors.

Two independent solvers: ``method="dual"`` (L-BFGS-B on (D)) and ``method="primal"`` (SLSQP on (P) written with
an epigraph ``t >= |w|``). With ``polish=True`` the active set found by either is re-solved exactly: on the
support S and the non-zero coordinates J with signs s, (P) reduces to the hard-margin SVM of the points
``(z_i - eps s)_J`` with all constraints active, a linear system. Every solution carries its KKT residual
(:func:`linear_kkt_residual`), so an answer is certified, not trusted.

For homogeneous networks (Lyu & Li 2020; Lyu & Zhu 2022, reconstructed) :func:`normalized_margin`,
:func:`smoothed_margin` and :func:`kkt_residual` measure the margin-maximisation problem
``min 1/2 ||theta||^2 s.t. q_i(theta) >= 1`` from the adversarial margins ``q_i`` and their gradients' Gram matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from mfat.validation import normalise_p
from mfat.validation import check_real

__all__ = [
    "MarginSolution",
    "KKTResidual",
    "soft_threshold",
    "dual_norm",
    "robust_margins",
    "linear_margin",
    "max_margin",
    "linear_kkt_residual",
    "normalized_margin",
    "smoothed_margin",
    "kkt_residual",
]


@dataclass(frozen=True)
class MarginSolution:
    """Solution of the robust max-margin problem (P).

    direction (d,): unit l2 vector u; margin: gamma = min_i (z_i.u - eps ||u||_{p*}); w (d,): the min-norm
    solution u / gamma; alpha (n,): dual variables (>= 0); support: indices with alpha_i > 0;
    kkt: the KKT residual of (w, alpha) (:func:`linear_kkt_residual`); method, polished, eps, p.
    """

    direction: np.ndarray
    margin: float
    w: np.ndarray
    alpha: np.ndarray
    support: np.ndarray
    kkt: float
    method: str
    polished: bool
    eps: float
    p: float


@dataclass(frozen=True)
class KKTResidual:
    """(epsilon, delta)-KKT measure of ``min 1/2 ||theta||^2 s.t. q_i >= 1`` at the rescaled theta (Lyu & Li 2020).

    total = sqrt(stationarity^2 + complementarity^2); stationarity = ||theta~ - sum_i lam_i grad q_i(theta~)||
    / ||theta~||; complementarity = sum_i lam_i (q_i(theta~) - 1) / ||theta~||^2; lam (n,) the minimising
    multipliers (>= 0), for theta~ = theta / (min_i q_i)^(1/L) (so that min_i q_i(theta~) = 1).
    """

    total: float
    stationarity: float
    complementarity: float
    lam: np.ndarray


# --------------------------------------------------------------------------------------- helpers
def _as_data(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2:
        raise ValueError(f"parameter 'X' has shape {X.shape}: allowed (n, d)")
    if y.shape != (X.shape[0],):
        raise ValueError(f"parameter 'y' has shape {y.shape}: allowed (n,) = ({X.shape[0]},)")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("parameter 'y' has entries outside {-1, +1}: allowed labels -1 or +1")
    if not np.all(np.isfinite(X)):
        raise ValueError("parameter 'X' has non-finite entries: allowed finite reals")
    return X, y


def _threat(eps, p) -> tuple[float, float]:
    p = normalise_p("p", p)
    if p == 1.0:
        raise ValueError("parameter 'p' = 1 is out of range: allowed 2 or inf")
    return check_real("eps", eps, min_value=0.0), p


def soft_threshold(v: np.ndarray, t: float) -> np.ndarray:
    """S(v, t) = sign(v) max(|v| - t, 0), elementwise (the prox of t ||.||_1)."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def dual_norm(w: np.ndarray, p) -> float:
    """||w||_{p*}: the l2 norm for p = 2, the l1 norm for p = inf (the cost of a worst-case l_p shift)."""
    p = normalise_p("p", p)
    w = np.asarray(w, dtype=np.float64)
    return float(np.abs(w).sum() if p == math.inf else np.linalg.norm(w) if p == 2.0 else np.abs(w).max())


def robust_margins(w, X, y, eps: float = 0.0, p=2) -> np.ndarray:
    """Worst-case margins y_i w.x_i - eps ||w||_{p*} of the linear classifier w (d,) on (X, y): shape (n,)."""
    X, y = _as_data(X, y)
    eps, p = _threat(eps, p)
    w = np.asarray(w, dtype=np.float64)
    return y * (X @ w) - eps * dual_norm(w, p)


def linear_margin(w, X, y, eps: float = 0.0, p=2) -> float:
    """Normalised robust margin min_i (y_i w.x_i - eps ||w||_{p*}) / ||w||_2 of a linear classifier w (d,)."""
    w = np.asarray(w, dtype=np.float64)
    nw = float(np.linalg.norm(w))
    if nw == 0.0:
        raise ValueError("parameter 'w' is the zero vector: allowed a non-zero direction")
    return float(robust_margins(w, X, y, eps, p).min() / nw)


def linear_kkt_residual(w, alpha, X, y, eps: float = 0.0, p=2) -> float:
    """KKT residual of (P) at (w, alpha): the largest relative violation among

    stationarity   ||w - S(Z^T alpha, eps sum alpha)||_inf / ||w||_inf   (p = inf; w = Z^T alpha - eps (sum alpha)
                   w/||w|| for p = 2),
    feasibility    max(0, 1 - min_i c_i),  c_i = z_i.w - eps ||w||_{p*},
    dual sign      max(0, -min alpha) / max|alpha|,
    complementarity max_i |alpha_i (c_i - 1)| / sum alpha.
    0 at the exact solution (up to round-off).
    """
    X, y = _as_data(X, y)
    eps, p = _threat(eps, p)
    w = np.asarray(w, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.float64)
    Z = y[:, None] * X
    A = float(alpha.sum())
    v = Z.T @ alpha
    if p == math.inf:
        target = soft_threshold(v, eps * A)
    else:
        target = v - eps * A * w / max(np.linalg.norm(w), 1e-300)
    scale = max(float(np.abs(w).max()), 1e-300)
    c = Z @ w - eps * dual_norm(w, p)
    amax = max(float(np.abs(alpha).max()), 1e-300)
    parts = [float(np.abs(w - target).max()) / scale,
             max(0.0, 1.0 - float(c.min())),
             max(0.0, -float(alpha.min())) / amax,
             float(np.abs(alpha * (c - 1.0)).max()) / max(A, 1e-300)]
    return max(parts)


# --------------------------------------------------------------------------------------- solvers
def _dual(Z: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS-B on the dual (D) (eps = 0: the hard-margin SVM dual); returns (w, alpha)."""
    n = Z.shape[0]

    def neg_dual(a):
        A = a.sum()
        w = soft_threshold(Z.T @ a, eps * A)
        value = A - 0.5 * w @ w
        # d/d alpha_i of 1/2 ||S(v, eps A)||^2 = w.z_i - eps ||w||_1 (Danskin on the prox)
        grad = 1.0 - (Z @ w - eps * np.abs(w).sum())
        return -value, -grad

    res = optimize.minimize(neg_dual, np.full(n, 1.0 / n), jac=True, method="L-BFGS-B",
                            bounds=[(0.0, None)] * n,
                            options={"ftol": 1e-16, "gtol": 1e-13, "maxiter": 20000, "maxfun": 40000})
    a = np.maximum(res.x, 0.0)
    return soft_threshold(Z.T @ a, eps * a.sum()), a


def _primal(Z: np.ndarray, eps: float, p: float) -> tuple[np.ndarray, np.ndarray]:
    """SLSQP on (P): variables w (d) [and t (d) with t >= |w| for p = inf]; returns (w, alpha) with alpha the
    constraint multipliers recovered from the active constraints."""
    n, d = Z.shape
    if p == math.inf:
        def f(v):
            return 0.5 * v[:d] @ v[:d], np.concatenate([v[:d], np.zeros(d)])

        A_margin = np.hstack([Z, -eps * np.ones((n, d))])  # z_i.w - eps sum t >= 1
        A_abs = np.vstack([np.hstack([-np.eye(d), np.eye(d)]), np.hstack([np.eye(d), np.eye(d)])])  # t -+ w >= 0
        cons = [{"type": "ineq", "fun": lambda v: A_margin @ v - 1.0, "jac": lambda v: A_margin},
                {"type": "ineq", "fun": lambda v: A_abs @ v, "jac": lambda v: A_abs}]
        w0 = Z.mean(0)
        w0 = w0 / max((Z @ w0).min() - eps * np.abs(w0).sum(), 1e-3)
        x0 = np.concatenate([w0, np.abs(w0)])
    else:
        def f(v):
            return 0.5 * v @ v, v

        cons = [{"type": "ineq", "fun": lambda v: Z @ v - 1.0, "jac": lambda v: Z}]
        x0 = Z.mean(0)
        x0 = x0 / max((Z @ x0).min(), 1e-3)
    res = optimize.minimize(f, x0, jac=True, method="SLSQP", constraints=cons,
                            options={"ftol": 1e-15, "maxiter": 2000})
    w = res.x[:d]
    # multipliers: non-negative least squares on the stationarity condition over the near-active constraints
    c = Z @ w - eps * np.abs(w).sum()
    active = np.flatnonzero(c <= 1.0 + 1e-6)
    s = np.sign(w) * (np.abs(w) > 1e-9 * np.abs(w).max())
    G = (Z[active] - eps * s).T  # w = sum_i alpha_i (z_i - eps s) on the support of w
    mask = s != 0 if p == math.inf else np.ones(d, bool)
    a_act, _ = optimize.nnls(G[mask], w[mask])
    alpha = np.zeros(n)
    alpha[active] = a_act
    return w, alpha


def _polish(Z: np.ndarray, eps: float, p: float, w: np.ndarray, alpha: np.ndarray):
    """Re-solve (P) exactly on the active set of (w, alpha): returns (w, alpha) or None if it fails."""
    n, d = Z.shape
    c = Z @ w - eps * dual_norm(w, p)
    support = np.flatnonzero((alpha > 1e-8 * max(alpha.max(), 1e-300)) | (c <= 1.0 + 1e-7))
    if p == math.inf:
        J = np.abs(w) > 1e-8 * np.abs(w).max()
        s = np.sign(w) * J
        Zt = (Z[support] - eps * s)[:, J]
    else:
        J = np.ones(d, bool)
        Zt = Z[support]
    # min ||w_J||^2 s.t. Zt w_J = 1  ->  w_J = Zt^T a,  (Zt Zt^T) a = 1  (least squares if degenerate)
    a_s = np.linalg.lstsq(Zt @ Zt.T, np.ones(len(support)), rcond=None)[0]
    if np.any(a_s < 0):
        keep = a_s > 0
        support, Zt = support[keep], Zt[keep]
        a_s = np.linalg.lstsq(Zt @ Zt.T, np.ones(len(support)), rcond=None)[0]
        if np.any(a_s < 0):
            return None
    w_new = np.zeros(d)
    w_new[J] = Zt.T @ a_s
    alpha_new = np.zeros(n)
    alpha_new[support] = a_s
    return w_new, alpha_new


def max_margin(X, y, eps: float = 0.0, p=2, *, method: str = "dual", polish: bool = True) -> MarginSolution:
    """The robust max-margin direction and margin of (X (n, d), y (n,)) against ||delta||_p <= eps (problem (P)).

    p = 2: the hard-margin SVM direction u* and margin gamma* - eps (the shift is isotropic); p = inf: the
    mixed-norm (l2 / l1) robust max-margin direction. ``method``: "dual" (L-BFGS-B on (D)) or "primal" (SLSQP on
    (P)); ``polish``: re-solve the found active set exactly and keep it when its KKT residual is smaller.
    Raises ValueError if the data are not (robustly) separable: the margin would be <= 0.
    """
    X, y = _as_data(X, y)
    eps, p = _threat(eps, p)
    if method not in ("dual", "primal"):
        raise ValueError(f"parameter 'method' = {method!r} is out of range: allowed 'dual' or 'primal'")
    Z = y[:, None] * X
    eps_solve = eps if p == math.inf else 0.0
    w, alpha = (_dual(Z, eps_solve) if method == "dual" else _primal(Z, eps_solve, p))
    if not np.all(np.isfinite(w)) or np.linalg.norm(w) == 0:
        raise ValueError("the data are not separable with a positive margin at this eps: no max-margin direction")
    kkt = linear_kkt_residual(w, alpha, X, y, eps_solve, p)
    polished = False
    if polish:
        out = _polish(Z, eps_solve, p, w, alpha)
        if out is not None:
            k2 = linear_kkt_residual(out[0], out[1], X, y, eps_solve, p)
            if k2 <= kkt:
                (w, alpha), kkt, polished = out, k2, True
    u = w / np.linalg.norm(w)
    margin0 = float((Z @ u - eps_solve * dual_norm(u, p)).min())
    if margin0 <= 0:
        raise ValueError("the data are not separable with a positive margin at this eps: no max-margin direction")
    margin = margin0 - (eps if p == 2.0 else 0.0)
    if margin <= 0:
        raise ValueError(f"parameter 'eps' = {eps} is out of range: allowed eps < gamma* = {margin0:.6g} (l2 margin)")
    if p == 2.0 and eps > 0:
        # (P) at eps > 0: w = u*/(gamma* - eps); stationarity w (1 + eps sum(alpha)/||w||) = Z^T alpha holds with
        # alpha = alpha_0 (gamma*/(gamma* - eps))^2, using sum(alpha_0) = ||w_0||^2 = 1/gamma*^2.
        ratio = margin0 / margin
        w, alpha = u / margin, alpha * ratio**2
        kkt = linear_kkt_residual(w, alpha, X, y, eps, p)
    support = np.flatnonzero(alpha > 1e-10 * max(float(alpha.max()), 1e-300))
    return MarginSolution(u, margin, w, alpha, support, float(kkt), method, polished, eps, p)


# --------------------------------------------------------------------------------------- homogeneous networks
def _vec(q, name: str) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64).ravel()
    if q.size == 0 or not np.all(np.isfinite(q)):
        raise ValueError(f"parameter '{name}' must be a non-empty vector of finite reals")
    return q


def _degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
        raise ValueError(f"parameter 'degree' = {degree!r} is out of range: allowed an integer >= 1")
    return int(degree)


def normalized_margin(q, theta_norm: float, degree: int) -> float:
    """gamma(theta) = min_i q_i / ||theta||^L for an L-homogeneous model (q (n,) the adversarial margins)."""
    q = _vec(q, "q")
    rho = check_real("theta_norm", theta_norm, min_value=0.0, min_inclusive=False)
    return float(q.min() / rho ** _degree(degree))


def smoothed_margin(q, theta_norm: float, degree: int, loss: str = "exp") -> float:
    """Lyu & Li's smoothed normalised margin gamma~ = ell^{-1}(n L(theta)) / ||theta||^L, L = mean_i ell(q_i).

    exp: gamma~ = -log(sum_i e^{-q_i}) / rho^L; logistic: gamma~ = -log(e^{sum_i log(1+e^{-q_i})} - 1) / rho^L.
    gamma~ <= gamma (the min-margin) and gamma - gamma~ <= log(n) / rho^L.
    """
    q = _vec(q, "q")
    rho = check_real("theta_norm", theta_norm, min_value=0.0, min_inclusive=False)
    L = _degree(degree)
    if loss == "exp":
        m = q.min()
        value = m - math.log(np.exp(-(q - m)).sum())
    elif loss == "logistic":
        # log(ell(q_i)) = log(log1p(e^{-q_i})), stable for large q; log(n L) by log-sum-exp
        big = q > 20.0
        log_ell = np.where(big, -q - 0.5 * np.exp(-np.where(big, q, 20.0)),
                           np.log(np.log1p(np.exp(-np.where(big, 20.0, q)))))
        m = log_ell.max()
        log_s = m + math.log(np.exp(log_ell - m).sum())
        s = math.exp(log_s)
        value = -log_s - s / 2.0 if log_s < -20.0 else -math.log(math.expm1(s))
    else:
        raise ValueError(f"parameter 'loss' = {loss!r} is out of range: allowed 'exp' or 'logistic'")
    return float(value / rho**L)


def kkt_residual(q, gram, theta_norm: float, degree: int) -> KKTResidual:
    """(epsilon, delta)-KKT residual of ``min 1/2 ||theta||^2 s.t. q_i(theta) >= 1`` (Lyu & Li 2020, Def. C.4).

    Inputs at the current theta of an L-homogeneous model: the adversarial margins ``q`` (n,) (min > 0), the
    Gram matrix ``gram`` (n, n) of their parameter gradients, gram_ij = grad q_i . grad q_j, and ||theta||.
    Rescale to theta~ = theta / q_min^(1/L) (so min_i q_i(theta~) = 1; gradients scale by q_min^(-(L-1)/L)); by
    Euler's identity grad q_i . theta = L q_i, so no parameter vector is needed. The multipliers minimise

        stationarity^2 + complementarity^2 = ||theta~ - sum lam_i g~_i||^2 / ||theta~||^2
                                             + (sum lam_i (q~_i - 1))^2 / ||theta~||^4,     lam >= 0,

    a non-negative least-squares problem in n unknowns (solved exactly with scipy's NNLS on the factorised
    Gram matrix). Both parts are scale-free; the total is 0 exactly at a KKT point of the problem.
    """
    q = _vec(q, "q")
    n = q.size
    G = np.asarray(gram, dtype=np.float64)
    if G.shape != (n, n):
        raise ValueError(f"parameter 'gram' has shape {G.shape}: allowed (n, n) = ({n}, {n})")
    rho = check_real("theta_norm", theta_norm, min_value=0.0, min_inclusive=False)
    L = _degree(degree)
    qmin = float(q.min())
    if qmin <= 0:
        raise ValueError(f"parameter 'q' has min {qmin:.3g} <= 0: the KKT residual needs every margin positive")
    s2 = rho**2 / qmin ** (2.0 / L)                     # ||theta~||^2
    qt = q / qmin                                        # q_i(theta~) >= 1
    K = G * qmin ** (-2.0 * (L - 1) / L)                 # Gram at theta~
    c = qt - 1.0
    h = L * qt / s2                                      # (g~_i . theta~) / ||theta~||^2
    M = K / s2 + np.outer(c, c) / s2**2
    M = 0.5 * (M + M.T)
    evals, V = np.linalg.eigh(M)
    keep = evals > max(evals.max(), 0.0) * 1e-13
    A = np.sqrt(evals[keep])[:, None] * V[:, keep].T     # M = A^T A
    t = (V[:, keep].T @ h) / np.sqrt(evals[keep])        # A^T t = h (h lies in the range of K)
    lam, _ = optimize.nnls(A, t, maxiter=50 * n)
    stat2 = max(1.0 - 2.0 * lam @ h + lam @ (K / s2) @ lam, 0.0)
    comp = float(lam @ c) / s2
    return KKTResidual(math.sqrt(stat2 + comp**2), math.sqrt(stat2), comp, lam)
