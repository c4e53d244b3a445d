"""Chapter 2 measurements and analyses: the adversarial loss of random Definition 3.1 networks (Theorem 5.1).

    L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q                      (the paper's Section 5)
    L_adv(x) = eps ||J(x)||_{p,q}   if the l_p ball of radius eps lies in one activation region
    L_adv(x) <= eps max_x' ||J(x')||_{p,q}  ~  eps beta_{p,q}(d, K) omega^(L/2)      (section 5, Theorem 5.1)

The attack used throughout is projected gradient ascent on the true network (:mod:`mfat.model.attacks`). Its start is
either a uniform random point of the ball (the engine's :func:`mfat.model.attacks.pgd`) or the maximiser of the
*linearised* problem, eps * argmax_{||u||_p <= 1} ||J(x) u||_q (from :mod:`mfat.model.norms`), refined by steepest-ascent
steps on the true objective (:func:`attack`). Every point it evaluates is feasible, so every value it returns is a
lower bound on L_adv(x); for the NP-hard pairs (2,1), (inf,1), (inf,2) nothing better than a lower bound is
available. Functions take an explicit ``generator`` and ``device`` and return float64 numpy arrays (small enough
for :func:`mfat.chapter.results.cached`).

The chapter's measurements (:func:`identity_measurement`, :func:`fig3_measurement`, ...: one per stored result,
each reading the chapter's settings) and the analyses behind its tables and claims (summaries with clustered standard
errors, :func:`bound_and_slope`, :func:`finite_width_allowance`, :func:`law_agreement`, ...) follow the engine.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import torch

from mfat.model import attacks
from mfat.data import gaussian_inputs, load
from mfat.model.linearize import activation_slopes, decompose
from mfat.laws.jacobian import sample_jacobians
from mfat.model.networks import NetworkSpec, ReLULikeNet, apply_layer, layer_tangent, phi_prime
from mfat.model.norms import PAIRS, dual_exponent, operator_norm
from mfat.runtime import Units, make_generator, unit_seed
from mfat.stats import Z_DEFAULT, standard_error
from mfat.theory import adversarial_loss as bounds
from mfat.theory.meanfield import omega
from mfat.validation import check_int, check_real, normalise_p

__all__ = [
    "PAIRS",
    "pair_label",
    "check_pairs",
    "region_radius",
    "flip_fraction",
    "linearise",
    "attack",
    "measure",
    "sweep",
    "network_measure",
    "merge_networks",
    "small_eps_identity",
    "gaussian_norms",
    "beta_monte_carlo",
    "beta_table",
    "chain_norms",
    "clustered_se",
    "log_slope",
    # the chapter's measurements
    "exponent_symbol",
    "threat_pairs",
    "diagonal_pairs",
    "eps_sweep_pairs",
    "depth_networks",
    "beta_2inf_grid",
    "law_widths",
    "beta_estimates",
    "identity_measurement",
    "beta_table_measurement",
    "fig3_measurement",
    "fig3_units",
    "width_units",
    "loss_unit",
    "fig3_law_measurement",
    "beta_2inf_measurement",
    "depth_measurement",
    "k_measurement",
    "width_measurement",
    "paper_law_measurement",
    # the analyses behind its claims
    "rounding_allowance",
    "identity_summary",
    "identity_margins",
    "eps_sweep_margins",
    "beta_table_summary",
    "tightest_beta_entry",
    "loss_summary",
    "norm_summary",
    "law_summary",
    "beta_for_bound",
    "finite_width_allowance",
    "bound_and_slope",
    "beta_2inf_bracket",
    "depth_slopes",
    "k_slopes",
    "slopes_by_q",
    "law_agreement",
    "finite_width_excess",
    "excess_decline",
    "law_excess_at",
    "tightness_table",
]


def pair_label(p, q) -> str:
    """``"(p,q)"`` with inf written as the symbol, e.g. ``"(∞,2)"``."""
    return f"({exponent_symbol(normalise_p('p', p))},{exponent_symbol(normalise_p('q', q))})"


def check_pairs(pairs) -> tuple[tuple[float, float], ...]:
    """Validate a sequence of (p, q) pairs, each in {1, 2, inf}; returns them as float tuples."""
    try:
        out = tuple((normalise_p("p", p), normalise_p("q", q)) for p, q in pairs)
    except (TypeError, ValueError) as err:
        if isinstance(err, ValueError) and "parameter" in str(err):
            raise
        raise ValueError(f"parameter 'pairs' = {pairs!r} is out of range: allowed a sequence of (p, q) with "
                         f"p, q in 1, 2, inf") from None
    if not out:
        raise ValueError("parameter 'pairs' = () is out of range: allowed at least one (p, q) pair")
    return out


@torch.no_grad()
def region_radius(net: ReLULikeNet, x: torch.Tensor, p, *, chunk: int = 16) -> torch.Tensor:
    """The l_p distance from each input to the boundary of its activation region, shape (B,).

    Inside the region of x every pre-activation is affine in the input, z^(l)(x + eta) = z^(l)(x) + G^(l) eta,
    with G^(l) (N x d) the product of the layers below (G^(1) = W^(1) P_in). The region is
    the polytope {eta : sign(z_i^(l) + G_i^(l) eta) = sign(z_i^(l)) for all l, i}, so its l_p distance to the
    boundary is exactly min_{l,i} |z_i^(l)(x)| / ||G_i^(l)||_{p*} (p* the dual exponent): for eps below it the
    whole ball B_p(x, eps) lies in one region and L_adv(x) = eps ||J(x)||_{p,q}. Costs O(B N^2 d L); ``chunk``
    examples at a time. x: (B, d) -> (B,) in x's dtype.
    """
    p = normalise_p("p", p)
    chunk = check_int("chunk", chunk, min_value=1)
    s = net.spec
    if x.ndim != 2 or x.shape[1] != s.d:
        raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (B, d) with d = {s.d}")
    ps = dual_exponent(p)
    out = []
    for xb in x.split(chunk):
        h = xb @ net.P_in.T  # (b, N)
        G = net.P_in.expand(xb.shape[0], *net.P_in.shape)  # (b, N, d): d h / d x
        radius = torch.full((xb.shape[0],), math.inf, dtype=x.dtype, device=x.device)
        for layer in range(s.L):
            W, P = net.W[layer], net.P[layer] if s.residual else None
            z, h_new = apply_layer(h, W, net.b[layer], s.u, s.v, P)
            Gz = W @ G  # (b, N, d)
            scale = torch.linalg.vector_norm(Gz, ord=ps, dim=-1)  # (b, N)
            r = (z.abs() / scale.clamp_min(torch.finfo(x.dtype).tiny)).amin(dim=-1)
            radius = torch.minimum(radius, r)
            h, G = h_new, layer_tangent(G, W, phi_prime(z, s.u, s.v), P, WT=Gz)
        out.append(radius)
    return torch.cat(out)


@torch.no_grad()
def flip_fraction(net: ReLULikeNet, x: torch.Tensor, x_adv: torch.Tensor, *, base: list | None = None) -> torch.Tensor:
    """Fraction of the L*N hidden units whose slope phi'(z) differs between x and x_adv, shape (B,).

    ``base`` may carry ``mfat.model.linearize.activation_slopes(net, x)`` when it is already known.
    """
    a = activation_slopes(net, x) if base is None else base
    b = activation_slopes(net, x_adv)
    flips = sum((sa != sb).sum(dim=1) for sa, sb in zip(a, b))
    return flips.to(torch.float64) / (net.spec.L * net.spec.N)


@torch.no_grad()
def linearise(net: ReLULikeNet, x: torch.Tensor, pairs=PAIRS, *, norm_restarts: int = 0, norm_max_iter: int = 3,
              generator: torch.Generator | None = None) -> dict:
    """J(x) and its nine operator norms with their maximising directions.

    x: (B, d). Returns ``{"J": (B, K, d) tensor, (p, q): NormResult}`` where each :class:`mfat.model.norms.NormResult`
    (computed in float64, ``argmax`` (B, d) filled) has ``value``/``lower``/``upper`` of shape (B,). For the
    NP-hard pairs with more than 16 free signs the value is a local-search lower bound (``norm_restarts`` random
    starts besides the spectral and row starts, ``norm_max_iter`` rounds; see :func:`mfat.model.norms.operator_norm`).
    """
    pairs = check_pairs(pairs)
    J, _ = decompose(net, x)
    J64 = J.to(torch.float64)
    if generator is None:
        generator = torch.Generator(device=J.device).manual_seed(0)
    out = {"J": J}
    for p, q in pairs:
        out[(p, q)] = operator_norm(J64, p, q, return_argmax=True, restarts=norm_restarts, max_iter=norm_max_iter,
                                    generator=generator)
    return out


def _deviation(net: ReLULikeNet, q: float, fx: torch.Tensor):
    """x' -> ||f(x') - f(x)||_q per example: :func:`mfat.model.attacks.output_deviation` with f(x) (B, K) given."""
    def objective(x_adv: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(net(x_adv) - fx, ord=q, dim=1)

    return objective


def attack(net: ReLULikeNet, x: torch.Tensor, eps: float, p, q, *, direction: torch.Tensor | None = None,
           refine_steps: int = 3, refine_step_size: float | None = None, random_steps: int = 0, restarts: int = 1,
           generator: torch.Generator | None = None, fx: torch.Tensor | None = None) -> dict:
    """A lower bound on L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q for x (B, d).

    Two attacks, the better kept per example (both only evaluate feasible points):

    - ``direction`` (B, d), unit l_p norm (e.g. ``linearise(...)[(p, q)].argmax``): start at eps * direction, the
      exact maximiser of the linearised loss ||J(x) eta||_q, and take ``refine_steps`` projected steepest-ascent
      steps of size ``refine_step_size`` (default eps) on the true loss;
    - ``random_steps`` > 0: the engine's PGD from ``restarts`` uniform random starts (:func:`mfat.model.attacks.pgd`,
      default step size 2.5 eps / steps).

    ``fx`` (B, K) may carry f(x) when it is already known. Returns ``{"value": (B,), "eta": (B, d), "linear": (B,)
    or None, "random": (B,) or None}`` (tensors; "linear" and "random" are the values of the two attacks).
    """
    p, q = normalise_p("p", p), normalise_p("q", q)
    eps = check_real("eps", eps, min_value=0.0, min_inclusive=False)
    refine_steps = check_int("refine_steps", refine_steps, min_value=0)
    random_steps = check_int("random_steps", random_steps, min_value=0)
    if direction is None and random_steps == 0:
        raise ValueError("attack: give a 'direction' or 'random_steps' >= 1 (parameter 'random_steps' = 0)")
    x = x.detach()
    if fx is None:
        with torch.no_grad():
            fx = net(x)
    objective = _deviation(net, q, fx.detach())
    lin_val = rnd_val = None
    best_eta = best_val = None
    if direction is not None:
        if direction.shape != x.shape:
            raise ValueError(f"parameter 'direction' has shape {tuple(direction.shape)}: allowed {tuple(x.shape)}")
        step = eps if refine_step_size is None else check_real("refine_step_size", refine_step_size, min_value=0.0)
        refine = attacks.Attack(eps, p, q, refine_steps, step_size=step, random_start=False)
        eta0 = refine.ball.project(eps * direction.to(dtype=x.dtype, device=x.device))  # project: absorbs rounding
        best_eta, best_val = attacks.pgd(objective, x, refine, start=eta0)
        lin_val = best_val
    if random_steps:
        eta, val = attacks.pgd(objective, x, attacks.Attack(eps, p, q, random_steps, restarts=restarts),
                               generator=generator)
        rnd_val = val
        if best_val is None:
            best_eta, best_val = eta, val
        else:
            better = val > best_val
            best_eta = torch.where(better.unsqueeze(1), eta, best_eta)
            best_val = torch.where(better, val, best_val)
    return {"value": best_val, "eta": best_eta, "linear": lin_val, "random": rnd_val}


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def measure(net: ReLULikeNet, x: torch.Tensor, eps_values, pairs=PAIRS, *, lin: dict | None = None,
            refine_steps: int = 3, random_steps: int = 0, restarts: int = 1, norm_restarts: int = 0,
            norm_max_iter: int = 3, radius: bool = False, generator: torch.Generator | None = None) -> dict:
    """L_adv(x) for every eps in ``eps_values`` and every pair, on one network and a batch x (B, d).

    Returns float64 arrays: ``L_adv`` (n_eps, n_pairs, B) (attack lower bounds, :func:`attack`), ``flips``
    (n_eps, n_pairs, B) (fraction of hidden units flipped at the attack's point), ``norm``, ``norm_upper``
    (n_pairs, B): ||J(x)||_{p,q} (a local-search lower bound where not ``exact``) and a certified upper bound,
    ``f_norm`` (n_pairs, B): ||f(x)||_q (the scale of float rounding in f(x + eta) - f(x)), ``exact``
    (n_pairs,); with ``radius``: ``radius`` (3, B), the region's l_1, l_2, l_inf radius (:func:`region_radius`).
    ``lin`` may carry a precomputed :func:`linearise` result. An empty ``eps_values`` measures J(x) only:
    ||J(x)||_{p,q} is the small-eps limit of L_adv(x) / eps (step 1 of Theorem 5.1).
    """
    pairs = check_pairs(pairs)
    eps_values = [check_real("eps", e, min_value=0.0, min_inclusive=False) for e in np.atleast_1d(eps_values)]
    if lin is None:
        lin = linearise(net, x, pairs, norm_restarts=norm_restarts, norm_max_iter=norm_max_iter, generator=generator)
    B, P, E = x.shape[0], len(pairs), len(eps_values)
    with torch.no_grad():
        fx, base = net(x), activation_slopes(net, x)
    out = {"L_adv": np.empty((E, P, B)), "flips": np.empty((E, P, B)), "norm": np.empty((P, B)),
           "norm_upper": np.empty((P, B)), "exact": np.empty(P, dtype=bool), "f_norm": np.empty((P, B))}
    for j, (p, q) in enumerate(pairs):
        res = lin[(p, q)]
        out["norm"][j], out["norm_upper"][j], out["exact"][j] = _np(res.value), _np(res.upper), res.exact
        out["f_norm"][j] = _np(torch.linalg.vector_norm(fx, ord=q, dim=1))
        for i, eps in enumerate(eps_values):
            a = attack(net, x, eps, p, q, direction=res.argmax, refine_steps=refine_steps, random_steps=random_steps,
                       restarts=restarts, generator=generator, fx=fx)
            out["L_adv"][i, j] = _np(a["value"])
            out["flips"][i, j] = _np(flip_fraction(net, x, x + a["eta"], base=base))
    if radius:
        out["radius"] = np.stack([_np(region_radius(net, x, p)) for p in (1, 2, math.inf)])
    return out


_NET_KEYS = ("d", "N", "K", "L", "sigma_w2", "sigma_b2", "u", "v", "residual")


def _check_configs(configs) -> list[dict]:
    """The list of network settings of :func:`sweep` / :func:`chain_norms`: non-empty, Definition 3.1 keys only."""
    configs = list(configs)
    if not configs:
        raise ValueError("parameter 'configs' = [] is out of range: allowed at least one network setting")
    for cfg in configs:
        unknown = set(cfg) - set(_NET_KEYS)
        if unknown:
            raise ValueError(f"parameter 'configs' has unknown keys {sorted(unknown)}: allowed {', '.join(_NET_KEYS)}")
    return configs


def sweep(configs, eps_values, pairs=PAIRS, *, n_networks: int, n_inputs: int, generator: torch.Generator,
          device="cpu", dtype: torch.dtype = torch.float32, progress: bool = False, **measure_kwargs) -> dict:
    """:func:`measure` over a list of network settings, ``n_networks`` random networks each.

    configs: sequence of dicts with keys among d, N, K, L, sigma_w2, sigma_b2, u, v, residual (Definition 3.1).
    Each network sees ``n_inputs`` fresh Gaussian inputs with ||x||_2 = sqrt(d) (:func:`mfat.data.gaussian_inputs`).
    Networks, inputs and attacks all draw from ``generator``. Returns float64 arrays with a leading config axis and
    the samples (networks x inputs, network-major) last: ``L_adv``, ``flips`` (C, n_eps, n_pairs, S), ``norm``,
    ``norm_upper`` (C, n_pairs, S), ``exact`` (C, n_pairs) (all networks must agree), ``network`` (S,) the network
    index of every sample, ``eps`` (n_eps,), ``pairs`` (n_pairs, 2); and ``radius`` (C, 3, S) if asked for.
    """
    pairs = check_pairs(pairs)
    n_networks = check_int("n_networks", n_networks, min_value=1)
    n_inputs = check_int("n_inputs", n_inputs, min_value=1)
    configs = _check_configs(configs)
    results = []
    for c, cfg in enumerate(configs):
        per_net = [network_measure(cfg, eps_values, pairs, n_inputs=n_inputs, generator=generator, device=device,
                                   dtype=dtype, **measure_kwargs) for _ in range(n_networks)]
        if progress:
            print(f"  config {c + 1}/{len(configs)}: {cfg}", flush=True)
        results.append(per_net)
    return merge_networks(results, eps_values, pairs)


def network_measure(cfg: dict, eps_values, pairs=PAIRS, *, n_inputs: int, generator: torch.Generator,
                    device="cpu", dtype: torch.dtype = torch.float32, **measure_kwargs) -> dict:
    """:func:`measure` on one random network of setting ``cfg`` (Definition 3.1 keys) and ``n_inputs`` fresh
    Gaussian inputs with ||x||_2 = sqrt(d), network, inputs and attacks all drawn from ``generator``."""
    net = ReLULikeNet(**cfg, generator=generator, dtype=dtype, device=device)
    x = gaussian_inputs(n_inputs, cfg["d"], generator=_cpu_generator(generator), dtype=dtype, device=device)
    return measure(net, x, eps_values, pairs, generator=generator, **measure_kwargs)


def merge_networks(results: list[list[dict]], eps_values, pairs) -> dict:
    """The arrays of :func:`sweep` from its :func:`network_measure` results, ``results[c][k]`` for config c and
    network k (the same number of networks and inputs for every config)."""
    merged = []
    for per_net in results:
        m = {k: np.concatenate([r[k] for r in per_net], axis=-1) for k in per_net[0] if k != "exact"}
        m["exact"] = np.stack([r["exact"] for r in per_net]).all(axis=0)
        merged.append(m)
    out = {k: np.stack([r[k] for r in merged]) for k in merged[0]}
    n_inputs = results[0][0]["norm"].shape[-1]
    out["network"] = np.repeat(np.arange(len(results[0])), n_inputs)
    out["eps"] = np.asarray(eps_values if np.ndim(eps_values) else [eps_values], dtype=np.float64)
    out["pairs"] = np.asarray(pairs, dtype=np.float64)
    return out


def _cpu_generator(generator: torch.Generator) -> torch.Generator:
    """``gaussian_inputs`` samples on the generator's device; a CUDA generator seeds a CPU one from its stream."""
    if generator.device.type == "cpu":
        return generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    return torch.Generator().manual_seed(seed)


def small_eps_identity(net: ReLULikeNet, x: torch.Tensor, pairs=PAIRS, *, eps_fraction: float = 0.5,
                       lin: dict | None = None, refine_steps: int = 3, pgd_steps: int = 100, pgd_restarts: int = 2,
                       norm_restarts: int = 8, generator: torch.Generator | None = None) -> dict:
    """Check L_adv(x) = eps ||J(x)||_{p,q} inside one activation region (step 1 of Theorem 5.1).

    For each p, eps = ``eps_fraction`` times the smallest l_p region radius over the batch (:func:`region_radius`),
    so that every ball B_p(x, eps) lies in one activation region, where f(x + eta) - f(x) = J(x) eta exactly and
    the identity is a theorem. Two attacks are run (:func:`attack`): the linearised start with ``refine_steps``
    steps, and, as a cross-check that does not know J, the engine's PGD from ``pgd_restarts`` random starts with
    ``pgd_steps`` steps. ``lin`` may carry :func:`linearise` of (net, x). Returns float64 arrays: ``eps``
    (n_pairs,), ``attack``, ``pgd`` (n_pairs, B) (the two attacks' values divided by eps), ``norm``, ``lower``,
    ``upper`` (n_pairs, B) (||J(x)||_{p,q} and certified bounds on it), ``exact`` (n_pairs,), ``flips``
    (n_pairs, B) (hidden units flipped at the better attack's point), ``radius`` (3, B) (l_1, l_2, l_inf radii),
    ``f_norm`` (n_pairs, B) (||f(x)||_q).
    """
    pairs = check_pairs(pairs)
    eps_fraction = check_real("eps_fraction", eps_fraction, min_value=0.0, max_value=1.0, min_inclusive=False,
                              max_inclusive=False)
    if lin is None:
        lin = linearise(net, x, pairs, norm_restarts=norm_restarts, generator=generator)
    radii = {p: region_radius(net, x, p) for p in (1.0, 2.0, math.inf)}
    with torch.no_grad():
        fx, base = net(x), activation_slopes(net, x)
    P, B = len(pairs), x.shape[0]
    out = {"eps": np.empty(P), "attack": np.empty((P, B)), "pgd": np.empty((P, B)), "norm": np.empty((P, B)),
           "lower": np.empty((P, B)), "upper": np.empty((P, B)), "exact": np.empty(P, dtype=bool),
           "flips": np.empty((P, B)), "radius": np.stack([_np(radii[p]) for p in (1.0, 2.0, math.inf)]),
           "f_norm": np.empty((P, B))}
    for j, (p, q) in enumerate(pairs):
        eps = eps_fraction * float(radii[p].min())
        res = lin[(p, q)]
        a = attack(net, x, eps, p, q, direction=res.argmax, refine_steps=refine_steps, random_steps=pgd_steps,
                   restarts=pgd_restarts, generator=generator, fx=fx)
        out["eps"][j] = eps
        out["attack"][j], out["pgd"][j] = _np(a["linear"]) / eps, _np(a["random"]) / eps
        out["norm"][j], out["lower"][j], out["upper"][j] = _np(res.value), _np(res.lower), _np(res.upper)
        out["exact"][j] = res.exact
        out["flips"][j] = _np(flip_fraction(net, x, x + a["eta"], base=base))
        out["f_norm"][j] = _np(torch.linalg.vector_norm(fx, ord=q, dim=1))
    return out


@torch.no_grad()
def gaussian_norms(p, q, d: int, K: int, n_samples: int, *, generator: torch.Generator, device="cpu",
                   restarts: int = 0, max_iter: int = 3, max_enumeration: int = 16,
                   max_elements: int = 1 << 21) -> tuple[np.ndarray, bool]:
    """Samples of ||Z||_{p->q} / sqrt(d) for standard Gaussian Z (K x d), drawn on ``device`` in float64.

    The Monte Carlo behind beta_{p,q}(d, K) = E||Z||_{p->q} / sqrt(d) (:func:`beta_monte_carlo` averages it),
    returning the samples so that their spread is available. Returns (values (n_samples,), exact): ``exact`` is
    False when the norms are local-search lower bounds (NP-hard pair with more than ``max_enumeration`` free
    signs; ``restarts``, ``max_iter``, ``max_enumeration`` as in :func:`mfat.model.norms.operator_norm`). Works in chunks of at most ``max_elements`` matrix entries.
    """
    p, q = normalise_p("p", p), normalise_p("q", q)
    d, K = check_int("d", d, min_value=1), check_int("K", K, min_value=1)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    chunk = max(1, check_int("max_elements", max_elements, min_value=1) // (K * d))
    values, exact = [], True
    for start in range(0, n_samples, chunk):
        Z = torch.randn(min(chunk, n_samples - start), K, d, generator=generator, dtype=torch.float64,
                        device=generator.device).to(device)
        res = operator_norm(Z, p, q, restarts=restarts, max_iter=max_iter, max_enumeration=max_enumeration,
                            generator=generator)
        values.append(_np(res.value) / math.sqrt(d))
        exact = exact and res.exact
    return np.concatenate(values), exact


def beta_monte_carlo(p, q, d: int, K: int, n_samples: int = 200, seed: int = 0, restarts: int = 4,
                     max_enumeration: int = 16) -> tuple[float, float, bool]:
    """Monte Carlo estimate of beta_{p,q}(d, K) = E||Z||_{p->q} / sqrt(d) with ``n_samples`` Gaussian Z (K x d).

    Returns (mean, standard error, exact): ``exact`` is False when the per-sample norms are local-search lower
    bounds (NP-hard pair with more than ``max_enumeration`` free signs), so that the mean estimates a lower bound.
    Z is drawn in float64 on the CPU from ``torch.Generator().manual_seed(seed)`` (:func:`gaussian_norms`);
    ``restarts`` random starts per local search.
    """
    n_samples = check_int("n_samples", n_samples, min_value=2)
    generator = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    v, exact = gaussian_norms(p, q, d, K, n_samples, generator=generator, restarts=restarts, max_iter=20,
                              max_enumeration=max_enumeration)
    return float(v.mean()), float(standard_error(v)), exact


def beta_table(d: int, K: int, n_samples: int = 200, seed: int = 0, restarts: int = 4):
    """The nine beta_{p,q}(d, K) (the paper's Fig. 2) as a pandas DataFrame.

    Columns: p, q (floats 1, 2, inf), meaning (of ||Z||_{p->q}), exact (bool: the Monte Carlo norms are exact,
    not local-search lower bounds), bound (closed-form upper bound), asymptotic, mc, mc_se, kind (what ``mc``
    is: "exact expectation" or "lower bound estimate"; "upper bound" with mc = NaN when n_samples = 0, i.e.
    only the bound column is available).
    """
    d, K = check_int("d", d, min_value=1), check_int("K", K, min_value=1)
    n_samples = check_int("n_samples", n_samples, min_value=0)
    if n_samples == 1:
        raise ValueError("parameter 'n_samples' = 1 is out of range: allowed 0 or an integer >= 2")
    rows = []
    for p, q in PAIRS:
        if n_samples:
            mc, se, exact = beta_monte_carlo(p, q, d, K, n_samples=n_samples, seed=seed, restarts=restarts)
            kind = "exact expectation" if exact else "lower bound estimate"
        else:
            signs = {(2.0, 1.0): K, (math.inf, 1.0): min(K, d), (math.inf, 2.0): d}.get((p, q), 0)
            mc, se, exact, kind = math.nan, math.nan, signs <= 16, "upper bound"
        rows.append(
            {
                "p": p,
                "q": q,
                "meaning": bounds.PQ_MEANING[(p, q)],
                "exact": bool(exact),
                "bound": bounds.beta(p, q, d, K, "bound"),
                "asymptotic": bounds.beta(p, q, d, K, "asymptotic"),
                "mc": mc,
                "mc_se": se,
                "kind": kind,
            }
        )
    return pd.DataFrame(rows)


def chain_norms(configs, n_samples: int, pairs=PAIRS, *, generator: torch.Generator, restarts: int = 0,
                max_iter: int = 3, max_elements: int = 1 << 21) -> dict:
    """The nine norms ||J||_{p,q} of J(x) drawn from its exact finite-width law, without building networks.

    configs: sequence of dicts with keys among d, N, K, L, sigma_w2, sigma_b2, u, v, residual (Definition 3.1).
    J is drawn by :func:`mfat.laws.jacobian.sample_jacobians` (the d x d Gram chain: exact in law for an input
    chosen independently of the network, cost independent of N), so N = 40000 costs what N = 100 does. The norms
    are those :func:`linearise` computes on explicit networks (same ``restarts``, ``max_iter``), so the two are
    comparable sample for sample. Returns float64 arrays: ``norm`` (C, n_pairs, n_samples), ``exact``
    (C, n_pairs), ``pairs`` (n_pairs, 2).
    """
    pairs = check_pairs(pairs)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    norms, exact = [], []
    for cfg in _check_configs(configs):
        spec = NetworkSpec(**cfg)
        chunk = max(1, check_int("max_elements", max_elements, min_value=1) // (spec.K * spec.d))
        per_pair = {pq: [] for pq in pairs}
        ex = {pq: True for pq in pairs}
        for start in range(0, n_samples, chunk):
            J = sample_jacobians(spec, min(chunk, n_samples - start), generator=generator)
            for pq in pairs:
                res = operator_norm(J, *pq, restarts=restarts, max_iter=max_iter, generator=generator)
                per_pair[pq].append(_np(res.value))
                ex[pq] = ex[pq] and res.exact
        norms.append(np.stack([np.concatenate(per_pair[pq]) for pq in pairs]))
        exact.append([ex[pq] for pq in pairs])
    return {"norm": np.stack(norms), "exact": np.asarray(exact, dtype=bool),
            "pairs": np.asarray(pairs, dtype=np.float64)}


def clustered_se(values, groups) -> float:
    """Standard error of the mean of ``values`` (n,) whose samples share a random network per ``groups`` (n,).

    Samples of one network are correlated through it, so the larger of the naive SE (sd / sqrt(n)) and the
    between-network SE (sd of the network means / sqrt(number of networks); needs two or more networks) is returned.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    g = np.asarray(groups).ravel()
    if v.size != g.size or v.size < 2:
        raise ValueError(f"parameter 'values' has {v.size} entries and 'groups' {g.size}: allowed equal sizes >= 2")
    se = standard_error(v)
    labels = np.unique(g)
    if labels.size >= 2:
        means = np.array([v[g == k].mean() for k in labels])
        se = max(se, standard_error(means))
    return float(se)


def log_slope(x, mean, se, *, log_x: bool = True) -> tuple[float, float]:
    """Least-squares slope of log(mean) against log(x) (``log_x``) or x, and its standard error (delta method).

    x, mean, se: (n,) with n >= 2 and mean > 0. The slope is sum_i w_i log(mean_i) with fixed weights w_i
    (ordinary least squares), so its variance is sum_i w_i^2 (se_i / mean_i)^2 for independent points.
    """
    lx = np.asarray(x, dtype=np.float64)
    lx = np.log(lx) if log_x else lx
    m = np.asarray(mean, dtype=np.float64)
    s = np.asarray(se, dtype=np.float64)
    if lx.size < 2 or m.shape != lx.shape or s.shape != lx.shape or np.any(m <= 0) or np.ptp(lx) == 0:
        raise ValueError("log_slope: allowed x (not all equal), mean > 0 and se of equal length >= 2")
    w = (lx - lx.mean()) / np.sum((lx - lx.mean()) ** 2)
    return float(np.sum(w * np.log(m))), float(math.sqrt(np.sum((w * s / m) ** 2)))


# ============================================================================ the chapter's measurements
# Each takes the chapter's settings ``s`` (an :class:`mfat.chapter.settings.adversarial_loss.AdversarialLossSettings`,
# read by attribute) and the generator it draws from, and returns the dict the chapter stores under its tag.

RADIUS_INDEX = {1.0: 0, 2.0: 1, math.inf: 2}  # row of the l_p region radius in ``radius`` (3, B) arrays
UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)  # u = 2^-52


def exponent_symbol(v) -> str:
    """An exponent p or q as the page writes it: ``"1"``, ``"2"``, ``"∞"``."""
    return "∞" if v == math.inf else f"{v:g}"


def threat_pairs(ps, qs) -> list[tuple[float, float]]:
    """Every (p, q) with p in ``ps`` (threat models) and q in ``qs`` (output norms), p-major, each in {1, 2, inf}."""
    return list(check_pairs([(p, q) for p in ps for q in qs]))


def diagonal_pairs(pairs) -> list[tuple[float, float]]:
    """The pairs with p = q (the depth law is drawn for these), or the first pair when there is none."""
    pairs = list(check_pairs(pairs))
    return [pq for pq in pairs if pq[0] == pq[1]] or pairs[:1]


def eps_sweep_pairs(ps, qs) -> list[tuple[float, float]]:
    """One pair per threat model p for the sweep in eps: (p, p) when q = p is measured, else (p, qs[0]); sorted."""
    qs = [normalise_p("q", q) for q in qs]
    return sorted({(p, p) if p in qs else (p, qs[0]) for p in (normalise_p("p", p) for p in ps)})


def depth_networks(vanilla_sigma_w2, residual_sigma_w2) -> list[tuple[str, float, bool]]:
    """(kind, sigma_w^2, residual) of the networks of the depth law: vanilla ones, then residual ones."""
    return [("vanilla", w, False) for w in vanilla_sigma_w2] + [("residual", w, True) for w in residual_sigma_w2]


def beta_2inf_grid(d_values, K: int) -> tuple[np.ndarray, list[int]]:
    """The (d, K) grid of the beta_{2,inf} figure: the Fig. 3 d values and 4x, 16x the largest; K in {1, K, 10 K}."""
    K = check_int("K", K, min_value=1)
    d_values = [check_int("d_values", d, min_value=1) for d in d_values]
    return (np.asarray(sorted({*d_values, 4 * max(d_values), 16 * max(d_values)}), dtype=int),
            sorted({1, K, 10 * K}))


def law_widths(widths, further) -> list[int]:
    """The widths at which the exact law is drawn: those of the explicit networks and the ``further`` ones, sorted."""
    return sorted({*widths, *further})


def beta_estimates(d: int, K: int, pairs, n_samples: int, *, generator: torch.Generator, device="cpu",
                   restarts: int = 0) -> dict:
    """Monte Carlo beta_{p,q}(d, K) = E||Z||_{p->q} / sqrt(d) for every pair, from one shared ``generator``.

    The pairs are drawn in turn, ``n_samples`` Gaussian Z (K x d) each (:func:`gaussian_norms`, ``restarts`` random
    starts of the local search). Returns ``{(p, q): (mean, standard error, exact)}`` (floats and a bool; ``exact``
    False: the mean estimates a lower bound on beta).
    """
    out = {}
    for pq in check_pairs(pairs):
        v, exact = gaussian_norms(*pq, d, K, n_samples, generator=generator, device=device, restarts=restarts)
        out[pq] = (float(v.mean()), float(standard_error(v)), bool(exact))
    return out


def _network(s, **changes) -> dict:
    """The Definition 3.1 setting of the chapter's networks (d, N, K, L, sigma_w2, sigma_b2 of ``s``), changed."""
    return {"d": None, "N": s.N, "K": s.K, "L": s.L, "sigma_w2": s.sigma_w2, "sigma_b2": s.sigma_b2, **changes}


def _beta(s, d, K, generator, device) -> dict:
    """:func:`beta_estimates` for all of the chapter's pairs at (d, K) with its sample count and restarts."""
    return beta_estimates(d, K, threat_pairs(s.ps, s.qs), s.beta_samples, generator=generator, device=device,
                          restarts=s.norm_restarts)


def identity_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """Step 1 of Theorem 5.1 on one network with MNIST-sized inputs, inside and beyond the activation region.

    ``s.id_inputs`` MNIST test images rescaled to ||x||_2 = sqrt(784), one network (width ``s.id_N``, ``s.id_K``
    outputs, depth ``s.L``, float64). Returns ``{"identity": small_eps_identity(...), "eps_sweep": measure(...)}``:
    the identity L_adv = eps ||J(x)||_{p,q} at eps = ``s.eps_fraction`` times the smallest region radius for every
    pair (:func:`small_eps_identity`), and the loss over the budgets ``s.eps_grid`` for one pair per p
    (:func:`eps_sweep_pairs`; :func:`measure`, with ``"pairs"`` (n, 2) added).
    """
    pairs = threat_pairs(s.ps, s.qs)
    X, _ = load("mnist", "test", n=s.id_inputs, scaling="sqrt_d", dtype=torch.float64, device=device)
    net = ReLULikeNet(784, s.id_N, s.id_K, s.L, s.sigma_w2, s.sigma_b2, generator=generator, dtype=torch.float64,
                      device=device)
    lin = linearise(net, X, pairs, norm_restarts=s.norm_restarts, generator=generator)
    ident = small_eps_identity(net, X, pairs, eps_fraction=s.eps_fraction, lin=lin, refine_steps=s.refine_steps,
                               pgd_steps=s.pgd_steps, pgd_restarts=s.pgd_restarts, generator=generator)
    eps_pairs = eps_sweep_pairs(s.ps, s.qs)
    swept = measure(net, X, s.eps_grid, eps_pairs, lin=lin, refine_steps=s.refine_steps, generator=generator)
    swept["pairs"] = np.asarray(eps_pairs)
    return {"identity": ident, "eps_sweep": swept}


def beta_table_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """The Monte Carlo column of the beta tables (the paper's Fig. 2): ``s.table_samples`` Gaussian Z per entry.

    For every (K, d) in zip(``s.table_K``, ``s.table_d``) and every pair: ``{(K, d, (p, q)): {"mean", "se",
    "exact"}}`` (:func:`beta_estimates`).
    """
    pairs = threat_pairs(s.ps, s.qs)
    out = {}
    for K, d in zip(s.table_K, s.table_d):
        est = beta_estimates(d, K, pairs, s.table_samples, generator=generator, device=device,
                             restarts=s.norm_restarts)
        out.update({(K, d, pq): {"mean": m, "se": se, "exact": exact} for pq, (m, se, exact) in est.items()})
    return out


def fig3_measurement(s, *, seed: int, device="cpu") -> dict:
    """The paper's Fig. 3: L_adv at budget ``s.eps`` on explicit networks for every d of ``s.d_values``.

    The arrays of :func:`sweep` over the d values (width ``s.N``, ``s.K`` outputs, ``s.n_networks`` networks x
    ``s.n_inputs`` Gaussian inputs each), with ``"beta"``: ``{d: beta_estimates(d, s.K, ...)}``; every network
    and every beta from its own stream (:func:`fig3_units`, computed here one unit after another).
    """
    return fig3_units(s, seed=seed, device=device).run()


def fig3_units(s, *, seed: int, device="cpu") -> Units:
    """The explicit networks of Fig. 3 as units (:class:`mfat.runtime.Units`), each with its own stream: one per
    (d, network) of ``s.d_values`` x ``s.n_networks`` (:func:`network_measure`, generator seeded
    ``unit_seed(seed, 0, i, k)``), then one per d for beta (``unit_seed(seed, 1, i)``). Combined: the result of
    :func:`fig3_measurement` (the same arrays, drawn from these streams instead of one shared generator)."""
    units = ([{"kind": "network", "d": d, "network": k, "seed": unit_seed(seed, 0, i, k)}
              for i, d in enumerate(s.d_values) for k in range(s.n_networks)]
             + [{"kind": "beta", "d": d, "seed": unit_seed(seed, 1, i)} for i, d in enumerate(s.d_values)])
    return Units(units, functools.partial(loss_unit, s, "fig3", device=device),
                 functools.partial(_network_combine, s, [s.eps], len(s.d_values)))


def width_units(s, *, seed: int, device="cpu") -> Units:
    """:func:`width_measurement` as units with their own streams: one per (width, network) of ``s.widths`` x
    ``s.n_networks`` (``unit_seed(seed, 0, i, k)``), one for beta (``unit_seed(seed, 1)``) and one per width of
    the exact law, :func:`law_widths` (``unit_seed(seed, 2, i)``). Combined: the structure of
    :func:`width_measurement`."""
    units = ([{"kind": "network", "N": N, "network": k, "seed": unit_seed(seed, 0, i, k)}
              for i, N in enumerate(s.widths) for k in range(s.n_networks)]
             + [{"kind": "beta", "seed": unit_seed(seed, 1)}]
             + [{"kind": "law", "N": N, "seed": unit_seed(seed, 2, i)}
                for i, N in enumerate(law_widths(s.widths, s.law_widths))])
    return Units(units, functools.partial(loss_unit, s, "width", device=device),
                 functools.partial(_network_combine, s, [], len(s.widths)))


def loss_unit(s, measurement: str, unit: dict, *, device="cpu") -> dict:
    """One unit of :func:`fig3_units` (``measurement`` "fig3") or :func:`width_units` ("width"), drawn from
    ``make_generator(unit["seed"])``: kind "network", :func:`network_measure` of one network; "beta",
    :func:`beta_estimates` for the chapter's pairs; "law", :func:`chain_norms` at one width."""
    generator = make_generator(unit["seed"], device=device)
    pairs = threat_pairs(s.ps, s.qs)
    if measurement == "fig3":
        cfg, eps_values, n_inputs, extra = (_network(s, d=unit["d"]), [s.eps], s.n_inputs,
                                            {"refine_steps": s.refine_steps})
    else:
        cfg, eps_values, n_inputs, extra = (_network(s, d=s.width_d, N=unit.get("N", s.N), K=s.width_K), [],
                                            s.sweep_inputs, {})
    if unit["kind"] == "beta":
        return _beta(s, cfg["d"], cfg["K"], generator, device)
    if unit["kind"] == "law":
        return chain_norms([cfg], s.law_samples, pairs, generator=generator, restarts=s.norm_restarts)
    return network_measure(cfg, eps_values, pairs, n_inputs=n_inputs, generator=generator, device=device,
                           norm_restarts=s.norm_restarts, **extra)


def _network_combine(s, eps_values, n_configs: int, outs: list) -> dict:
    """The networks of :func:`fig3_units` / :func:`width_units` merged as :func:`sweep` merges them, with
    ``beta`` (Fig. 3: per d) and ``law`` (width: the exact-law norms stacked over the widths)."""
    n = n_configs * s.n_networks
    res = merge_networks([outs[c * s.n_networks:(c + 1) * s.n_networks] for c in range(n_configs)], eps_values,
                         threat_pairs(s.ps, s.qs))
    if eps_values:  # Fig. 3
        res["beta"] = dict(zip(s.d_values, outs[n:]))
        return res
    laws = outs[n + 1:]
    res["beta"] = outs[n]
    res["law"] = {"norm": np.concatenate([o["norm"] for o in laws]),
                  "exact": np.concatenate([o["exact"] for o in laws]), "pairs": laws[0]["pairs"]}
    return res


def fig3_law_measurement(s, *, generator: torch.Generator) -> dict:
    """||J(x)||_{p,q} from the exact finite-width law at the Fig. 3 settings: :func:`chain_norms`, ``s.law_samples``
    draws per d."""
    return chain_norms([_network(s, d=d) for d in s.d_values], s.law_samples, threat_pairs(s.ps, s.qs),
                       generator=generator, restarts=s.norm_restarts)


def beta_2inf_measurement(d_values, K_values, n_samples: int, *, generator: torch.Generator, device="cpu") -> dict:
    """Samples of ||Z||_{2->inf} / sqrt(d) (the largest row norm) for every (K, d): ``{(K, d): (n_samples,)}``."""
    return {(K, int(d)): gaussian_norms(2.0, math.inf, int(d), K, n_samples, generator=generator, device=device)[0]
            for K in K_values for d in d_values}


def depth_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """||J(x)||_{p,q} (the small-eps limit of L_adv / eps) against the depth, for the networks of
    :func:`depth_networks` and the pairs of :func:`diagonal_pairs`.

    ``{(kind, sigma_w2): sweep(...)}`` over ``s.depths`` (d = ``s.depth_d``, ``s.depth_K`` outputs, width
    ``s.sweep_N``, ``s.sweep_inputs`` inputs per network) and ``"beta"``: beta at (``s.depth_d``, ``s.depth_K``).
    """
    pairs = diagonal_pairs(threat_pairs(s.ps, s.qs))
    out = {}
    for kind, w, residual in depth_networks(s.depth_sigma_w2, s.residual_sigma_w2):
        configs = [_network(s, d=s.depth_d, N=s.sweep_N, K=s.depth_K, L=L, sigma_w2=w, residual=residual)
                   for L in s.depths]
        out[(kind, w)] = sweep(configs, [], pairs, n_networks=s.n_networks, n_inputs=s.sweep_inputs,
                               generator=generator, device=device, norm_restarts=s.norm_restarts)
    out["beta"] = _beta(s, s.depth_d, s.depth_K, generator, device)
    return out


def k_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """||J(x)||_{p,q} against the number of outputs K of ``s.K_values`` (d = ``s.K_d``, width ``s.sweep_N``), with
    ``"beta"``: ``{K: beta_estimates(s.K_d, K, ...)}``."""
    res = sweep([_network(s, d=s.K_d, N=s.sweep_N, K=K) for K in s.K_values], [], threat_pairs(s.ps, s.qs),
                n_networks=s.n_networks, n_inputs=s.sweep_inputs, generator=generator, device=device,
                norm_restarts=s.norm_restarts)
    res["beta"] = {K: _beta(s, s.K_d, K, generator, device) for K in s.K_values}
    return res


def width_measurement(s, *, seed: int, device="cpu") -> dict:
    """||J(x)||_{p,q} against the width: explicit networks at ``s.widths`` and the exact law at :func:`law_widths`.

    :func:`sweep` arrays (d = ``s.width_d``, ``s.width_K`` outputs), ``"beta"`` at (``s.width_d``, ``s.width_K``)
    and ``"law"``: :func:`chain_norms` with ``s.law_samples`` draws per width; every network, beta and width of
    the law from its own stream (:func:`width_units`, computed here one unit after another).
    """
    return width_units(s, seed=seed, device=device).run()


def paper_law_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """Fig. 3 at the paper's width from the exact law: :func:`chain_norms` at N = ``s.mf_N``, K = ``s.mf_K`` for every
    d of ``s.mf_d_values`` (``s.mf_samples`` draws each), with ``"beta"``: ``{d: beta_estimates(d, s.mf_K, ...)}``."""
    pairs = threat_pairs(s.ps, s.qs)
    res = chain_norms([_network(s, d=d, N=s.mf_N, K=s.mf_K) for d in s.mf_d_values], s.mf_samples, pairs,
                      generator=generator, restarts=s.norm_restarts)
    res["beta"] = {d: _beta(s, d, s.mf_K, generator, device) for d in s.mf_d_values}
    return res


# ============================================================================ the analyses behind the claims
ASYMPTOTIC_EXPONENT = {1.0: "-1/2 (up to logs)", 2.0: "0", math.inf: "+1/2"}  # of beta in d, fixed K, by p
SLOPE_COLUMNS = ["measured slope", "predicted slope (same grid)", "tolerance", "slope of beta (N = inf)"]


def rounding_allowance(f_norm, value):
    """Relative float64 rounding allowance 1e3 u (||f(x)||_q / value + 1) of a loss ``value`` computed as a
    difference of two outputs of size ``f_norm`` (u the unit roundoff, 1e3 a generous count of rounded operations
    per output). Broadcasts: arrays of any matching shapes."""
    return 1e3 * UNIT_ROUNDOFF * (f_norm / value + 1.0)


def _check_keys(name: str, result: dict, keys) -> None:
    missing = [k for k in keys if k not in result]
    if missing:
        raise ValueError(f"parameter '{name}' lacks the entries {missing}: allowed a result with {list(keys)}")


def identity_summary(ident: dict, pairs) -> pd.DataFrame:
    """The small-eps identity per pair (rows labelled by :func:`pair_label`), from :func:`small_eps_identity`.

    Columns: the budget, whether ||J||_{p,q} is exact or bracketed, the mean and worst ratio attack / (eps ||J||)
    (1 inside the region: step 1 of Theorem 5.1), random-start PGD over eps ||J|| (mean) and over the certified
    upper bound (worst), and the largest fraction of units flipped.
    """
    _check_keys("ident", ident, ("attack", "pgd", "norm", "upper", "eps", "exact", "flips"))
    rows = []
    for j, pq in enumerate(check_pairs(pairs)):
        ratio = ident["attack"][j] / ident["norm"][j]
        rows.append({"(p,q)": pair_label(*pq), "eps": ident["eps"][j],
                     "||J||_{p,q} is": "exact" if ident["exact"][j] else "bracketed",
                     "attack / (eps ||J||)": ratio.mean(),
                     "worst |ratio - 1|": np.abs(ratio - 1).max(),
                     "random-start PGD / (eps ||J||)": (ident["pgd"][j] / ident["norm"][j]).mean(),
                     "random-start PGD / (eps upper)": (ident["pgd"][j] / ident["upper"][j]).max(),
                     "units flipped": ident["flips"][j].max()})
    return pd.DataFrame(rows).set_index("(p,q)")


def identity_margins(ident: dict) -> dict:
    """How far the small-eps attack is from eps ||J(x)||_{p,q}, from :func:`small_eps_identity` (P pairs, B inputs).

    Returns ``ratio_gap`` (P,): the worst |attack / ||J|| - 1| over the inputs (for exactly computed norms);
    ``lower_ratio`` (P,): the smallest attack / (certified lower bound); ``upper_excess`` (P,): the largest
    attack / (certified upper bound) - 1 - :func:`rounding_allowance`; ``flips``: the largest fraction of units
    flipped at the attack's point; ``pgd_excess``: the same excess for random-start PGD over all pairs;
    ``pgd_shortfall``: 1 - the mean of PGD / ||J||. Inside the region the first is 0 up to rounding, the
    second >= 1, the third and fifth <= 0 and the fourth 0.
    """
    _check_keys("ident", ident, ("attack", "pgd", "norm", "lower", "upper", "eps", "flips", "f_norm"))
    a = ident["attack"]
    return {"ratio_gap": np.abs(a / ident["norm"] - 1).max(axis=1),
            "lower_ratio": (a / ident["lower"]).min(axis=1),
            "upper_excess": (a / ident["upper"] - 1
                             - rounding_allowance(ident["f_norm"], ident["upper"] * ident["eps"][:, None])).max(axis=1),
            "flips": float(ident["flips"].max()),
            "pgd_excess": float((ident["pgd"] / ident["upper"] - 1
                                 - rounding_allowance(ident["f_norm"], ident["upper"] * ident["eps"][:, None])).max()),
            "pgd_shortfall": float(1 - (ident["pgd"] / ident["norm"]).mean())}


def eps_sweep_margins(identity_result: dict, eps_grid) -> dict:
    """The loss against the budget, checked below each example's own region radius (:func:`identity_measurement`).

    eps_grid: (E,) the budgets of the sweep. Returns ``below`` (E, n, B) bool: eps < r_p(x) for the pair's p;
    ``n_below``: how many (budget, pair, example) lie below; ``flips_below``: the largest fraction of units
    flipped there (0 by eq. (region radius)); ``linear_gap_below``: the largest |L_adv / (eps ||J(x)||) - 1| -
    :func:`rounding_allowance` there (<= 0: the loss is linear in eps). NaN when nothing lies below.
    """
    _check_keys("identity_result", identity_result, ("identity", "eps_sweep"))
    sweep_eps, radius = identity_result["eps_sweep"], identity_result["identity"]["radius"]
    eps_grid = np.asarray(eps_grid, dtype=np.float64)
    if eps_grid.shape != sweep_eps["L_adv"].shape[:1]:
        raise ValueError(f"parameter 'eps_grid' has shape {eps_grid.shape}: allowed "
                         f"({sweep_eps['L_adv'].shape[0]},), one budget per row of the sweep")
    below = eps_grid[:, None, None] < radius[[RADIUS_INDEX[p] for p, _ in sweep_eps["pairs"]]][None, :, :]
    lin_value = eps_grid[:, None, None] * sweep_eps["norm"][None]
    lin_gap = np.abs(sweep_eps["L_adv"] / lin_value - 1) - rounding_allowance(sweep_eps["f_norm"][None], lin_value)
    some = bool(below.any())
    return {"below": below, "n_below": int(below.sum()),
            "flips_below": float(sweep_eps["flips"][below].max()) if some else math.nan,
            "linear_gap_below": float(lin_gap[below].max()) if some else math.nan}


def beta_table_summary(table: dict, pairs, sizes) -> pd.DataFrame:
    """The beta tables (the paper's Fig. 2) from :func:`beta_table_measurement`, one block per (K, d) of ``sizes``.

    Rows (size, pair); columns: what ||Z||_{p->q} is, the closed-form upper bound on beta, the Monte Carlo mean and
    its standard error, and whether that mean estimates beta (exact norms) or a lower bound on it (local search).
    """
    pairs = check_pairs(pairs)
    frames = []
    for K, d in sizes:
        rows = []
        for pq in pairs:
            e = table[(K, d, pq)]
            kind = ("estimate of beta (exact norms)" if e["exact"]
                    else "estimate of a lower bound on beta (local search)")
            rows.append({"(p,q)": pair_label(*pq), "||Z||_{p->q} is": bounds.PQ_MEANING[pq],
                         "closed-form upper bound": bounds.beta(*pq, d, K, "bound"),
                         "Monte Carlo": e["mean"], "MC s.e.": e["se"], "Monte Carlo is": kind})
        frames.append(pd.DataFrame(rows).set_index("(p,q)").assign(size=f"K={K}, d={d}"))
    return pd.concat(frames).set_index("size", append=True).swaplevel()


def tightest_beta_entry(table: dict, pairs, K: int, d: int) -> tuple:
    """The pair whose Monte Carlo beta (:func:`beta_table_measurement`) comes closest to its closed-form upper bound,
    in standard errors: ``(pair, Monte Carlo mean, bound, standard error)`` at (K, d)."""
    pairs = check_pairs(pairs)
    z = {pq: (table[(K, d, pq)]["mean"] - bounds.beta(*pq, d, K, "bound")) / max(table[(K, d, pq)]["se"], 1e-300)
         for pq in pairs}
    pq = max(z, key=z.get)
    e = table[(K, d, pq)]
    return pq, e["mean"], bounds.beta(*pq, d, K, "bound"), e["se"]


def _summary(res: dict, key: str, index, se) -> dict:
    """Mean, spread (sd) and standard error ``se(v)`` of res[key][c, *index, j] for every config c and pair j."""
    values = res[key]
    C, P = values.shape[0], values.shape[1 + len(index)]
    stats = np.empty((3, C, P))
    for c in range(C):
        for j in range(P):
            v = values[(c, *index, j)]
            stats[:, c, j] = v.mean(), v.std(ddof=1), se(v)
    return {"mean": stats[0], "sd": stats[1], "se": stats[2]}


def loss_summary(res: dict, budget: int = 0) -> dict:
    """L_adv of a :func:`sweep` at budget index ``budget``: ``{"mean", "sd", "se"}``, each (C, n_pairs); the standard
    error is clustered by network (:func:`clustered_se`)."""
    _check_keys("res", res, ("L_adv", "network"))
    budget = check_int("budget", budget, min_value=0, max_value=res["L_adv"].shape[1] - 1)
    return _summary(res, "L_adv", (budget,), lambda v: clustered_se(v, res["network"]))


def norm_summary(res: dict) -> dict:
    """||J(x)||_{p,q} of a :func:`sweep` (the small-eps limit of L_adv / eps): ``{"mean", "sd", "se"}``, each
    (C, n_pairs), the standard error clustered by network."""
    _check_keys("res", res, ("norm", "network"))
    return _summary(res, "norm", (), lambda v: clustered_se(v, res["network"]))


def law_summary(res: dict) -> dict:
    """||J||_{p,q} drawn from the exact law (:func:`chain_norms`; independent draws): ``{"mean", "sd", "se"}``,
    each (C, n_pairs), se = sd / sqrt(n)."""
    _check_keys("res", res, ("norm",))
    return _summary(res, "norm", (), lambda v: v.std(ddof=1) / math.sqrt(v.size))


def beta_for_bound(beta_entry: dict, pq, d: int, K: int) -> tuple[float, float, str]:
    """The beta the bound is checked against: ``(value, standard error, kind)``, the Monte Carlo expectation where
    the norms are exact and the closed-form upper bound (s.e. 0) where they are local-search lower bounds (a
    lower-bound estimate cannot certify an upper bound). ``beta_entry``: one value of :func:`beta_estimates`."""
    mean, se, exact = beta_entry[pq]
    return (mean, se, "expectation") if exact else (bounds.beta(*pq, d, K, "bound"), 0.0, "closed-form bound")


def finite_width_allowance(law: dict, beta: dict, pairs, d_values, K: int, gain: float, *, floor: float = 1.05,
                           z: float = Z_DEFAULT) -> np.ndarray:
    """The allowance of the bound at finite width, (C, n_pairs): max(``floor``, phi + z s.e.(phi)) with
    phi = E||J||_{p,q} / (beta omega^(L/2)) the excess the exact law (:func:`chain_norms` ``law``, one config per d
    of ``d_values``) predicts at the networks' width; beta from :func:`beta_for_bound` of ``beta`` {d: entry}."""
    pairs = check_pairs(pairs)
    stats = law_summary(law)
    out = np.empty(stats["mean"].shape)
    for c, d in enumerate(d_values):
        for j, pq in enumerate(pairs):
            b, b_se, _ = beta_for_bound(beta[d], pq, d, K)
            m, se = stats["mean"][c, j], stats["se"][c, j]
            phi = m / (b * gain)
            out[c, j] = max(floor, phi + z * phi * math.hypot(se / m, b_se / b))
    return out


def bound_and_slope(summary: dict, beta: dict, pairs, d_values, K: int, scale: float, allowance, *,
                    reference: dict | None = None, slope_allowance: float = 0.0, z: float = Z_DEFAULT) -> dict:
    """Theorem 5.1 against the measured means, per pair: the ratio to the bound, and the log-log slope in d.

    summary: ``{"mean", "se"}`` (C, n_pairs) of the measured quantity at the d of ``d_values`` (C,); beta:
    ``{d: beta_estimates entry}``; the bound is ``scale`` beta (e.g. eps omega^(L/2)), beta from
    :func:`beta_for_bound`; allowance: (C, n_pairs) or a number, the ratio the bound may reach at finite width.
    The predicted slope is that of the Monte Carlo beta, or of ``reference`` ``{"mean", "se"}`` (C, n_pairs) when
    given (the exact law at the networks' own width); its tolerance is z s.e. + ``slope_allowance``.

    Returns ``claims``: {pair: {ratio, ratio_se, d, beta, allowance} at the d of smallest margin
    ratio - z ratio_se - allowance, and slope_predicted, slope_measured, slope_tolerance}; ``bounds``: a DataFrame
    with one row per (pair, d); ``slopes``: a DataFrame per pair (:data:`SLOPE_COLUMNS` and the asymptotic exponent).
    """
    pairs = check_pairs(pairs)
    allowance = np.broadcast_to(np.asarray(allowance, dtype=np.float64), summary["mean"].shape)
    claims, bound_rows, slope_rows = {}, [], []
    for j, pq in enumerate(pairs):
        worst = None
        preds, pred_ses = [], []
        for c, d in enumerate(d_values):
            m, se = summary["mean"][c, j], summary["se"][c, j]
            b, b_se, kind = beta_for_bound(beta[d], pq, d, K)
            r = m / (scale * b)
            r_se = r * math.hypot(se / m, b_se / b)
            a = float(allowance[c, j])
            if worst is None or r - z * r_se - a > worst[0] - z * worst[1] - worst[4]:  # smallest margin
                worst = (r, r_se, d, kind, a)
            bound_rows.append({"(p,q)": pair_label(*pq), "d": d, "measured mean": m, "beta used": kind,
                               "ratio to bound": r, "s.e.": r_se, "allowance": a})
            ref_mean, ref_se = (reference["mean"][c, j], reference["se"][c, j]) if reference else beta[d][pq][:2]
            preds.append(ref_mean)
            pred_ses.append(ref_se)
        s_meas, s_meas_se = log_slope(d_values, summary["mean"][:, j], summary["se"][:, j])
        s_pred, s_pred_se = log_slope(d_values, preds, pred_ses)
        tol = z * math.hypot(s_meas_se, s_pred_se) + slope_allowance
        r, r_se, d, kind, a = worst
        claims[pq] = {"ratio": r, "ratio_se": r_se, "d": d, "beta": kind, "allowance": a,
                      "slope_predicted": s_pred, "slope_measured": s_meas, "slope_tolerance": tol}
        s_beta = log_slope(d_values, [beta[d][pq][0] for d in d_values], [beta[d][pq][1] for d in d_values])[0]
        slope_rows.append({"(p,q)": pair_label(*pq), "measured slope": s_meas, "predicted slope (same grid)": s_pred,
                           "tolerance": tol, "slope of beta (N = inf)": s_beta,
                           "asymptotic exponent": ASYMPTOTIC_EXPONENT[pq[0]]})
    return {"claims": claims, "bounds": pd.DataFrame(bound_rows),
            "slopes": pd.DataFrame(slope_rows).set_index("(p,q)")}


def beta_2inf_bracket(samples: dict, K_values, d: int) -> list[dict]:
    """The Monte Carlo beta_{2,inf}(d, K) of :func:`beta_2inf_measurement` against its bracket, for every K.

    m_d / sqrt(d) <= beta_{2,inf} <= (m_d + sqrt(2 ln K)) / sqrt(d), m_d = E||g_d||_2 (one row is a lower bound on
    the largest; the largest of K 1-Lipschitz functions exceeds its mean by at most sqrt(2 ln K)). Returns one dict
    per K: ``K``, ``mean``, ``se``, ``lower``, ``upper``.
    """
    d = check_int("d", d, min_value=1)
    out = []
    for K in K_values:
        v = samples[(K, d)]
        out.append({"K": K, "mean": v.mean(), "se": v.std(ddof=1) / math.sqrt(v.size),
                    "lower": bounds.chi_mean(d) / math.sqrt(d), "upper": bounds.beta(2, math.inf, d, K, "bound")})
    return out


def depth_slopes(depth: dict, networks, pairs, depths, *, z: float = Z_DEFAULT) -> pd.DataFrame:
    """The depth law: the slope of ln ||J(x)||_{p,q} against L (:func:`log_slope`, linear in L) for every pair and
    network of :func:`depth_measurement`, against ln(omega) / 2 (each layer multiplies the squared length by omega).

    networks: (kind, sigma_w2, residual) as :func:`depth_networks`. Rows indexed by (pair, network); columns omega,
    the predicted and measured slope and the tolerance z s.e.
    """
    pairs = check_pairs(pairs)
    depths = np.asarray(depths)
    rows = []
    for k, pq in enumerate(pairs):
        for kind, w, residual in networks:
            om = omega(w, residual=residual)
            stats = norm_summary(depth[(kind, w)])
            slope, slope_se = log_slope(depths, stats["mean"][:, k], stats["se"][:, k], log_x=False)
            rows.append({"(p,q)": pair_label(*pq), "network": f"{kind} sigma_w^2={w:g}", "omega": om,
                         "predicted slope ln(omega)/2": 0.5 * math.log(om), "measured slope": slope,
                         "tolerance": z * slope_se})
    return pd.DataFrame(rows).set_index(["(p,q)", "network"])


def k_slopes(res: dict, pairs, K_values, *, z: float = Z_DEFAULT) -> pd.DataFrame:
    """The law in K: the log-log slope of ||J(x)||_{p,q} in K (:func:`k_measurement`) against that of the Monte Carlo
    beta over the same grid, per pair; tolerance z times the combined standard error. Rows indexed by pair."""
    pairs = check_pairs(pairs)
    K_arr = np.asarray(K_values, dtype=float)
    stats = norm_summary(res)
    rows = []
    for j, pq in enumerate(pairs):
        mc = np.array([res["beta"][K][pq][0] for K in K_values])
        mc_se = np.array([res["beta"][K][pq][1] for K in K_values])
        s_meas, s_meas_se = log_slope(K_arr, stats["mean"][:, j], stats["se"][:, j])
        s_pred, s_pred_se = log_slope(K_arr, mc, mc_se)
        rows.append({"(p,q)": pair_label(*pq), "predicted slope": s_pred, "measured slope": s_meas,
                     "tolerance": z * math.hypot(s_meas_se, s_pred_se)})
    return pd.DataFrame(rows).set_index("(p,q)")


def slopes_by_q(slopes: pd.DataFrame, pairs) -> dict:
    """{p: [measured slope for q = 1, 2, inf, those measured]} for every p with two or more q (the order predicted
    for the law in K is decreasing: the attacker moves all K outputs for q = 1, a single one for q = inf)."""
    measured = dict(zip(check_pairs(pairs), slopes["measured slope"]))
    out = {}
    for p in dict.fromkeys(p for p, _ in measured):
        qs = [q for q in (1.0, 2.0, math.inf) if (p, q) in measured]
        if len(qs) >= 2:
            out[p] = [measured[(p, q)] for q in qs]
    return out


def law_agreement(explicit: dict, law_norm, pairs, labels) -> tuple[pd.DataFrame, dict]:
    """Explicit networks against the exact finite-width law: mean ||J(x)||_{p,q} per setting and pair.

    explicit: a :func:`sweep` (``norm`` (C, n_pairs, S), ``network``); law_norm: (C, n_pairs, n) norms from
    :func:`chain_norms` at the same settings; labels: (C,) names of the settings. The difference of the means is
    measured in units of its standard error (explicit clustered by network). Returns a DataFrame (setting, pair,
    both means, their ratio, z) and the worst entry ``{"label", "pair", "explicit", "law", "se"}``.
    """
    pairs = check_pairs(pairs)
    law_stats = law_summary({"norm": law_norm})
    rows, worst = [], None
    for c, label in enumerate(labels):
        for j, pq in enumerate(pairs):
            v = explicit["norm"][c, j]
            m_e, se_e = v.mean(), clustered_se(v, explicit["network"])
            m_l, se_l = law_stats["mean"][c, j], law_stats["se"][c, j]
            z = (m_e - m_l) / math.hypot(se_e, se_l)
            rows.append({"setting": label, "(p,q)": pair_label(*pq), "explicit": m_e, "exact law": m_l,
                         "ratio": m_e / m_l, "z": z})
            if worst is None or abs(z) > abs(worst[0]):
                worst = (z, label, pq, m_e, m_l, math.hypot(se_e, se_l))
    _, label, pq, m_e, m_l, se = worst
    return pd.DataFrame(rows), {"label": label, "pair": pq, "explicit": m_e, "law": m_l, "se": se}


def finite_width_excess(res: dict, pairs, gain: float) -> dict:
    """The excess E||J||_{p,q} / (beta omega^(L/2)) - 1 of :func:`width_measurement`, per pair.

    Returns ``{"explicit": {pair: (excess (n_widths,), s.e.)}, "law": {pair: (excess (n_law_widths,), s.e.)}}``:
    explicit networks (s.e. clustered by network) and the exact law, each with the Monte Carlo error of beta.
    """
    _check_keys("res", res, ("norm", "network", "beta", "law"))
    pairs = check_pairs(pairs)
    law_stats = law_summary(res["law"])
    excess, law_excess = {}, {}
    for j, pq in enumerate(pairs):
        mc, mc_se, _ = res["beta"][pq]
        ratio = res["norm"][:, j, :] / (mc * gain)
        m = ratio.mean(1)
        se = np.array([clustered_se(ratio[c], res["network"]) for c in range(ratio.shape[0])])
        excess[pq] = (m - 1, np.hypot(se, m * mc_se / mc))
        lm = law_stats["mean"][:, j] / (mc * gain)
        lse = law_stats["se"][:, j] / (mc * gain)
        law_excess[pq] = (lm - 1, np.hypot(lse, lm * mc_se / mc))
    return {"explicit": excess, "law": law_excess}


def excess_decline(excess: dict) -> dict:
    """The pair with the largest excess at the smallest width (:func:`finite_width_excess` ``"explicit"``) and its
    excess and s.e. at the smallest and the largest width: ``{"pair", "first", "first_se", "last", "last_se"}``."""
    pq = max(excess, key=lambda k: excess[k][0][0])
    (e, s) = excess[pq]
    return {"pair": pq, "first": e[0], "first_se": s[0], "last": e[-1], "last_se": s[-1]}


def law_excess_at(law_excess: dict, widths, N: int = 40000) -> dict:
    """The largest excess of the exact law (:func:`finite_width_excess` ``"law"``, at ``widths``) at width ``N``
    (the paper's; the largest width when N is not among them): ``{"width", "index", "pair", "excess", "se"}``."""
    widths = list(widths)
    i = widths.index(N) if N in widths else len(widths) - 1
    pq = max(law_excess, key=lambda k: law_excess[k][0][i])
    return {"width": widths[i], "index": i, "pair": pq, "excess": float(law_excess[pq][0][i]),
            "se": float(law_excess[pq][1][i])}


def tightness_table(res: dict, pairs, d_values, *, eps: float, K: int, gain: float) -> pd.DataFrame:
    """How much of the bound the attack realises, per pair, at the largest d of a Fig. 3 :func:`sweep` ``res``.

    Columns: L_adv / (eps ||J(x)||) (step 1), L_adv / (eps beta omega^(L/2)) with the Monte Carlo beta (and what it
    estimates) and with the closed-form upper bound, and the mean fraction of units flipped.
    """
    pairs = check_pairs(pairs)
    c_last, d_last = len(d_values) - 1, d_values[-1]
    rows = []
    for j, pq in enumerate(pairs):
        v = res["L_adv"][c_last, 0, j]
        mc, _, exact = res["beta"][d_last][pq]
        rows.append({
            "(p,q)": pair_label(*pq),
            "L_adv / (eps ||J(x)||)": (v / (eps * res["norm"][c_last, j])).mean(),
            "L_adv / (eps beta omega^(L/2)), beta = MC": v.mean() / (eps * mc * gain),
            "MC is": "expectation" if exact else "lower-bound estimate",
            "L_adv / (eps beta_bar omega^(L/2)), closed form":
                v.mean() / (eps * bounds.beta(*pq, d_last, K, "bound") * gain),
            "units flipped": res["flips"][c_last, 0, j].mean(),
        })
    return pd.DataFrame(rows).set_index("(p,q)")
