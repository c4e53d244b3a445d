"""Exact sampler of the whole K x d input-output Jacobian J(x) of Definition 3.1 networks, at any width.

The d x d Gram chain. Let G^(l) = M^(l) ... M^(1) P_in (N x d) be the tangent matrix of layer l, so that
J(x) = P_out G^(L) (:mod:`mfat.model.linearize`). The sign-flip argument of :mod:`mfat.laws.linear_map` applies to whole
rows: given the past, row i of G^(l) is y_i = P^(l)_i G + s_i W^(l)_i G (no P term when vanilla), the rows
are independent, and (P_i, W_i, b_i) -> -(P_i, W_i, b_i) flips the sign of z_i while leaving y_i^T y_i
unchanged for either fixed slope. So each unit behaves as if its slope were an independent fair coin, and
Gamma^(l) = G^(l)^T G^(l) (d x d) is a Markov chain that never looks at x (biases drop out of J):

    Gamma^(0) = Wishart_d(N, I / d),                      n_+ ~ Binomial(N, 1/2),
    Gamma^(l) = Wishart_d(n_+, k_u Gamma^(l-1)) + Wishart_d(N - n_+, k_v Gamma^(l-1)),
    k_s = (rho + s^2 sigma_w^2) / N                       (rho = 1 residual, 0 vanilla),
    J | Gamma^(L): K iid rows N(0, Gamma^(L) / N).

For d = 1 this is the g-g entry of the chain of :func:`mfat.laws.linear_map.sample_chain`.

Factor form (input side). With r = min(N, d), the rank bound of Gamma, keep Gamma^(l) = F_l^T F_l with
F_l of shape (r, d). Bartlett: Wishart_m(n, I) = T T^T, T lower triangular, T_jj^2 ~ chi^2_{n-j},
T_jm ~ N(0, 1) for m < j and m < n (0-based; the columns m >= n vanish, which covers n < m). Hence

    F_0 = T_0[:, :r]^T / sqrt(d)                  (T_0: the d x d Bartlett factor of Wishart_d(N, I)),
    Wishart_d(n, k F^T F) = F^T (k T T^T) F       (T: the r x r Bartlett factor of Wishart_r(n, I)),
    F_l = A_l F_{l-1},  A_l^T A_l = k_u T_u T_u^T + k_v T_v T_v^T   (r x r; slopes with k_s = 0 dropped),

with A_l = sqrt(k_s) T_s^T for one slope (vanilla ReLU) and, for two, the transposed Cholesky factor of the
r x r sum (the R of a QR of [sqrt(k_u) T_u^T; sqrt(k_v) T_v^T] where Cholesky fails: singular sums).
The A_l are independent of each other and of F_0, so with Z (K x r) iid N(0, 1)

    J = Z A_L ... A_1 T_0[:, :r]^T / sqrt(N d).                                            (input side)

Output side. For Z (a x r) standard Gaussian and an independent A with A^T A = W ~ Wishart_r(n, I), the rows
of Z A are iid N(0, W) given W = Xi Xi^T (Xi: r x n), so Z A =_d Z' Xi^T (Z': a x n), whose transpose has
iid rows N(0, Z' Z'^T), Z' Z'^T ~ Wishart_a(n, I): Z A =_d S G with S the a x a Bartlett factor and G
(a x r) a fresh standard Gaussian (sums over the two slopes likewise). Passing Z through every factor,

    J^T =_d G_0^T S_0^T A'_1 ... A'_L / sqrt(N d),                                         (output side)

with G_0 (K x d) standard Gaussian, S_0 the K x K Bartlett factor of Wishart_K(N, I) and A'_l the K x K
analogues of A_l. It is used when K < min(N, d), so the factors are m x m with m = min(N, d, K) on either
side: per sample O(L m^2 + K d) random numbers and O(L m^3 + K d m) operations, whatever the width N >= m.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable

import torch

from mfat.model.networks import NetworkSpec
from mfat.laws.linear_map import _check_generator, _check_spec, _chi2
from mfat.validation import check_int

__all__ = ["sample_jacobians"]

#: Float64 working set per chunk targeted by the default ``chunk_size`` of :func:`sample_jacobians`.
CHUNK_BYTES = 64e6


@functools.lru_cache(maxsize=8)
def _strictly_lower(rows: int, cols: int, device: torch.device) -> torch.Tensor:
    """Flat indices j * cols + m of the entries m < j of a rows x cols matrix."""
    j, m = torch.tril_indices(rows, cols, offset=-1, device=device)
    return j * cols + m


def _bartlett(n: torch.Tensor, rows: int, cols: int, gen: torch.Generator) -> torch.Tensor:
    """The first ``cols`` columns of the Bartlett factor of Wishart_rows(n, I): (S, rows, cols), lower-trapezoidal.

    n: (S,) float tensor of integer dofs >= 0. T_jj = sqrt(chi^2_{n-j}) (0 when n <= j), T_jm ~ N(0, 1) for
    m < j and m < n, else 0; T T^T ~ Wishart_rows(n, I) whenever the dropped columns m >= cols are zero.
    """
    S, dt, dev = n.shape[0], n.dtype, n.device
    idx = _strictly_lower(rows, cols, dev)
    T = torch.zeros(S, rows * cols, dtype=dt, device=dev)
    T[:, idx] = torch.randn(S, idx.numel(), generator=gen, dtype=dt, device=dev)
    T = T.view(S, rows, cols)
    m = torch.arange(cols, dtype=dt, device=dev)
    if bool((n < cols).any()):  # columns m >= n vanish
        T = T * (m < n[:, None, None])
    T.diagonal(dim1=-2, dim2=-1).copy_(_chi2((n[:, None] - m).clamp_min(0.0), gen).sqrt())
    return T


def _two_slope_factor(Tu: torch.Tensor, Tv: torch.Tensor, ku: float, kv: float) -> torch.Tensor:
    """A (..., r, r) with A^T A = ku Tu Tu^T + kv Tv Tv^T, for Tu, Tv (..., r, r).

    Transposed Cholesky factor of the sum; where Cholesky fails (a numerically singular sum) the R of a QR of
    the stacked [sqrt(ku) Tu^T; sqrt(kv) Tv^T] (2r x r), which is exact for any rank.
    """
    Lc, info = torch.linalg.cholesky_ex(ku * (Tu @ Tu.mT) + kv * (Tv @ Tv.mT))
    A = Lc.mT
    bad = info != 0
    if bool(bad.any()):
        stacked = torch.cat([math.sqrt(ku) * Tu[bad].mT, math.sqrt(kv) * Tv[bad].mT], dim=-2)
        A[bad] = torch.linalg.qr(stacked, mode="r").R
    return A


def _layer_factors(spec: NetworkSpec, S: int, r: int, gen: torch.Generator, degenerate: bool):
    """Yields L independent A_l of shape (S, r, r), A_l^T A_l = Wishart_r(n_+, k_u I) + Wishart_r(N - n_+, k_v I)."""
    N, dt, dev = spec.N, torch.float64, gen.device
    rho = 1.0 if spec.residual else 0.0
    full = torch.full((S,), float(N), dtype=dt, device=dev)
    for _ in range(spec.L):
        if degenerate:  # z = 0 at every unit: every slope is phi'(0) = u
            counts = ((spec.u, full),)
        else:
            n_plus = torch.binomial(full, torch.full_like(full, 0.5), generator=gen)
            counts = ((spec.u, n_plus), (spec.v, full - n_plus))
        blocks = []
        for slope, n in counts:
            k = (rho + slope * slope * spec.sigma_w2) / N
            if k > 0.0:
                blocks.append((k, _bartlett(n, r, r, gen)))
        if not blocks:  # vanilla with sigma_w^2 = 0: G^(l) = 0
            yield torch.zeros(S, r, r, dtype=dt, device=dev)
        elif len(blocks) == 1:
            yield math.sqrt(blocks[0][0]) * blocks[0][1].mT
        else:
            (ku, Tu), (kv, Tv) = blocks
            yield _two_slope_factor(Tu, Tv, ku, kv)


def _product(left: torch.Tensor, factors: Iterable[torch.Tensor]) -> torch.Tensor:
    """left @ M_1 @ M_2 @ ..., left (S, a, r) and M_i (S, r, r), from the cheaper end."""
    a, r = left.shape[-2:]
    acc = left if a <= r else None
    for M in factors:
        acc = M if acc is None else acc @ M
    return acc if a <= r else left @ acc


def _output_side(spec: NetworkSpec, S: int, gen: torch.Generator, degenerate: bool) -> torch.Tensor:
    """J = (G_0^T S_0^T A'_1 ... A'_L)^T, all factors K x K (module doc)."""
    N, d, K = spec.N, spec.d, spec.K
    dt, dev = torch.float64, gen.device
    G0t = torch.randn(S, d, K, generator=gen, dtype=dt, device=dev)
    S0 = _bartlett(torch.full((S,), float(N), dtype=dt, device=dev), K, K, gen)
    return _product(G0t, itertools.chain([S0.mT], _layer_factors(spec, S, K, gen, degenerate))).mT


def _input_side(spec: NetworkSpec, S: int, gen: torch.Generator, degenerate: bool) -> torch.Tensor:
    """J = Z A_L ... A_1 T_0[:, :r]^T, r = min(N, d) (module doc)."""
    N, d, K = spec.N, spec.d, spec.K
    r = min(N, d)
    dt, dev = torch.float64, gen.device
    Z = torch.randn(S, K, r, generator=gen, dtype=dt, device=dev)
    T0 = _bartlett(torch.full((S,), float(N), dtype=dt, device=dev), d, r, gen)
    return _product(Z, _layer_factors(spec, S, r, gen, degenerate)) @ T0.mT


@torch.no_grad()
def sample_jacobians(spec: NetworkSpec, n_samples: int, *, generator: torch.Generator,
                     x: torch.Tensor | None = None, chunk_size: int | None = None) -> torch.Tensor:
    """Exact draws of the whole Jacobian J(x) = P_out M^(L) ... M^(1) P_in over independent networks.

    The factor form of the d x d Gram chain (module doc), run on the output side when K < min(N, d):
    J = Z A_L ... A_1 F_0 / sqrt(N) or J^T = G_0^T S_0^T A'_1 ... A'_L / sqrt(N d). Exact in law for any input
    x chosen independently of the parameters; cost O(L m^3 + K d m) per sample, m = min(N, d, K),
    independent of N beyond that. As in :func:`mfat.laws.linear_map.sample_chain`, ``x`` (shape (d,) or (1, d)) is
    only looked at to detect the one exception, x = 0 with sigma_b^2 = 0, where every slope is phi'(0) = u
    (n_+ = N). ``chunk_size`` samples are drawn at a time (default: about 64 MB of float64 working arrays).

    Returns a float64 tensor of shape (n_samples, K, d) on ``generator.device``.
    """
    spec = _check_spec(spec)
    generator = _check_generator(generator)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    N, d, K = spec.N, spec.d, spec.K
    output_side = K < min(N, d)
    if chunk_size is None:
        r = K if output_side else min(N, d)
        per_sample = r * d + K * r + 4 * r * r + K * d  # the Bartlett end, Gaussian end, two layer factors, J
        chunk = max(1, int(CHUNK_BYTES // (8 * per_sample)))
    else:
        chunk = check_int("chunk_size", chunk_size, min_value=1)
    degenerate = False
    if x is not None:
        x = torch.as_tensor(x)
        if x.shape not in ((d,), (1, d)):
            raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (d,) or (1, d) with d = {d}")
        degenerate = spec.sigma_b2 == 0.0 and not bool(x.ne(0).any())
    draw = _output_side if output_side else _input_side
    scale = 1.0 / math.sqrt(N * d)
    return torch.cat([draw(spec, min(chunk, n_samples - start), generator, degenerate) * scale
                      for start in range(0, n_samples, chunk)])
