"""Closed forms of chapter 8: the geometry of the small-eps attack problem max_{||u||_p <= 1} ||J u||_q.

Pure float64 functions, no torch. J is a generic K x d matrix (no ties, no zero entries of J u at the points
named below, a simple top singular value).

A convex function attains its maximum over a compact convex set at an extreme point: the 2d signed basis
vectors of the l1 ball, the 2^d vertices of the l_inf cube, any point of the l2 sphere. Where ||J u||_q is
locally linear around a point u, the point is a local maximum only if it maximises that linear function
<J^T w, .> over the ball, w = grad ||y||_q at y = J u the dual vector: so u is determined by w, and the local
maxima (counted up to sign, since ||J(-u)||_q = ||J u||_q) are at most

- as many as the dual vectors: K (the rows, w = +-e_i) for q = inf, 2^(K-1) (the sign vectors) for q = 1;
- as many as the extreme points: d for p = 1, 2^(d-1) for p = inf;
- one for (2, 2): the top right singular vector (the other singular vectors are saddles).

So (1, inf), (2, inf), (inf, inf) have at most K; (1, 1) at most min(d, 2^(K-1)); (2, 1), (inf, 1) at most
2^(K-1); (1, 2) at most d; and (inf, 2) only the 2^(d-1) vertices.
"""

from __future__ import annotations

import math

from mfat.validation import check_int, normalise_p

__all__ = ["local_maxima_bound", "closed_form", "NP_HARD"]

INF = math.inf
NP_HARD = ((2.0, 1.0), (INF, 1.0), (INF, 2.0))  # Rohn (2000), Steinberg (2005), Hendrickx & Olshevsky (2010)


def _power_of_two(n: int) -> float:
    """2^n as a float, inf beyond the float range."""
    return math.ldexp(1.0, n) if n < 1024 else INF


def local_maxima_bound(p, q, d: int, K: int) -> float:
    """The most local maxima (up to sign) that u -> ||J u||_q can have on the unit l_p ball, J generic K x d: the
    smaller of the number of dual vectors (q) and of extreme points (p); 1 for (2, 2) (module doc)."""
    p, q = normalise_p("p", p), normalise_p("q", q)
    d, K = check_int("d", d, min_value=1), check_int("K", K, min_value=1)
    if (p, q) == (2.0, 2.0):
        return 1.0
    duals = {INF: float(K), 1.0: _power_of_two(K - 1), 2.0: INF}[q]
    points = {1.0: float(d), INF: _power_of_two(d - 1), 2.0: INF}[p]
    return min(duals, points)


def closed_form(p, q) -> str:
    """How ||J||_{p,q} is computed: the closed form, or why there is none."""
    p, q = normalise_p("p", p), normalise_p("q", q)
    if p == 1.0:
        return "largest column norm"
    if q == INF:
        return "largest row norm (dual exponent)"
    if (p, q) == (2.0, 2.0):
        return "largest singular value"
    return "NP-hard: a maximum over sign vectors"
