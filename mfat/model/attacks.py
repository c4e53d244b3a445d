"""l_p projected gradient ascent (PGD), p in {1, 2, inf}, batched (sources appendix: the adversarial loss and the experiments, Fig. 3).

The paper's adversarial loss (sources appendix: the adversarial loss) is

    L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q,

and :func:`adversarial_loss` estimates it from below by PGD on the objective :func:`output_deviation`.
:func:`classification_loss` gives the cross-entropy objective of Madry-style adversarial training.

One step-and-project object per threat model (as in MadryLab's ``robustness``): :class:`LinfStep`,
:class:`L2Step`, :class:`L1Step`, each with ``random_start``, ``step`` (steepest ascent: the maximiser of
<g, delta> over ||delta||_p <= step_size) and the exact Euclidean ``project`` onto {||eta||_p <= eps}.
An attack is one value, :class:`Attack` (eps, p, q, steps, step size, restarts, random start), validated once and
passed whole; :func:`pgd` is the one step-and-project loop that every attack of the book runs (random starts,
a given start, groups of examples with one generator each). Perturbations ``eta`` have the shape of ``x``,
``(B, ...)``; norms are taken over all but the first axis.
Gradients are taken with ``torch.autograd.grad`` with respect to the perturbation only, so parameter
``.grad`` fields are never touched and the model is left in whatever mode it is in.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from mfat.validation import check_choice, check_int, check_real, normalise_p

__all__ = [
    "LinfStep",
    "L2Step",
    "L1Step",
    "threat_model",
    "project_l1_ball",
    "Attack",
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


@dataclass(frozen=True)
class Attack:
    """One l_p attack, validated and normalised once on construction (``ValueError`` naming the field).

    eps: the radius of the ball ||eta||_p <= eps (>= 0); p, q: the threat norm and the output norm of L_adv, each
    in {1, 2, inf} (strings "inf", "2" accepted; stored as 1.0, 2.0 or math.inf; q is used by the output-deviation
    objectives only); steps: projected steps per restart (>= 0); step_size: the length of each step (None: the
    default 2.5 eps / max(steps, 1), stored in :attr:`step_length`); restarts (>= 1); random_start: start each
    restart at a uniform point of the ball (else at eta = 0); l1_k: coordinates moved per l_1 step
    (:class:`L1Step`). :attr:`ball` is the step-and-project object of the ball.

        attack = Attack(eps=0.3, p="inf", q="inf", steps=10)
        eta, value = pgd(output_deviation(f, x, attack.q), x, attack, generator=gen)
    """

    eps: float
    p: float
    q: float
    steps: int
    step_size: float | None = None
    restarts: int = 1
    random_start: bool = True
    l1_k: int = 1
    step_length: float = field(init=False)

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("eps", check_real("eps", self.eps, min_value=0.0))
        put("p", normalise_p("p", self.p))
        put("q", normalise_p("q", self.q))
        put("steps", check_int("steps", self.steps, min_value=0))
        if self.step_size is not None:
            put("step_size", check_real("step_size", self.step_size, min_value=0.0))
        put("restarts", check_int("restarts", self.restarts, min_value=1))
        put("random_start", check_choice("random_start", self.random_start, (True, False)))
        put("l1_k", check_int("l1_k", self.l1_k, min_value=1))
        put("step_length", 2.5 * self.eps / max(self.steps, 1) if self.step_size is None else self.step_size)
        put("_ball", threat_model(self.p, self.eps, l1_k=self.l1_k))

    @property
    def ball(self) -> _Step:
        """The step-and-project object of {||eta||_p <= eps}: :class:`LinfStep`, :class:`L2Step` or :class:`L1Step`."""
        return self._ball


def pgd(
    objective: Objective,
    x: torch.Tensor,
    attack: Attack,
    *,
    generator: torch.Generator | None = None,
    generators: Sequence[torch.Generator] | None = None,
    start: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected steepest ascent: maximise ``objective(x + eta)`` over ||eta||_p <= eps, per example.

    objective: (B, ...) -> (B,), differentiable in its input; x: (B, ...). Each of ``attack.restarts`` restarts
    starts from a uniform point of the ball (``attack.random_start``) or from eta = 0, then iterates
    eta <- Proj(eta + step_length * dir(grad)) ``attack.steps`` times. Where the gradient at the start eta = 0
    vanishes (a norm objective such as :func:`output_deviation`), the first direction comes from the gradient at a
    tiny random point (radius 1e-3 eps) instead; elsewhere a zero gradient means no move. The best iterate over
    all steps and restarts is kept per example, so more restarts (same generator stream) never decrease the value.

    Random draws come from ``generator`` (default: a new CPU generator seeded with 0, so that calls are
    reproducible). Groups: with ``generators`` (one per group), x is (G, B, ...), the objective maps (G, B, ...)
    to (G, B), and group g draws from ``generators[g]`` exactly what a call on x[g] with that generator would
    draw (the batched attack of :mod:`mfat.model.grid`). ``start``: a feasible eta of x's shape to start from
    instead (no random draw; ``attack.random_start`` is not used and ``attack.restarts`` must be 1); the value
    returned is never below that of the start.

    Returns (eta, value): eta with x's shape and dtype, ||eta||_p <= eps per example, value = objective(x + eta)
    ((B,) or (G, B)), both detached.
    """
    if not isinstance(attack, Attack):
        raise ValueError(f"parameter 'attack' = {type(attack).__name__} is out of range: allowed an Attack")
    x = x.detach()
    if generators is not None:
        if generator is not None:
            raise ValueError("parameters 'generator' and 'generators' are exclusive: give one of them")
        generators = list(generators)
        if x.ndim < 2 or len(generators) != x.shape[0]:
            raise ValueError(f"parameter 'generators' has {len(generators)} entries: allowed one per group "
                             f"(x of shape (G, B, ...), G = {x.shape[0] if x.ndim else 0})")
        batch = tuple(x.shape[:2])
    else:
        generator = torch.Generator().manual_seed(0) if generator is None else generator
        batch = tuple(x.shape[:1])
    if start is not None:
        if start.shape != x.shape:
            raise ValueError(f"parameter 'start' has shape {tuple(start.shape)}: allowed x's shape {tuple(x.shape)}")
        if attack.restarts != 1:
            raise ValueError(f"parameter 'attack' has restarts = {attack.restarts} with a given 'start': allowed 1")
    ball, steps, step_size = attack.ball, attack.steps, attack.step_length
    examples = (-1, *x.shape[len(batch):])  # the step objects work per example: groups flattened into the batch

    def per_example(v: torch.Tensor) -> torch.Tensor:
        return v.reshape(*batch, *([1] * (x.ndim - len(batch))))

    def draw() -> torch.Tensor:
        """A uniform point of the ball per example, from the generator of its group."""
        if generators is None:
            return ball.random_start(x.shape, dtype=x.dtype, device=x.device, generator=generator)
        return torch.stack([ball.random_start(x.shape[1:], dtype=x.dtype, device=x.device, generator=gen)
                            for gen in generators])

    def evaluate(eta: torch.Tensor, grad: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        with torch.enable_grad():
            eta = eta.detach().requires_grad_(grad)
            value = objective(x + eta)
            if tuple(value.shape) != batch:
                raise ValueError(f"objective must return shape {batch}, got {tuple(value.shape)}")
            g = torch.autograd.grad(value.sum(), eta)[0] if grad else None
        if g is not None:  # a norm's gradient can be NaN where its argument vanishes: take 0 there
            g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
        return value.detach(), g

    def gradient_at_zero(eta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(value, gradient) at eta = 0; where the gradient vanishes (a norm objective, since f(x + 0) = f(x)),
        the gradient at a tiny random point u, ||u||_p <= 1e-3 eps, instead."""
        value, g = evaluate(eta, grad=True)
        dead = ~(g.reshape(*batch, -1) != 0).any(dim=-1)
        if dead.any():
            _, g_probe = evaluate(eta + 1e-3 * draw(), grad=True)
            g = torch.where(per_example(dead), g_probe, g)
        return value, g

    if attack.eps == 0.0:
        eta = torch.zeros_like(x)
        return eta, evaluate(eta, grad=False)[0]
    best_eta, best_val = None, None
    for _ in range(attack.restarts):
        if start is not None:
            eta = start.detach()
        else:
            eta = draw() if attack.random_start else torch.zeros_like(x)
        for t in range(steps + 1):
            if t == 0 and start is None and not attack.random_start and steps > 0:
                value, g = gradient_at_zero(eta)
            else:
                value, g = evaluate(eta, grad=t < steps)
            if best_val is None:
                best_eta, best_val = eta.detach().clone(), value
            else:
                better = value > best_val
                best_eta = torch.where(per_example(better), eta.detach(), best_eta)
                best_val = torch.where(better, value, best_val)
            if t < steps:
                eta = ball.project(ball.step(eta.detach().reshape(examples), g.reshape(examples),
                                             step_size)).reshape(x.shape)
    return best_eta, best_val


def fgm(objective: Objective, x: torch.Tensor, attack: Attack, *, generator: torch.Generator | None = None):
    """Fast gradient method: one full steepest-ascent step of size eps from eta = 0, projected (FGSM for p = inf).

    Uses ``attack``'s eps, p and l1_k; its steps, step size, restarts and random start are replaced by those of
    one step: ``pgd(objective, x, replace(attack, steps=1, step_size=eps, restarts=1, random_start=False))``.
    Returns (eta, value).
    """
    if not isinstance(attack, Attack):
        raise ValueError(f"parameter 'attack' = {type(attack).__name__} is out of range: allowed an Attack")
    one_step = replace(attack, steps=1, step_size=attack.eps, restarts=1, random_start=False)
    return pgd(objective, x, one_step, generator=generator)


def output_deviation(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, q) -> Objective:
    """The objective x' -> ||f(x') - f(x)||_q per example (sources appendix: the adversarial loss), f: (B, ...) -> (B, K).

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


def adversarial_loss(f, x: torch.Tensor, attack: Attack, *,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD estimate (a lower bound) of L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q.

    f: (B, ...) -> (B, K); x: (B, ...); eps, p, q and the PGD settings from ``attack``.
    Returns (values (B,), eta (B, ...)).
    """
    if not isinstance(attack, Attack):
        raise ValueError(f"parameter 'attack' = {type(attack).__name__} is out of range: allowed an Attack")
    eta, value = pgd(output_deviation(f, x, attack.q), x, attack, generator=generator)
    return value, eta
