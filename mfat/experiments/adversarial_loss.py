"""Chapter 2 measurements: the adversarial loss of random Definition 3.1 networks (Theorem 5.1).

    L_adv(x) = max_{||eta||_p <= eps} ||f(x + eta) - f(x)||_q                      (spec section 4)
    L_adv(x) = eps ||J(x)||_{p,q}   if the l_p ball of radius eps lies in one activation region
    L_adv(x) <= eps max_x' ||J(x')||_{p,q}  ~  eps beta_{p,q}(d, K) omega^(L/2)      (section 5, Theorem 5.1)

The attack used throughout is projected gradient ascent on the true network (:mod:`mfat.model.attacks`). Its start is
either a uniform random point of the ball (the engine's :func:`mfat.model.attacks.pgd`) or the maximiser of the
*linearised* problem, eps * argmax_{||u||_p <= 1} ||J(x) u||_q (from :mod:`mfat.model.norms`), refined by steepest-ascent
steps on the true objective (:func:`attack`). Every point it evaluates is feasible, so every value it returns is a
lower bound on L_adv(x); for the NP-hard pairs (2,1), (inf,1), (inf,2) nothing better than a lower bound is
available. Functions take an explicit ``generator`` and ``device`` and return float64 numpy arrays (small enough
for :func:`mfat.chapter.results.cached`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from mfat.model import attacks
from mfat.data import gaussian_inputs
from mfat.model.linearize import activation_slopes, decompose
from mfat.laws.jacobian import sample_jacobians
from mfat.model.networks import NetworkSpec, ReLULikeNet, apply_layer, layer_tangent, phi_prime
from mfat.model.norms import PAIRS, dual_exponent, operator_norm
from mfat.stats import standard_error
from mfat.theory import adversarial_loss as bounds
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
    "small_eps_identity",
    "gaussian_norms",
    "beta_monte_carlo",
    "beta_table",
    "chain_norms",
    "clustered_se",
    "log_slope",
]


def pair_label(p, q) -> str:
    """``"(p,q)"`` with inf written as the symbol, e.g. ``"(∞,2)"``."""
    def s(v):
        return "∞" if v == math.inf else f"{v:g}"

    return f"({s(normalise_p('p', p))},{s(normalise_p('q', q))})"


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
    with G^(l) (N x d) the product of the layers below (spec section 2.2; G^(1) = W^(1) P_in). The region is
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
        per_net = []
        for _ in range(n_networks):
            net = ReLULikeNet(**cfg, generator=generator, dtype=dtype, device=device)
            x = gaussian_inputs(n_inputs, cfg["d"], generator=_cpu_generator(generator), dtype=dtype, device=device)
            per_net.append(measure(net, x, eps_values, pairs, generator=generator, **measure_kwargs))
            del net
        if progress:
            print(f"  config {c + 1}/{len(configs)}: {cfg}", flush=True)
        merged = {k: np.concatenate([r[k] for r in per_net], axis=-1) for k in per_net[0] if k != "exact"}
        exact = np.stack([r["exact"] for r in per_net])
        merged["exact"] = exact.all(axis=0)
        results.append(merged)
    out = {k: np.stack([r[k] for r in results]) for k in results[0]}
    out["network"] = np.repeat(np.arange(n_networks), n_inputs)
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
    """Check L_adv(x) = eps ||J(x)||_{p,q} inside one activation region (spec section 5, check 3).

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
    """The nine beta_{p,q}(d, K) (the paper's Fig. 2 / spec section 5.1-5.2) as a pandas DataFrame.

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
