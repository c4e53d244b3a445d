"""Adversarial perturbations of a two-layer network and the closed-form predictions about them
(chapter 6; Kumano, Kera, Yamasaki, NeurIPS 2024; sources appendix: the setting and Theorems A and B).

- :func:`random_targets` draws the target labels y_adv in {-1, +1}, uniform and independent of y.
- :func:`perturbations`: one normalised-gradient l2 step per sample toward its target (sources appendix: the setting),
  eta_n = eps y_adv_n grad f(x_n) / ||grad f(x_n)||. For any non-decreasing loss with ell' > 0 this is the
  same step as -eps grad ell / ||grad ell||, so it does not depend on the loss.
- :func:`training_inputs`: the inputs of the second classifier g, eta_n (scenario "a") or x_n + eta_n ("b").
- :func:`kernel_matrix` (torch, batched) evaluates the closed-form Phi of :mod:`mfat.theory.perturbation_learning`.
- :func:`predicted_direction`: Theorem A's class-signed, kernel-weighted sum v_n = sum_k y_k Phi(x_n, x_k) x_k.
- :func:`f_hat`, :func:`g_hat`: the leading terms of f_t - f_0 and g_t - g_0 (sources appendix: Theorems A and B), whose zero sets
  are drawn in the decision maps.

Shapes: a leading batch dimension B (one entry per network) is optional everywhere; X (B, N, d) or (N, d).
"""

from __future__ import annotations

import torch

from mfat.theory.perturbation_learning import kernel_correlation, kernel_from_angle
from mfat.companions.two_layer import TwoLayerNets
from mfat.validation import check_choice, check_int, check_real

__all__ = ["SCENARIOS", "random_targets", "unit_gradients", "perturbations", "scale_directions", "training_inputs", "kernel_matrix",
           "predicted_direction", "abs_cosine", "f_hat", "g_hat", "lazy_change"]

SCENARIOS = ("a", "b")


def random_targets(batch: int, n: int, *, generator: torch.Generator, dtype=torch.float64, device="cpu") -> torch.Tensor:
    """Target labels y_adv, uniform on {-1, +1}, independent of everything else: (batch, n)."""
    batch, n = check_int("batch", batch, min_value=1), check_int("n", n, min_value=1)
    bits = torch.randint(0, 2, (batch, n), generator=generator, device=generator.device)
    return (2 * bits - 1).to(device=device, dtype=dtype)


@torch.no_grad()
def unit_gradients(net: TwoLayerNets, X: torch.Tensor) -> torch.Tensor:
    """grad_x f(x) / ||grad_x f(x)||_2 for every network and input: (B, n, d) (0 where the gradient is 0)."""
    g = net.input_gradient(X)
    norm = g.norm(dim=-1, keepdim=True)
    return torch.where(norm > 0, g / norm.clamp_min(torch.finfo(g.dtype).tiny), torch.zeros_like(g))


@torch.no_grad()
def perturbations(net: TwoLayerNets, X: torch.Tensor, targets: torch.Tensor, eps) -> torch.Tensor:
    """eta_n = eps y_adv_n grad f(x_n) / ||grad f(x_n)||_2 (sources appendix: the setting): (B, n, d), ||eta_n|| = eps.

    ``targets`` (B, n) or (n,) in {-1, +1}; ``eps`` >= 0, a float or a (B,) tensor (one size per network).
    """
    return scale_directions(unit_gradients(net, X), targets, eps)


def scale_directions(U: torch.Tensor, targets: torch.Tensor, eps) -> torch.Tensor:
    """eps y_adv_n u_n for unit directions U (B, n, d) (the last step of :func:`perturbations`): (B, n, d)."""
    if targets.ndim == 1:
        targets = targets.unsqueeze(0)
    if U.ndim != 3 or targets.shape[-1] != U.shape[1] or targets.shape[0] not in (1, U.shape[0]):
        raise ValueError(f"parameter 'targets' has shape {tuple(targets.shape)}: allowed ({U.shape[0]}, {U.shape[1]})")
    if not bool(((targets == 1) | (targets == -1)).all()):
        raise ValueError("parameter 'targets' is out of range: allowed labels in {-1, +1}")
    if isinstance(eps, torch.Tensor):
        eps = eps.to(U).reshape(-1)
        if eps.shape[0] not in (1, U.shape[0]) or bool((eps < 0).any()) or not bool(torch.isfinite(eps).all()):
            raise ValueError(f"parameter 'eps' must be finite, >= 0, a float or a ({U.shape[0]},) tensor")
        eps = eps[:, None, None]
    else:
        eps = check_real("eps", eps, min_value=0.0)
    return eps * targets.to(U)[:, :, None] * U


def training_inputs(X: torch.Tensor, eta: torch.Tensor, scenario: str) -> torch.Tensor:
    """The second classifier's inputs: eta (scenario "a", perturbations only) or X + eta ("b")."""
    scenario = check_choice("scenario", scenario, SCENARIOS)
    return eta if scenario == "a" else X + eta


def kernel_matrix(Z1: torch.Tensor, Z2: torch.Tensor, gamma: float = 0.0) -> torch.Tensor:
    """Closed-form Phi(z1, z2) (theory.kernel) for all pairs: (..., n1, d), (..., n2, d) -> (..., n1, n2)."""
    if Z1.shape[-1] != Z2.shape[-1]:
        raise ValueError(f"parameters 'Z1', 'Z2' have dimensions {Z1.shape[-1]}, {Z2.shape[-1]}: allowed equal")
    d = Z1.shape[-1]
    dot = torch.matmul(Z1, Z2.transpose(-1, -2))
    rho = kernel_correlation(dot, Z1.pow(2).sum(-1)[..., :, None], Z2.pow(2).sum(-1)[..., None, :], d)
    return kernel_from_angle(torch.arccos(rho.clamp(-1.0, 1.0)), gamma)


def _weighted(Z: torch.Tensor, X: torch.Tensor, coef: torch.Tensor, gamma: float, chunk: int) -> torch.Tensor:
    """sum_k Phi(z, x_k) coef_k x_k for every row z of Z, in row chunks: (..., nz, d)."""
    chunk = check_int("chunk", chunk, min_value=1)
    CX = coef[..., :, None] * X
    parts = [torch.matmul(kernel_matrix(Z[..., i:i + chunk, :], X, gamma), CX) for i in range(0, Z.shape[-2], chunk)]
    return torch.cat(parts, dim=-2)


def predicted_direction(X: torch.Tensor, y: torch.Tensor, gamma: float = 0.0, *, Z: torch.Tensor | None = None,
                        chunk: int = 2048) -> torch.Tensor:
    """Theorem A's direction v(z) = sum_k y_k Phi(z, x_k) x_k at z = x_n (default) or the rows of Z.

    X (..., N, d), y (..., N) -> (..., N, d) (or (..., nz, d)). For the identity loss the lazy gradient
    change is (t / N) v(z) (theory.kernel.lazy_gradient_change); only its direction is used here.
    """
    y = y.to(X)
    return _weighted(X if Z is None else Z.to(X), X, y, gamma, chunk)


def abs_cosine(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """|cos(a, b)| row by row over the last dimension: (..., d), (..., d) -> (...)."""
    num = (A * B).sum(-1).abs()
    den = A.norm(dim=-1) * B.norm(dim=-1)
    return num / den.clamp_min(torch.finfo(A.dtype).tiny)


def f_hat(Z: torch.Tensor, X: torch.Tensor, y: torch.Tensor, gamma: float = 0.0, *, chunk: int = 2048) -> torch.Tensor:
    """f-hat(z) = (1/N) sum_n y_n Phi(x_n, z) x_n.z (sources appendix: Theorems A and B; the lazy f_t - f_0 without init, bias and scale).

    Z (..., nz, d), X (..., N, d), y (..., N) -> (..., nz).
    """
    Z = Z.to(X)
    return (predicted_direction(X, y, gamma, Z=Z, chunk=chunk) * Z).sum(-1) / X.shape[-2]


def g_hat(Z: torch.Tensor, X: torch.Tensor, y: torch.Tensor, R: torch.Tensor, gamma: float = 0.0, *,
          normalise: bool = True, chunk: int = 2048) -> torch.Tensor:
    """g-hat(z) = (1/N) sum_n Phi(r_n, z) z.v_n / ||v_n||, v_n = sum_k y_k Phi(x_n, x_k) x_k (sources appendix: Theorems A and B).

    The leading, label-free term of g_t - g_0 (the target labels cancel: y_adv_n eta_n = eps v_n/||v_n||).
    ``normalise=False`` gives the authors' code version, z.v_n / N in place of z.v_n / ||v_n||.
    ``R`` (..., N, d) are g's training inputs (eta_n or x_n + eta_n). Returns (..., nz).
    """
    normalise = check_choice("normalise", normalise, (True, False))
    Z, R = Z.to(X), R.to(X)
    V = predicted_direction(X, y, gamma, chunk=chunk)  # (..., N, d)
    V = V / V.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(V.dtype).tiny) if normalise else V / X.shape[-2]
    out = []
    for i in range(0, Z.shape[-2], chunk):
        Zc = Z[..., i:i + chunk, :]
        K = kernel_matrix(Zc, R, gamma)  # (..., c, N)
        out.append((K * torch.matmul(Zc, V.transpose(-1, -2))).sum(-1) / X.shape[-2])
    return torch.cat(out, dim=-1)


def lazy_change(Z: torch.Tensor, R: torch.Tensor, labels: torch.Tensor, gamma: float = 0.0, *,
                chunk: int = 2048) -> torch.Tensor:
    """The lazy-regime output change per unit of gradient-flow time under the identity loss (sources appendix: Theorems A and B):

        (g_t(z) - g_0(z)) / t = (1/N) sum_n labels_n Phi(z, r_n) (z.r_n + 1),

    the torch, batched twin of :func:`mfat.theory.perturbation_learning.lazy_output_change`. For g trained on
    (r_n, y_adv_n) it contains the label-free perturbation term, the random offset (1/N) sum y_adv Phi and,
    in scenario (b), the label noise. Z (..., nz, d), R (..., N, d), labels (..., N) -> (..., nz).
    """
    chunk = check_int("chunk", chunk, min_value=1)
    R = R.to(Z)
    lab = labels.to(Z)[..., None, :]
    out = [((kernel_matrix(Z[..., i:i + chunk, :], R, gamma) * (torch.matmul(Z[..., i:i + chunk, :], R.transpose(-1, -2))
            + 1.0)) * lab).sum(-1) for i in range(0, Z.shape[-2], chunk)]
    return torch.cat(out, -1) / R.shape[-2]
