"""The dimension factor beta_{p,q}(d, K) of Theorem 5.1 and the adversarial-loss bound (sources appendix: Theorem 5.1).

    beta_{p,q}(d, K) := E ||Z||_{p->q} / sqrt(d),      Z in R^{K x d} with iid N(0, 1) entries,
    L_adv(x) <~ eps * beta_{p,q} * omega^(L/2)           (Theorem 5.1, step 2; J(x) = omega^(L/2) Z / sqrt(d)).

Two closed forms of beta (``method``; its Monte Carlo estimate is
:func:`mfat.experiments.adversarial_loss.beta_monte_carlo`):

- ``"bound"``: a closed-form upper bound on E||Z||_{p->q} / sqrt(d), valid for every d, K >= 1 (below);
- ``"asymptotic"``: the lower-bound / asymptotic column of the sources appendix's table (large d, fixed K).

Upper bounds (c = sqrt(2/pi) = E|g|, m_n = E||g_n||_2 = sqrt(2) Gamma((n+1)/2) / Gamma(n/2) <= sqrt(n),
E||g_n||_1 = c n). Max-type pairs use Gaussian concentration: if X_1..X_n are s-Lipschitz functions of a
standard Gaussian vector, E max_i X_i <= max_i E X_i + s sqrt(2 ln n). Chevet's inequality is
E||Z||_{X->Y} <= rad_2(B_X) E||g_K||_Y + rad_2(B_{Y*}) E||g_d||_{X*}. Then E||Z||_{p,q} is

    (1,1)    cK + sqrt(2K ln d)                                    columns' l1 norms are sqrt(K)-Lipschitz
    (1,2)    m_K + sqrt(2 ln d)                                    columns' l2 norms are 1-Lipschitz
    (1,inf)  min(sqrt(2 ln(2Kd)), c + sqrt(2 ln(Kd)))              max of 2Kd Gaussians / of Kd |Gaussians|
    (2,1)    min(cK + sqrt(K) m_d, K m_d)                          Chevet / triangle over the rows
    (2,2)    m_K + m_d                                             Gordon (<= sqrt(K) + sqrt(d))
    (2,inf)  m_d + sqrt(2 ln K)                                    rows' l2 norms are 1-Lipschitz
    (inf,1)  min(cK sqrt(d) + cd sqrt(K), cKd)                     Chevet / triangle sum_i ||Z_i||_1
    (inf,2)  min(sqrt(d) m_K + cd, sqrt(K (c^2 d^2 + (1-c^2) d)))  Chevet / Jensen on sqrt(sum_i ||Z_i||_1^2)
    (inf,inf) cd + sqrt(2 d ln K)                                   rows' l1 norms are sqrt(d)-Lipschitz

and finally each entry is lowered to the best bound implied by the others through the pointwise inequalities
||A||_{p,inf} <= ||A||_{p,2} <= ||A||_{p,1} <= sqrt(K) ||A||_{p,2} <= K ||A||_{p,inf} and
||A||_{1,q} <= ||A||_{2,q} <= ||A||_{inf,q} <= sqrt(d) ||A||_{2,q} <= d ||A||_{1,q} (which, e.g., makes the K = 1
entries of the p = inf row equal to the exact c sqrt(d)). These are the table of the sources appendix (Theorem 5.1)
with E||g||_2 in place of sqrt(n) and the smaller of the listed alternatives.
"""

from __future__ import annotations

import math

import numpy as np

from mfat.validation import check_choice, check_int, check_real, normalise_p

__all__ = [
    "beta",
    "adversarial_loss_bound",
    "chi_mean",
    "PQ_MEANING",
]

INF = math.inf
C_ABS = math.sqrt(2.0 / math.pi)  # E|g| for g ~ N(0, 1)
_ONE, _TWO = 1.0, 2.0
_PAIRS = tuple((p, q) for p in (_ONE, _TWO, INF) for q in (_ONE, _TWO, INF))
_NP_HARD = ((_TWO, _ONE), (INF, _ONE), (INF, _TWO))

PQ_MEANING = {
    (_ONE, _ONE): "max column l1 norm",
    (_ONE, _TWO): "max column l2 norm",
    (_ONE, INF): "max absolute entry",
    (_TWO, _ONE): "max_{s in {+-1}^K} ||Z^T s||_2 (NP-hard)",
    (_TWO, _TWO): "spectral norm",
    (_TWO, INF): "max row l2 norm",
    (INF, _ONE): "max_{x in {+-1}^d} ||Z x||_1 (NP-hard)",
    (INF, _TWO): "max_{x in {+-1}^d} ||Z x||_2 (NP-hard)",
    (INF, INF): "max row l1 norm",
}


def _pq(p, q) -> tuple[float, float]:
    return normalise_p("p", p), normalise_p("q", q)


def _dims(d, K) -> tuple[int, int]:
    return check_int("d", d, min_value=1), check_int("K", K, min_value=1)


def chi_mean(n: int) -> float:
    """E||g||_2 for g ~ N(0, I_n): sqrt(2) Gamma((n+1)/2) / Gamma(n/2) (about sqrt(n - 1/2))."""
    n = check_int("n", n, min_value=1)
    return math.sqrt(2.0) * math.exp(math.lgamma((n + 1) / 2.0) - math.lgamma(n / 2.0))


def _raw_bounds(d: int, K: int) -> dict:
    """Upper bounds on E||Z||_{p,q} (not yet divided by sqrt(d)); see the module docstring."""
    c, mK, md, ln = C_ABS, chi_mean(K), chi_mean(d), math.log
    return {
        (_ONE, _ONE): c * K + math.sqrt(2 * K * ln(d)),
        (_ONE, _TWO): mK + math.sqrt(2 * ln(d)),
        (_ONE, INF): min(math.sqrt(2 * ln(2 * K * d)), c + math.sqrt(2 * ln(K * d))),
        (_TWO, _ONE): min(c * K + math.sqrt(K) * md, K * md),
        (_TWO, _TWO): mK + md,
        (_TWO, INF): md + math.sqrt(2 * ln(K)),
        (INF, _ONE): min(c * K * math.sqrt(d) + c * d * math.sqrt(K), c * K * d),
        (INF, _TWO): min(math.sqrt(d) * mK + c * d, math.sqrt(K * (c * c * d * d + (1 - c * c) * d))),
        (INF, INF): c * d + math.sqrt(2 * d * ln(K)),
    }


def _tighten(bounds: dict, d: int, K: int) -> dict:
    """Lower every entry to the best bound implied by the pointwise norm inequalities (module docstring)."""
    sK, sd = math.sqrt(K), math.sqrt(d)
    edges = []  # (a, b, w): ||.||_a <= w ||.||_b
    for p in (_ONE, _TWO, INF):
        edges += [((p, INF), (p, _TWO), 1.0), ((p, _TWO), (p, _ONE), 1.0)]
        edges += [((p, _ONE), (p, _TWO), sK), ((p, _TWO), (p, INF), sK)]
    for q in (_ONE, _TWO, INF):
        edges += [((_ONE, q), (_TWO, q), 1.0), ((_TWO, q), (INF, q), 1.0)]
        edges += [((INF, q), (_TWO, q), sd), ((_TWO, q), (_ONE, q), sd)]
    out = dict(bounds)
    for _ in range(len(out)):  # Bellman-Ford: paths have at most 8 edges
        for a, b, w in edges:
            out[a] = min(out[a], w * out[b])
    return out


def _asymptotic(p: float, q: float, d: int, K: int) -> float:
    """E||Z||_{p,q}: max-type pairs mu + sigma sqrt(2 ln n); others the sources appendix's lower bound / limit."""
    c, ln = C_ABS, math.log
    mK, md = chi_mean(K), chi_mean(d)
    table = {
        (_ONE, _ONE): c * K + math.sqrt(2 * K * (1 - c * c) * ln(d)),
        (_ONE, _TWO): mK + math.sqrt(2 * max(K - mK * mK, 0.0) * ln(d)),
        (_ONE, INF): math.sqrt(2 * ln(K * d)),
        (_TWO, _ONE): math.sqrt(K * d),
        (_TWO, _TWO): math.sqrt(d) + math.sqrt(K),
        (_TWO, INF): md + math.sqrt(2 * max(d - md * md, 0.0) * ln(K)),
        (INF, _ONE): c * d * math.sqrt(K),
        (INF, _TWO): c * d,
        (INF, INF): c * d + math.sqrt(2 * d * (1 - c * c) * ln(K)),
    }
    return table[(p, q)]


def beta(p, q, d: int, K: int, method: str = "bound") -> float:
    """beta_{p,q}(d, K) = E||Z||_{p->q} / sqrt(d) (float64); ``method`` is "bound" or "asymptotic".

    "bound": the closed-form upper bound of the module docstring (valid for all d, K >= 1);
    "asymptotic": the sources appendix's lower-bound / asymptotic column ((2,1): sqrt(K), (inf,1): c sqrt(Kd), (inf,2):
    c sqrt(d) are lower bounds; (2,2): 1 + sqrt(K/d); max-type pairs: (mu + sigma sqrt(2 ln n)) / sqrt(d)).
    """
    p, q = _pq(p, q)
    d, K = _dims(d, K)
    method = check_choice("method", method, ("bound", "asymptotic"))
    if method == "asymptotic":
        return _asymptotic(p, q, d, K) / math.sqrt(d)
    return _tighten(_raw_bounds(d, K), d, K)[(p, q)] / math.sqrt(d)


def adversarial_loss_bound(
    eps: float, p, q, d: int, K: int, omega: float, L: int, method: str = "bound"
) -> float:
    """Theorem 5.1 (step 2): L_adv <~ eps * beta_{p,q}(d, K) * omega^(L/2).

    eps >= 0 attack budget, omega > 0 per-layer gain, L >= 0 depth; ``method`` goes to :func:`beta`.
    """
    eps = check_real("eps", eps, min_value=0.0)
    omega = check_real("omega", omega, min_value=0.0, min_inclusive=False)
    L = check_int("L", L, min_value=0)
    return eps * beta(p, q, d, K, method=method) * omega ** (L / 2.0)
