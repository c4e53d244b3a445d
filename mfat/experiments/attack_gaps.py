"""Chapter 8 measurements and analyses: how much of the adversarial loss PGD finds, for every pair (p, q).

    L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q                 (the paper's Section 5)
    L_adv(x) = eps ||J(x)||_{p,q}   when the ball lies in one activation region (small eps)

The **gap ratio** of an attack is the value it reaches divided by the linearised value eps ||J(x)||_{p,q}
(:mod:`mfat.model.norms`: exact for six pairs, and for (inf,1), (2,1), (inf,2) whenever the free signs can be
enumerated; otherwise a certified bracket, and the ratio is taken against its lower end). Two causes keep it
below 1: the attack stops at a local maximum (*attack weakness*: more search finds more), and the network bends
inside the ball (*non-linearity*: at large eps the true maximum itself may fall below the linear value).

Every attack is the one PGD loop :func:`mfat.model.attacks.pgd` with one :class:`Variant` turned into an
:class:`mfat.model.attacks.Attack`: a step-size rule, a number of steps and a start (uniform random points of
the ball, eta = 0 for FGSM, or the maximiser of the linearised problem). ``R`` random restarts are run side by
side as ``R`` copies of the batch (one call, one random start per copy): the value of ``Attack(restarts=R)``
is the best copy, and the first copy is the single-restart attack.

Problems are :class:`LinearMaps` (eta -> ||J eta||_q for a batch of matrices: the small-eps limit, where any gap
is attack weakness) and :class:`NetworkAt` (a network at a batch of inputs). Functions take an explicit
``generator`` and return float64 numpy arrays (small enough for :func:`mfat.chapter.results.cached`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from mfat.data import load
from mfat.theory import attack_gaps as theory
from mfat.experiments.adversarial_loss import pair_label
from mfat.laws.jacobian import sample_jacobians
from mfat.model.attacks import Attack, fgm, output_deviation, pgd
from mfat.model.linearize import decompose
from mfat.model.networks import NetworkSpec, ReLULikeNet
from mfat.model.norms import PAIRS, operator_norm
from mfat.model.training import train
from mfat.stats import Z_DEFAULT, standard_error
from mfat.validation import check_choice, check_int, check_real, normalise_p

__all__ = [
    "PAIRS",
    "RULES",
    "FULL_STEP",
    "MANY_MAXIMA",
    "CHAPTER_NETWORKS",
    "SWEEPS",
    "Variant",
    "variants",
    "LinearMaps",
    "NetworkAt",
    "reference_norms",
    "attack_values",
    "gap_measurement",
    "distinct_maxima",
    "local_maxima",
    "training_attack_gap",
    "mnist_network",
    "law_measurement",
    "mnist_measurement",
    "sweep_units",
    "sweep_unit",
    "training_configs",
    "training_gap_measurement",
    "trained_gap_measurement",
    "reference",
    "ratios",
    "best_of",
    "best_of_all",
    "variant_ratio",
    "gap_table",
    "weakness_table",
    "steps_curves",
    "shortfall",
    "paired_difference",
    "small_eps_margins",
    "geometry_table",
    "sweep_table",
    "training_gap_table",
    "gap_matrix",
    "nonlinearity_table",
    "rounding_allowance",
    "pair_index",
    "fgsm_agreement",
    "headline",
    "geometry_bounds",
    "format_count",
    "sweep_point",
    "mnist_jacobians",
    "before_after_table",
    "attack_comparison",
    "chapter_attack_gap",
    "attack_comparison_table",
    "attack_share",
    "attack_labels",
    "gap_summary",
]

RULES = ("madry", "full", "fgsm")
FULL_STEP = 1e6  # the full-step rule's step, in units of eps: far beyond the ball, so every step lands on its rim
STARTS = ("random", "zero", "linearised")


@dataclass(frozen=True)
class Variant:
    """One way of running PGD, turned into an :class:`Attack` for a given (eps, p, q) by :meth:`attack`.

    rule: the step size, ``"madry"`` (the default 2.5 eps / steps), ``"full"`` (FULL_STEP eps: each step jumps to
    eps argmax_{||u||_p <= 1} <grad, u>, the fixed-point or power iteration of the operator norm) or ``"fgsm"``
    (eps: one step from eta = 0 is FGSM / FGM); steps: projected steps (>= 0); start: ``"random"`` (uniform in
    the ball, one per restart), ``"zero"`` (eta = 0) or ``"linearised"`` (eps times the maximiser of
    ||J(x) u||_q, given to :func:`attack_values` as ``direction``).
    """

    rule: str
    steps: int
    start: str = "random"

    def __post_init__(self):
        check_choice("rule", self.rule, RULES)
        check_int("steps", self.steps, min_value=0)
        check_choice("start", self.start, STARTS)

    @property
    def name(self) -> str:
        if self.rule == "fgsm" and self.start == "zero" and self.steps == 1:
            return "FGSM"
        if self.start == "linearised":
            return "linearised maximiser" + (f" + {self.steps} steps" if self.steps else "")
        return f"{self.steps} {'step' if self.steps == 1 else 'steps'}, {self.rule}"

    def attack(self, eps: float, p, q) -> Attack:
        step = {"madry": None, "full": FULL_STEP * eps, "fgsm": eps}[self.rule]
        return Attack(eps, p, q, self.steps, step_size=step, random_start=self.start == "random")


def variants(steps, rules=("madry", "full"), refine_steps: int = 10) -> tuple[Variant, ...]:
    """The attacks of the chapter: FGSM; PGD from random starts for every rule and number of ``steps``; the jump
    to the linearised maximiser, alone and followed by ``refine_steps`` steps of the madry rule."""
    out = [Variant("fgsm", 1, "zero")]
    out += [Variant(rule, s) for rule in rules for s in steps]
    out += [Variant("madry", 0, "linearised"), Variant("madry", check_int("refine_steps", refine_steps,
                                                                           min_value=1), "linearised")]
    return tuple(out)


class LinearMaps:
    """The small-eps limit: the objective eta -> ||J eta||_q for a batch of matrices ``J`` (B, K, d).

    The base points are zeros (B, d): an attack perturbs them directly. Every gap found here is attack
    weakness, since the best value is exactly eps ||J||_{p,q}."""

    linear = True

    def __init__(self, J: torch.Tensor):
        if J.ndim != 3:
            raise ValueError(f"parameter 'J' has shape {tuple(J.shape)}: allowed (B, K, d)")
        self.J = J
        self.x = torch.zeros(J.shape[0], J.shape[2], dtype=J.dtype, device=J.device)

    def jacobian(self) -> torch.Tensor:
        return self.J

    def objective(self, q, copies: int = 1):
        """eta (copies * B, d) -> ||J eta||_q (copies * B,), copy c of example b at row c * B + b."""
        Jr, q = self.J.repeat(copies, 1, 1), normalise_p("q", q)
        return lambda z: torch.linalg.vector_norm(torch.einsum("bkd,bd->bk", Jr, z), ord=q, dim=1)


class NetworkAt:
    """A network ``net`` at the inputs ``X`` (B, d): the objective x' -> ||f(x') - f(x)||_q."""

    linear = False

    def __init__(self, net: ReLULikeNet, X: torch.Tensor):
        self.net, self.x = net, X

    def jacobian(self) -> torch.Tensor:
        return decompose(self.net, self.x)[0]

    def objective(self, q, copies: int = 1):
        """x' (copies * B, d) -> ||f(x') - f(x)||_q (copies * B,)."""
        return output_deviation(self.net, self.x.repeat(copies, 1), q)


def reference_norms(J: torch.Tensor, pairs=PAIRS, *, restarts: int = 4, max_iter: int = 20,
                    generator: torch.Generator | None = None) -> dict:
    """||J||_{p,q} for every pair with its maximiser: J (B, K, d) -> a dict of numpy arrays.

    ``lower``, ``upper`` (P, B): certified bounds (equal where ``exact`` (P,)); ``argmax`` (P, B, d) unit l_p
    vectors attaining ``lower``; ``method`` (P,) strings (closed form, enumeration or sign iteration with
    ``restarts`` random starts, see :func:`mfat.model.norms.operator_norm`).
    """
    J64 = J.to(torch.float64)
    out = {"lower": [], "upper": [], "exact": [], "method": [], "argmax": []}
    for p, q in pairs:
        res = operator_norm(J64, p, q, return_argmax=True, restarts=restarts, max_iter=max_iter,
                            generator=generator)
        for key, value in (("lower", res.lower), ("upper", res.upper), ("argmax", res.argmax)):
            out[key].append(value.cpu().numpy())
        out["exact"].append(res.exact)
        out["method"].append(res.method)
    return {k: np.asarray(v) for k, v in out.items()}


def attack_values(problem, eps: float, p, q, variant_list, restarts: int, *, generator: torch.Generator,
                  direction: torch.Tensor | None = None) -> np.ndarray:
    """The value each variant reaches, per restart and example: (V, R, B) float64, NaN beyond restart 1 for the
    variants that start deterministically (zero or linearised start).

    problem: :class:`LinearMaps` or :class:`NetworkAt`; restarts R: copies of the batch for random starts;
    direction (B, d): the unit maximiser of ||J u||_q, needed by linearised starts.
    """
    eps = check_real("eps", eps, min_value=0.0, min_inclusive=False)
    restarts = check_int("restarts", restarts, min_value=1)
    B = problem.x.shape[0]
    out = np.full((len(variant_list), restarts, B), np.nan)
    for i, v in enumerate(variant_list):
        copies = restarts if v.start == "random" else 1
        attack = v.attack(eps, p, q)
        start = None
        if v.start == "linearised":
            if direction is None:
                raise ValueError(f"variant {v.name!r} needs the parameter 'direction' (B, d)")
            start = attack.ball.project(eps * direction.to(problem.x))
        _, value = pgd(problem.objective(q, copies), problem.x.repeat(copies, 1), attack, generator=generator,
                       start=start)
        out[i, :copies] = value.reshape(copies, B).cpu().numpy()
    return out


def gap_measurement(problem, eps_values, variant_list, restarts: int, pairs=PAIRS, *,
                    generator: torch.Generator, norms: dict | None = None, norm_restarts: int = 4) -> dict:
    """Every variant on every pair at every budget, with the reference norms of the problem's J.

    ``norms``: :func:`reference_norms` of the problem's J when already known. Returns ``values`` (E, P, V, R, B)
    (:func:`attack_values`), ``lower``/``upper`` (P, B), ``exact`` (P,), ``method`` (P,), ``eps`` (E,),
    ``pairs`` (P, 2), ``variants`` (V,) names and ``linear`` (the problem is a linear map, so the best value
    found divided by eps is itself a lower bound on the norm: see :func:`reference`).
    """
    if norms is None:
        norms = reference_norms(problem.jacobian(), pairs, restarts=norm_restarts, generator=generator)
    values = np.stack([np.stack([attack_values(problem, eps, p, q, variant_list, restarts, generator=generator,
                                               direction=torch.from_numpy(norms["argmax"][j]))
                                 for j, (p, q) in enumerate(pairs)]) for eps in eps_values])
    return {"values": values, "lower": norms["lower"], "upper": norms["upper"], "exact": norms["exact"],
            "method": norms["method"], "eps": np.asarray(eps_values, dtype=float), "pairs": np.asarray(pairs),
            "variants": np.asarray([v.name for v in variant_list]), "linear": problem.linear}


# --------------------------------------------------------------------------------------------- geometry


def distinct_maxima(eta: torch.Tensor, *, tol: float = 1e-6, symmetric: bool = True) -> torch.Tensor:
    """The number of distinct points among R final points per example: eta (R, B, d) -> (B,) int64.

    Two points are the same when |cos| (``symmetric``: eta and -eta give the same ||J eta||) or cos is at least
    1 - tol. Vertices of the l_inf ball that differ in one of d signs have 1 - cos = 2/d, far above the default
    tol; so do distinct vertices of the l_1 ball.
    """
    u = eta / torch.linalg.vector_norm(eta, dim=-1, keepdim=True).clamp_min(torch.finfo(eta.dtype).tiny)
    u = u.transpose(0, 1)  # (B, R, d)
    cos = u @ u.transpose(1, 2)  # (B, R, R)
    same = (cos.abs() if symmetric else cos) >= 1.0 - tol
    earlier = torch.tril(torch.ones_like(same[0]), diagonal=-1)
    return (~(same & earlier).any(dim=2)).sum(dim=1)


def local_maxima(J: torch.Tensor, p, q, starts: int, steps: int, *, generator: torch.Generator,
                 norm: torch.Tensor | None = None, rtol: float = 1e-6) -> dict:
    """The local maxima of eta -> ||J eta||_q over the unit l_p ball that the full-step iteration reaches from
    ``starts`` uniform random starts, after ``steps`` steps (a fixed point: each step maximises the linearisation
    of a convex function over the ball, so the value never decreases).

    J (B, K, d). Returns ``count`` (B,) distinct end points (:func:`distinct_maxima`), ``values`` (starts, B) and,
    given ``norm`` (B,) = ||J||_{p,q} (exact), ``global`` (B,): the fraction of starts that end within ``rtol``
    of it.
    """
    problem = LinearMaps(J)
    B, d = problem.x.shape
    eta, value = pgd(problem.objective(q, starts), problem.x.repeat(starts, 1),
                     Variant("full", steps).attack(1.0, p, q), generator=generator)
    eta, value = eta.reshape(starts, B, d), value.reshape(starts, B)
    out = {"count": distinct_maxima(eta).cpu().numpy(), "values": value.cpu().numpy()}
    if norm is not None:
        out["global"] = (value >= norm.to(value) * (1.0 - rtol)).to(torch.float64).mean(dim=0).cpu().numpy()
    return out


# --------------------------------------------------------------------------------------- training attacks


def training_attack_gap(net: ReLULikeNet, X: torch.Tensor, attack: Attack, reference_attacks=(), *,
                        generator: torch.Generator | None = None, norm_restarts: int = 4) -> dict:
    """How much of L_adv a training attack finds: ``attack`` against the best of itself and ``reference_attacks``
    (each an :class:`Attack` with the same eps, p, q, e.g. 50 steps and 8 restarts) and against the linearised
    value eps ||J(x)||_{p,q}, on the network ``net`` at the inputs X (B, d).

    Returns per example (B,) ``found``, ``best`` and ``linear`` (lower end of the bracket where the norm is not
    exact), and the means ``vs_best`` = mean(found / best) and ``vs_linear`` = mean(found / linear), with
    ``best_vs_linear`` = mean(best / linear) and their standard errors (``*_se``).
    """
    if not isinstance(attack, Attack):
        raise ValueError(f"parameter 'attack' = {type(attack).__name__} is out of range: allowed an Attack")
    for ref in reference_attacks:
        if not isinstance(ref, Attack) or (ref.eps, ref.p, ref.q) != (attack.eps, attack.p, attack.q):
            raise ValueError(f"parameter 'reference_attacks' has {ref!r}: allowed Attacks with eps, p, q of 'attack'")
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    objective = output_deviation(net, X, attack.q)
    _, found = pgd(objective, X, attack, generator=generator)
    best = found
    for ref in reference_attacks:
        best = torch.maximum(best, pgd(objective, X, ref, generator=generator)[1])
    J = decompose(net, X)[0]
    lin = attack.eps * reference_norms(J, [(attack.p, attack.q)], restarts=norm_restarts,
                                       generator=generator)["lower"][0]
    found, best = found.cpu().to(torch.float64).numpy(), best.cpu().to(torch.float64).numpy()
    out = {"found": found, "best": best, "linear": lin}
    for name, a, b in (("vs_best", found, best), ("vs_linear", found, lin), ("best_vs_linear", best, lin)):
        out[name], out[f"{name}_se"] = float(np.mean(a / b)), float(standard_error(a / b))
    return out


# ------------------------------------------------------------------------------- the chapter's measurements

#: The network of each training chapter: its settings' names for (width, depth, sigma_w^2).
CHAPTER_NETWORKS = {"weight_variance": ("N", "L", "sigma_w2"), "trainability": ("run_N", "run_L", "sigma_w2"),
                    "capacity": ("N", "L", "vanilla_sigma_w2")}


def mnist_network(s, *, generator: torch.Generator, device="cpu") -> tuple[ReLULikeNet, torch.Tensor]:
    """The chapter's network (d = 784, width ``s.N``, ``s.K`` outputs, depth ``s.L``, vanilla ReLU, float64) and
    the first ``s.n_inputs`` MNIST test images, pixels in [0, 1] (the scale of the budgets of chapters 3 to 5)."""
    X, _ = load("mnist", "test", n=s.n_inputs, scaling="unit", dtype=torch.float64, device=device)
    net = ReLULikeNet(784, s.N, s.K, s.L, s.sigma_w2, 0.0, generator=generator, dtype=torch.float64, device=device)
    return net, X


def _with_geometry(J: torch.Tensor, result: dict, s, generator: torch.Generator) -> dict:
    """``result`` with ``geometry``: :func:`local_maxima` of every pair on the first ``s.geometry_samples``
    matrices of J (P, G arrays)."""
    n = min(s.geometry_samples, J.shape[0])
    norm = reference(result)[:, :n]
    runs = [local_maxima(J[:n], p, q, s.geometry_starts, s.geometry_steps, generator=generator,
                         norm=torch.from_numpy(norm[j]))
            for j, (p, q) in enumerate(map(tuple, result["pairs"]))]
    return {**result, "geometry": {k: np.stack([r[k] for r in runs]) for k in ("count", "global")}}


def law_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """The small-eps limit on exact draws of J (:func:`mfat.laws.jacobian.sample_jacobians`) at the chapter's
    setting (d = 784, ``s.N``, ``s.K``, ``s.L``): ``s.law_samples`` matrices, every variant of ``s.steps`` and
    ``s.rules`` (:func:`gap_measurement` at eps = 1), and the geometry (:func:`local_maxima`)."""
    J = sample_jacobians(NetworkSpec(784, s.N, s.K, s.L, s.sigma_w2), s.law_samples, generator=generator)
    J = J.to(device)
    result = gap_measurement(LinearMaps(J), [1.0], variants(s.steps, s.rules, s.refine_steps), s.restarts,
                             generator=generator, norm_restarts=s.norm_restarts)
    return _with_geometry(J, result, s, generator)


def mnist_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """The chapter's network at MNIST inputs (:func:`mnist_network`): ``"linear"``, its Jacobians J(x) as linear
    maps (the small-eps limit at real inputs, with the geometry), and ``"network"``, the network itself at the
    budgets ``s.eps_values`` with the variants of ``s.steps`` and ``s.network_rules``. The network's reference
    norms are the linear part's (:func:`reference`: lifted by the attacks where only bracketed)."""
    net, X = mnist_network(s, generator=generator, device=device)
    J = decompose(net, X)[0]
    norms = reference_norms(J, restarts=s.norm_restarts, generator=generator)
    linear = gap_measurement(LinearMaps(J), [1.0], variants(s.steps, s.rules, s.refine_steps), s.restarts,
                             generator=generator, norms=norms)
    network = gap_measurement(NetworkAt(net, X), s.eps_values, variants(s.steps, s.network_rules, s.refine_steps),
                              s.restarts, generator=generator, norms={**norms, "lower": reference(linear)})
    return {"linear": _with_geometry(J, linear, s, generator), "network": network}


SWEEPS = ("d", "K", "L", "N")  # the exact-law sweeps: input dimension, outputs, depth, width


def sweep_units(s) -> list[dict]:
    """One unit per point of the sweeps over d, K, depth and width (``s.d_values``, ``s.K_values``, ``s.depths``,
    ``s.widths``) around (784, ``s.K``, ``s.sweep_L``, ``s.sweep_N``), each with its own seed."""
    values = {"d": s.d_values, "K": s.K_values, "L": s.depths, "N": s.widths}
    points = [(key, v) for key in SWEEPS for v in values[key]]
    return [{"key": key, "value": int(v), "seed": s.seed + 100 + i} for i, (key, v) in enumerate(points)]


def sweep_unit(s, unit: dict, *, device="cpu") -> dict:
    """One sweep point: ``s.sweep_samples`` exact-law J at (d, K, L, N) = (784, s.K, s.sweep_L, s.sweep_N) with
    ``unit["key"]`` set to ``unit["value"]``; FGSM, ``s.sweep_steps`` steps of both rules and the linearised
    starts (:func:`gap_measurement` at eps = 1), drawn from the unit's own seed."""
    config = {"d": 784, "K": s.K, "L": s.sweep_L, "N": s.sweep_N, unit["key"]: unit["value"]}
    generator = torch.Generator().manual_seed(unit["seed"])
    J = sample_jacobians(NetworkSpec(config["d"], config["N"], config["K"], config["L"], s.sigma_w2),
                         s.sweep_samples, generator=generator).to(device)
    return gap_measurement(LinearMaps(J), [1.0], variants((s.sweep_steps,), ("madry", "full"), s.refine_steps),
                           s.restarts, generator=generator, norm_restarts=s.norm_restarts)


def training_configs(chapter_settings: dict) -> list[dict]:
    """The training attacks of chapters 3 to 5 and their networks: ``chapter_settings`` maps (stem, tier) to that
    chapter's settings; one dict per distinct (N, L, sigma_w2, eps, steps) with the names that use it."""
    out = {}
    for (stem, tier), cs in chapter_settings.items():
        width, depth, gain = (getattr(cs, name) for name in CHAPTER_NETWORKS[stem])
        key = (int(width), int(depth), float(gain), float(cs.eps), int(cs.attack_steps))
        out.setdefault(key, []).append(f"{stem} ({tier})")
    return [{"N": k[0], "L": k[1], "sigma_w2": k[2], "eps": k[3], "steps": k[4], "used_by": ", ".join(v)}
            for k, v in out.items()]


def training_gap_measurement(configs: list[dict], s, *, device="cpu") -> dict:
    """:func:`training_attack_gap` of each training attack (l_inf, p = q = inf, the default step size
    2.5 eps / steps) at initialisation, on its own network (float64, seed ``s.seed`` + index) at the first
    ``s.train_inputs`` MNIST training images, against ``s.reference_steps`` steps x ``s.reference_restarts``
    restarts. Returns ``found``, ``best``, ``linear`` (C, B) and the configurations' fields as arrays."""
    X, _ = load("mnist", "train", n=s.train_inputs, scaling="unit", dtype=torch.float64, device=device)
    rows = {"found": [], "best": [], "linear": []}
    for i, c in enumerate(configs):
        generator = torch.Generator(device=device).manual_seed(s.seed + i)
        net = ReLULikeNet(784, c["N"], 10, c["L"], c["sigma_w2"], 0.0, generator=generator, dtype=torch.float64,
                          device=device)
        gap = training_attack_gap(net, X, Attack(c["eps"], math.inf, math.inf, c["steps"]),
                                  [Attack(c["eps"], math.inf, math.inf, s.reference_steps,
                                          restarts=s.reference_restarts)],
                                  generator=generator, norm_restarts=s.norm_restarts)
        for key in rows:
            rows[key].append(gap[key])
    out = {k: np.stack(v) for k, v in rows.items()}
    out.update({k: np.asarray([c[k] for c in configs]) for k in ("N", "L", "sigma_w2", "eps", "steps", "used_by")})
    return out


def trained_gap_measurement(config, X: torch.Tensor, y: torch.Tensor, s, *, N: int, L: int, sigma_w2: float,
                            generator: torch.Generator) -> dict:
    """The training attack's gap before and after training: a network (784 -> N -> 10, depth L, float64) trained
    with ``config`` (a :class:`mfat.model.training.TrainConfig`) on (X, y); :func:`training_attack_gap` of
    ``config.attack`` against ``s.reference_steps`` x ``s.reference_restarts`` on the first ``s.train_inputs``
    rows of X, at initialisation (``"before"``) and after training (``"after"``)."""
    net = ReLULikeNet(784, N, 10, L, sigma_w2, 0.0, generator=generator, dtype=torch.float64, device=X.device)
    attack = config.attack
    references = [Attack(attack.eps, attack.p, attack.q, s.reference_steps, restarts=s.reference_restarts)]
    Xg = X[: s.train_inputs].to(torch.float64)
    before = training_attack_gap(net, Xg, attack, references, generator=generator, norm_restarts=s.norm_restarts)
    train(net, X.to(torch.float64), y, config, generator=generator, progress=False)
    after = training_attack_gap(net, Xg, attack, references, generator=generator, norm_restarts=s.norm_restarts)
    return {"before": before, "after": after}


def attack_comparison(net: ReLULikeNet, X: torch.Tensor, attacks: dict, reference: Attack, *, seed: int,
                      norm_restarts: int = 4) -> dict:
    """:func:`training_attack_gap` of every attack of ``attacks`` (name -> :class:`Attack`, all with the eps, p, q
    of ``reference``) on ``net`` at X (B, d), each run from a generator seeded ``seed``. Returns ``found``
    (name -> (B,)), the common ``best`` (B,): the largest value the reference or any of the attacks reached, and
    ``linear`` (B,), eps ||J(x)||_{p,q}."""
    runs = {name: training_attack_gap(net, X, a, [reference], norm_restarts=norm_restarts,
                                      generator=torch.Generator(device=X.device).manual_seed(seed))
            for name, a in attacks.items()}
    return {"found": {name: r["found"] for name, r in runs.items()},
            "best": np.max([r["best"] for r in runs.values()], axis=0), "linear": next(iter(runs.values()))["linear"]}


def chapter_attack_gap(S, stem: str, X: torch.Tensor, y: torch.Tensor, gap, *, objective: str, train_steps: int,
                       seed: int) -> dict:
    """The training attack of chapter ``stem`` (settings ``S``: ``S.train_config(objective, train_steps).attack``)
    and its candidate (``S.candidate_attack_steps`` steps x ``S.candidate_attack_restarts`` restarts) on the
    chapter's network (:data:`CHAPTER_NETWORKS`, float64, drawn from ``seed``) at the first ``gap.train_inputs``
    rows of X, against ``gap.reference_steps`` x ``gap.reference_restarts`` (``gap``: chapter 8's settings):
    :func:`attack_comparison` at initialisation (``"before"``) and, when ``train_steps`` > 0, after training with
    the chapter's configuration on (X, y) (``"after"``)."""
    width, depth, gain = (getattr(S, name) for name in CHAPTER_NETWORKS[stem])
    generator = torch.Generator(device=X.device).manual_seed(seed)
    net = ReLULikeNet(784, width, 10, depth, gain, 0.0, generator=generator, dtype=torch.float64, device=X.device)
    config = S.train_config(objective, max(train_steps, 1), record_every=max(train_steps, 1))
    a = config.attack
    attacks = {"training": a, "candidate": Attack(a.eps, a.p, a.q, S.candidate_attack_steps,
                                                  restarts=S.candidate_attack_restarts)}
    reference = Attack(a.eps, a.p, a.q, gap.reference_steps, restarts=gap.reference_restarts)
    Xg = X[: gap.train_inputs].to(torch.float64)
    out = {"before": attack_comparison(net, Xg, attacks, reference, seed=seed, norm_restarts=gap.norm_restarts)}
    if train_steps > 0:
        train(net, X.to(torch.float64), y, config, generator=generator, progress=False)
        out["after"] = attack_comparison(net, Xg, attacks, reference, seed=seed, norm_restarts=gap.norm_restarts)
    return out


# ----------------------------------------------------------------------------------------------- analyses


def reference(result: dict) -> np.ndarray:
    """The norm the ratios divide by, (P, B): ``lower`` (the norm itself where exact); for a linear problem lifted
    to the best value any attack found (divided by eps), itself a lower bound on the norm of a linear map."""
    lower = np.asarray(result["lower"], dtype=float)
    if not result["linear"]:
        return lower
    found = np.nanmax(result["values"] / result["eps"][:, None, None, None, None], axis=(0, 2, 3))
    return np.maximum(lower, found)


def ratios(result: dict) -> np.ndarray:
    """value / (eps ||J||_{p,q}), (E, P, V, R, B), NaN where a variant has no such restart."""
    return result["values"] / (result["eps"][:, None, None, None, None] * reference(result)[None, :, None, None, :])


def best_of(result: dict, restarts: int | None = None) -> np.ndarray:
    """The ratio of the best of the first ``restarts`` restarts (all by default), (E, P, V, B)."""
    r = ratios(result)
    return np.nanmax(r[:, :, :, : (restarts or r.shape[3])], axis=3)


def best_of_all(result: dict) -> np.ndarray:
    """The best ratio any variant and restart reached, (E, P, B): a lower bound on L_adv / (eps ||J||)."""
    return np.nanmax(ratios(result), axis=(2, 3))


def _variant_index(result: dict, name: str) -> int:
    names = list(result["variants"])
    if name not in names:
        raise ValueError(f"parameter 'name' = {name!r} is out of range: allowed one of {', '.join(names)}")
    return names.index(name)


def variant_ratio(result: dict, name: str, restarts: int = 1, eps_index: int = 0) -> np.ndarray:
    """The ratio of one variant with ``restarts`` restarts, (P, B)."""
    return best_of(result, restarts)[eps_index, :, _variant_index(result, name)]


def gap_table(result: dict, eps_index: int = 0, restarts: int = 1) -> pd.DataFrame:
    """Mean ratio per variant (rows) and pair (columns) with ``restarts`` restarts; the last row is the best of
    every variant and restart."""
    mean = np.nanmean(best_of(result, restarts)[eps_index], axis=-1)  # (P, V)
    table = pd.DataFrame(mean.T, index=list(result["variants"]),
                         columns=[pair_label(*pq) for pq in map(tuple, result["pairs"])])
    table.loc["best of all"] = best_of_all(result)[eps_index].mean(axis=-1)
    return table


def weakness_table(result: dict, eps_index: int = 0) -> pd.DataFrame:
    """Mean over examples of (variant's best restart) / (best of all), per variant and pair: how much of what
    more search finds each attack misses."""
    share = best_of(result)[eps_index] / best_of_all(result)[eps_index][:, None, :]  # (P, V, B)
    return pd.DataFrame(share.mean(axis=-1).T, index=list(result["variants"]),
                        columns=[pair_label(*pq) for pq in map(tuple, result["pairs"])])


def steps_curves(result: dict, rule: str, eps_index: int = 0) -> dict:
    """The ratio against the number of steps of the random-start variants of ``rule``: ``steps`` (S,) and
    ``mean`` (P, S, R) with the best of the first r = 1..R restarts in the last axis."""
    names = list(result["variants"])
    chosen = [(int(n.split()[0]), i) for i, n in enumerate(names) if n.endswith(f", {rule}")]
    if not chosen:
        raise ValueError(f"parameter 'rule' = {rule!r} is out of range: no variant of that rule in the result")
    chosen.sort()
    r = ratios(result)[eps_index][:, [i for _, i in chosen]]  # (P, S, R, B)
    running = np.fmax.accumulate(r, axis=2)
    return {"steps": np.asarray([s for s, _ in chosen]), "mean": running.mean(axis=-1)}


def shortfall(result: dict, name: str, restarts: int = 1, eps_index: int = 0, z: float = Z_DEFAULT) -> pd.DataFrame:
    """1 - ratio of one variant, per pair: mean, standard error and the mean minus ``z`` standard errors."""
    gap = 1.0 - variant_ratio(result, name, restarts, eps_index)
    mean, se = gap.mean(axis=-1), standard_error(gap, axis=-1)
    return pd.DataFrame({"shortfall": mean, "s.e.": se, "lower end": mean - z * se},
                        index=[pair_label(*pq) for pq in map(tuple, result["pairs"])])


def paired_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of a - b over paired samples (same examples)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    return float(diff.mean()), float(standard_error(diff))


def small_eps_margins(result: dict, jump: str = "linearised maximiser") -> dict:
    """The small-eps checks on a linear problem: ``excess``, the largest value / (eps upper bound) - 1 over every
    variant, restart, pair and example (<= rounding: no attack exceeds the norm); ``jump_error``, the largest
    |value / (eps ||J||) - 1| of the jump to the maximiser over the pairs where the norm is exact."""
    if not result["linear"]:
        raise ValueError("parameter 'result' is a network measurement: allowed a linear-map measurement")
    upper = result["eps"][:, None, None, None, None] * np.asarray(result["upper"])[None, :, None, None, :]
    excess = np.nanmax(result["values"] / upper) - 1.0
    jump = ratios(result)[:, :, _variant_index(result, jump), 0]  # (E, P, B)
    exact = np.asarray(result["exact"], dtype=bool)
    return {"excess": float(excess), "jump_error": float(np.abs(jump[:, exact] - 1.0).max())}


def geometry_table(result: dict, d: int, K: int) -> pd.DataFrame:
    """Per pair: how the norm is computed, the bound on the local maxima (up to sign), the mean and largest number
    of distinct end points reached from the starts, and the fraction of starts that end at the maximum."""
    geo = result["geometry"]
    rows = []
    for j, (p, q) in enumerate(map(tuple, result["pairs"])):
        rows.append({"pair": pair_label(p, q), "norm": theory.closed_form(p, q),
                     "local maxima at most": theory.local_maxima_bound(p, q, d, K),
                     "distinct end points (mean)": geo["count"][j].mean(),
                     "distinct end points (max)": int(geo["count"][j].max()),
                     "starts ending at the maximum": geo["global"][j].mean()})
    return pd.DataFrame(rows).set_index("pair")


def sweep_table(units: list[dict], results: list[dict], name: str, restarts: int = 1) -> pd.DataFrame:
    """The mean ratio of variant ``name`` per sweep point (rows: key, value) and pair (columns)."""
    index = pd.MultiIndex.from_tuples([(u["key"], u["value"]) for u in units], names=["sweep", "value"])
    return pd.DataFrame([variant_ratio(res, name, restarts).mean(axis=-1) for res in results], index=index,
                        columns=[pair_label(*pq) for pq in map(tuple, results[0]["pairs"])])


def training_gap_table(res: dict) -> pd.DataFrame:
    """One row per training attack: its network and budget, and the means (with standard errors) of found / best
    reference, found / (eps ||J||) and best / (eps ||J||)."""
    rows = []
    for i in range(len(res["steps"])):
        row = {"used by": str(res["used_by"][i]), "N": int(res["N"][i]), "L": int(res["L"][i]),
               "eps": float(res["eps"][i]), "steps": int(res["steps"][i])}
        for name, a, b in (("found / best", "found", "best"), ("found / linear", "found", "linear"),
                           ("best / linear", "best", "linear")):
            ratio = res[a][i] / res[b][i]
            row[name], row[f"{name} s.e."] = ratio.mean(), standard_error(ratio)
        rows.append(row)
    return pd.DataFrame(rows)


def gap_matrix(result: dict, eps_index: int = 0) -> pd.DataFrame:
    """The heat map of a measurement: mean ratio per pair (columns) for every variant with one restart, every
    random-start variant with all R restarts (``"... x R"``) and the best of all (rows)."""
    R = result["values"].shape[3]
    one, every = gap_table(result, eps_index, 1), gap_table(result, eps_index, R)
    random = [n for n in result["variants"] if "step" in n and not n.startswith("linearised")]
    extra = every.loc[random].rename(index=lambda n: f"{n} x {R}")
    return pd.concat([one.drop(index="best of all"), extra, one.loc[["best of all"]]])


def nonlinearity_table(network: dict, name: str) -> pd.DataFrame:
    """Per budget (rows: eps, pair): the mean ratio of the jump to the linearised maximiser (how far the network
    bends along the best linear direction), of variant ``name`` (one restart) and of the best of all."""
    rows = []
    for e, eps in enumerate(network["eps"]):
        jump = variant_ratio(network, "linearised maximiser", 1, e).mean(axis=-1)
        attack = variant_ratio(network, name, 1, e).mean(axis=-1)
        best = best_of_all(network)[e].mean(axis=-1)
        for j, pq in enumerate(map(tuple, network["pairs"])):
            rows.append({"eps": float(eps), "pair": pair_label(*pq), "linearised maximiser": jump[j], name: attack[j],
                         "best of all": best[j]})
    return pd.DataFrame(rows).set_index(["eps", "pair"])


#: The pairs whose maximum competes with many other local maxima (all but (2,2) and (inf,2): see
#: :func:`mfat.theory.attack_gaps.local_maxima_bound` and the geometry of the chapter).
MANY_MAXIMA = tuple(pq for pq in PAIRS if pq not in ((2.0, 2.0), (math.inf, 2.0)))


def rounding_allowance(d: int, factor: float = 10.0) -> float:
    """Relative float64 rounding of a sum of d products, with a margin: factor * d * u (u = 2^-52)."""
    return factor * check_int("d", d, min_value=1) * float(np.finfo(np.float64).eps)


def pair_index(result: dict, pair) -> int:
    """The index of ``pair`` (p, q) in ``result["pairs"]``."""
    pairs = [tuple(float(v) for v in pq) for pq in result["pairs"]]
    key = (normalise_p("p", pair[0]), normalise_p("q", pair[1]))
    if key not in pairs:
        raise ValueError(f"parameter 'pair' = {pair!r} is out of range: allowed one of {pairs}")
    return pairs.index(key)


def fgsm_agreement(problem, eps: float, pairs=PAIRS, *, seed: int = 0) -> float:
    """The largest |difference| between FGSM as a :class:`Variant` (through :func:`attack_values`) and
    :func:`mfat.model.attacks.fgm` on ``problem``, over ``pairs`` and examples, each run from the same seed."""
    worst = 0.0
    for p, q in pairs:
        ours = attack_values(problem, eps, p, q, [Variant("fgsm", 1, "zero")], 1,
                             generator=torch.Generator().manual_seed(seed))[0, 0]
        _, theirs = fgm(problem.objective(q), problem.x, Attack(eps, p, q, 7, restarts=3),
                        generator=torch.Generator().manual_seed(seed))
        worst = max(worst, float(np.abs(ours - theirs.cpu().numpy()).max()))
    return worst


def headline(law: dict, network: dict, name: str) -> dict:
    """The numbers of the chapter's verdict: on the exact law, the mean shortfall of variant ``name`` (one
    restart) over :data:`MANY_MAXIMA` and its ratio for (2,2) and (inf,2) with full steps of the same count;
    on the network at the largest budget, the (inf,inf) ratios of the jump, of ``name`` and of the best of all, and
    at the smallest budget those of the jump and of the best of all."""
    full = name.replace("madry", "full")
    one = best_of(law, 1)[0]  # (P, V, B)
    many = [pair_index(law, pq) for pq in MANY_MAXIMA]
    e, small = int(np.argmax(network["eps"])), int(np.argmin(network["eps"]))
    linf = pair_index(network, (math.inf, math.inf))
    return {"many_shortfall": float(1.0 - one[many, _variant_index(law, name)].mean()),
            "power_22": float(one[pair_index(law, (2, 2)), _variant_index(law, full)].mean()),
            "power_inf2": float(one[pair_index(law, (math.inf, 2)), _variant_index(law, full)].mean()),
            "eps_large": float(network["eps"][e]),
            "jump_large": float(variant_ratio(network, "linearised maximiser", 1, e)[linf].mean()),
            "attack_large": float(variant_ratio(network, name, 1, e)[linf].mean()),
            "best_large": float(best_of_all(network)[e, linf].mean()),
            "eps_small": float(network["eps"][small]),
            "jump_small": float(variant_ratio(network, "linearised maximiser", 1, small)[linf].mean()),
            "best_small": float(best_of_all(network)[small, linf].mean())}


def geometry_bounds(d: int, K: int, pairs=PAIRS) -> pd.DataFrame:
    """The prediction of the geometry, per pair: how the norm is computed and the most local maxima (up to sign)
    of u -> ||J u||_q on the unit l_p ball (:mod:`mfat.theory.attack_gaps`), for a generic K x d matrix."""
    return pd.DataFrame([{"pair": pair_label(p, q), "norm": theory.closed_form(p, q),
                          "local maxima at most": theory.local_maxima_bound(p, q, d, K)} for p, q in pairs]
                        ).set_index("pair")


def format_count(n: float) -> str:
    """A count of local maxima for display: the integer, or a power of two beyond a million (2^783)."""
    if not math.isfinite(n) or n > 1e6:
        return f"2^{round(math.log2(n))}" if math.isfinite(n) else "more than 2^1023"
    return f"{int(n)}"


def sweep_point(units: list[dict], key: str, value: int) -> dict:
    """The unit of :func:`sweep_units` with ``key`` set to ``value``."""
    for unit in units:
        if unit["key"] == key and unit["value"] == value:
            return unit
    raise ValueError(f"parameters 'key' = {key!r}, 'value' = {value!r} are out of range: no such sweep point")


def mnist_jacobians(s, *, generator: torch.Generator, device="cpu") -> torch.Tensor:
    """J(x) (B, K, 784) of :func:`mnist_network` at its inputs."""
    net, X = mnist_network(s, generator=generator, device=device)
    return decompose(net, X)[0]


def before_after_table(res: dict) -> pd.DataFrame:
    """:func:`trained_gap_measurement` as a table: rows before / after training, the means and standard errors of
    found / best, found / linear and best / linear."""
    rows = {}
    for when in ("before", "after"):
        gap = res[when]
        rows[when] = {label: gap[key] for key, label in (
            ("vs_best", "found / best"), ("vs_best_se", "s.e."), ("vs_linear", "found / linear"),
            ("vs_linear_se", "s.e. "), ("best_vs_linear", "best / linear"), ("best_vs_linear_se", "s.e.  "))}
    return pd.DataFrame.from_dict(rows, orient="index")


def attack_share(res: dict, when: str = "before", name: str = "training") -> tuple[float, float]:
    """The mean and standard error of found / best of attack ``name`` in :func:`chapter_attack_gap`'s ``when``
    (``"before"`` or ``"after"`` training): the factor by which a rate proportional to E L_adv is too small when
    L_adv is measured with that attack instead of the best found."""
    gap = res[when]
    ratio = gap["found"][name] / gap["best"]
    return float(ratio.mean()), float(standard_error(ratio))


def attack_comparison_table(res: dict, labels: dict) -> pd.DataFrame:
    """:func:`chapter_attack_gap` as a table: one row per (when, attack) with ``labels`` (name -> row label, e.g.
    "training: 3 steps"), and the means (with standard errors) of found / best and found / (eps ||J||); a row
    "best found" per time holds best / (eps ||J||)."""
    rows = []
    for when, gap in res.items():
        values = {**{labels[n]: f for n, f in gap["found"].items()}, "best found": gap["best"]}
        for label, found in values.items():
            vs_best, vs_linear = found / gap["best"], found / gap["linear"]
            rows.append({"network": f"{when} training", "attack": label, "found / best": vs_best.mean(),
                         "s.e.": standard_error(vs_best), "found / (eps ||J||)": vs_linear.mean(),
                         "s.e. ": standard_error(vs_linear)})
    return pd.DataFrame(rows).set_index(["network", "attack"]).round(3)


def attack_labels(S) -> dict:
    """Row labels of :func:`attack_comparison_table` for a chapter's settings ``S``: the training attack and the
    candidate, as "steps x restarts"."""
    return {"training": f"training: {S.attack_steps} steps x {S.attack_restarts}",
            "candidate": f"{S.candidate_attack_steps} steps x {S.candidate_attack_restarts}"}


def gap_summary(res: dict, S, gap) -> dict:
    """The numbers a chapter quotes from :func:`chapter_attack_gap`: ``steps``, ``inputs``, ``candidate``,
    ``reference`` (labels), ``share`` and ``share_se`` (found / best at initialisation), ``share_after`` (NaN
    without training), ``cand_share``, ``attack_part`` (1 / share) and ``bend`` (best / (eps ||J||))."""
    share, share_se = attack_share(res, "before")
    before = res["before"]
    return {"steps": S.attack_steps, "inputs": gap.train_inputs, "candidate": attack_labels(S)["candidate"],
            "reference": f"{gap.reference_steps} steps x {gap.reference_restarts}", "share": share,
            "share_se": share_se, "share_after": attack_share(res, "after")[0] if "after" in res else float("nan"),
            "cand_share": attack_share(res, "before", "candidate")[0], "attack_part": 1 / share,
            "bend": float(np.mean(before["best"] / before["linear"]))}
