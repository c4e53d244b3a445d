"""The exact decomposition f(x) = J(x) x + a(x) of a ReLU-like network (sources appendix: Definition 3.1).

With D^(l)(x) = diag(phi'(z^(l))) (entries u or v; phi'(0) := u) and M^(l) = D^(l) W^(l)
(vanilla) or P^(l) + D^(l) W^(l) (residual):

    J(x) = P_out M^(L) ... M^(1) P_in                                   (K, d)
    a(x) = P_out sum_l (M^(L) ... M^(l+1)) D^(l) b^(l)                  (K,)

Because phi(z) = phi'(z) z exactly, J(x) x + a(x) = f(x), and inside one activation region J is the
input Jacobian. The products are accumulated from the output side, which costs O(B K N^2 L) and
never forms an N x d tangent.
"""

from __future__ import annotations

import torch

from mfat.model.networks import ReLULikeNet, layer_cotangent, phi_prime

__all__ = ["activation_slopes", "decompose"]


def activation_slopes(net: ReLULikeNet, x: torch.Tensor) -> list[torch.Tensor]:
    """D^(l)(x) as vectors: list of L tensors (B, N) with entries u (z >= 0) or v (z < 0)."""
    s = net.spec
    return [phi_prime(z, s.u, s.v) for z, _ in net.hidden(x)]


@torch.no_grad()
def decompose(net: ReLULikeNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(J, a)`` with J (B, K, d) and a (B, K) such that f(x) = J x + a, for x (B, d)."""
    s = net.spec
    slopes = activation_slopes(net, x)
    B = x.shape[0]
    R = net.P_out.expand(B, s.K, s.N)  # P_out M^(L) ... M^(l+1), (B, K, N)
    a = torch.zeros(B, s.K, dtype=x.dtype, device=x.device)
    for layer in reversed(range(s.L)):
        RD, R = layer_cotangent(R, net.W[layer], slopes[layer][:, None, :], net.P[layer] if s.residual else None)
        a = a + RD @ net.b[layer]  # RD = P_out M^(L) ... M^(l+1) D^(l)
    return R @ net.P_in, a
