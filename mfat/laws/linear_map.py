"""Exact samplers of the law of J(x) and a(x) in f(x) = J(x) x + a(x) (Theorem 4.1; sources appendix: Theorem 4.1 and the experiments).

Three ways to draw (J_{i1}(x), a_i(x)) over fresh random networks of Definition 3.1, all exact in law
(float64, explicit ``torch.Generator``, any device), from the cheapest to the most literal:

:func:`sample_chain`
    The Gram-matrix chain. Let g^(l) = M^(l) ... M^(1) P_in e_1 (the tangent along e_1) and c^(l) the bias
    path, c^(l) = M^(l) c^(l-1) + D^(l) b^(l), so that J_{i1} = P_out[i] . g^(L) and a_i = P_out[i] . c^(L)
    (sources appendix: Definition 3.1). Given everything up to layer l-1, the units i = 1..N of layer l are iid; unit i
    carries y_i = (P^(l)_i [g, c]) + s_i t_i, t_i = (W^(l)_i g, W^(l)_i c + b_i), with slope
    s_i = phi'(z_i) in {u, v}, z_i = W_i h + b_i. The map (P_i, W_i, b_i) -> -(P_i, W_i, b_i) preserves the
    law, flips the sign of z_i and leaves (pi + s t)(pi + s t)^T unchanged for either fixed s (pi = P_i [g, c]),
    so given the sign of z_i the outer product y_i y_i^T has the law of (pi + s t)(pi + s t)^T with (pi, t)
    *unconditioned* Gaussians: unit i behaves as if its slope were an independent fair coin, and the number
    of units with slope u is Binomial(N, 1/2) whatever the input (as long as z^(l) is not identically zero).
    So the 2 x 2 Gram matrix G^(l) = [g, c]^T [g, c] is a Markov chain that never looks at h or at x:

        G^(0) = diag(chi^2_N / d, 0),       n_+ ~ Binomial(N, 1/2),
        G^(l) = Wishart(n_+, Sigma_u) + Wishart(N - n_+, Sigma_v),
        Sigma_s = (rho + s^2 sigma_w^2) G^(l-1) / N + s^2 sigma_b^2 e_c e_c^T   (rho = 1 residual, 0 vanilla),

    and (J_{i1}, a_i) | G^(L) ~ N(0, G^(L) / N), iid over the K rows of P_out. Each layer costs O(1) in N
    (a Bartlett-decomposed Wishart draw), so paper-scale widths cost nothing extra.

:func:`sample_units`
    The construction described in the sources appendix (the experiments): each random matrix is only ever applied to a few vectors (the
    signal h(x), the tangent g(x) and the bias path c(x) of each input), and its rows are iid, so W V for the
    N x k matrix V of tracked vectors is N iid k-variate Gaussians with covariance (sigma_w^2 / N) V^T V.
    O(N k) random numbers per layer; it handles several inputs of one network jointly (their J's are
    correlated) and uses x explicitly, so it is an independent check of the chain.

:func:`sample_explicit`
    Builds actual :class:`mfat.model.networks.ReLULikeNet` networks, one per sample, and reads J and a off
    :func:`mfat.model.linearize.decompose`; inputs may be chosen as a function of the network (adversarial
    examples), which neither sampler above can represent.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from mfat.model.linearize import decompose
from mfat.model.networks import NetworkSpec, ReLULikeNet, phi_prime
from mfat.validation import check_int

__all__ = ["psd_factor", "wishart", "sample_chain", "sample_units", "sample_explicit", "PIVOT_TOL"]

#: Relative pivot below which :func:`psd_factor` treats a direction as exactly degenerate.
PIVOT_TOL = 1e-12


def _check_spec(spec) -> NetworkSpec:
    if not isinstance(spec, NetworkSpec):
        raise ValueError(f"parameter 'spec' = {spec!r} is out of range: allowed a mfat.model.networks.NetworkSpec")
    return spec


def _check_generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"parameter 'generator' = {generator!r} is out of range: allowed a torch.Generator "
                         "(no hidden global RNG)")
    return generator


def psd_factor(S: torch.Tensor) -> torch.Tensor:
    """An upper-triangular R with R^T R = S, for symmetric positive semi-definite S of shape (..., k, k).

    Cholesky of the correlation matrix D^-1 S D^-1 (D = sqrt(diag S)), without pivoting; a pivot below
    :data:`PIVOT_TOL` (relative) marks a direction that is a linear combination of earlier ones, and its
    column is set to zero, which is exact for singular S (zero rows, repeated vectors). Then R = L^T D.
    Batched, vectorised over the leading axes; k is small (2 to 12 here), so the loop over columns is cheap.
    """
    if S.ndim < 2 or S.shape[-1] != S.shape[-2]:
        raise ValueError(f"parameter 'S' has shape {tuple(S.shape)}: allowed (..., k, k)")
    k = S.shape[-1]
    scale = S.diagonal(dim1=-2, dim2=-1).clamp_min(0.0).sqrt()
    inv = torch.where(scale > 0, 1.0 / torch.where(scale > 0, scale, 1.0), 0.0)
    C = S * inv[..., :, None] * inv[..., None, :]
    Lc = torch.zeros_like(C)
    for j in range(k):
        d = C[..., j, j] - (Lc[..., j, :j] ** 2).sum(-1)
        piv = d > PIVOT_TOL
        ljj = torch.where(piv, d.clamp_min(0.0).sqrt(), 0.0)
        Lc[..., j, j] = ljj
        if j + 1 < k:
            num = C[..., j + 1:, j] - (Lc[..., j + 1:, :j] * Lc[..., j:j + 1, :j]).sum(-1)
            Lc[..., j + 1:, j] = torch.where(piv[..., None], num / torch.where(piv, ljj, 1.0)[..., None], 0.0)
    return Lc.transpose(-1, -2) * scale[..., None, :]


def _chi2(dof: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """chi^2 with ``dof`` degrees of freedom (float tensor, >= 0; 0 gives exactly 0) = 2 Gamma(dof / 2)."""
    pos = dof > 0
    gam = torch._standard_gamma(torch.where(pos, dof, 2.0) / 2.0, generator=generator)
    return torch.where(pos, 2.0 * gam, 0.0)


def wishart(n: torch.Tensor, S: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Exact draws of Wishart_k(n, S) = sum of n outer products of iid N(0, S) vectors, for any integer n >= 0.

    n: (...,) integer-valued tensor; S: (..., k, k) PSD (may be singular). Bartlett: Wishart_k(n, I) = T T^T
    with T lower triangular, T_jj^2 ~ chi^2_{n-j} (0-based j; 0 when n <= j) and T_jm ~ N(0, 1) for m < j
    and m < n (the Gram-Schmidt coordinates of n iid Gaussian columns, which also covers n < k); then
    Wishart(n, S) = (T^T R)^T (T^T R) with R^T R = S (:func:`psd_factor`). Returns (..., k, k).
    """
    k = S.shape[-1]
    n = torch.as_tensor(n, device=S.device).to(S.dtype)
    if bool((n < 0).any()) or not bool((n == n.round()).all()):
        raise ValueError("parameter 'n' holds a value that is out of range: allowed integers >= 0")
    j = torch.arange(k, device=S.device, dtype=S.dtype)
    T = torch.randn(*S.shape, generator=generator, dtype=S.dtype, device=S.device)
    below = (j[:, None] > j[None, :]) & (j[None, :] < n[..., None, None])  # m < j and m < n
    T = torch.where(below, T, 0.0)
    diag = _chi2((n[..., None] - j).clamp_min(0.0), generator).sqrt()
    T = T + torch.diag_embed(diag)
    M = T.transpose(-1, -2) @ psd_factor(S)
    return M.transpose(-1, -2) @ M


def _default_chunk(N: int, k: int, budget_bytes: float = 48e6) -> int:
    return max(1, int(budget_bytes // (8 * N * k)))


@torch.no_grad()
def sample_chain(spec: NetworkSpec, n_samples: int, *, generator: torch.Generator, x: torch.Tensor | None = None,
                 all_depths: bool = False, chunk_size: int = 200_000) -> dict[str, torch.Tensor]:
    """Exact draws of (J_{i1}(x), a_i(x)), i = 1..K, over independent networks, by the Gram chain (module doc).

    The law does not depend on the input x (for x chosen independently of the parameters): ``x`` is only
    looked at to detect the one exception, x = 0 with sigma_b^2 = 0, where z^(l) = 0 and every slope is
    phi'(0) = u (then n_+ = N). Cost O(n_samples L), independent of N and d.

    Returns float64 tensors on ``generator.device``: ``J`` and ``a`` of shape (n_samples, K), or
    (n_samples, L, K) with ``all_depths`` (entry l is the output of the first l + 1 layers read out by an
    independent P_out, i.e. an exact draw for a network of depth l + 1), and ``gram`` (n_samples, 2, 2),
    the final G^(L) = [g, c]^T [g, c].
    """
    spec = _check_spec(spec)
    generator = _check_generator(generator)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    chunk_size = check_int("chunk_size", chunk_size, min_value=1)
    degenerate = x is not None and spec.sigma_b2 == 0.0 and not bool(torch.as_tensor(x).ne(0).any())
    outs = {"J": [], "a": [], "gram": []}
    for start in range(0, n_samples, chunk_size):
        S = min(chunk_size, n_samples - start)
        J, a, G = _chain_chunk(spec, S, generator, all_depths, degenerate)
        outs["J"].append(J)
        outs["a"].append(a)
        outs["gram"].append(G)
    return {key: torch.cat(val) for key, val in outs.items()}


def _wishart2(n: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, gen: torch.Generator):
    """Wishart_2(n, [[a, b], [b, c]]) in closed form, elementwise over (S,) tensors: returns (w00, w01, w11).

    The k = 2 case of :func:`wishart`: Bartlett T = [[t00, 0], [t10, t11]] with t00^2 ~ chi^2_n,
    t11^2 ~ chi^2_{n-1}, t10 ~ N(0, 1) (0 when n = 0), and the Cholesky factor R = [[r00, r01], [0, r11]]
    of the covariance; W = (T^T R)^T (T^T R).
    """
    t00 = _chi2(n, gen).sqrt()
    t11 = _chi2((n - 1.0).clamp_min(0.0), gen).sqrt()
    t10 = torch.where(n >= 1, torch.randn(n.shape, generator=gen, dtype=n.dtype, device=n.device), 0.0)
    a, c = a.clamp_min(0.0), c.clamp_min(0.0)
    r00 = a.sqrt()
    ok = a > 0  # a = 0 forces b = 0 (PSD): then R = [[0, 0], [0, sqrt(c)]]
    r01 = torch.where(ok, b / torch.where(ok, r00, 1.0), 0.0)
    r11 = (c - r01 * r01).clamp_min(0.0).sqrt()
    m00, m01, m11 = t00 * r00, t00 * r01 + t10 * r11, t11 * r11
    return m00 * m00, m00 * m01, m01 * m01 + m11 * m11


def _chain_chunk(spec: NetworkSpec, S: int, gen: torch.Generator, all_depths: bool, degenerate: bool):
    dev, dt = gen.device, torch.float64
    N, K = spec.N, spec.K
    rho = 1.0 if spec.residual else 0.0
    full = torch.full((S,), float(N), dtype=dt, device=dev)
    half = torch.full((S,), 0.5, dtype=dt, device=dev)
    gg = _chi2(full, gen) / spec.d  # G^(0) = diag(|P_in e_1|^2, 0)
    gc = torch.zeros(S, dtype=dt, device=dev)
    cc = torch.zeros(S, dtype=dt, device=dev)

    def readout():
        R = psd_factor(torch.stack([torch.stack([gg, gc], -1), torch.stack([gc, cc], -1)], -2) / N)
        y = torch.randn(S, K, 2, generator=gen, dtype=dt, device=dev) @ R
        return y[..., 0], y[..., 1]

    Js, As = [], []
    for _ in range(spec.L):
        n_plus = full if degenerate else torch.binomial(full, half, generator=gen)
        new = [0.0, 0.0, 0.0]
        for slope, count in ((spec.u, n_plus), (spec.v, full - n_plus)):
            s2 = slope * slope
            k = (rho + s2 * spec.sigma_w2) / N
            w = _wishart2(count, k * gg, k * gc, k * cc + s2 * spec.sigma_b2, gen)
            new = [acc + part for acc, part in zip(new, w)]
        gg, gc, cc = new
        if all_depths:
            J, a = readout()
            Js.append(J)
            As.append(a)
    G = torch.stack([torch.stack([gg, gc], -1), torch.stack([gc, cc], -1)], -2)
    if all_depths:
        return torch.stack(Js, 1), torch.stack(As, 1), G
    J, a = readout()
    return J, a, G


@torch.no_grad()
def sample_units(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator,
                 chunk_size: int | None = None) -> dict[str, torch.Tensor]:
    """Exact draws of (J_{i1}(x_j), a_i(x_j), f_i(x_j)) for m inputs of each of ``n_samples`` networks.

    x: (m, d), chosen independently of the parameters. Tracks, per network and input, the signal h, the
    tangent g along e_1 and the bias path c: V = [h_1..h_m, g_1..g_m, c_1..c_m] of shape (N, 3m), with
    h^(l) = G^(l) x + c^(l). Each layer draws W V = Z R sqrt(sigma_w^2 / N) (Z: N x 3m iid N(0, 1),
    R^T R = V^T V), b ~ N(0, sigma_b^2 I), and P V likewise (residual); P_in [x_1..x_m, e_1] and the output
    row P_out[i] . V the same way. Vectorised over ``chunk_size`` networks at a time (default: ~48 MB of
    state). Returns float64 tensors on ``generator.device``, each of shape (n_samples, m, K): ``J``
    (J_{i1}(x_j)), ``a`` (a_i(x_j)) and ``f`` (f_i(x_j) = P_out[i] . h^(L)).
    """
    spec = _check_spec(spec)
    generator = _check_generator(generator)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    dev = generator.device
    x = torch.as_tensor(x).to(device=dev, dtype=torch.float64)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2 or x.shape[1] != spec.d:
        raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (m, d) with d = {spec.d}")
    m = x.shape[0]
    if chunk_size is None:
        chunk = _default_chunk(spec.N, 3 * m)
    else:
        chunk = check_int("chunk_size", chunk_size, min_value=1)
    outs = {"J": [], "a": [], "f": []}
    for start in range(0, n_samples, chunk):
        S = min(chunk, n_samples - start)
        for key, val in zip(("J", "a", "f"), _units_chunk(spec, x, S, generator)):
            outs[key].append(val)
    return {key: torch.cat(val) for key, val in outs.items()}


def _units_chunk(spec: NetworkSpec, x: torch.Tensor, S: int, gen: torch.Generator):
    dev, dt = gen.device, torch.float64
    N, m, K = spec.N, x.shape[0], spec.K
    e1 = torch.zeros(1, spec.d, dtype=dt, device=dev)
    e1[0, 0] = 1.0
    X = torch.cat([x, e1])  # (m + 1, d)
    R0 = psd_factor((X @ X.T) / spec.d)  # rows of P_in [x, e_1] ~ N(0, X X^T / d)
    Y = torch.randn(S, N, m + 1, generator=gen, dtype=dt, device=dev) @ R0
    h, g, c = Y[..., :m], Y[..., m:].expand(S, N, m), torch.zeros(S, N, m, dtype=dt, device=dev)
    V = torch.cat([h, g, c], dim=-1)  # (S, N, 3m)
    for _ in range(spec.L):
        R = psd_factor(V.transpose(1, 2) @ V)  # R^T R = V^T V, (S, 3m, 3m)
        WV = torch.randn(S, N, 3 * m, generator=gen, dtype=dt, device=dev) @ (R * math.sqrt(spec.sigma_w2 / N))
        b = torch.randn(S, N, 1, generator=gen, dtype=dt, device=dev) * math.sqrt(spec.sigma_b2)
        z = WV[..., :m] + b
        s = phi_prime(z, spec.u, spec.v)  # the slopes D of the layer rule
        new = torch.cat([s * z, s * WV[..., m:2 * m], s * (WV[..., 2 * m:] + b)], dim=-1)
        if spec.residual:
            new = new + torch.randn(S, N, 3 * m, generator=gen, dtype=dt, device=dev) @ (R / math.sqrt(N))
        V = new
    R_out = psd_factor(V.transpose(1, 2) @ V) / math.sqrt(N)  # rows of P_out . V ~ N(0, V^T V / N)
    out = torch.randn(S, K, 3 * m, generator=gen, dtype=dt, device=dev) @ R_out
    out = out.transpose(1, 2)  # (S, 3m, K)
    return out[:, m:2 * m], out[:, 2 * m:], out[:, :m]


InputFn = Callable[[ReLULikeNet], torch.Tensor]


@torch.no_grad()
def sample_explicit(spec: NetworkSpec, n_samples: int, *, generator: torch.Generator,
                    x: torch.Tensor | None = None, inputs: InputFn | None = None) -> dict[str, torch.Tensor]:
    """(J(x), a(x)) of ``n_samples`` explicitly built float64 networks, through :func:`mfat.model.linearize.decompose`.

    Give exactly one of ``x`` (m, d): the same inputs for every network; or ``inputs``: a function
    net -> (m, d) that may depend on the network's parameters (e.g. adversarial examples; it runs with
    gradients enabled and may use ``generator``). Networks are built on ``generator.device`` from
    ``generator`` (one after another: O(L N^2 + N d) random numbers each). Returns float64 tensors of shape
    (n_samples, m, K): ``J`` (J_{i1}), ``a`` (a_i), ``row_ms`` (sum_j J_ij^2 / d, the mean square of row i),
    and ``x`` (n_samples, m, d), the inputs used.
    """
    spec = _check_spec(spec)
    generator = _check_generator(generator)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    if (x is None) == (inputs is None):
        raise ValueError("sample_explicit: give exactly one of 'x' (fixed inputs) or 'inputs' "
                         "(a function of the network)")
    dev = generator.device
    if x is not None:
        x = torch.as_tensor(x).to(device=dev, dtype=torch.float64)
        x = x[None] if x.ndim == 1 else x
    outs = {"J": [], "a": [], "row_ms": [], "x": []}
    for _ in range(n_samples):
        net = ReLULikeNet(**spec.as_dict(), generator=generator, dtype=torch.float64, device=dev)
        if inputs is not None:
            with torch.enable_grad():
                xi = inputs(net).detach().to(torch.float64)
        else:
            xi = x
        J, a = decompose(net, xi)  # (m, K, d), (m, K)
        outs["J"].append(J[..., 0])
        outs["a"].append(a)
        outs["row_ms"].append(J.pow(2).mean(-1))
        outs["x"].append(xi)
    return {key: torch.stack(val) for key, val in outs.items()}
