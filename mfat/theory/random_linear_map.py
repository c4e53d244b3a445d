"""Closed forms around Theorem 4.1 (sources appendix: Theorem 4.1): finite-width moments of J and a, cross-input correlations.

Pure float64 functions; no torch state.

Finite width (exact at every N, for an input x chosen independently of the parameters). With g^(l) the
tangent along e_1 and c^(l) the bias path (``mfat.laws.linear_map``), the Gram matrix G = [g, c]^T [g, c] follows
the chain G^(l) = Wishart(n_+, Sigma_u) + Wishart(N - n_+, Sigma_v), n_+ ~ Binomial(N, 1/2),
Sigma_s = (rho + s^2 sigma_w^2) G^(l-1)/N + s^2 sigma_b^2 e_c e_c^T, G^(0) = diag(chi^2_N / d, 0), and
(J_11, a_1) | G^(L) ~ N(0, G^(L)/N). Its first two moments close: :func:`finite_width_moments` returns
Var J and Var a (equal to Theorem 4.1's omega^L/d and alpha sigma_b^2 sum omega^(k-1) at every width), the
excess kurtosis of J and of a, and corr(J^2, a^2) (zero in the mean-field limit, where J and a are
independent Gaussians). :func:`jacobian_excess_kurtosis` is its closed form for J,

    kappa_J = 3 [(1 + 2/N) (1 + c/N)^L - 1],   c = (5 a_u^2 + 5 a_v^2 - 2 a_u a_v) / (a_u + a_v)^2,

with a_s = rho + s^2 sigma_w^2 (c = 5 for vanilla ReLU). :func:`scale_mixture_ks` turns a small excess
kurtosis into the first-order KS distance from the Gaussian of the same variance.

Mean-field limit (N -> infinity). :func:`linear_map_input_correlation` propagates the deterministic
covariance of (h(x_j), g(x_j), c(x_j)) over several inputs (the arc-cosine kernel and its derivative, with
the exact bivariate orthant moments) and returns corr(J_11(x_i), J_11(x_j)) and corr(a_1(x_i), a_1(x_j)):
one network's J at two inputs is *not* independent, although each J(x) has the same law.
"""

from __future__ import annotations

import math

import numpy as np

from mfat.validation import check_int, check_real
from mfat.theory.meanfield import alpha as _alpha

__all__ = [
    "finite_width_moments",
    "jacobian_excess_kurtosis",
    "linear_map_input_correlation",
    "orthant_moments",
    "scale_mixture_ks",
    "SCALE_MIXTURE_KS_CONSTANT",
]


def _common(N, L, sigma_w2, sigma_b2, u, v):
    N = check_int("N", N, min_value=1)
    L = check_int("L", L, min_value=1)
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    sigma_b2 = check_real("sigma_b2", sigma_b2, min_value=0.0)
    _alpha(u, v)  # validates u, v
    return N, L, sigma_w2, sigma_b2, float(u), float(v)


def finite_width_moments(d: int, N: int, L: int, sigma_w2: float, sigma_b2: float = 0.0, u: float = 1.0,
                         v: float = 0.0, residual: bool = False) -> dict[str, np.ndarray]:
    """Exact moments of (J_11(x), a_1(x)) at width N, for depths l = 1..L (arrays of shape (L,)).

    Propagates M1 = E G (2 x 2) and M2 = E[G (x) G] (2 x 2 x 2 x 2) through the Gram chain (module doc),
    using E[W_ij W_kl] = n^2 S_ij S_kl + n (S_ik S_jl + S_il S_jk) for W ~ Wishart(n, S) and the moments
    E n_+ = N/2, E n_+^2 = N(N+1)/4, E n_+ n_- = N(N-1)/4 of n_+ ~ Binomial(N, 1/2). Then, since
    (J, a) | G ~ N(0, G/N): Var J = M1_gg/N, Var a = M1_cc/N, E J^4 = 3 M2_gggg/N^2, E a^4 = 3 M2_cccc/N^2,
    E J^2 a^2 = (M2_ggcc + 2 M2_gcgc)/N^2, and E J a = M1_gc/N = 0.

    Returns ``var_J``, ``var_a``, ``kurt_J``, ``kurt_a`` (excess kurtosis), ``corr_sq`` (corr(J^2, a^2)) and
    ``cov_Ja`` (= 0 exactly). Entries involving a are NaN when sigma_b^2 = 0 (then a = 0).
    """
    d = check_int("d", d, min_value=1)
    N, L, sw2, sb2_in, u, v = _common(N, L, sigma_w2, sigma_b2, u, v)
    # c scales with sigma_b: run the chain with sigma_b^2 = 1 (no under/overflow) and rescale Var a at the end
    sb2 = 1.0 if sb2_in > 0 else 0.0
    rho = 1.0 if residual else 0.0
    E = np.array([[0.0, 0.0], [0.0, 1.0]])
    M1 = np.array([[N / d, 0.0], [0.0, 0.0]])
    M2 = np.zeros((2, 2, 2, 2))
    M2[0, 0, 0, 0] = (N * N + 2.0 * N) / d**2  # E (chi^2_N / d)^2
    e1, e2, e11 = N / 2.0, N * (N + 1) / 4.0, N * (N - 1) / 4.0
    coef = [((rho + s * s * sw2) / N, s * s * sb2) for s in (u, v)]  # Sigma_s = a_s G + b_s E

    def pair(s, t):
        """E[Sigma_s (x) Sigma_t] as a (2, 2, 2, 2) array from the current M1, M2."""
        (a_s, b_s), (a_t, b_t) = coef[s], coef[t]
        return (a_s * a_t * M2 + a_s * b_t * np.einsum("ij,kl->ijkl", M1, E)
                + b_s * a_t * np.einsum("ij,kl->ijkl", E, M1) + b_s * b_t * np.einsum("ij,kl->ijkl", E, E))

    out = {k: np.empty(L) for k in ("var_J", "var_a", "kurt_J", "kurt_a", "corr_sq", "cov_Ja")}
    for layer in range(L):
        M1_new = sum(e1 * (a * M1 + b * E) for a, b in coef)
        M2_new = np.zeros_like(M2)
        for s in (0, 1):
            P = pair(s, s)
            M2_new += e2 * P + e1 * (P.transpose(0, 2, 1, 3) + P.transpose(0, 3, 2, 1))
        M2_new += e11 * (pair(0, 1) + pair(1, 0))
        M1, M2 = M1_new, M2_new
        vJ, va = M1[0, 0] / N, M1[1, 1] / N
        J4, a4 = 3.0 * M2[0, 0, 0, 0] / N**2, 3.0 * M2[1, 1, 1, 1] / N**2
        J2a2 = (M2[0, 0, 1, 1] + 2.0 * M2[0, 1, 0, 1]) / N**2
        out["var_J"][layer], out["var_a"][layer] = vJ, va * sb2_in
        out["kurt_J"][layer] = J4 / vJ**2 - 3.0 if vJ > 0 else math.nan
        out["cov_Ja"][layer] = M1[0, 1] / N * math.sqrt(sb2_in)
        if va > 0:
            out["kurt_a"][layer] = a4 / va**2 - 3.0
            out["corr_sq"][layer] = (J2a2 - vJ * va) / math.sqrt((J4 - vJ**2) * (a4 - va**2))
        else:
            out["kurt_a"][layer] = out["corr_sq"][layer] = math.nan
    return out


def jacobian_excess_kurtosis(N: int, L: int, sigma_w2: float, u: float = 1.0, v: float = 0.0,
                             residual: bool = False) -> float:
    """Exact excess kurtosis of J_ij(x) at width N: 3 [(1 + 2/N) (1 + c/N)^L - 1] (-> 0 as N -> infinity).

    With a_s = rho + s^2 sigma_w^2 (s = u, v; rho = 1 residual, 0 vanilla), each layer multiplies
    E|g|^4 / (E|g|^2)^2 by 1 + c/N with c = (5 a_u^2 + 5 a_v^2 - 2 a_u a_v) / (a_u + a_v)^2 (vanilla ReLU:
    c = 5, the 5L/N of Hanin and Nica); P_in contributes 1 + 2/N (|P_in e_1|^2 ~ chi^2_N / d) and the Gaussian
    read-out by P_out the factor 3. Independent of d, sigma_b^2 and x.
    """
    N, L, sw2, _, u, v = _common(N, L, sigma_w2, 0.0, u, v)
    rho = 1.0 if residual else 0.0
    au, av = rho + u * u * sw2, rho + v * v * sw2
    if au + av == 0.0:
        raise ValueError("parameters 'sigma_w2' = 0 with a vanilla network give J = 0: allowed sigma_w2 > 0")
    c = (5.0 * au * au + 5.0 * av * av - 2.0 * au * av) / (au + av) ** 2
    return 3.0 * ((1.0 + 2.0 / N) * (1.0 + c / N) ** L - 1.0)


def orthant_moments(rho: float) -> tuple[float, float, float]:
    """For a standard bivariate normal (X, Y) with correlation rho: (P(X>0, Y>0), E[X^2; X>0, Y>0], E[XY; X>0, Y>0]).

    P = 1/4 + asin(rho)/(2 pi); E[X^2; ++] = P + rho sqrt(1 - rho^2)/(2 pi); E[XY; ++] = rho P + sqrt(1 - rho^2)/(2 pi).
    """
    rho = float(np.clip(check_real("rho", rho, min_value=-1.0 - 1e-9, max_value=1.0 + 1e-9), -1.0, 1.0))
    P = 0.25 + math.asin(rho) / (2.0 * math.pi)
    root = math.sqrt(max(0.0, 1.0 - rho * rho)) / (2.0 * math.pi)
    return P, P + rho * root, rho * P + root


def _cross_moment(C: np.ndarray, zi: int, zj: int, u: float, v: float) -> np.ndarray:
    """E[phi'(t_zi) phi'(t_zj) t t^T] for t ~ N(0, C), where t_zi, t_zj are the pre-activations of two inputs.

    With Z = (t_zi, t_zj) and t = B Z + eps (eps independent of Z): B E[phi'phi' Z Z^T] B^T + E[phi'phi'] Cov(eps),
    E[phi'phi' Z Z^T] = uv C_ZZ + (u - v)^2 E[Z Z^T; Z > 0] and E[phi'phi'] = uv + (u - v)^2 P(Z > 0).
    """
    idx = [zi, zj]
    Czz = C[np.ix_(idx, idx)]
    s1, s2 = math.sqrt(max(Czz[0, 0], 0.0)), math.sqrt(max(Czz[1, 1], 0.0))
    r = Czz[0, 1] / (s1 * s2) if s1 > 0 and s2 > 0 else 0.0
    P, exx, exy = orthant_moments(float(np.clip(r, -1.0, 1.0)))
    O = np.array([[s1 * s1 * exx, s1 * s2 * exy], [s1 * s2 * exy, s2 * s2 * exx]])
    kappa = u * v + (u - v) ** 2 * P
    Mzz = u * v * Czz + (u - v) ** 2 * O
    B = C[:, idx] @ np.linalg.pinv(Czz, rcond=1e-12, hermitian=True)
    resid = C - B @ Czz @ B.T
    return B @ Mzz @ B.T + kappa * resid


def linear_map_input_correlation(x: np.ndarray, L: int, sigma_w2: float, sigma_b2: float = 0.0, u: float = 1.0,
                                 v: float = 0.0, residual: bool = False, direction: int = 0) -> dict[str, np.ndarray]:
    """Mean-field correlations across inputs of one network: corr(J_1k(x_i), J_1k(x_j)) and corr(a_1(x_i), a_1(x_j)).

    x: (m, d) inputs (any norms); k = ``direction`` (the column e_k of J). Tracks Q = V^T V / N in the limit
    N -> infinity for V = [h(x_1..x_m), g(x_1..x_m), c(x_1..x_m)], starting from Q_0 = [x, e_k] Gram / d.
    Per layer, t = (W h + b, W g, W c + b) ~ N(0, sigma_w^2 Q + sigma_b^2 m m^T) (m: 1 on h and c entries);
    same-input entries give alpha Cov(t) (exactly, by the sign symmetry), cross-input entries the bivariate
    orthant moments (:func:`orthant_moments`); residual networks add Q. Returns arrays of shape (L, m, m):
    ``corr_J``, ``corr_a`` (NaN without biases) and ``corr_h`` (correlation of the hidden states).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    m, d = x.shape
    L = check_int("L", L, min_value=1)
    direction = check_int("direction", direction, min_value=0, max_value=d - 1)
    _, _, sw2, sb2, u, v = _common(1, L, sigma_w2, sigma_b2, u, v)
    a = _alpha(u, v)
    X = np.vstack([x, np.eye(d)[direction]])
    G0 = X @ X.T / d
    k = 3 * m
    H, Gi, Ci = np.arange(m), np.arange(m, 2 * m), np.arange(2 * m, 3 * m)
    Q = np.zeros((k, k))
    Q[:m, :m] = G0[:m, :m]
    Q[np.ix_(H, Gi)] = G0[:m, m][:, None]
    Q[np.ix_(Gi, H)] = G0[m, :m][None, :]
    Q[np.ix_(Gi, Gi)] = G0[m, m]
    bias = np.zeros(k)
    bias[H], bias[Ci] = 1.0, 1.0
    owner = np.concatenate([np.arange(m)] * 3)
    out = {key: np.empty((L, m, m)) for key in ("corr_J", "corr_a", "corr_h")}
    for layer in range(L):
        C = sw2 * Q + sb2 * np.outer(bias, bias)
        new = a * C  # same-input blocks (exact); cross-input blocks overwritten below
        for i in range(m):
            for j in range(i + 1, m):
                cross = _cross_moment(C, H[i], H[j], u, v)
                rows, cols = owner == i, owner == j
                new[np.ix_(rows, cols)] = cross[np.ix_(rows, cols)]
                new[np.ix_(cols, rows)] = cross[np.ix_(cols, rows)]
        Q = Q + new if residual else new
        for key, ids in (("corr_J", Gi), ("corr_a", Ci), ("corr_h", H)):
            block = Q[np.ix_(ids, ids)]
            diag = np.sqrt(np.clip(np.diag(block), 0.0, None))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[key][layer] = block / np.outer(diag, diag)
    return out


def _ks_constant() -> float:
    t = math.sqrt(3.0 - math.sqrt(6.0))  # the maximiser of |t (3 - t^2) phi(t)|
    return t * (3.0 - t * t) * math.exp(-t * t / 2.0) / math.sqrt(2.0 * math.pi)


#: max_t |t (3 - t^2) phi(t)| = 0.5504...: the first-order KS distance of a Gaussian scale mixture is kappa * this / 24.
SCALE_MIXTURE_KS_CONSTANT = _ks_constant()


def scale_mixture_ks(excess_kurtosis: float) -> float:
    """First-order KS distance between a Gaussian scale mixture and the Gaussian of the same variance.

    If X | s ~ N(0, s^2) with s^2 = sigma^2 (1 + delta), E delta = 0, Var delta = kappa/3 (kappa: the excess
    kurtosis of X), then P(X <= sigma t) - Phi(t) = (kappa/24) t (3 - t^2) phi(t) + O(delta^3), whose sup over t
    is kappa * 0.5504 / 24 = 0.02293 kappa. J_11 = P_out[1] . g is such a mixture (s^2 = |g|^2 / N).
    """
    k = check_real("excess_kurtosis", excess_kurtosis, min_value=0.0)
    return k * SCALE_MIXTURE_KS_CONSTANT / 24.0
