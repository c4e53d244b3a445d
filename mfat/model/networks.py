"""Definition 3.1: ReLU-like fully connected networks, vanilla and residual (sources appendix: Definition 3.1).

    h^(0) = P_in x
    z^(l) = W^(l) h^(l-1) + b^(l),                   l = 1..L
    h^(l) = phi(z^(l))                               (vanilla)
    h^(l) = P^(l) h^(l-1) + phi(z^(l))               (residual)
    f(x)  = P_out h^(L)

phi(z) = u z (z >= 0), v z (z < 0); its slopes D^(l) = diag(phi'(z^(l))) take phi'(0) := u. Frozen at their
random initialisation (buffers): P_in (N x d, entries N(0, 1/d)), P_out (K x N, N(0, 1/N)) and the residual
shortcuts P^(l) (N x N, N(0, 1/N)).
Trainable (parameters): W^(l) (N x N, N(0, sigma_w^2 / N)) and b^(l) (N, N(0, sigma_b^2)).

The layer rule is written once, here, and every walk through the layers uses it: :func:`apply_layer` (the map
h^(l-1) -> (z^(l), h^(l)), for one network or a stack of G), :func:`phi` and :func:`phi_prime`, and the rule's
linearisation at fixed slopes, forwards (:func:`layer_tangent`, dh^(l) = D^(l) W^(l) dh^(l-1) + P^(l) dh^(l-1))
and backwards (:func:`layer_cotangent`, its transpose). Because phi(z) = phi'(z) z, the linearisation at the
slopes of x reproduces f(x) itself (:mod:`mfat.model.linearize`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from mfat import theory
from mfat.runtime import make_generator, resolve_device
from mfat.validation import check_int, check_real

__all__ = ["NetworkSpec", "ReLULikeNet", "phi", "phi_prime", "shortcut", "apply_layer", "layer_tangent",
           "layer_cotangent"]


# ------------------------------------------------------------------------------------------ the layer rule
def phi(z: torch.Tensor, u: float, v: float, *, fused: bool = False) -> torch.Tensor:
    """phi(z) = u z for z >= 0 and v z for z < 0, elementwise.

    ``fused``: when u = 1, use torch's single ReLU / leaky-ReLU kernel (the batched networks of
    :mod:`mfat.model.grid`). The values agree with the default except for the sign of a zero output; autograd then
    differentiates an exact zero with slope 0 (ReLU) or v (leaky ReLU) instead of phi'(0) := u.
    """
    if fused and u == 1.0:
        return F.relu(z) if v == 0.0 else F.leaky_relu(z, v)
    return torch.where(z >= 0, u * z, v * z)


def phi_prime(z: torch.Tensor, u: float, v: float) -> torch.Tensor:
    """The slopes D = phi'(z): u where z >= 0 (so phi'(0) := u), v where z < 0; z's shape and dtype."""
    return torch.where(z >= 0, torch.full_like(z, u), torch.full_like(z, v))


def shortcut(h: torch.Tensor, a: torch.Tensor, P: torch.Tensor | None) -> torch.Tensor:
    """h^(l) from the layer's new part a: ``P h + a`` (residual) or ``a`` (vanilla, ``P`` None).

    Row vectors: h, a (..., N) with P (N, N); or a stack, h, a (G, B, N) with P (G, N, N).
    """
    if P is None:
        return a
    return (h @ P.T if P.ndim == 2 else torch.bmm(h, P.transpose(1, 2))) + a


def apply_layer(h: torch.Tensor, W: torch.Tensor, b: torch.Tensor, u: float, v: float, P: torch.Tensor | None = None,
          *, fused: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer of Definition 3.1: z = W h + b and h' = phi(z) (+ P h when residual); returns (z, h').

    One network: h (B, N), W (N, N), b (N,), P (N, N) or None. A stack of G networks (one batched product per
    layer): h (G, B, N), W (G, N, N), b (G, N), P (G, N, N) or None. ``fused`` as in :func:`phi`.
    """
    if W.ndim == 2:
        z = h @ W.T + b
    else:
        z = torch.baddbmm(b.unsqueeze(1), h, W.transpose(1, 2))
    return z, shortcut(h, phi(z, u, v, fused=fused), P)


def layer_tangent(T: torch.Tensor, W: torch.Tensor, D: torch.Tensor, P: torch.Tensor | None = None, *,
                  WT: torch.Tensor | None = None) -> torch.Tensor:
    """The layer linearised at slopes D, on column tangents: T' = D (W T) + P T (vanilla: no P T).

    T (..., N, k): tangents of h^(l-1) (e.g. dh/dx, k = d); W, P (N, N); D (..., N) the slopes phi'(z^(l)).
    ``WT``: W @ T when the caller already has it. Returns (..., N, k).
    """
    new = D[..., None] * (W @ T if WT is None else WT)
    return new if P is None else P @ T + new


def layer_cotangent(R: torch.Tensor, W: torch.Tensor, D: torch.Tensor,
                    P: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The transpose of :func:`layer_tangent`, on row cotangents R of h^(l) (..., N).

    D: the slopes, broadcastable against R. Returns (R D, the cotangent of z^(l); R D W + R P, that of h^(l-1)).
    """
    RD = R * D
    R_prev = RD @ W
    return RD, R_prev if P is None else R_prev + R @ P


@dataclass(frozen=True)
class NetworkSpec:
    """The hyper-parameters of Definition 3.1, validated on construction."""

    d: int
    N: int
    K: int
    L: int
    sigma_w2: float = 2.0
    sigma_b2: float = 0.0
    u: float = 1.0
    v: float = 0.0
    residual: bool = False

    def __post_init__(self):
        check_int("d", self.d, min_value=1)
        check_int("N", self.N, min_value=1)
        check_int("K", self.K, min_value=1)
        check_int("L", self.L, min_value=1)
        check_real("sigma_w2", self.sigma_w2, min_value=0.0)
        check_real("sigma_b2", self.sigma_b2, min_value=0.0)
        theory.alpha(self.u, self.v)  # validates u, v
        if not isinstance(self.residual, bool):
            raise ValueError(f"parameter 'residual' = {self.residual!r} is out of range: allowed True or False")

    @property
    def alpha(self) -> float:
        return theory.alpha(self.u, self.v)

    @property
    def omega(self) -> float:
        return theory.omega(self.sigma_w2, self.u, self.v, self.residual)

    def as_dict(self) -> dict:
        return asdict(self)


class ReLULikeNet(nn.Module):
    """A Definition 3.1 network ``f: (B, d) -> (B, K)``.

    Args: d, N, K, L, sigma_w2, sigma_b2, u, v, residual (see :class:`NetworkSpec`); ``seed`` or an
    explicit ``generator`` (no hidden global RNG); ``dtype`` and ``device`` of all tensors.

    Attributes: ``P_in`` (N, d), ``P_out`` (K, N), ``P`` (L, N, N) or ``None`` (buffers);
    ``W`` (ParameterList of L tensors (N, N)), ``b`` (ParameterList of L tensors (N,)).
    """

    def __init__(
        self,
        d: int,
        N: int,
        K: int,
        L: int,
        sigma_w2: float = 2.0,
        sigma_b2: float = 0.0,
        u: float = 1.0,
        v: float = 0.0,
        residual: bool = False,
        *,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
    ):
        super().__init__()
        self.spec = NetworkSpec(d, N, K, L, float(sigma_w2), float(sigma_b2), float(u), float(v), residual)
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"parameter 'dtype' = {dtype!r} is out of range: allowed torch.float32 or torch.float64")
        device = resolve_device(device)
        gen = make_generator(seed, generator, device=device)
        s = self.spec

        def randn(*shape, std: float) -> torch.Tensor:
            return torch.randn(*shape, generator=gen, dtype=dtype, device=device) * std

        self.register_buffer("P_in", randn(N, d, std=(1.0 / d) ** 0.5))
        self.W = nn.ParameterList([nn.Parameter(randn(N, N, std=(s.sigma_w2 / N) ** 0.5)) for _ in range(L)])
        self.b = nn.ParameterList([nn.Parameter(randn(N, std=s.sigma_b2**0.5)) for _ in range(L)])
        self.register_buffer("P", randn(L, N, N, std=(1.0 / N) ** 0.5) if residual else None)
        self.register_buffer("P_out", randn(K, N, std=(1.0 / N) ** 0.5))

    # -- forward ---------------------------------------------------------------------------------
    def hidden(self, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Pre-activations and hidden states per layer: ``[(z^(l), h^(l)) for l = 1..L]``, each (B, N)."""
        self._check_input(x)
        s = self.spec
        h = x @ self.P_in.T
        out = []
        for l in range(s.L):
            z, h = apply_layer(h, self.W[l], self.b[l], s.u, s.v, self.P[l] if s.residual else None)
            out.append((z, h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = P_out h^(L); x (B, d) -> (B, K)."""
        return self.hidden(x)[-1][1] @ self.P_out.T

    # -- summaries -------------------------------------------------------------------------------
    def sigma_w2_per_layer(self) -> torch.Tensor:
        """Empirical weight variance ||W^(l)||_F^2 / N per layer, shape (L,) (sources appendix: Notation)."""
        N = self.spec.N
        return torch.stack([w.detach().pow(2).sum() / N for w in self.W])

    def _check_input(self, x: torch.Tensor) -> None:
        d = self.spec.d
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (B, d) with d = {d}")

    def __repr__(self) -> str:
        s = self.spec
        kind = "residual" if s.residual else "vanilla"
        return (f"ReLULikeNet({kind}, d={s.d}, N={s.N}, K={s.K}, L={s.L}, sigma_w2={s.sigma_w2}, "
                f"sigma_b2={s.sigma_b2}, u={s.u}, v={s.v}; alpha={s.alpha:.4g}, omega={s.omega:.4g}, "
                f"dtype={self.P_in.dtype}, device={self.P_in.device})")
