"""The nine (p, q) operator norms of a matrix, p, q in {1, 2, inf} (sources appendix: Notation and Theorem 5.1).

    ||A||_{p,q} = max_{||eta||_p <= 1} ||A eta||_q,        A in R^{K x d}.

Every function is batched over leading dimensions: ``A`` has shape ``(..., K, d)`` and a norm has shape
``(...)``. Six pairs have closed forms:

- ``(1, q)``: the largest column l_q norm (the maximum of a convex function on the l1 ball sits at a vertex);
- ``(p, inf)``: the largest row l_{p*} norm, p* the dual exponent (Hoelder);
- ``(2, 2)``: the largest singular value.

The other three are NP-hard in general and reduce to a maximum over sign vectors:

- ``(inf, 1)``: max_{x in {+-1}^d} ||A x||_1 = max_{s in {+-1}^K} ||A^T s||_1 (a cut-norm-like quantity);
- ``(inf, 2)``: max_{x in {+-1}^d} ||A x||_2;
- ``(2, 1)``:  max_{s in {+-1}^K} ||A^T s||_2  (= ||A^T||_{inf,2} by duality).

With at most ``max_enumeration`` (default 16) free signs they are computed exactly by enumeration. Otherwise
:func:`operator_norm` returns the best value found by an alternating sign iteration (a monotone ascent, several
restarts, seeded by an explicit generator) as a certified *lower* bound, together with a deterministic *upper*
bound (the smallest of the triangle / Hoelder / spectral bounds listed in :func:`_sign_max_upper`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from mfat.validation import check_int, normalise_p

__all__ = [
    "NormResult",
    "dual_exponent",
    "operator_norm",
    "argmax_direction",
    "PAIRS",
    "EXACT_PAIRS",
    "NP_HARD_PAIRS",
]

INF = math.inf
_ALLOWED = (1.0, 2.0, INF)
PAIRS = tuple((p, q) for p in _ALLOWED for q in _ALLOWED)
NP_HARD_PAIRS = ((2.0, 1.0), (INF, 1.0), (INF, 2.0))
EXACT_PAIRS = tuple(pq for pq in PAIRS if pq not in NP_HARD_PAIRS)
_MAX_ELEMENTS = 1 << 22  # work-chunk size (tensor elements) of the enumeration


def dual_exponent(p) -> float:
    """Hoelder dual exponent p* with 1/p + 1/p* = 1: 1 -> inf, 2 -> 2, inf -> 1."""
    p = normalise_p("p", p)
    return {1.0: INF, 2.0: 2.0, INF: 1.0}[p]


@dataclass(frozen=True)
class NormResult:
    """Result of :func:`operator_norm` for ``A`` of shape ``(..., K, d)``.

    value:  ``(...)``, the norm where ``exact``; otherwise the best certified lower bound (= ``lower``).
    lower, upper: ``(...)``, certified bounds, lower <= ||A||_{p,q} <= upper (both equal ``value`` if exact).
    exact:  whether ``value`` is the norm itself (closed form or enumeration).
    method: "max column norm", "max row norm", "singular value", "enumeration" or "sign iteration".
    argmax: ``(..., d)`` with ||argmax||_p = 1 and ||A argmax||_q = lower, if requested, else ``None``.
    """

    value: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    exact: bool
    method: str
    argmax: torch.Tensor | None = None


def _vnorm(x: torch.Tensor, q: float, dim: int = -1) -> torch.Tensor:
    return torch.linalg.vector_norm(x, ord=q, dim=dim)


def _sign(x: torch.Tensor) -> torch.Tensor:
    """sign with sign(0) = +1, so that the result lies in {+-1}."""
    return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)


def _unit(v: torch.Tensor, fallback_index: int = 0) -> torch.Tensor:
    """v / ||v||_2 along the last axis; a zero vector becomes e_0."""
    n = _vnorm(v, 2.0, dim=-1).unsqueeze(-1)
    e = torch.zeros_like(v)
    e[..., fallback_index] = 1.0
    return torch.where(n > 0, v / torch.where(n > 0, n, 1.0), e)


def _sign_vectors(n: int, dtype, device) -> torch.Tensor:
    """All 2^(n-1) vectors of {+-1}^n with first entry +1 (x and -x give the same norm), shape (2^(n-1), n)."""
    codes = torch.arange(1 << max(n - 1, 0), device=device)
    bits = (codes.unsqueeze(-1) >> torch.arange(max(n - 1, 0), device=device)) & 1
    rest = 1.0 - 2.0 * bits.to(dtype)
    return torch.cat([torch.ones(rest.shape[0], 1, dtype=dtype, device=device), rest], dim=-1)


def _sign_max_enumerate(M: torch.Tensor, q: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact max_{x in {+-1}^n} ||M x||_q for M of shape (B, m, n); returns (value (B,), x (B, n))."""
    B, m, n = M.shape
    S = _sign_vectors(n, M.dtype, M.device)  # (V, n)
    s_chunk = max(1, _MAX_ELEMENTS // m)
    b_chunk = max(1, _MAX_ELEMENTS // (min(s_chunk, S.shape[0]) * m))
    values, args = [], []
    for Mb in M.split(b_chunk):
        best = torch.full((Mb.shape[0],), -1.0, dtype=M.dtype, device=M.device)
        arg = torch.zeros(Mb.shape[0], n, dtype=M.dtype, device=M.device)
        for Sc in S.split(s_chunk):
            v, i = _vnorm(torch.einsum("bmn,vn->bvm", Mb, Sc), q).max(dim=-1)  # over the sign vectors
            better = v > best
            best = torch.where(better, v, best)
            arg = torch.where(better.unsqueeze(-1), Sc[i], arg)
        values.append(best)
        args.append(arg)
    return torch.cat(values), torch.cat(args)


def _ascend(M: torch.Tensor, x: torch.Tensor, q: float, max_iter: int) -> torch.Tensor:
    """Alternating sign iteration from x (B, R, n) towards a fixed point x = sign(M^T u(Mx)).

    ||M x||_q = max_{||u||_{q*} <= 1} u^T M x, so alternate u <- argmax_u u^T M x (q=1: sign(Mx); q=2:
    Mx/||Mx||) and x <- sign(M^T u). No step decreases ||M x||_q: x_new maximises over the cube the
    linearisation of the convex map x -> ||M x||_q. Only batch entries that still change are iterated.
    """
    x = x.clone()
    idx, Mw, xw = torch.arange(M.shape[0], device=M.device), M, x  # working set: entries still moving
    for _ in range(max_iter):
        y = xw @ Mw.transpose(-1, -2)  # (b, R, m) = M x
        u = _sign(y) if q == 1.0 else _unit(y)
        x_new = _sign(u @ Mw)  # (b, R, n) = sign(M^T u)
        changed = (x_new != xw).flatten(1).any(dim=1)
        xw = x_new
        if not changed.any():
            break
        if 4 * int(changed.sum()) < idx.numel():  # compact rarely: copying M costs more than a product
            x[idx] = xw
            idx, Mw, xw = idx[changed], Mw[changed], xw[changed]
    x[idx] = xw
    return x


def _flip_sweep(M: torch.Tensor, x: torch.Tensor, q: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One coordinate-ascent sweep: for j = 1..n flip x_j wherever that increases ||M x||_q.

    x (B, R, n) -> (x, changed (B,) whether any sign of that batch entry changed); y = M x is updated in
    O(m) per coordinate.
    """
    x = x.clone()
    y = x @ M.transpose(-1, -2)  # (B, R, m)
    current = _vnorm(y, q)  # (B, R)
    changed = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
    for j in range(x.shape[-1]):
        cand = y - 2.0 * x[..., j : j + 1] * M[:, None, :, j]  # (B, R, m)
        value = _vnorm(cand, q)
        better = value > current * (1.0 + 1e-12)
        if better.any():
            changed |= better
            y = torch.where(better.unsqueeze(-1), cand, y)
            current = torch.where(better, value, current)
            x[..., j] = torch.where(better, -x[..., j], x[..., j])
    return x, changed.any(dim=1)


def _top_right_singular_vector(M: torch.Tensor) -> torch.Tensor:
    """Top right singular vector of M (B, m, n), shape (B, n), from the smaller Gram matrix (cheaper than svd)."""
    if M.shape[-2] < M.shape[-1]:
        u = torch.linalg.eigh(M @ M.transpose(-1, -2)).eigenvectors[..., -1]  # (B, m)
        return _unit((M.transpose(-1, -2) @ u.unsqueeze(-1)).squeeze(-1))
    return torch.linalg.eigh(M.transpose(-1, -2) @ M).eigenvectors[..., -1]


def _sign_max_search(
    M: torch.Tensor, q: float, restarts: int, max_iter: int, generator: torch.Generator, tol: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lower bound on max_{x in {+-1}^n} ||M x||_q, M (B, m, n): local search from several starts.

    From each start, alternate the sign iteration (:func:`_ascend`) with a sweep of improving single sign flips,
    until a round raises the best value by at most ``tol`` (relative) or ``max_iter`` rounds are done.
    Starts: sign of the top right singular vector, sign of the row with the largest l1 norm (so the result is
    >= max_i ||M_i||_1), and ``restarts`` uniformly random sign vectors drawn from ``generator``.
    Returns (value (B,), x (B, n)) with value = ||M x||_q.
    """
    B, m, n = M.shape
    rand = torch.randint(0, 2, (B, restarts, n), generator=generator, device=generator.device)
    starts = [2.0 * rand.to(device=M.device, dtype=M.dtype) - 1.0]
    starts.append(_sign(_top_right_singular_vector(M)).unsqueeze(1))
    row = _vnorm(M, 1.0).argmax(dim=-1)  # (B,)
    starts.append(_sign(M[torch.arange(B, device=M.device), row]).unsqueeze(1))
    x = torch.cat(starts, dim=1)  # (B, R, n)
    idx, Mw, xw = torch.arange(B, device=M.device), M, x  # working set: entries still improving
    best = _vnorm(x @ M.transpose(-1, -2), q).amax(dim=-1)  # (B,)
    for _ in range(max_iter):
        xw, changed = _flip_sweep(Mw, _ascend(Mw, xw, q, max_iter), q)
        new_best = _vnorm(xw @ Mw.transpose(-1, -2), q).amax(dim=-1)
        changed &= new_best > best * (1.0 + tol)  # stop where a round raised the best by less than tol
        best = new_best
        if not changed.any():
            break
        if 4 * int(changed.sum()) < idx.numel():
            x[idx] = xw
            idx, Mw, xw, best = idx[changed], Mw[changed], xw[changed], best[changed]
    x[idx] = xw
    values = _vnorm(x @ M.transpose(-1, -2), q)  # (B, R)
    best, idx = values.max(dim=-1)
    return best, x[torch.arange(B, device=M.device), idx]


def _spectral_norm(M: torch.Tensor) -> torch.Tensor:
    """Largest singular value of M (B, m, n) from the smaller Gram matrix (cheaper than an SVD)."""
    G = M @ M.transpose(-1, -2) if M.shape[-2] <= M.shape[-1] else M.transpose(-1, -2) @ M
    return torch.linalg.eigvalsh(G)[..., -1].clamp_min(0.0).sqrt()


def _sign_max_upper(M: torch.Tensor, q: float) -> torch.Tensor:
    """Deterministic upper bound on max_{x in {+-1}^n} ||M x||_q for M of shape (B, m, n).

    q = 2: min( sqrt(n) ||M||_2                  (||x||_2 = sqrt(n)),
                sqrt(sum_i ||M_i||_1^2)          (|M_i x| <= ||M_i||_1 for every row i),
                sum_j ||M_{:,j}||_2 )            (triangle inequality over the columns).
    q = 1: min( sum_{ij} |M_ij|                  (triangle inequality),
                sqrt(m) * [q = 2 bound of M]     (||y||_1 <= sqrt(m) ||y||_2),
                sqrt(n) * [q = 2 bound of M^T] ) (||Mx||_1 = max_s s^T M x <= ||M^T s||_2 ||x||_2).
    """
    m, n = M.shape[-2], M.shape[-1]

    def upper2(N: torch.Tensor) -> torch.Tensor:
        spectral = math.sqrt(N.shape[-1]) * _spectral_norm(N)
        rows = _vnorm(_vnorm(N, 1.0), 2.0)
        cols = _vnorm(N, 2.0, dim=-2).sum(dim=-1)
        return torch.minimum(torch.minimum(spectral, rows), cols)

    if q == 2.0:
        return upper2(M)
    total = M.abs().sum(dim=(-2, -1))
    via_rows = math.sqrt(m) * upper2(M)
    via_cols = math.sqrt(n) * upper2(M.transpose(-1, -2))
    return torch.minimum(total, torch.minimum(via_rows, via_cols))


def _exact(A: torch.Tensor, p: float, q: float, argmax: bool) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """Closed forms for A (B, K, d): returns (value (B,), argmax (B, d) or None for (2,2) unless asked, method)."""
    B, K, d = A.shape
    batch = torch.arange(B, device=A.device)
    if p == 1.0:  # max_j ||A e_j||_q
        cols = _vnorm(A, q, dim=-2)  # (B, d)
        value, j = cols.max(dim=-1)
        eta = torch.zeros(B, d, dtype=A.dtype, device=A.device)
        eta[batch, j] = 1.0
        return value, eta, "max column norm"
    if q == INF:  # max_i ||A_i||_{p*}, attained by the Hoelder-dual vector of the best row
        rows = _vnorm(A, dual_exponent(p))  # (B, K)
        value, i = rows.max(dim=-1)
        a = A[batch, i]  # (B, d)
        eta = _sign(a) if p == INF else _unit(a)
        return value, eta, "max row norm"
    # (2, 2)
    if not argmax:
        return torch.linalg.matrix_norm(A, ord=2), None, "singular value"
    _, s, vh = torch.linalg.svd(A, full_matrices=False)
    return s[:, 0], vh[:, 0, :], "singular value"


def operator_norm(
    A: torch.Tensor,
    p=2,
    q=2,
    *,
    return_argmax: bool = False,
    max_enumeration: int = 16,
    restarts: int = 16,
    max_iter: int = 20,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> NormResult:
    """||A||_{p,q} = max_{||eta||_p <= 1} ||A eta||_q for ``A`` of shape ``(..., K, d)`` (sources appendix: Notation).

    Exact for (1, q), (p, inf), (2, 2); for (inf, 1), (inf, 2), (2, 1) exact by enumeration when the number of
    free signs (min(K, d), d, K respectively) is <= ``max_enumeration``, otherwise a sign-iteration lower bound
    (``restarts`` random starts drawn from ``generator``, or from a new generator seeded with ``seed``; at most
    ``max_iter`` rounds) with a deterministic upper bound (inflated by a relative 1e-10 to absorb floating-point
    rounding). See :class:`NormResult` for the fields; ``argmax`` (``(..., d)``, unit l_p norm,
    ||A argmax||_q = lower) is filled when ``return_argmax`` is true.
    """
    p = normalise_p("p", p)
    q = normalise_p("q", q)
    max_enumeration = check_int("max_enumeration", max_enumeration, min_value=0, max_value=24)
    restarts = check_int("restarts", restarts, min_value=0)
    max_iter = check_int("max_iter", max_iter, min_value=1)
    if not isinstance(A, torch.Tensor) or A.ndim < 2 or A.shape[-1] < 1 or A.shape[-2] < 1:
        shape = getattr(A, "shape", A)
        raise ValueError(f"parameter 'A' = {shape!r} is out of range: allowed a tensor of shape (..., K, d), K, d >= 1")
    if not A.is_floating_point():
        A = A.to(torch.get_default_dtype())
    lead, (K, d) = A.shape[:-2], A.shape[-2:]
    A3 = A.reshape(-1, K, d)

    if (p, q) in EXACT_PAIRS:
        value, eta, method = _exact(A3, p, q, return_argmax)
        lower = upper = value
        exact = True
    else:
        # Reduce to max_{x in {+-1}^n} ||M x||_r, and map the maximiser back to eta.
        if (p, q) == (2.0, 1.0):
            M, r, transposed = A3.transpose(-1, -2), 2.0, True
        elif (p, q) == (INF, 1.0) and K < d:  # ||A||_{inf,1} = ||A^T||_{inf,1}: enumerate the shorter side
            M, r, transposed = A3.transpose(-1, -2), 1.0, True
        else:
            M, r, transposed = A3, q, False
        n = M.shape[-1]
        if n <= max_enumeration:
            lower, x = _sign_max_enumerate(M, r)
            upper, exact, method = lower, True, "enumeration"
        else:
            if generator is None:
                generator = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
            lower, x = _sign_max_search(M, r, restarts, max_iter, generator)
            exact, method = False, "sign iteration"
        eta = x
        if transposed:  # x = s in {+-1}^K: the maximiser is the Hoelder-dual direction of A^T s
            z = (A3.transpose(-1, -2) @ x.unsqueeze(-1)).squeeze(-1)  # (B, d)
            eta = _unit(z) if p == 2.0 else _sign(z)
            if not exact:  # ||A eta||_q >= s^T A eta = ||A^T s||_r, with equality at a fixed point
                lower = torch.maximum(lower, _vnorm((A3 @ eta.unsqueeze(-1)).squeeze(-1), q))
        if not exact:  # the factor and max() only absorb floating-point rounding (both bounds are valid)
            upper = torch.maximum(_sign_max_upper(M, r) * (1.0 + 1e-10), lower)
        value = lower

    return NormResult(
        value=value.reshape(lead),
        lower=lower.reshape(lead),
        upper=upper.reshape(lead),
        exact=exact,
        method=method,
        argmax=eta.reshape(*lead, d) if return_argmax else None,
    )


def argmax_direction(A: torch.Tensor, p=2, q=2, **kwargs) -> torch.Tensor:
    """A unit l_p vector eta, shape ``(..., d)``, with ||A eta||_q = operator_norm(A, p, q).lower.

    For a linear map x -> A x + b this is the attack's best direction: eps * eta reaches eps ||A||_{p,q} (exact
    pairs, enumeration) or the certified lower bound (sign iteration). ``kwargs`` go to :func:`operator_norm`.
    """
    return operator_norm(A, p, q, return_argmax=True, **kwargs).argmax
