"""Definition 3.1: ReLU-like fully connected networks, vanilla and residual (spec section 2.1).

    h^(0) = P_in x
    z^(l) = W^(l) h^(l-1) + b^(l),                   l = 1..L
    h^(l) = phi(z^(l))                               (vanilla)
    h^(l) = P^(l) h^(l-1) + phi(z^(l))               (residual)
    f(x)  = P_out h^(L)

phi(z) = u z (z >= 0), v z (z < 0). Frozen at their random initialisation (buffers): P_in (N x d,
entries N(0, 1/d)), P_out (K x N, N(0, 1/N)) and the residual shortcuts P^(l) (N x N, N(0, 1/N)).
Trainable (parameters): W^(l) (N x N, N(0, sigma_w^2 / N)) and b^(l) (N, N(0, sigma_b^2)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from mfat import theory
from mfat.runtime import make_generator, resolve_device
from mfat.validation import check_int, check_real

__all__ = ["NetworkSpec", "ReLULikeNet", "relu_like"]


def relu_like(z: torch.Tensor, u: float, v: float) -> torch.Tensor:
    """phi(z) = u z for z >= 0 and v z for z < 0 (elementwise)."""
    return torch.where(z >= 0, u * z, v * z)


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
        for layer in range(s.L):
            z = h @ self.W[layer].T + self.b[layer]
            act = relu_like(z, s.u, s.v)
            h = h @ self.P[layer].T + act if s.residual else act
            out.append((z, h))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) = P_out h^(L); x (B, d) -> (B, K)."""
        return self.hidden(x)[-1][1] @ self.P_out.T

    # -- summaries -------------------------------------------------------------------------------
    def sigma_w2_per_layer(self) -> torch.Tensor:
        """Empirical weight variance ||W^(l)||_F^2 / N per layer, shape (L,) (spec section 1)."""
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
