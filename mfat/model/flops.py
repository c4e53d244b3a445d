"""Floating-point operations of the engine's heavy kernels, counted from shapes alone (no torch work).

What is counted: every matrix product, 2 m n k operations for an (m x k) (k x n) product (a batched product is
the sum over its batch). What is not: elementwise work (phi, bias adds, the PGD step and projection, norms, the
loss, the optimiser update), reductions, random draws (:func:`network_draws` counts those separately) and
Cholesky / QR factorisations. This is exactly what ``torch.utils.flop_counter.FlopCounterMode`` counts for these
kernels (its oracle test: ``tests/model/test_flops.py``), so the two agree to the operation.

A Definition 3.1 network (:class:`mfat.model.networks.NetworkSpec`: d inputs, width N, depth L, K outputs,
vanilla or residual) costs per example

    forward            F  = 2 N d + 2 N^2 L (1 + r) + 2 K N                       (r = 1 residual, 0 vanilla)
    input backward     Bx = 2 K N + 2 N^2 L (1 + r) + 2 N d                       (the cotangent down to x: PGD)
    weight backward    Bw = 2 K N + 2 N^2 L + 2 N^2 (L - 1)(1 + r)                (grad of W^(1..L); x and P_in
                                                                                   need no cotangent)

and a training step on a mini-batch of B examples (:mod:`mfat.model.objectives`, PGD with S steps and R
restarts, each restart S forward + input-backward evaluations and one last forward):

    standard, l2       B (F + Bw)
    adversarial,       B (F + R (S (F + Bx) + F) + 2 F + 2 Bw)     f(x) without graph for the attack, the attack,
    adv_only                                                          f(x) and f(x + eta) with graph, both backward
    madry              B (R (S (F + Bx) + F) + 2 F + Bw)             the attack on CE, f(x + eta) with graph, f(x)

A run (:func:`training`) has ``steps + 1`` objective evaluations (the last one records and is not applied) and
a forward pass over the ``eval_size`` evaluation examples at every recorded step (with ``robust_eval``, a PGD on
them too). The batched grid (:mod:`mfat.model.grid`) performs exactly the products of its cells, so its count is
the sum over cells (:func:`grid_training`).

:func:`layer_passes` counts the sequential layer traversals (the kernel launches that a GPU cannot overlap):
the latency term of the plan's time model (:mod:`mfat.chapter.plan`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mfat.model.networks import NetworkSpec

__all__ = ["hidden_layer", "forward", "input_backward", "weight_backward", "pgd_evaluations", "objective", "training",
           "grid_training", "layer_passes", "jacobian", "fisher_rao", "law_jacobian", "network_draws"]

_ADVERSARIAL = ("adversarial", "adv_only")


def _check(spec) -> NetworkSpec:
    if not isinstance(spec, NetworkSpec):
        raise ValueError(f"parameter 'spec' = {spec!r} is out of range: allowed a mfat.model.networks.NetworkSpec")
    return spec


def hidden_layer(spec: NetworkSpec) -> int:
    """2 N^2 (1 + r): one hidden layer's products per example (W, and the shortcut P when residual)."""
    s = _check(spec)
    return 2 * s.N * s.N * (2 if s.residual else 1)


def forward(spec: NetworkSpec) -> int:
    """F: matrix-product operations of one forward pass f(x), per example."""
    s = _check(spec)
    return 2 * s.N * s.d + s.L * hidden_layer(s) + 2 * s.K * s.N


def input_backward(spec: NetworkSpec) -> int:
    """Bx: the backward pass from the logits to the input x (what PGD's gradient costs), per example."""
    s = _check(spec)
    return 2 * s.K * s.N + s.L * hidden_layer(s) + 2 * s.N * s.d


def weight_backward(spec: NetworkSpec) -> int:
    """Bw: the backward pass of the training loss (gradients of every W^(l); the hidden cotangents below layer 1
    and the input's are not formed, since x does not require a gradient there), per example."""
    s = _check(spec)
    return 2 * s.K * s.N + 2 * s.N * s.N * s.L + (s.L - 1) * hidden_layer(s)


def pgd_evaluations(steps: int, restarts: int = 1) -> tuple[int, int]:
    """(forward passes, input-backward passes) of one :func:`mfat.model.attacks.pgd` call, per example: each
    restart evaluates the objective with its gradient ``steps`` times and once more without."""
    return restarts * (steps + 1), restarts * steps


def _attack(spec: NetworkSpec, config) -> int:
    fwd, bwd = pgd_evaluations(config.attack_steps, config.attack_restarts)
    return fwd * forward(spec) + bwd * input_backward(spec)


def objective(spec: NetworkSpec, config) -> int:
    """Operations of one evaluation of the training objective of ``config`` (a
    :class:`mfat.model.training.TrainConfig`) and its gradient, on one mini-batch of ``config.batch_size``."""
    F, Bw = forward(spec), weight_backward(spec)
    if config.objective in _ADVERSARIAL:
        per_example = F + _attack(spec, config) + 2 * F + 2 * Bw
    elif config.objective == "madry":
        per_example = _attack(spec, config) + 2 * F + Bw
    else:  # standard, l2
        per_example = F + Bw
    return config.batch_size * per_example


def training(spec: NetworkSpec, config, *, per_record: int = 0) -> dict[str, int]:
    """Operations of one :func:`mfat.model.training.train` run of ``config`` on a network of ``spec``.

    ``per_record``: the operations of whatever else is measured at every recorded step (a metric such as the
    Fisher-Rao norm). Returns ``steps`` (the ``config.steps + 1`` objective evaluations), ``evaluation`` (the
    accuracy passes and ``per_record`` at the recorded steps) and ``total``.
    """
    records = len(config.recorded_steps)
    steps = (config.steps + 1) * objective(spec, config)
    per_eval = forward(spec)
    if config.robust_eval:
        per_eval += _attack(spec, config) + forward(spec)
    evaluation = records * (config.eval_size * per_eval + per_record)
    return {"steps": steps, "evaluation": evaluation, "total": steps + evaluation}


def grid_training(specs: Sequence[NetworkSpec], config) -> dict[str, int]:
    """:func:`training` summed over the cells of one :func:`mfat.model.grid.train_grid` call (one spec per cell):
    the stack performs exactly the products of its cells."""
    parts = [training(s, config) for s in specs]
    return {k: sum(p[k] for p in parts) for k in ("steps", "evaluation", "total")}


def layer_passes(L: int, config, *, chunk: int = 1024) -> int:
    """Sequential layer traversals of one training run whose deepest network has L layers (a stack runs its cells
    side by side): each traversal of the network, forward or backward, is L + 2 products in a row (P_in, the L
    layers, P_out). Counts the traversals of :func:`training` (evaluation in chunks of ``chunk`` examples)."""
    fwd, bwd = pgd_evaluations(config.attack_steps, config.attack_restarts)
    attack = fwd + bwd
    if config.objective in _ADVERSARIAL:
        per_step = 1 + attack + 2 + 2
    elif config.objective == "madry":
        per_step = attack + 2 + 1
    else:
        per_step = 2
    per_record = math.ceil(config.eval_size / chunk) * (1 + (attack + 1 if config.robust_eval else 0))
    traversals = (config.steps + 1) * per_step + len(config.recorded_steps) * per_record
    return traversals * (L + 2)


def jacobian(spec: NetworkSpec) -> int:
    """The exact J(x) (K x d) and a(x) of :func:`mfat.model.linearize.decompose`, per input: the slopes (a forward
    pass without P_out), then the K rows of P_out carried back through every layer and finally P_in."""
    s = _check(spec)
    slopes = 2 * s.N * s.d + s.L * hidden_layer(s)
    rows = s.L * (s.K * hidden_layer(s) + 2 * s.K * s.N) + 2 * s.K * s.N * s.d
    return slopes + rows


def fisher_rao(spec: NetworkSpec) -> int:
    """The exact layerwise Fisher-Rao terms of :func:`mfat.model.fisher_rao.directional_derivatives`, per input:
    at layer l the l carried vectors (l - 1 tangents and h) go through W^(l), the l - 1 tangents through P^(l)
    (residual) and h through P^(l); then the L tangents through P_out."""
    s = _check(spec)
    n2 = 2 * s.N * s.N
    total = 2 * s.N * s.d + s.L * 2 * s.K * s.N
    for layer in range(1, s.L + 1):
        total += layer * n2 + (layer * n2 if s.residual else 0)
    return total


def _chain(left_rows: int, r: int, factors: int) -> int:
    """Operations of ``left (a x r) @ M_1 @ ... @ M_n`` (r x r factors) from the cheaper end, as the exact-law
    sampler multiplies (:func:`mfat.laws.jacobian._product`)."""
    if left_rows <= r:
        return factors * 2 * left_rows * r * r
    return max(factors - 1, 0) * 2 * r ** 3 + (2 * left_rows * r * r if factors else 0)


def law_jacobian(spec: NetworkSpec) -> int:
    """One exact draw of J (K x d) by :func:`mfat.laws.jacobian.sample_jacobians` (matrix products only; the two-slope
    factors' Cholesky is not counted), independent of N beyond m = min(N, d, K)."""
    s = _check(spec)
    if s.K < min(s.N, s.d):  # output side: G_0^T (d x K) through S_0^T and L factors, all K x K
        return _chain(s.d, s.K, s.L + 1)
    r = min(s.N, s.d)  # input side: Z (K x r) through L factors, then T_0^T (r x d)
    return _chain(s.K, r, s.L) + 2 * s.K * r * s.d


def network_draws(spec: NetworkSpec) -> int:
    """Gaussian draws that build one :class:`mfat.model.networks.ReLULikeNet`: P_in, every W^(l) and b^(l), the
    shortcuts P^(l) (residual) and P_out."""
    s = _check(spec)
    per_layer = s.N * s.N * (2 if s.residual else 1) + s.N
    return s.N * s.d + s.L * per_layer + s.K * s.N
