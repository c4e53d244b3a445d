"""Chapter 5: the Fisher-Rao norm of random networks and of networks under (adversarial) training.

- :func:`fisher_rao_at_init`  ||w||_FR^2 of independent random networks (Monte Carlo of Theorem 5.8 at t = 0);
- :func:`initial_slopes`      the gradient-flow derivative dFR/dt at the current weights, split into the part
  carried by the shrinking weight norms (the mechanism of Theorem 5.8) and the rest;
- :func:`capacity_run`        one training run with the exact FR recorded on a fixed batch, plus the mean-field
  FR evaluated at the measured per-layer weight variances (Assumption 5.2).
"""

from __future__ import annotations

import numpy as np
import torch

from mfat import theory
from mfat.data import gaussian_inputs
from mfat.model.fisher_rao import directional_derivatives, fisher_rao_metric, fisher_rao_per_sample
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig, batch_objective, train
from mfat.validation import check_int

__all__ = ["fisher_rao_at_init", "initial_slopes", "capacity_run", "input_q0"]


def input_q0(X: torch.Tensor) -> float:
    """q^(0) = E_x ||x||^2 / d over the rows of X (n, d): the factor of the FR formula (1 for ||x|| = sqrt(d))."""
    return float(X.double().pow(2).sum(1).mean() / X.shape[1])


@torch.no_grad()
def fisher_rao_at_init(d: int, N: int, K: int, L: int, sigma_w2: float, *, sigma_b2: float = 0.0, u: float = 1.0,
                       v: float = 0.0, residual: bool = False, n_networks: int = 50, n_inputs: int = 16,
                       X: torch.Tensor | None = None, generator: torch.Generator, device="cpu",
                       dtype: torch.dtype = torch.float64) -> dict:
    """||w||_FR^2 (exact forward-mode estimator) of ``n_networks`` independent random networks.

    Each network gets ``n_inputs`` fresh Gaussian inputs with ||x|| = sqrt(d) (q^(0) = 1), or the fixed batch
    ``X`` (n, d) when given (e.g. MNIST images; then q^(0) = :func:`input_q0`). Returns float64 arrays ``fr``
    (n_networks,), ``layers`` (n_networks, L) and the float ``q0``.
    """
    n_networks = check_int("n_networks", n_networks, min_value=2)
    n_inputs = check_int("n_inputs", n_inputs, min_value=1)
    if X is not None:
        X = X.to(device=device, dtype=dtype)
        d = X.shape[1]
    layers = np.empty((n_networks, L))
    q0 = []
    for i in range(n_networks):
        net = ReLULikeNet(d, N, K, L, sigma_w2, sigma_b2, u, v, residual, generator=generator, dtype=dtype,
                          device=device)
        x = X if X is not None else gaussian_inputs(n_inputs, d, generator=generator, dtype=dtype, device=device)
        layers[i] = fisher_rao_per_sample(net, x).mean(0).double().cpu().numpy()
        q0.append(input_q0(x))
    return {"fr": layers.sum(1), "layers": layers, "q0": float(np.mean(q0))}


def initial_slopes(net: ReLULikeNet, X: torch.Tensor, y: torch.Tensor, X_fr: torch.Tensor, config: TrainConfig, *,
                   generator: torch.Generator) -> dict:
    """dFR/dt at the current weights under gradient flow of ``config``'s objective on (X, y), t = lr * steps.

    FR is the exact ||w||_FR^2 on the fixed batch X_fr; the loss gradient g is that of
    :func:`mfat.model.training.batch_objective` on all of (X, y) (PGD maximisers drawn with ``generator``).

    - ``full``   = -<grad_theta FR, g> over all trained parameters (W and b): the exact first-order slope;
    - ``radial`` = -sum_l <grad_{W^(l)} FR, W^(l)> <W^(l), g_l> / ||W^(l)||_F^2: the part carried by the change
      of the weight norms alone, i.e. the only part a model with i.i.d. weights of variance sigma_w^2(t)
      (Assumption 5.2) keeps.

    Returns floats ``full``, ``radial``, ``fr``, ``L_adv`` (batch mean; NaN if the objective has none), ``ce``,
    ``sigma_w2`` (mean over layers) and the array ``sigma_w2_layers`` (L,).
    """
    params = [*net.W, *net.b]
    out = batch_objective(net, X, y, config, generator=generator)
    g = torch.autograd.grad(out["loss"], params, allow_unused=True)
    fr = directional_derivatives(net, X_fr, differentiable=True).pow(2).sum(-1).mean(0).sum()
    g_fr = torch.autograd.grad(fr, params, allow_unused=True)
    full, radial = 0.0, 0.0
    for p, a, b in zip(params, g_fr, g):
        if a is not None and b is not None:
            full -= float((a.double() * b.double()).sum())
    for layer, W in enumerate(net.W):
        a, b = g_fr[layer], g[layer]
        if a is not None and b is not None:
            Wd = W.detach().double()
            radial -= float((a.double() * Wd).sum() * (Wd * b.double()).sum() / Wd.pow(2).sum())
    sw = net.sigma_w2_per_layer().double().cpu().numpy()
    return {"full": full, "radial": radial, "fr": float(fr.detach()), "L_adv": float(out["L_adv"]),
            "ce": float(out["ce"]), "sigma_w2": float(sw.mean()), "sigma_w2_layers": sw}


def capacity_run(X: torch.Tensor, y: torch.Tensor, X_fr: torch.Tensor, *, N: int, L: int, K: int, sigma_w2: float,
                 config: TrainConfig, generator: torch.Generator, X_eval: torch.Tensor | None = None,
                 y_eval: torch.Tensor | None = None, residual: bool = False, device="cpu",
                 dtype: torch.dtype = torch.float32) -> dict:
    """Train one fresh network (bias-free init, sigma_b = 0) with ``config`` and record its capacity.

    Returns the training table as float64 arrays (columns of :func:`mfat.model.training.train`, including ``fr``:
    the exact ||w||_FR^2 on the fixed batch X_fr), and ``fr_mf``: the formula of Theorem 5.8 evaluated at
    the measured per-layer variances sigma_l^2(t) with q^(0) of X_fr (what FR would be if the weights stayed
    i.i.d. Gaussian, Assumption 5.2), and the float ``q0``.
    """
    net = ReLULikeNet(X.shape[1], N, K, L, sigma_w2, 0.0, residual=residual, generator=generator, dtype=dtype,
                      device=device)
    X_fr = X_fr.to(device=device, dtype=dtype)
    table = train(net, X.to(device=device, dtype=dtype), y.to(device), config, generator=generator,
                  X_eval=None if X_eval is None else X_eval.to(device=device, dtype=dtype),
                  y_eval=None if y_eval is None else y_eval.to(device),
                  metrics={"fr": fisher_rao_metric(X=X_fr)})
    out = {col: table[col].to_numpy(dtype=np.float64) for col in table.columns}
    q0 = input_q0(X_fr)
    layer_cols = [f"sigma_w2_{i + 1}" for i in range(L)]
    out["fr_mf"] = np.array([theory.fisher_rao_expectation(list(row), L, K, residual=residual, q0=q0)
                             for row in table[layer_cols].to_numpy(dtype=np.float64)])
    out["q0"] = q0
    return out
