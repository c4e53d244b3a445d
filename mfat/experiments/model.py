"""Chapter 0: signal propagation q^(l) = ||h^(l)||^2 / N through random Definition 3.1 networks."""

from __future__ import annotations

import numpy as np
import torch

from mfat.data import gaussian_inputs
from mfat.model.networks import ReLULikeNet
from mfat.validation import check_int

__all__ = ["signal_propagation"]


@torch.no_grad()
def signal_propagation(d: int, N: int, L: int, sigma_w2: float, sigma_b2: float, *, u: float = 1.0,
                       v: float = 0.0, residual: bool = False, n_networks: int = 50,
                       generator: torch.Generator, device="cpu") -> dict:
    """Measure q^(l) for l = 0..L over ``n_networks`` independent networks at one fixed input.

    The input has ||x|| = sqrt(d), so q^(0) = 1. Returns float64 arrays: ``q`` (n_networks, L + 1)
    and ``z_last`` (n_networks * N,), the last layer's pre-activations (for their Gaussian law).
    """
    n_networks = check_int("n_networks", n_networks, min_value=2)
    x = gaussian_inputs(1, d, generator=generator, dtype=torch.float64, device=device)
    q = np.empty((n_networks, L + 1))
    z_last = []
    for i in range(n_networks):
        net = ReLULikeNet(d, N, 1, L, sigma_w2, sigma_b2, u, v, residual, generator=generator,
                          dtype=torch.float64, device=device)
        layers = net.hidden(x)
        q[i, 0] = float((x @ net.P_in.T).pow(2).sum() / N)
        q[i, 1:] = [float(h.pow(2).sum() / N) for _, h in layers]
        z_last.append(layers[-1][0].flatten().cpu().numpy())
    return {"q": q, "z_last": np.concatenate(z_last)}
