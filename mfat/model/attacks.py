"""l_p projected gradient ascent (PGD), p in {1, 2, inf}, batched (spec sections 4 and 9, Fig. 3).

The paper's adversarial loss (spec section 4) is

    L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q,

and :func:`adversarial_loss` estimates it from below by PGD on the objective :func:`output_deviation`.
:func:`classification_loss` gives the cross-entropy objective of Madry-style adversarial training.

One step-and-project object per threat model (as in MadryLab's ``robustness``): :class:`LinfStep`,
:class:`L2Step`, :class:`L1Step`, each with ``random_start``, ``step`` (steepest ascent: the maximiser of
<g, delta> over ||delta||_p <= step_size) and the exact Euclidean ``project`` onto {||eta||_p <= eps}.
Perturbations ``eta`` have the shape of ``x``, ``(B, ...)``; norms are taken over all but the first axis.
Gradients are taken with ``torch.autograd.grad`` with respect to the perturbation only, so parameter
``.grad`` fields are never touched and the model is left in whatever mode it is in.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
import torch.nn.functional as F

from mfat.validation import normalise_p
from mfat.validation import check_int, check_real

__all__ = [
    "LinfStep",
    "L2Step",
    "L1Step",
    "threat_model",
    "project_l1_ball",
    "pgd",
    "fgm",
    "output_deviation",
    "classification_loss",
    "adversarial_loss",
]

Objective = Callable[[torch.Tensor], torch.Tensor]


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1)


def _per_example(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Reshape a (B,) tensor to broadcast against ``like`` of shape (B, ...)."""
    return v.reshape(-1, *([1] * (like.ndim - 1)))


def project_l1_ball(v: torch.Tensor, eps: float) -> torch.Tensor:
    """Euclidean projection of each row of ``v`` (B, ...) onto {||w||_1 <= eps} (Duchi et al., 2008, Fig. 1).

    Rows already inside are returned unchanged. Otherwise w = sign(v) max(|v| - theta, 0), where, with
    u = |v| sorted decreasingly and c_j = sum_{i<=j} u_i, rho = max{j : u_j - (c_j - eps)/j > 0} and
    theta = (c_rho - eps)/rho.
    """
    flat = _flat(v)
    a = flat.abs()
    inside = a.sum(dim=1) <= eps
    u, _ = torch.sort(a, dim=1, descending=True)
    c = u.cumsum(dim=1) - eps
    j = torch.arange(1, u.shape[1] + 1, dtype=u.dtype, device=u.device)
    rho = ((u - c / j) > 0).to(u.dtype).mul(j).argmax(dim=1, keepdim=True)  # index of the last positive entry
    theta = (c.gather(1, rho) / (rho + 1).to(u.dtype)).clamp_min(0.0)
    w = (a - theta).clamp_min(0.0)
    # |v_i| - theta cancels when eps << |v|: spread the rounding residual over the support so ||w||_1 = eps
    support = w > 0
    resid = (eps - w.sum(dim=1, keepdim=True)) / support.sum(dim=1, keepdim=True).clamp_min(1)
    w = torch.where(support, (w + resid).clamp_min(0.0), w)
    w = torch.where(inside.unsqueeze(1), flat, torch.sign(flat) * w)
    return w.reshape(v.shape)


class _Step(ABC):
    """Threat model {eta : ||eta||_p <= eps} (centred at 0; ``x + eta`` is the adversarial input)."""

    p: float

    def __init__(self, eps: float):
        self.eps = check_real("eps", eps, min_value=0.0)

    @abstractmethod
    def project(self, eta: torch.Tensor) -> torch.Tensor:
        """The exact Euclidean projection onto the ball, per example."""

    @abstractmethod
    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """argmax_{||delta||_p <= 1} <g, delta>, per example."""

    def step(self, eta: torch.Tensor, g: torch.Tensor, step_size: float) -> torch.Tensor:
        """Steepest-ascent step eta + step_size * direction(g) (not projected)."""
        return eta + step_size * self.direction(g)

    @abstractmethod
    def random_start(self, shape, *, dtype, device, generator: torch.Generator | None = None) -> torch.Tensor:
        """A point drawn uniformly from the ball of radius ``eps``, shape ``shape`` = (B, ...)."""

    def norm(self, eta: torch.Tensor) -> torch.Tensor:
        """||eta||_p per example, shape (B,)."""
        return torch.linalg.vector_norm(_flat(eta), ord=self.p, dim=1)


def _rand(shape, generator, dtype, device, kind="uniform"):
    """Uniform [0, 1) or standard normal samples drawn on the generator's device, moved to ``device``."""
    dev = generator.device if generator is not None else torch.device("cpu")
    fn = torch.rand if kind == "uniform" else torch.randn
    return fn(shape, generator=generator, dtype=dtype, device=dev).to(device)


class LinfStep(_Step):
    """l_inf ball: step eta + s sign(g); projection clamp(eta, -eps, eps)."""

    p = math.inf

    def project(self, eta):
        return eta.clamp(-self.eps, self.eps)

    def direction(self, g):
        return torch.sign(g)

    def random_start(self, shape, *, dtype, device, generator=None):
        return (2.0 * _rand(shape, generator, dtype, device) - 1.0) * self.eps


class L2Step(_Step):
    """l_2 ball: step eta + s g/||g||_2; projection eta min(1, eps/||eta||_2)."""

    p = 2.0

    def project(self, eta):
        n = _per_example(self.norm(eta), eta)
        return eta * torch.where(n > self.eps, self.eps / n.clamp_min(torch.finfo(eta.dtype).tiny), 1.0)

    def direction(self, g):
        n = _per_example(self.norm(g), g)
        return g / n.clamp_min(torch.finfo(g.dtype).tiny)

    def random_start(self, shape, *, dtype, device, generator=None):
        # uniform in the ball: a uniform direction times the radius eps U^(1/n)
        z = _rand(shape, generator, dtype, device, "normal")
        radius = self.eps * _rand((shape[0],), generator, dtype, device) ** (1.0 / math.prod(shape[1:]))
        return self.direction(z) * _per_example(radius, z)


class L1Step(_Step):
    """l_1 ball: steepest step on the ``k`` largest |g_i| (sign-weighted, 1/k each); exact Duchi projection.

    k = 1 moves one coordinate per step, towards a vertex of the ball, where a convex objective such as
    ||A eta||_q attains its maximum.
    """

    p = 1.0

    def __init__(self, eps: float, k: int = 1):
        super().__init__(eps)
        self.k = check_int("k", k, min_value=1)

    def project(self, eta):
        return project_l1_ball(eta, self.eps)

    def direction(self, g):
        flat = _flat(g)
        k = min(self.k, flat.shape[1])
        idx = flat.abs().topk(k, dim=1).indices
        d = torch.zeros_like(flat).scatter_(1, idx, torch.sign(flat.gather(1, idx)) / k)
        return d.reshape(g.shape)

    def random_start(self, shape, *, dtype, device, generator=None):
        # uniform on the l1 ball: the first n coordinates of a flat Dirichlet(1, ..., 1) on n + 1 coordinates,
        # i.e. normalised exponentials, with independent random signs
        n = math.prod(shape[1:])
        e = -torch.log1p(-_rand((shape[0], n + 1), generator, dtype, device))
        signs = 2.0 * (_rand((shape[0], n), generator, dtype, device) < 0.5).to(dtype) - 1.0
        return (self.eps * signs * e[:, :n] / e.sum(dim=1, keepdim=True)).reshape(shape)


def threat_model(p, eps: float, *, l1_k: int = 1) -> _Step:
    """The step-and-project object for the l_p ball of radius ``eps`` (p in {1, 2, inf})."""
    p = normalise_p("p", p)
    if p == math.inf:
        return LinfStep(eps)
    return L2Step(eps) if p == 2.0 else L1Step(eps, k=l1_k)


def pgd(
    objective: Objective,
    x: torch.Tensor,
    eps: float,
    p,
    *,
    steps: int,
    step_size: float | None = None,
    restarts: int = 1,
    random_start: bool = True,
    generator: torch.Generator | None = None,
    l1_k: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected steepest ascent: maximise ``objective(x + eta)`` over ||eta||_p <= eps, per example.

    objective: (B, ...) -> (B,), differentiable in its input. x: (B, ...). Each restart starts from a uniform
    point of the ball (``random_start``) or from eta = 0, then iterates eta <- Proj(eta + step_size * dir(grad))
    ``steps`` times (default step_size 2.5 eps / steps). Where the gradient at the start eta = 0 vanishes (a norm
    objective such as :func:`output_deviation`), the first direction comes from the gradient at a tiny random
    point (radius 1e-3 eps) instead; elsewhere a zero gradient means no move. The best
    iterate over all steps and restarts is kept per example, so more restarts (same generator stream) never
    decrease the value.

    Random starts and probes are drawn from ``generator`` (default: a new CPU generator seeded with 0, so that
    calls are reproducible). Returns (eta, value): eta (B, ...) with x's dtype and ||eta||_p <= eps, value (B,)
    = objective(x + eta), both detached.
    """
    eps = check_real("eps", eps, min_value=0.0)
    steps = check_int("steps", steps, min_value=0)
    restarts = check_int("restarts", restarts, min_value=1)
    if step_size is None:
        step_size = 2.5 * eps / max(steps, 1)
    step_size = check_real("step_size", step_size, min_value=0.0)
    model = threat_model(p, eps, l1_k=l1_k)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    x = x.detach()
    shape, kw = x.shape, {"dtype": x.dtype, "device": x.device, "generator": generator}

    def evaluate(eta: torch.Tensor, grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.enable_grad():
            eta = eta.detach().requires_grad_(grad)
            value = objective(x + eta)
            if value.shape != (shape[0],):
                raise ValueError(f"objective must return shape ({shape[0]},), got {tuple(value.shape)}")
            g = torch.autograd.grad(value.sum(), eta)[0] if grad else None
        if g is not None:  # a norm's gradient can be NaN where its argument vanishes: take 0 there
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        return value.detach(), g

    def gradient_at_zero(eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(value, gradient) at eta = 0; where the gradient vanishes (a norm objective, since f(x + 0) = f(x)),
        the gradient at a tiny random point u, ||u||_p <= 1e-3 eps, instead."""
        value, g = evaluate(eta, grad=True)
        flat = _flat(g)
        dead = ~(flat != 0).any(dim=1)
        if dead.any():
            _, g_probe = evaluate(eta + 1e-3 * model.random_start(shape, **kw), grad=True)
            g = torch.where(_per_example(dead, g), g_probe, g)
        return value, g

    if eps == 0.0:
        eta = torch.zeros_like(x)
        return eta, evaluate(eta, grad=False)[0]
    best_eta, best_val = None, None
    for _ in range(restarts):
        eta = model.random_start(shape, **kw) if random_start else torch.zeros_like(x)
        for t in range(steps + 1):
            if t == 0 and not random_start and steps > 0:
                value, g = gradient_at_zero(eta)
            else:
                value, g = evaluate(eta, grad=t < steps)
            if best_val is None:
                best_eta, best_val = eta.detach().clone(), value
            else:
                better = value > best_val
                best_eta = torch.where(_per_example(better, eta), eta.detach(), best_eta)
                best_val = torch.where(better, value, best_val)
            if t < steps:
                eta = model.project(model.step(eta.detach(), g, step_size))
    return best_eta, best_val


def fgm(objective: Objective, x: torch.Tensor, eps: float, p, *, generator=None, l1_k: int = 1):
    """Fast gradient method: one full steepest-ascent step of size ``eps``, projected (FGSM for p = inf).

    Same as ``pgd(objective, x, eps, p, steps=1, step_size=eps, random_start=False)``; returns (eta, value).
    """
    return pgd(objective, x, eps, p, steps=1, step_size=eps, random_start=False, generator=generator, l1_k=l1_k)


def output_deviation(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, q) -> Objective:
    """The objective x' -> ||f(x') - f(x)||_q per example (spec section 4), f: (B, ...) -> (B, K).

    f(x) is computed once, without gradient. The l_q norm is not differentiable where f(x') = f(x), e.g. at
    eta = 0: :func:`pgd` never evaluates the gradient there (random or tiny random starts).
    """
    q = normalise_p("q", q)
    with torch.no_grad():
        fx = f(x.detach())

    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(_flat(f(x_adv) - fx), ord=q, dim=1)

    return objective


def classification_loss(f: Callable[[torch.Tensor], torch.Tensor], y: torch.Tensor) -> Objective:
    """The objective x' -> cross-entropy(f(x'), y) per example; f(x') are logits (B, K), y labels (B,)."""

    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(f(x_adv), y, reduction="none")

    return objective


def adversarial_loss(f, x: torch.Tensor, eps: float, p, q, **pgd_kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD estimate (a lower bound) of L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q.

    f: (B, ...) -> (B, K); x: (B, ...). ``pgd_kwargs`` go to :func:`pgd` (default ``steps=100``).
    Returns (values (B,), eta (B, ...)).
    """
    pgd_kwargs.setdefault("steps", 100)
    eta, value = pgd(output_deviation(f, x, q), x, eps, p, **pgd_kwargs)
    return value, eta
