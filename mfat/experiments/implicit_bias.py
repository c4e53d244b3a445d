"""Chapter 7: the data sets and training runs behind "the implicit bias of adversarial training".

- :func:`separable_data`, :func:`discriminating_data`, :func:`sign_product_data`, :func:`mnist_pair`: inputs
  (n, d) float64 and labels (n,) in {-1, +1}.
- :func:`deep_linear_runs`: several (eps, threat model) configurations x seeds of deep linear networks, trained
  together (one batch), with the cosines to given target directions.
- :func:`two_layer_runs`: bias-free two-layer ReLU networks trained with each attack in turn.

Every random draw comes from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mfat.data import load
from mfat.companions.homogeneous import DeepLinear, TwoLayerReLU, train_deep_linear, train_two_layer
from mfat.validation import check_int, check_real

__all__ = ["separable_data", "discriminating_data", "sign_product_data", "mnist_pair", "deep_linear_runs",
           "two_layer_runs"]


def separable_data(n: int, d: int, margin: float, *, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, I_d), y = sign(u.x) for a random unit u, then x <- x + margin y u (so the data are separable
    through the origin with l2 margin >= margin). Returns X (n, d), y (n,)."""
    n, d = check_int("n", n, min_value=2), check_int("d", d, min_value=1)
    margin = check_real("margin", margin, min_value=0.0, min_inclusive=False)
    u = torch.randn(d, generator=generator, dtype=torch.float64, device=generator.device)
    u = u / u.norm()
    X = torch.randn(n, d, generator=generator, dtype=torch.float64, device=generator.device)
    y = torch.where(X @ u >= 0, 1.0, -1.0).to(torch.float64)
    X = X + margin * y[:, None] * u
    return X.cpu().numpy(), y.cpu().numpy()


def discriminating_data(n_per_class: int, center=(2.0, 1.0), spread: float = 0.2, *,
                        generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clusters, c + spread N(0, I) (y = +1) and -c + spread N(0, I) (y = -1), drawn independently:
    data whose l2 max-margin and l_inf-robust max-margin directions differ (c = (2, 1) is not on an axis, and the
    l1 cost of the l_inf worst case pulls the robust direction towards the larger coordinate axis)."""
    k = check_int("n_per_class", n_per_class, min_value=1)
    spread = check_real("spread", spread, min_value=0.0)
    c = torch.as_tensor(center, dtype=torch.float64, device=generator.device)
    if c.ndim != 1 or c.numel() < 1:
        raise ValueError(f"parameter 'center' = {center!r} is out of range: allowed a vector of reals")
    d = c.numel()
    pos = c + spread * torch.randn(k, d, generator=generator, dtype=torch.float64, device=generator.device)
    neg = -c + spread * torch.randn(k, d, generator=generator, dtype=torch.float64, device=generator.device)
    X = torch.cat([pos, neg]).cpu().numpy()
    return X, np.concatenate([np.ones(k), -np.ones(k)])


def sign_product_data(n: int, d: int, min_margin: float = 0.05, *,
                      generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An XOR-like set no linear classifier separates: x uniform on the sphere of radius sqrt(d), y = sign(x_1 x_2),
    keeping only points with |x_1 x_2| / ||x||^2 >= min_margin (rejection sampling). A bias-free ReLU network
    separates it: |x_1 + x_2| - |x_1 - x_2| = sum of four ReLUs has the sign of x_1 x_2."""
    n, d = check_int("n", n, min_value=1), check_int("d", d, min_value=2)
    min_margin = check_real("min_margin", min_margin, min_value=0.0, max_value=0.5, max_inclusive=False)
    kept = []
    count = 0
    while count < n:
        Z = torch.randn(4 * n, d, generator=generator, dtype=torch.float64, device=generator.device)
        Z = Z / Z.norm(dim=1, keepdim=True)
        Z = Z[(Z[:, 0] * Z[:, 1]).abs() >= min_margin]
        kept.append(Z)
        count += Z.shape[0]
    X = torch.cat(kept)[:n] * math.sqrt(d)
    y = torch.sign(X[:, 0] * X[:, 1])
    return X.cpu().numpy(), y.cpu().numpy()


def mnist_pair(n: int, classes=(0, 1), scaling: str = "unit") -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images of ``classes`` (flattened, (n, 784), float64) with y = -1 for the first
    class and +1 for the second (:func:`mfat.data.load`)."""
    X, y = load("mnist", "train", classes=tuple(classes), n=n, scaling=scaling, dtype=torch.float64)
    return X.numpy(), (2.0 * y.numpy() - 1.0)


def deep_linear_runs(X, y, configs: list[dict], *, seeds: int, widths, init_std: float, steps: int, lr: float,
                     schedule: str, norm_power: float | None = None, loss: str = "exp", n_log: int = 60,
                     targets: dict | None = None, generator: torch.Generator, device="cpu") -> dict:
    """Train ``len(configs) x seeds`` deep linear networks in one batch.

    configs: list of {"name": str, "eps": float, "linf": bool}. Returns the arrays of
    :func:`mfat.companions.homogeneous.train_deep_linear` with the run axis reshaped to (config, seed): e.g. ``cos_<t>``
    (T, C, S), ``sigma1`` (T, C, S, L); plus ``names`` (C,) and ``eps`` (C,).
    """
    seeds = check_int("seeds", seeds, min_value=1)
    C = len(configs)
    if C == 0:
        raise ValueError("parameter 'configs' is empty: allowed a non-empty list of configurations")
    eps = np.repeat([float(c["eps"]) for c in configs], seeds)
    linf = np.repeat([bool(c.get("linf", False)) for c in configs], seeds)
    net = DeepLinear(X.shape[1], tuple(widths), runs=C * seeds, init_std=init_std, generator=generator,
                     device=device)
    out = train_deep_linear(net, torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(eps),
                            torch.as_tensor(linf), steps=steps, lr=lr, schedule=schedule, loss=loss,
                            norm_power=norm_power, n_log=n_log, targets=targets)
    res = {"step": out.pop("step"), "names": [c["name"] for c in configs],
           "eps": np.array([float(c["eps"]) for c in configs])}
    for k, v in out.items():
        res[k] = v.reshape(v.shape[0], C, seeds, *v.shape[2:])
    return res


def two_layer_runs(X, y, attacks: list[dict], *, m: int, init_scale: float, steps: int, lr: float,
                   lr_fit: float, norm_power: float, pgd_steps: int, n_log: int, loss: str = "exp",
                   dtype: torch.dtype = torch.float64, generator: torch.Generator, device="cpu") -> dict:
    """Train one bias-free two-layer ReLU network per entry of ``attacks`` ({"name", "attack", "eps"}), all from
    the same initialisation; returns {name: the arrays of :func:`mfat.companions.homogeneous.train_two_layer`}."""
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=dtype, device=device)
    init = TwoLayerReLU(X.shape[1], m, init_scale, generator=generator, dtype=dtype, device=device)
    out = {}
    for cfg in attacks:
        model = init.clone()
        out[cfg["name"]] = train_two_layer(model, Xt, yt, attack=cfg["attack"], eps=float(cfg["eps"]), steps=steps,
                                           lr=lr, lr_fit=lr_fit, norm_power=norm_power, pgd_steps=pgd_steps,
                                           loss=loss, n_log=n_log)
    return out
