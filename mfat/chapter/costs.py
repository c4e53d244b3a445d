"""The work of every chapter at a tier's settings, counted: the units behind the plan (:mod:`mfat.chapter.plan`).

A :class:`Work` is one unit that runs on one device (a training run, a chunk of a grid, a Monte Carlo batch): its
matrix-product operations in float32 and in float64 (:mod:`mfat.model.flops`), its Gaussian draws, and its
sequential layer passes (kernels that run one after another whatever the width: the latency term).
:func:`chapter_work` lists a chapter's units from its settings (``mfat.chapter.settings.get(stem, tier)``), following
the measurements its page calls, with the same training configurations (``S.train_config``).

Counted are the kernels that grow with the settings; each function names what it approximates. Left out
everywhere: elementwise work (activations, norms, the optimiser), closed forms, figures and the analyses of
stored results. Two constants are estimates, not counts: :data:`CHAIN_DRAWS` (the Gram-chain samplers draw a few
numbers per layer and sample) and the operator-norm model of :func:`norm_flops`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mfat.experiments import adversarial_loss as al
from mfat.experiments import capacity as cap
from mfat.experiments import model as ch0
from mfat.experiments import perturbation_learning as pl
from mfat.experiments import random_linear_map as rlm
from mfat.experiments import trainability as tr
from mfat.experiments import weight_variance as wv
from mfat.model import flops
from mfat.model.networks import NetworkSpec
from mfat.model.training import TrainConfig
from mfat.model.norms import NP_HARD_PAIRS

__all__ = ["Work", "chapter_work", "norm_flops", "training_work", "grid_work", "attack_flops", "explicit_norms_work",
           "two_layer_steps", "perturbation_run_ops", "CHAIN_DRAWS", "CHAPTER_WORK"]

#: Gaussian / chi-square / binomial draws per layer and sample of the Gram-chain samplers (an estimate: two 2 x 2
#: Bartlett factors and a binomial count per layer).
CHAIN_DRAWS = 8
MNIST_D, CLASSES = 784, 10
#: Training images of the two-class image sets of chapter 6 when all are used (N = 0): MNIST 1 vs 2, Fashion-MNIST
#: T-shirt vs ankle boot.
IMAGE_COUNT = {"mnist": 12700, "fmnist": 12000}


@dataclass(frozen=True)
class Work:
    """One unit of a chapter's computation (module doc): operations, draws and sequential layer passes."""

    measurement: str
    unit: str
    fp32: float = 0.0
    fp64: float = 0.0
    draws: float = 0.0
    passes: float = 0.0

    def times(self, n: float) -> "Work":
        """The same work done ``n`` times."""
        return dataclasses.replace(self, fp32=n * self.fp32, fp64=n * self.fp64, draws=n * self.draws,
                                   passes=n * self.passes)


def _ops(amount: float, dtype: str) -> dict:
    return {"fp64" if dtype == "fp64" else "fp32": amount}


def training_work(measurement: str, unit: str, spec: NetworkSpec, config, *, dtype: str = "fp32",
                  per_record: float = 0.0, extra: float = 0.0) -> Work:
    """One :func:`mfat.model.training.train` run on a fresh network of ``spec``; ``per_record`` operations of a metric
    at each recorded step, ``extra`` further operations (e.g. an attack before training)."""
    ops = flops.training(spec, config, per_record=per_record)["total"] + extra
    return Work(measurement, unit, draws=flops.network_draws(spec),
                passes=flops.layer_passes(spec.L, config), **_ops(ops, dtype))


def grid_work(measurement: str, unit: str, specs: Sequence[NetworkSpec], config, *, extra: float = 0.0) -> Work:
    """One :func:`mfat.model.grid.train_grid` call over the cells ``specs`` (float32); ``extra`` operations after it."""
    return Work(measurement, unit, fp32=flops.grid_training(specs, config)["total"] + extra,
                draws=sum(flops.network_draws(s) for s in specs),
                passes=flops.layer_passes(max(s.L for s in specs), config))


def attack_flops(spec: NetworkSpec, steps: int, restarts: int = 1) -> int:
    """One PGD on the output deviation or the loss, per example (:func:`mfat.model.flops.pgd_evaluations`) plus f(x)."""
    fwd, bwd = flops.pgd_evaluations(steps, restarts)
    return (fwd + 1) * flops.forward(spec) + bwd * flops.input_backward(spec)


def norm_flops(K: int, d: int, pairs, *, restarts: int = 0, max_iter: int = 3, max_enumeration: int = 16) -> float:
    """Operations of :func:`mfat.model.norms.operator_norm` on one K x d matrix for every pair (an estimate): exact
    pairs one pass over the matrix (the (2, 2) norm an SVD, 4 K d min(K, d)); NP-hard pairs an enumeration of the
    2^s sign vectors (2^s 2 K d) when s <= ``max_enumeration`` free signs, else (restarts + 2) starts of
    ``max_iter`` sign rounds of two matrix-vector products."""
    total = 0.0
    for p, q in pairs:
        if (p, q) == (2.0, 2.0):
            total += 4 * K * d * min(K, d)
        elif (p, q) in NP_HARD_PAIRS:
            signs = {(2.0, 1.0): K, (float("inf"), 1.0): min(K, d), (float("inf"), 2.0): d}[(p, q)]
            total += (2 ** signs * 2 * K * d if signs <= max_enumeration
                      else (restarts + 2) * max_iter * 4 * K * d)
        else:
            total += 2 * K * d
    return total


# ------------------------------------------------------------------------------------------ chapter 0
def _model(s, tier) -> list[Work]:
    """Chapter 0: per setting, n_networks float64 networks pushed forward at one input."""
    out = []
    for kind, w, residual in ch0.signal_configs(s):
        spec = NetworkSpec(s.d, s.N, 1, s.L, residual=residual)
        one = Work("signal", f"{kind} sigma_w^2={w}", fp64=flops.forward(spec), draws=flops.network_draws(spec),
                   passes=s.L + 2)
        out.append(one.times(s.n_networks))
    return out


# ------------------------------------------------------------------------------------------ chapter 1
def chain_work(measurement: str, unit: str, L: int, samples: int) -> Work:
    """The Gram chain (:func:`mfat.laws.linear_map.sample_chain`): :data:`CHAIN_DRAWS` draws per layer and sample."""
    return Work(measurement, unit, draws=CHAIN_DRAWS * L * samples, passes=L + 2)


def units_work(measurement: str, unit: str, spec: NetworkSpec, m: int, samples: int) -> Work:
    """The unit-level sampler (:func:`mfat.laws.linear_map.sample_units`) at m inputs: per network and layer N x 3m
    draws and two N x 3m x 3m products (the Gram factor and Z R), float64."""
    N, k = spec.N, 3 * m
    layer_draws = N * k + N + (N * k if spec.residual else 0)
    layer_ops = 4 * N * k * k + (2 * N * k * k if spec.residual else 0)
    one = Work(measurement, unit, fp64=2 * N * (m + 1) ** 2 + spec.L * layer_ops + 2 * N * k * k + 2 * spec.K * k * k,
               draws=N * (m + 1) + spec.L * layer_draws + spec.K * k, passes=spec.L + 2)
    return one.times(samples)


def _random_linear_map(s, tier) -> list[Work]:
    """Chapter 1: the chains (Fig. 1, the joint law, the width and depth sweeps), the unit-level sampler (input
    independence, speed) and explicit float64 networks (Fig. 1's check, the adversarial inputs)."""
    out = []
    for arch in rlm.architectures(s):
        small = rlm.arch_spec(s, arch, N=s.explicit_N)
        explicit = Work("fig1", arch, fp64=flops.jacobian(small) + flops.forward(small),
                        draws=flops.network_draws(small), passes=3 * (small.L + 2)).times(s.explicit_n)
        chains = chain_work("fig1", arch, s.L, 2 * s.n_samples)
        out.append(dataclasses.replace(explicit, draws=explicit.draws + chains.draws))
    out.append(chain_work("joint", "N=4", s.L, s.n_samples))
    out.append(units_work("inputs", f"N={s.inputs_N}", rlm.input_network(s)["spec"], 4, s.inputs_n))
    for N in s.adv_widths:
        spec = NetworkSpec(rlm.MNIST_D, N, 1, s.L, s.sigma_w2, s.sigma_b2)
        per_net = attack_flops(spec, s.adv_steps) + 2 * flops.forward(spec) + 3 * flops.jacobian(spec)
        out.append(Work("adversarial", f"N={N}", fp64=per_net, draws=flops.network_draws(spec),
                        passes=(2 * s.adv_steps + 9) * (s.L + 2)).times(s.adv_n))
    out.append(chain_work("width", f"{len(s.widths)} widths", s.L, len(s.widths) * s.width_n))
    out.append(chain_work("depth", f"L<={s.depth_L}", s.depth_L, len(s.depth_sigma_w2) * s.depth_n))
    out.append(units_work("speed", f"N={s.N}", rlm.arch_spec(s, "vanilla ReLU"), 1, rlm.SPEED_NETWORKS))
    return out


# ------------------------------------------------------------------------------------------ chapter 2
def explicit_norms_work(measurement: str, unit: str, spec: NetworkSpec, n_networks: int, n_inputs: int, pairs,
                        *, n_eps: int = 0, refine_steps: int = 0, restarts: int = 0) -> Work:
    """:func:`mfat.experiments.adversarial_loss.sweep`: float32 networks, J(x) at ``n_inputs`` inputs, its norms
    (float64) and, per budget and pair, the linearised attack with ``refine_steps`` steps and the flipped units."""
    F = flops.forward(spec)
    attacks = n_eps * len(pairs) * (attack_flops(spec, refine_steps) + F)
    traversals = 4 + 2 * n_eps * len(pairs) * (refine_steps + 2)
    per_net = Work(measurement, unit, fp32=n_inputs * (flops.jacobian(spec) + 2 * F + attacks),
                   fp64=n_inputs * norm_flops(spec.K, spec.d, pairs, restarts=restarts),
                   draws=flops.network_draws(spec), passes=traversals * (spec.L + 2))
    return per_net.times(n_networks)


def law_work(measurement: str, unit: str, spec: NetworkSpec, samples: int, pairs, restarts: int) -> Work:
    """:func:`mfat.experiments.adversarial_loss.chain_norms`: exact draws of J (float64) and their norms."""
    m = min(spec.N, spec.d, spec.K) if spec.K < min(spec.N, spec.d) else min(spec.N, spec.d)
    one = Work(measurement, unit, fp64=flops.law_jacobian(spec) + norm_flops(spec.K, spec.d, pairs, restarts=restarts),
               draws=spec.L * 2 * m * m + spec.K * spec.d)
    return one.times(samples)


def beta_work(measurement: str, unit: str, d: int, K: int, pairs, samples: int, restarts: int) -> Work:
    """Monte Carlo beta_{p,q}(d, K): ``samples`` Gaussian K x d matrices per pair and their norms (float64)."""
    return Work(measurement, unit, fp64=samples * norm_flops(K, d, pairs, restarts=restarts),
                draws=samples * len(pairs) * K * d)


def _adversarial_loss(s, tier) -> list[Work]:
    """Chapter 2: the identity network (float64: region radii O(B N^2 d L) per l_p, attacks), the beta tables, and
    the explicit networks of Fig. 3 and of the depth, K and width sweeps (float32, J(x) from K rows), the exact law.
    The beta_{2,inf} samples (row norms of Gaussian matrices) are not counted."""
    pairs = al.threat_pairs(s.ps, s.qs)
    out = []
    ident = NetworkSpec(MNIST_D, s.id_N, s.id_K, s.L, s.sigma_w2, s.sigma_b2)
    F, B = flops.forward(ident), s.id_inputs
    radius = 3 * s.L * 2 * s.id_N ** 2 * MNIST_D * 2
    attacks = len(pairs) * (attack_flops(ident, s.refine_steps) + attack_flops(ident, s.pgd_steps, s.pgd_restarts) + F)
    sweep = len(al.eps_sweep_pairs(s.ps, s.qs)) * len(s.eps_grid) * (attack_flops(ident, s.refine_steps) + F)
    out.append(Work("identity", f"N={s.id_N}", fp64=B * (flops.jacobian(ident) + radius + attacks + sweep)
                    + B * norm_flops(s.id_K, MNIST_D, pairs, restarts=s.norm_restarts),
                    draws=flops.network_draws(ident)))
    for K, d in zip(s.table_K, s.table_d):
        out.append(beta_work("beta_table", f"K={K}, d={d}", d, K, pairs, s.table_samples, s.norm_restarts))
    for d in s.d_values:
        spec = NetworkSpec(d, s.N, s.K, s.L, s.sigma_w2, s.sigma_b2)
        out.append(explicit_norms_work("fig3", f"d={d}", spec, s.n_networks, s.n_inputs, pairs, n_eps=1,
                                       refine_steps=s.refine_steps, restarts=s.norm_restarts))
        out.append(beta_work("fig3", f"beta d={d}", d, s.K, pairs, s.beta_samples, s.norm_restarts))
        out.append(law_work("fig3-law", f"d={d}", spec, s.law_samples, pairs, s.norm_restarts))
    diagonal = al.diagonal_pairs(pairs)
    for kind, w, residual in al.depth_networks(s.depth_sigma_w2, s.residual_sigma_w2):
        for L in s.depths:
            spec = NetworkSpec(s.depth_d, s.sweep_N, s.depth_K, L, w, s.sigma_b2, residual=residual)
            out.append(explicit_norms_work("depth", f"{kind} {w}, L={L}", spec, s.n_networks, s.sweep_inputs,
                                           diagonal, restarts=s.norm_restarts))
    for K in s.K_values:
        spec = NetworkSpec(s.K_d, s.sweep_N, K, s.L, s.sigma_w2, s.sigma_b2)
        out.append(explicit_norms_work("K_sweep", f"K={K}", spec, s.n_networks, s.sweep_inputs, pairs,
                                       restarts=s.norm_restarts))
    for N in s.widths:
        spec = NetworkSpec(s.width_d, N, s.width_K, s.L, s.sigma_w2, s.sigma_b2)
        out.append(explicit_norms_work("width-law", f"N={N}", spec, s.n_networks, s.sweep_inputs, pairs,
                                       restarts=s.norm_restarts))
    for N in al.law_widths(s.widths, s.law_widths):
        spec = NetworkSpec(s.width_d, N, s.width_K, s.L, s.sigma_w2, s.sigma_b2)
        out.append(law_work("width-law", f"law N={N}", spec, s.law_samples, pairs, s.norm_restarts))
    for d in s.mf_d_values:
        spec = NetworkSpec(d, s.mf_N, s.mf_K, s.L, s.sigma_w2, s.sigma_b2)
        out.append(law_work("paper-law", f"d={d}", spec, s.mf_samples, pairs, s.norm_restarts))
        out.append(beta_work("paper-law", f"beta d={d}", d, s.mf_K, pairs, s.beta_samples, s.norm_restarts))
    return out


# ------------------------------------------------------------------------------------------ chapter 3
def _weight_variance(s, tier) -> list[Work]:
    """Chapter 3: the identity (float64 networks: PGD, then one forward-mode derivative per layer, about 4 forward
    passes), the Fig. 4 runs of every objective (MNIST and Fashion-MNIST), the residual runs and the slope sweeps;
    each run also attacks 256 examples at initialisation."""
    out = []

    def run(measurement, unit, N, L, config, residual=False):
        spec = NetworkSpec(MNIST_D, N, CLASSES, L, residual=residual)
        start = 256 * attack_flops(spec, config.attack_steps, config.attack_restarts) if config.eps > 0 else 0
        out.append(training_work(measurement, unit, spec, config, extra=start))

    def identity(unit, residual, n_networks, examples):
        spec = NetworkSpec(MNIST_D, s.N, CLASSES, s.L, residual=residual)
        per_example = attack_flops(spec, s.identity_attack_steps) + 4 * s.L * flops.forward(spec)
        out.append(Work("identity", unit, fp64=examples * per_example, draws=flops.network_draws(spec),
                        passes=(2 * s.identity_attack_steps + 4 * s.L) * (s.L + 2)).times(n_networks))

    identity("vanilla and bias cases", False, len(wv.IDENTITY_PAIRS) + len(wv.BIAS_CASES), s.identity_examples)
    identity("residual", True, 4 * s.n_residual_networks, min(wv.RESIDUAL_EXAMPLES, s.identity_examples))
    fig4 = s.train_config("adversarial", s.steps, record_first=s.slope_steps, eval_size=500)
    fashion = s.train_config("adversarial", s.fashion_steps, record_first=s.slope_steps, eval_size=500)
    for objective in wv.FIG4_OBJECTIVES:
        extra = {"weight_decay": s.weight_decay} if objective == "l2" else {}
        run("fig4_mnist", objective, s.N, s.L, dataclasses.replace(fig4, objective=objective, **extra))
        if s.fashion_steps > 0:
            run("fig4_fashion", objective, s.N, s.L, dataclasses.replace(fashion, objective=objective, **extra))
    for objective in ("adversarial", "standard"):
        run("residual", objective, s.N, s.L, dataclasses.replace(fig4, objective=objective), residual=True)
    sweep = s.train_config("adv_only", s.sweep_steps, record_every=1, record_first=s.sweep_steps, eval_size=500)
    short = dataclasses.replace(sweep, steps=s.slope_steps, record_first=s.slope_steps)
    for N in s.widths:
        for seed in range(s.n_seeds):
            run("sweeps", f"width N={N}, seed {seed}", N, s.L, sweep)
    for L in s.depths:
        for seed in range(s.n_sweep_seeds):
            run("sweeps", f"depth L={L}, seed {seed}", s.N, L, short)
    for eps in s.eps_values:
        for seed in range(s.n_sweep_seeds):
            run("sweeps", f"eps={eps}, seed {seed}", s.N, s.L, dataclasses.replace(short, eps=eps))
    return out


# ------------------------------------------------------------------------------------------ chapter 4
def _trainability(s, tier) -> list[Work]:
    """Chapter 4: the gains of random networks (float64 tangents N x d per layer), the collapsing run (with the
    Jacobian gain at each record), the Fig. 5 grids (one unit per chunk of ``max_cells`` cells of a width, the
    final Jacobian gain of each cell on 64 inputs), the narrow residual row, the initial balance and the in-chapter
    speed comparison."""
    out = []
    for kind, w, residual in tr.gain_settings(s.gain_vanilla_sigma_w2, s.gain_residual_sigma_w2):
        spec = NetworkSpec(s.gain_d, s.gain_N, CLASSES, s.gain_L_max, w, residual=residual)
        tangent = s.gain_L_max * (flops.hidden_layer(spec) * s.gain_d + 2 * CLASSES * s.gain_N * s.gain_d)
        out.append(Work("gains", f"{kind} {w}", fp64=flops.forward(spec) + tangent,
                        draws=flops.network_draws(spec) + s.gain_L_max * CLASSES * s.gain_N,
                        passes=2 * (s.gain_L_max + 2)).times(s.gain_networks))
    run = NetworkSpec(MNIST_D, s.run_N, CLASSES, s.run_L)
    out.append(training_work("run", f"N={s.run_N}, L={s.run_L}", run,
                             s.train_config("adversarial", s.steps, record_every=s.run_record_every),
                             per_record=s.run_gain_examples * flops.jacobian(run)))
    configs = {objective: s.train_config(objective, s.steps, record_every=s.steps)
               for objective in ("adversarial", "standard")}
    grids = [("vanilla adversarial", "adversarial", False), ("vanilla standard", "standard", False),
             ("residual adversarial", "adversarial", True)]
    grids += [("Fashion-MNIST: vanilla adversarial", "adversarial", False)] if s.fashion else []
    cells = [L for L in s.depths for _ in range(s.n_seeds)]
    for name, objective, residual in grids:
        for N in s.widths:
            for lo in range(0, len(cells), s.max_cells):
                specs = [NetworkSpec(MNIST_D, N, CLASSES, L, residual=residual) for L in cells[lo:lo + s.max_cells]]
                gain = sum(64 * flops.jacobian(spec) for spec in specs)
                out.append(grid_work("grid-cells", f"{name}, N={N}, cells {lo}..", specs, configs[objective],
                                     extra=gain))
    for objective in ("adversarial", "standard"):
        specs = [NetworkSpec(MNIST_D, s.narrow_N, CLASSES, L, residual=True) for L in cells]
        out.append(grid_work("narrow", objective, specs, configs[objective]))
    if s.fashion:
        batch = min(s.balance_batch, s.n_train)
        config = dataclasses.replace(configs["adversarial"], batch_size=batch)
        for N in s.widths:
            specs = [NetworkSpec(MNIST_D, N, CLASSES, L) for L in s.depths]
            ops = sum(flops.objective(spec, config) + batch * flops.jacobian(spec) for spec in specs)
            out.append(Work("init-balance", f"N={N}", fp32=ops, draws=sum(map(flops.network_draws, specs)),
                            passes=len(specs) * 30 * (max(s.depths) + 2)).times(2 * s.balance_networks))
    bench = s.train_config("adversarial", s.bench_steps, record_every=s.bench_steps)
    N = s.widths[min(1, len(s.widths) - 1)]
    specs = [NetworkSpec(MNIST_D, N, CLASSES, L) for L in s.depths]
    out.append(grid_work("speed", f"N={N}, batched and loop", specs, bench).times(2))
    return out


# ------------------------------------------------------------------------------------------ chapter 5
def _capacity(s, tier) -> list[Work]:
    """Chapter 5: the Fisher-Rao Monte Carlo at initialisation (float64), the first-order slopes (float64: the
    objective's gradient on slope_batch examples and the differentiable Fisher-Rao norm on fr_batch, about three
    forward-mode passes), the adv_only curves and the accuracy runs (float32, the Fisher-Rao norm at every record;
    the accuracy runs also attack the evaluation set at each record), and their Fashion-MNIST versions."""
    out = []

    def init(unit, d, N, L, residual, networks, inputs):
        spec = NetworkSpec(d, N, CLASSES, L, residual=residual)
        out.append(Work("init", unit, fp64=inputs * flops.fisher_rao(spec), draws=flops.network_draws(spec),
                        passes=L + 2).times(networks))

    for L in s.init_depths:
        for kind, residual in (("vanilla", False), ("residual", True)):
            init(f"{kind} L={L}", s.init_d, s.init_N, L, residual, s.init_networks, s.init_inputs)
    init("vanilla + bias", s.init_d, s.init_N, s.init_depths[len(s.init_depths) // 2], False, s.init_networks,
         s.init_inputs)
    init(f"{s.dataset} inputs", MNIST_D, s.scale_N, s.scale_L, False, s.scale_networks, 64)
    slope_config = s.train_config("adv_only", 100, batch_size=s.slope_batch, eval_size=1000)
    curve_config = s.train_config("adv_only", s.curve_steps, record_every=max(1, s.curve_steps // 10),
                                  record_first=s.slope_steps)

    def slopes(measurement, grid):
        for N, L in grid:
            spec = NetworkSpec(MNIST_D, N, CLASSES, L)
            ops = flops.objective(spec, slope_config) + 3 * s.fr_batch * flops.fisher_rao(spec)
            out.append(Work(measurement, f"N={N}, L={L}", fp64=ops, draws=flops.network_draws(spec),
                            passes=(2 * s.attack_steps + 12) * (L + 2)).times(s.slope_seeds))

    def curve(measurement, unit, N, L, config):
        spec = NetworkSpec(MNIST_D, N, CLASSES, L)
        out.append(training_work(measurement, unit, spec, config, per_record=s.fr_batch * flops.fisher_rao(spec)))

    grid = cap.slope_grid(s)
    slopes("slopes", grid)
    for N, L in grid:
        curve("curves", f"adv_only N={N}, L={L}", N, L, curve_config)
    curve("curves", f"standard N={s.N}, L={s.L}", s.N, s.L, dataclasses.replace(curve_config, objective="standard"))
    acc = s.train_config("adversarial", s.acc_steps, lr=s.acc_lr, eps=s.acc_eps, record_every=s.acc_record_every,
                         robust_eval=True)
    for N in s.acc_widths:
        for objective in ("adversarial", "standard"):
            curve("accuracy", f"{objective} N={N}", N, s.L, dataclasses.replace(acc, objective=objective))
    if s.fashion:
        slopes("fashion", grid if tier == "full" else [(s.N, s.L)])
        curve("fashion", f"adv_only N={s.N}, L={s.L}", s.N, s.L, curve_config)
    return out


# ------------------------------------------------------------------------------------------ chapter 6
def two_layer_steps(N: int, d: int, m: int, steps: int, nets: int) -> float:
    """Full-batch gradient steps of ``nets`` two-layer networks of width m on N examples in R^d: per step a forward
    product and the weight gradient, 2 N d m each (the readout is frozen)."""
    return 4.0 * N * d * m * steps * nets


def perturbation_run_ops(N: int, d: int, m: int, steps: int, seeds: int, variants: int, *, snapshots: int = 1,
                         records: int = 1, n_eval: int = 1000) -> float:
    """One :func:`mfat.experiments.perturbation_learning.perturbation_learning` run: f (``seeds`` networks) and one g
    per variant and seed trained for ``steps`` steps; Theorem A's predicted directions for every snapshot of f
    (kernel and weighted sum, 4 N^2 d per seed); the lazy predictions on the training and evaluation inputs
    (4 (N + n_eval) N d per variant and seed); the evaluations of g at ``records`` times (3 forward products)."""
    nets = seeds * (1 + variants)
    return (two_layer_steps(N, d, m, steps, nets) + snapshots * seeds * 4.0 * N * N * d
            + variants * seeds * 4.0 * (N + n_eval) * N * d + records * variants * seeds * 6.0 * (N + n_eval) * d * m)


def _run_variants(s, is_base: bool) -> int:
    extra = sum(k != 1.0 for k in s.eps_factors) + sum(k != 1.0 for k in s.time_fractions)
    return 2 * (1 + (extra if is_base else 0))


def _perturbation_learning(s, tier) -> list[Work]:
    """Chapter 6: the kernel Monte Carlo, the lazy-regime and Theorem A runs, the decision maps and the sweeps of
    every data set (one unit per run, :func:`perturbation_run_ops`). Float64 except the accuracy experiments at
    ``dtype``."""
    out = []
    for gamma in s.kernel_gammas:
        n, d, k = s.kernel_pairs, s.kernel_d, s.kernel_draws
        out.append(Work("kernel", f"gamma={gamma}", fp64=4 * k * n * d + 2 * n * n * k, draws=k * (d + 1)))
    for m in s.lazy_widths:
        out.append(Work("lazy", f"m={m}", fp64=two_layer_steps(s.lazy_N, s.lazy_d, m, s.lazy_steps, s.n_seeds)
                        + 2 * s.lazy_N ** 2 * s.lazy_d * s.n_seeds, passes=4 * s.lazy_steps))
    align_steps = max(1, round(max(s.align_T_values) / s.align_lr))
    out.append(Work("alignment", "vs T", fp64=two_layer_steps(s.lazy_N, s.lazy_d, s.align_m, align_steps, s.n_seeds)
                    + 4 * s.lazy_N ** 2 * s.lazy_d, passes=4 * align_steps))
    for d in s.align_d_values:
        steps = max(1, round(s.align_T_d / s.align_lr))
        out.append(Work("alignment", f"d={d}", fp64=two_layer_steps(s.lazy_N, d, s.align_m, steps, s.n_seeds)
                        + 4 * s.lazy_N ** 2 * d, passes=4 * steps))
    fp = "fp64" if s.dtype == "float64" else "fp32"
    for name in pl.CHAPTER_DATASETS:
        D = s.defaults(name)
        image = name in pl.IMAGE_SOURCES
        n_base = D["N"] or IMAGE_COUNT[name]
        P, d = s.map_grid ** 2, D["d"]  # f-hat on the grid, and g-hat per scenario (its directions, its kernel)
        hats = 4.0 * P * n_base * d + 2 * (4.0 * n_base * n_base * d + 4.0 * P * n_base * d)
        out.append(Work("maps", name, fp64=two_layer_steps(n_base, d, s.map_m, s.steps, 3) + 6.0 * P * d * s.map_m
                        + hats, passes=8 * s.steps))
        runs = [(D["d"], n_base, s.m, True)]
        if name in s.sweep_datasets:
            if "d" in s.sweep_factors and not image:
                runs += [(max(2, round(k * D["d"])), n_base, s.m, False) for k in s.d_factors if k != 1.0]
            if "m" in s.sweep_factors:
                runs += [(D["d"], n_base, m, False) for m in s.m_values if m != s.m]
            if "gamma" in s.sweep_factors:
                runs += [(D["d"], n_base, s.m, False) for g in s.gamma_values if g != s.gamma]
            if "N" in s.sweep_factors:
                runs += [(D["d"], max(2, round(k * n_base)), s.m, False) for k in s.N_factors
                         if k != 1.0 and (not image or k <= 1.0)]
        n_eval = s.n_eval or 2000
        for d, N, m, is_base in runs:
            fractions = len(s.time_fractions) if is_base else 1
            ops = perturbation_run_ops(N, d, m, s.steps, s.n_seeds, _run_variants(s, is_base), snapshots=fractions,
                                       records=fractions, n_eval=n_eval)
            out.append(Work("sweeps", f"{name}: d={d}, N={N}, m={m}", passes=8 * s.steps, **_ops(ops, fp)))
    return out


# ------------------------------------------------------------------------------------------ chapter 7
def _implicit_bias(s, tier) -> list[Work]:
    """Chapter 7: tiny models trained for many sequential steps, so the latency term dominates. Deep linear networks
    (E1 normalised and constant steps, E2): per step a forward and a backward traversal of L = len(widths) + 1
    layers over n examples; two-layer ReLU networks (E3, synthetic and MNIST): per step the attack's evaluations
    (none, one for FGM/FGSM, pgd_steps for PGD) and the gradient."""
    out = []
    sizes = [s.d, *s.widths, 1]
    L = len(sizes) - 1

    def deep_linear(name, n, d, configs, steps):
        per_example = sum(2 * a * b for a, b in zip([d, *s.widths], [*s.widths, 1]))
        out.append(Work(name, f"{configs} x {s.seeds} runs", fp64=3 * per_example * n * configs * s.seeds * steps,
                        passes=2 * (L + 2) * steps))

    n_e1 = 2 + len(s.eps_below) + len(s.eps_beyond)
    deep_linear("e1-normalised", s.n, s.d, n_e1, s.steps_normalised)
    deep_linear("e1-constant", s.n, s.d, 1 + len(s.eps_below), s.steps_constant)
    deep_linear("e2-normalised", 2 * s.n_per_class, len(s.center), 3, s.steps_normalised)
    fp = "fp64" if s.relu_float64 else "fp32"
    for name, n, d in (("e3-synthetic", s.syn_n, s.syn_d), ("e3-mnist", s.mnist_n, MNIST_D)):
        for attack, evaluations in (("standard", 0), ("FGM", 1), ("FGSM", 1), ("PGD", s.pgd_steps)):
            ops = (2 + 2 * evaluations) * 2 * n * d * s.relu_m * (s.relu_steps + 1)
            out.append(Work(name, attack, passes=(2 + 2 * evaluations) * 4 * (s.relu_steps + 1), **_ops(ops, fp)))
    return out


# ------------------------------------------------------------------------------------------ chapter 8
def _attack_gaps(s, tier) -> list[Work]:
    """Chapter 8 (an estimate): on the network, every pair and budget, the random-start variants (each number of
    steps, times the restarts), the jump to the linearised maximiser (the Jacobian at each input) and its refinement;
    on exact-law draws of J (the small-eps limit), the same variants on K x d linear maps under both step rules plus
    the norms; the local-maxima counts (full-step iterations from many starts); the sweeps; and the training attacks
    of chapters 3 to 5 against the reference attack (at ``train_inputs`` inputs, and ``trained_steps`` of training)."""
    pairs = [(p, q) for p in (1.0, 2.0, float("inf")) for q in (1.0, 2.0, float("inf"))]
    spec = NetworkSpec(MNIST_D, s.N, s.K, s.L, s.sigma_w2)
    per_input = sum(attack_flops(spec, k, s.restarts) for k in s.steps) + attack_flops(spec, s.refine_steps)
    per_input = per_input * len(s.network_rules) + flops.jacobian(spec)
    out = [Work("mnist", f"{len(pairs)} pairs x {len(s.eps_values)} budgets",
                fp32=per_input * s.n_inputs * len(pairs) * len(s.eps_values),
                passes=2 * s.L * len(pairs) * len(s.eps_values) * (sum(s.steps) + s.refine_steps))]
    linear = 4 * s.K * MNIST_D * (sum(s.steps) * s.restarts + s.refine_steps) * len(s.rules)
    law = law_work("law", f"{s.law_samples} draws", spec, s.law_samples, pairs, s.norm_restarts)
    out.append(dataclasses.replace(law, fp64=law.fp64 + linear * len(pairs) * s.law_samples))
    geometry = 4 * s.K * MNIST_D * s.geometry_starts * s.geometry_steps * len(pairs)
    out.append(Work("geometry", f"{2 * s.geometry_samples} matrices", fp64=geometry * 2 * s.geometry_samples))
    points = len(s.d_values) + len(s.K_values) + len(s.depths) + len(s.widths)
    sweep_spec = NetworkSpec(MNIST_D, s.sweep_N, s.K, s.sweep_L, s.sigma_w2)
    sweep = law_work("sweeps", f"{points} points", sweep_spec, s.sweep_samples * points, pairs, s.norm_restarts)
    out.append(dataclasses.replace(sweep, fp64=sweep.fp64 + 4 * s.K * MNIST_D * s.sweep_steps * s.restarts
                                   * len(pairs) * s.sweep_samples * points))
    reference = attack_flops(spec, s.reference_steps, s.reference_restarts) * s.train_inputs
    out.append(Work("training-attacks", f"{len(s.training_tiers)} tiers of chapters 3-5",
                    fp32=5 * len(s.training_tiers) * reference,
                    passes=2 * s.L * s.reference_steps * 5 * len(s.training_tiers)))
    if s.trained_steps:
        config = TrainConfig(objective="adversarial", steps=s.trained_steps, batch_size=32, attack_steps=3)
        out.append(training_work("after-training", "one short adversarial training", spec, config,
                                 extra=2 * reference))
    return out



CHAPTER_WORK: dict[str, Callable] = {
    "model": _model, "random_linear_map": _random_linear_map, "adversarial_loss": _adversarial_loss,
    "weight_variance": _weight_variance, "trainability": _trainability, "capacity": _capacity,
    "perturbation_learning": _perturbation_learning, "implicit_bias": _implicit_bias,
    "attack_gaps": _attack_gaps,
}


def chapter_work(stem: str, settings, tier: str) -> list[Work]:
    """The units of chapter ``stem`` at ``settings`` (its tier ``tier``), each a :class:`Work`."""
    if stem not in CHAPTER_WORK:
        raise ValueError(f"parameter 'stem' = {stem!r} is out of range: allowed one of {', '.join(CHAPTER_WORK)}")
    return CHAPTER_WORK[stem](settings, tier)
