"""Chapter 0: signal propagation q^(l) = ||h^(l)||^2 / N through random Definition 3.1 networks.

- :func:`signal_configs`: the (kind, sigma_w^2, residual) settings of the chapter.
- :func:`signal_propagation`: q^(l) of many random networks at one input (one setting).
- :func:`signal_measurement`: :func:`signal_propagation` for every setting, each from its own generator.
- :func:`signal_prediction`: the signal recursion (eq-signal-recursion) for every setting.
- :func:`recursion_fit`: how far the measured mean of q^(l) is from the recursion, in standard errors.
- :func:`preactivation_variance_ratio`: the last layer's pre-activation variance over sigma_w^2 q^(L-1) + sigma_b^2,
  one value per network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from mfat import theory
from mfat.data import gaussian_inputs
from mfat.model.networks import ReLULikeNet
from mfat.validation import check_int, check_real

__all__ = ["signal_configs", "signal_propagation", "signal_measurement", "signal_prediction", "recursion_fit",
           "preactivation_variance_ratio", "critical_setting"]


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


def signal_configs(s) -> list[tuple[str, float, bool]]:
    """The settings of chapter 0 as (kind, sigma_w^2, residual): ``s.vanilla_sigma_w2``, then ``s.residual_sigma_w2``.

    s: :class:`mfat.chapter.settings.model.ModelSettings` (or anything with those two tuples).
    """
    return ([("vanilla", w, False) for w in s.vanilla_sigma_w2]
            + [("residual", w, True) for w in s.residual_sigma_w2])


def signal_measurement(s, *, generators: Callable[[int], torch.Generator], device="cpu") -> dict:
    """:func:`signal_propagation` for every setting of :func:`signal_configs`; setting i draws from ``generators(i)``.

    Returns {(kind, sigma_w^2): {"q": (n_networks, L + 1), "z_last": (n_networks N,)}}.
    """
    out = {}
    for i, (kind, w, res) in enumerate(signal_configs(s)):
        out[(kind, w)] = signal_propagation(s.d, s.N, s.L, w, s.sigma_b2, u=s.u, v=s.v, residual=res,
                                            n_networks=s.n_networks, generator=generators(i), device=device)
    return out


def signal_prediction(s) -> dict:
    """The signal recursion (eq-signal-recursion) from q^(0) = 1 for every setting: {(kind, sigma_w^2): (L + 1,)}.

    vanilla: E q^(l) = alpha (sigma_w^2 E q^(l-1) + sigma_b^2); residual: E q^(l-1) plus the same term.
    """
    return {(kind, w): theory.signal_recursion(1.0, s.L, w, s.sigma_b2, s.u, s.v, res)
            for kind, w, res in signal_configs(s)}


def recursion_fit(q: np.ndarray, predicted: np.ndarray) -> dict:
    """The layer where the measured mean of q^(l) deviates most from the recursion, in standard errors.

    q: (n, L + 1) measured q^(l) of n networks; predicted: (L + 1,). Layer 0 (the input, q^(0) = 1 by
    construction) is left out. Returns mean and se (L + 1,), z (L + 1,) = |mean - predicted| / se, and at the
    worst layer ``layer``, ``z_worst``, ``predicted``, ``measured`` (the mean), ``se``.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] < 2 or q.shape[1] != len(predicted) or q.shape[1] < 2:
        raise ValueError(f"parameter 'q' has shape {q.shape}: allowed (n >= 2, L + 1 = {len(predicted)} >= 2)")
    mean, se = q.mean(0), q.std(0, ddof=1) / np.sqrt(len(q))
    z_scores = np.abs(mean - predicted) / np.maximum(se, 1e-300)
    l_worst = int(np.argmax(z_scores[1:])) + 1
    return {"mean": mean, "se": se, "z": z_scores, "layer": l_worst, "z_worst": z_scores[l_worst],
            "predicted": predicted[l_worst], "measured": mean[l_worst], "se_worst": se[l_worst]}


def critical_setting(s) -> tuple[str, float]:
    """The middle vanilla sigma_w^2 of the settings (the critical point, 2 for ReLU), as a key of the results."""
    return ("vanilla", s.vanilla_sigma_w2[len(s.vanilla_sigma_w2) // 2])


def preactivation_variance_ratio(z_last: np.ndarray, n_networks: int, variance: float) -> np.ndarray:
    """Per network, the sample variance of its last pre-activations over the predicted ``variance``: (n_networks,).

    z_last: (n_networks N,), network by network. The N units of one network share that network's q^(L-1), so
    the independent samples are the networks, not the units. ``variance`` = sigma_w^2 E q^(L-1) + sigma_b^2.
    """
    n_networks = check_int("n_networks", n_networks, min_value=1)
    variance = check_real("variance", variance, min_value=0.0, min_inclusive=False)
    z_last = np.asarray(z_last, dtype=np.float64)
    if z_last.ndim != 1 or z_last.size % n_networks:
        raise ValueError(f"parameter 'z_last' has shape {z_last.shape}: allowed (n_networks * N,) with "
                         f"n_networks = {n_networks}")
    return z_last.reshape(n_networks, -1).var(axis=1) / variance
