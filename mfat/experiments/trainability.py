"""Chapter 4 measurements: Jacobian gains of random networks (Lemma 5.5), the depth-by-width training grids of
Fig. 5 (Theorems 5.6, 5.7), one collapsing run followed in time, the balance of the two terms of the training
objective at initialisation (why the boundary moves with the data set) and the speed of the batched grid; and
the analyses behind the chapter's claims: the per-layer gain factor, the predicted boundary N*(L) and its
agreement with the observed cells, the paired comparison of two data sets, the collapsed cells.

All randomness comes from explicit seeds/generators; every measurement takes a ``device``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from mfat import stats
from mfat.data import gaussian_inputs, load
from mfat.model.grid import NetStack, train_grid
from mfat.model.linearize import decompose
from mfat.model.networks import ReLULikeNet, layer_tangent, phi_prime
from mfat.model.norms import operator_norm
from mfat.model.objectives import L_adv_per_example
from mfat.model.training import TrainConfig, train
from mfat.runtime import Units, make_generator, resolve_device, timed
from mfat.theory import (
    LAWS,
    alpha,
    critical_width,
    exit_threshold_sigma_w2,
    exit_time,
    is_trainable,
    sigma_w2_linear,
    sigma_w2_ode,
)
from mfat.validation import check_int, check_real

__all__ = ["depth_gains", "cell_seed", "depth_width_grid", "GRID_METRICS", "grid_cells", "train_cells", "place_cells",
           "agreement", "jacobian_gain", "initial_balance",
           # measurements of the chapter
           "gain_settings", "gain_key", "gains_measurement", "collapsing_run", "fig5_grid", "fig5_grids",
           "FIG5_GRIDS", "fig5_units", "fig5_unit", "fig5_combine",
           "narrow_residual_row", "balance_measurement", "speed_comparison",
           # analyses
           "mean_factor", "classification_agreement", "first_crossing_time", "run_predictions", "exit_time_curves",
           "gain_paths", "fine_depths", "critical_widths", "cell_edges", "agreements", "best_law",
           "agreement_threshold", "observed_boundary", "collapse_counts", "shortcut_width", "narrow_collapses",
           "paired_relative", "pull_log_ratio", "balance_summary", "guarantee_counts",
           # tables
           "agreement_table", "boundary_table", "pull_table"]


@torch.no_grad()
def depth_gains(d: int, N: int, L_max: int, sigma_w2: float, *, residual: bool = False, u: float = 1.0,
                v: float = 0.0, n_networks: int = 20, K: int = 10, generator: torch.Generator,
                device="cpu") -> dict:
    """Measured Jacobian gains of random networks at every depth l = 1..L_max (Definition 5.5, Lemma 5.5).

    One random network of depth ``L_max`` per sample, at one random input x (||x|| = sqrt(d)); its first l
    layers followed by a fresh output projection P_out^(l) (K x N, N(0, 1/N)) form a network of depth l with
    Jacobian ``J_l = P_out^(l) T_l``, ``T_l = M^(l) ... M^(1) P_in`` and ``M = D W`` (vanilla) or ``P + D W``
    (residual). Returns float64 arrays of shape (n_networks, L_max):

    - ``gain``: ||J_l||_F^2 / K, whose mean is omega^l (Theorem 4.1: d Var J_ij = omega^l);
    - ``factor``: the per-layer factor ||T_l||_F^2 / ||T_(l-1)||_F^2 (T_0 = P_in). Given the layers below,
      its conditional mean is exactly omega at any width when sigma_b^2 = 0 (the sign symmetry
      (W, b) -> (-W, -b) makes each activation pattern independent, in mean, of the propagated tangent, and
      the shortcut's cross term has mean zero), so the factors are unbiased and uncorrelated across layers.

    Cost O(n_networks L_max N^2 d), float64.
    """
    d = check_int("d", d, min_value=1)
    N = check_int("N", N, min_value=1)
    L_max = check_int("L_max", L_max, min_value=1)
    n_networks = check_int("n_networks", n_networks, min_value=2)
    device = resolve_device(device)
    gain = np.empty((n_networks, L_max))
    factor = np.empty((n_networks, L_max))
    for i in range(n_networks):
        net = ReLULikeNet(d, N, K, L_max, sigma_w2, 0.0, u, v, residual, generator=generator,
                          dtype=torch.float64, device=device)
        x = gaussian_inputs(1, d, generator=generator, dtype=torch.float64, device=device)
        T = net.P_in.clone()  # tangent M^(l) ... M^(1) P_in, (N, d)
        sq = float(T.pow(2).sum())
        for layer, (z, _) in enumerate(net.hidden(x)):
            T = layer_tangent(T, net.W[layer], phi_prime(z[0], u, v), net.P[layer] if residual else None)
            sq_new = float(T.pow(2).sum())
            factor[i, layer] = sq_new / sq if sq > 0 else np.nan
            sq = sq_new
            P_out = torch.randn(K, N, generator=generator, dtype=torch.float64, device=device) / N**0.5
            gain[i, layer] = float((P_out @ T).pow(2).sum()) / K
    return {"gain": gain, "factor": factor}


def cell_seed(base: int, N: int, L: int, rep: int) -> int:
    """A distinct, reproducible seed for grid cell (width N, depth L, repetition rep)."""
    return int(base) * 1_000_003 + int(N) * 10_007 + int(L) * 101 + int(rep)


def depth_width_grid(X: torch.Tensor, y: torch.Tensor, depths: Sequence[int], widths: Sequence[int],
                     config: TrainConfig, *, sigma_w2: float, sigma_b2: float = 0.0, residual: bool = False,
                     u: float = 1.0, v: float = 0.0, n_seeds: int = 1, seed: int = 0, X_eval=None, y_eval=None,
                     device="cpu", dtype=torch.float32, max_cells: int | None = None, gain_examples: int = 64,
                     progress: bool = False) -> dict:
    """Train one network per (width, depth, seed) for ``config.steps`` steps; the Fig. 5 heat map data.

    All cells of one width are trained together with :func:`mfat.model.grid.train_grid` (``max_cells`` bounds how
    many at once, for memory); cell (N, L, r) uses seed :func:`cell_seed` for its initialisation and for its
    training stream, so that any cell can be rerun alone with :func:`mfat.model.training.train`.

    Returns float64 arrays indexed [width, depth, seed]: ``acc`` (final training-set accuracy on the evaluation
    set), ``acc0`` (at step 0), ``sigma_w2`` and ``sigma_w2_0`` (mean over layers, final and initial),
    ``L_adv_0`` and ``L_adv`` (first and last recorded batch means; NaN for standard training), ``grad_norm_0``,
    ``gain`` (the final measured omega^L of Definition 5.5, :func:`jacobian_gain` on the first ``gain_examples``
    evaluation inputs: the quantity the (M, m)-trainability of Lemma 5.5 / Theorem 5.7 is about);
    ``depths``, ``widths`` (int arrays) and ``seconds`` (wall time per width).
    """
    depths = [check_int("depths", L, min_value=1) for L in depths]
    widths = [check_int("widths", N, min_value=1) for N in widths]
    n_seeds = check_int("n_seeds", n_seeds, min_value=1)
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    gain_examples = check_int("gain_examples", gain_examples, min_value=1)
    device = resolve_device(device)
    res = {k: np.full((len(widths), len(depths), n_seeds), np.nan) for k in GRID_METRICS}
    seconds = []
    cells = grid_cells(depths, n_seeds)
    chunk = max_cells or len(cells)
    for i, N in enumerate(widths):
        start = time.perf_counter()
        for lo in range(0, len(cells), chunk):
            part = cells[lo:lo + chunk]
            out = train_cells(X, y, N, [(L, r) for _, L, r in part], config, sigma_w2=sigma_w2, sigma_b2=sigma_b2,
                              residual=residual, u=u, v=v, seed=seed, X_eval=X_eval, y_eval=y_eval, device=device,
                              dtype=dtype, gain_examples=gain_examples, progress=progress)
            place_cells(res, i, part, out)
        seconds.append(time.perf_counter() - start)
    res.update(depths=np.array(depths), widths=np.array(widths), seconds=np.array(seconds))
    return res


#: the per-cell measurements of :func:`depth_width_grid`
GRID_METRICS = ("acc", "acc0", "sigma_w2", "sigma_w2_0", "L_adv", "L_adv_0", "grad_norm_0", "gain")


def grid_cells(depths: Sequence[int], n_seeds: int) -> list[tuple[int, int, int]]:
    """The cells of one width of a grid, in training order: ``(depth index j, depth L, repetition r)``."""
    return [(j, L, r) for j, L in enumerate(depths) for r in range(n_seeds)]


def train_cells(X: torch.Tensor, y: torch.Tensor, N: int, cells: Sequence[tuple[int, int]], config: TrainConfig, *,
                sigma_w2: float, sigma_b2: float = 0.0, residual: bool = False, u: float = 1.0, v: float = 0.0,
                seed: int = 0, X_eval=None, y_eval=None, device="cpu", dtype=torch.float32,
                gain_examples: int = 64, progress: bool = False) -> dict:
    """Train the cells ``[(L, r), ...]`` of width N together (:func:`mfat.model.grid.train_grid`), cell (N, L, r)
    initialised from seed :func:`cell_seed` and fed by the stream of that seed + 1: the unit of
    :func:`depth_width_grid`. Returns float64 arrays (len(cells),), one per name of :data:`GRID_METRICS`."""
    device = resolve_device(device)
    X_gain = (X if X_eval is None else X_eval)[:gain_examples]
    K = int(y.max()) + 1
    nets = [ReLULikeNet(X.shape[1], N, K, L, sigma_w2, sigma_b2, u, v, residual,
                        generator=make_generator(cell_seed(seed, N, L, r), device=device), dtype=dtype,
                        device=device) for L, r in cells]
    gens = [make_generator(cell_seed(seed, N, L, r) + 1, device=device) for L, r in cells]
    stack, table = train_grid(NetStack(nets), X, y, config, generators=gens, X_eval=X_eval, y_eval=y_eval,
                              progress=progress)
    first = table[table.step == 0].sort_values("cell")
    last = table[table.step == config.steps].sort_values("cell")
    columns = {"acc": last.clean_acc, "acc0": first.clean_acc, "sigma_w2": last.sigma_w2,
               "sigma_w2_0": first.sigma_w2, "L_adv": last.L_adv, "L_adv_0": first.L_adv,
               "grad_norm_0": first.grad_norm}
    out = {k: c.to_numpy(dtype=np.float64) for k, c in columns.items()}
    out["gain"] = np.array([jacobian_gain(net, X_gain) for net in stack.to_networks()])
    return out


def place_cells(res: dict, i: int, cells: Sequence[tuple[int, int, int]], out: dict) -> None:
    """Write the :func:`train_cells` results ``out`` of the cells ``[(j, L, r), ...]`` of width index i into the
    arrays [width, depth, repetition] of ``res``."""
    for c, (j, _, r) in enumerate(cells):
        for k in GRID_METRICS:
            res[k][i, j, r] = out[k][c]


def agreement(observed_trainable: np.ndarray, widths: Sequence[float], boundary: Sequence[float]) -> dict:
    """Compare observed trainability with the prediction ``N >= N*(L)`` cell by cell.

    observed_trainable: bool (n_widths, n_depths); ``boundary``: N*(L) for each depth. Returns ``predicted``
    (bool, same shape), ``agree`` (bool) and ``fraction`` (float, the share of cells where both agree).
    """
    obs = np.asarray(observed_trainable, dtype=bool)
    w = np.asarray(widths, dtype=np.float64)[:, None]
    b = np.asarray(boundary, dtype=np.float64)[None, :]
    if obs.shape != (w.shape[0], b.shape[1]):
        raise ValueError(f"parameter 'observed_trainable' has shape {obs.shape}: allowed (len(widths), "
                         f"len(boundary)) = {(w.shape[0], b.shape[1])}")
    predicted = w >= b
    agree = predicted == obs
    return {"predicted": predicted, "agree": agree, "fraction": float(agree.mean())}


def jacobian_gain(net: ReLULikeNet, x: torch.Tensor) -> float:
    """Mean over the rows of x (B, d) of ||J(x)||_F^2 / K, the measured omega^L of Definition 5.5."""
    J, _ = decompose(net, x)
    return float(J.double().pow(2).sum(dim=(1, 2)).mean()) / net.spec.K


def initial_balance(X: torch.Tensor, y: torch.Tensor, depths: Sequence[int], widths: Sequence[int],
                    config: TrainConfig, *, sigma_w2: float, n_networks: int = 4, batch_size: int = 256,
                    seed: int = 0, device="cpu") -> dict:
    """The two forces of the objective CE + lam L_adv of Fig. 5 on random networks, at initialisation.

    For each (width N, depth L, network r): the network of :func:`cell_seed` (seed, N, L, r) and one batch of
    ``batch_size`` rows of X (d columns) drawn from the same seed, so two data sets of the same size are
    compared on the same networks and the same row indices. Returns float64 arrays [width, depth, network]:

    - ``J_norm``: the batch mean of ||J(x)||_{p,q} (``config``'s p, q; :func:`mfat.model.norms.operator_norm`,
      exact for p = inf), the eps -> 0 limit of L_adv / eps (Theorem 5.4). Its law does not depend on x != 0
      for a bias-free ReLU network at initialisation: W^(1) x has a law that sees only ||x||, and the
      activation pattern is scale-free;
    - ``L_adv``: the batch mean of L_adv(x) at ``config``'s eps (its attack), which sees the data through
      ||x|| / eps (positive homogeneity: scaling x by c is scaling eps by 1/c);
    - ``grad_ce``, ``grad_adv``: the Euclidean norms of the gradients of the clean cross-entropy and of
      lam * L_adv with respect to all parameters (the pull that keeps the network fitting the data, and the
      drive of Theorem 5.6 that shrinks its gain).
    """
    depths = [check_int("depths", L, min_value=1) for L in depths]
    widths = [check_int("widths", N, min_value=1) for N in widths]
    n_networks = check_int("n_networks", n_networks, min_value=1)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(X))
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0)
    device = resolve_device(device)
    X, y = X.to(device), y.to(device)
    K = int(y.max()) + 1
    shape = (len(widths), len(depths), n_networks)
    res = {k: np.full(shape, np.nan) for k in ("J_norm", "L_adv", "grad_ce", "grad_adv")}
    for i, N in enumerate(widths):
        for j, L in enumerate(depths):
            for r in range(n_networks):
                s = cell_seed(seed, N, L, r)
                net = ReLULikeNet(X.shape[1], N, K, L, sigma_w2, generator=make_generator(s, device=device),
                                  dtype=X.dtype, device=device)
                g = make_generator(s + 1, device=device)
                idx = torch.randperm(len(X), generator=g, device=device)[:batch_size]
                xb, yb = X[idx], y[idx]
                params = list(net.parameters())
                ce = torch.nn.functional.cross_entropy(net(xb), yb)
                l_adv = L_adv_per_example(net, xb, config.attack, generator=g).mean()
                adv = config.lam * l_adv
                for key, loss in (("grad_ce", ce), ("grad_adv", adv)):
                    grads = torch.autograd.grad(loss, params)
                    res[key][i, j, r] = float(torch.sqrt(sum(gr.double().pow(2).sum() for gr in grads)))
                res["L_adv"][i, j, r] = float(l_adv.detach())
                with torch.no_grad():
                    J, _ = decompose(net, xb)
                    res["J_norm"][i, j, r] = float(operator_norm(J.double(), config.p, config.q).value.mean())
    return res


# --- the measurements of chapter 4: one per stored result, and the speed comparison ----------------------------
#
# Each takes the chapter's settings ``s`` (:class:`mfat.chapter.settings.trainability.TrainabilitySettings`, read
# by attribute), the training configurations built from them (``s.train_config(...)``), an explicit seed and a
# device, and returns a dict of arrays.


def gain_settings(vanilla_sigma_w2: Sequence[float], residual_sigma_w2: Sequence[float]) -> list[tuple]:
    """The settings of the gain measurement: ``(kind, sigma_w^2, residual)``, the vanilla ones first."""
    return ([("vanilla", float(s), False) for s in vanilla_sigma_w2]
            + [("residual", float(s), True) for s in residual_sigma_w2])


def gain_key(kind: str, sigma_w2: float) -> str:
    """The key of one setting in :func:`gains_measurement`'s result, e.g. ``"vanilla 2"``."""
    return f"{kind} {sigma_w2:g}"


def gains_measurement(s, settings: Sequence[tuple], *, seed: int, device="cpu") -> dict:
    """:func:`depth_gains` for every ``(kind, sigma_w^2, residual)`` of :func:`gain_settings` (Lemma 5.5).

    Setting i draws its ``s.gain_networks`` networks of width ``s.gain_N`` and input dimension ``s.gain_d``, each
    read at every depth 1..``s.gain_L_max``, from its own generator seeded ``seed + i``. Returns
    ``{gain_key(kind, sigma_w^2): {"gain", "factor"}}``, arrays (gain_networks, gain_L_max).
    """
    seed = check_int("seed", seed, min_value=0)
    device = resolve_device(device)
    return {gain_key(kind, sw): depth_gains(s.gain_d, s.gain_N, s.gain_L_max, sw, residual=res,
                                            n_networks=s.gain_networks,
                                            generator=make_generator(seed + i, device=device), device=device)
            for i, (kind, sw, res) in enumerate(settings)}


def collapsing_run(X: torch.Tensor, y: torch.Tensor, s, config: TrainConfig, *, seed: int, device="cpu") -> dict:
    """One vanilla network (width ``s.run_N``, depth ``s.run_L``, sigma_w^2(0) = ``s.sigma_w2``) trained by
    :func:`mfat.model.training.train` on X (n, d), y (n,) with ``config``, followed in time.

    The network is drawn from the generator seeded ``seed``, the training stream from ``seed + 1``. Besides the
    training table's columns, the Jacobian gain ||J(x)||_F^2 / K (:func:`jacobian_gain`, Definition 5.5) is
    recorded on the first ``s.run_gain_examples`` rows of X. Returns float64 arrays over the recorded steps:
    ``t`` (lr x step), ``sigma_w2``, ``gain``, ``grad_norm``, ``L_adv``, ``clean_acc``.
    """
    seed = check_int("seed", seed, min_value=0)
    device = resolve_device(device)
    K = int(y.max()) + 1
    net = ReLULikeNet(X.shape[1], s.run_N, K, s.run_L, s.sigma_w2, 0.0,
                      generator=make_generator(seed, device=device), device=device)
    X_gain = X[:s.run_gain_examples]
    table = train(net, X, y, config, generator=make_generator(seed + 1, device=device),
                  metrics={"gain": lambda n, xb, yb: jacobian_gain(n, X_gain)})
    return {k: table[k].to_numpy() for k in ("t", "sigma_w2", "gain", "grad_norm", "L_adv", "clean_acc")}


def fig5_grid(X: torch.Tensor, y: torch.Tensor, s, config: TrainConfig, *, residual: bool, seed: int,
              device="cpu") -> dict:
    """One heat map of Fig. 5: :func:`depth_width_grid` over ``s.depths`` x ``s.widths`` with ``config``, vanilla
    (sigma_w^2(0) = ``s.sigma_w2``) or residual (``s.residual_sigma_w2``), ``s.n_seeds`` networks per cell."""
    return depth_width_grid(X, y, s.depths, s.widths, config,
                            sigma_w2=s.residual_sigma_w2 if residual else s.sigma_w2, residual=residual,
                            n_seeds=s.n_seeds, seed=seed, device=device, max_cells=s.max_cells)


def fig5_grids(X: torch.Tensor, y: torch.Tensor, s, configs: dict, *, seed: int, device="cpu") -> dict:
    """The three heat maps of Fig. 5 on one data set, with seeds ``seed``, ``seed + 1``, ``seed + 2``: vanilla
    networks under ``configs["adversarial"]`` (Theorem 5.6) and ``configs["standard"]``, and residual networks
    under ``configs["adversarial"]`` (Theorem 5.7). Returns ``{name: fig5_grid(...)}``."""
    return {"vanilla adversarial": fig5_grid(X, y, s, configs["adversarial"], residual=False, seed=seed,
                                             device=device),
            "vanilla standard": fig5_grid(X, y, s, configs["standard"], residual=False, seed=seed + 1,
                                          device=device),
            "residual adversarial": fig5_grid(X, y, s, configs["adversarial"], residual=True, seed=seed + 2,
                                              device=device)}


#: the three heat maps of Fig. 5 on one data set: name -> (objective, residual, seed offset), as in :func:`fig5_grids`
FIG5_GRIDS = {"vanilla adversarial": ("adversarial", False, 0), "vanilla standard": ("standard", False, 1),
              "residual adversarial": ("adversarial", True, 2)}


def fig5_units(s, configs: dict, dataset: str, *, seed: int, grids: dict | None = None, device="cpu") -> Units:
    """:func:`fig5_grids` as units (:class:`mfat.runtime.Units`): one per (grid, width, chunk of at most
    ``s.max_cells`` cells) on the first ``s.n_train`` training images of ``dataset``.

    ``grids`` maps the name of each heat map to one of :data:`FIG5_GRIDS` (default: all three under their own
    names); grid ``g`` uses seed ``seed`` + its offset, so that the combined result equals :func:`fig5_grids`
    (or, for one grid, :func:`fig5_grid`) bit for bit. Unit: ``{"dataset", "grid", "objective", "residual",
    "seed", "N", "cells": [first, stop]}`` (a slice of :func:`grid_cells`); combined: ``{name: grid}``.
    """
    grids = {name: name for name in FIG5_GRIDS} if grids is None else grids
    n_cells = len(s.depths) * s.n_seeds
    units = [{"dataset": dataset, "grid": name, "objective": FIG5_GRIDS[kind][0], "residual": FIG5_GRIDS[kind][1],
              "seed": seed + FIG5_GRIDS[kind][2], "N": N, "cells": [lo, min(lo + s.max_cells, n_cells)]}
             for name, kind in grids.items() for N in s.widths for lo in range(0, n_cells, s.max_cells)]
    return Units(units, functools.partial(fig5_unit, s, configs, device=device),
                 functools.partial(fig5_combine, s, units))


def fig5_unit(s, configs: dict, unit: dict, *, device="cpu") -> dict:
    """One unit of :func:`fig5_units`: :func:`train_cells` of its cells under ``configs[unit["objective"]]``;
    adds ``seconds``, the wall time of the unit."""
    start = time.perf_counter()
    X, y = load(unit["dataset"], "train", n=s.n_train, device=device)
    lo, hi = unit["cells"]
    out = train_cells(X, y, unit["N"], [(L, r) for _, L, r in grid_cells(s.depths, s.n_seeds)[lo:hi]],
                      configs[unit["objective"]], residual=unit["residual"],
                      sigma_w2=s.residual_sigma_w2 if unit["residual"] else s.sigma_w2, seed=unit["seed"],
                      device=device)
    return {**out, "seconds": time.perf_counter() - start}


def fig5_combine(s, units: list, outs: list) -> dict:
    """The heat maps of :func:`fig5_units` from the results of its units (in the order of ``units``):
    ``{name: the arrays of depth_width_grid}``, ``seconds`` summed per width."""
    cells = grid_cells(s.depths, s.n_seeds)
    grids = {}
    for unit, out in zip(units, outs):
        if unit["grid"] not in grids:
            grids[unit["grid"]] = {**{k: np.full((len(s.widths), len(s.depths), s.n_seeds), np.nan)
                                      for k in GRID_METRICS}, "depths": np.array(s.depths),
                                   "widths": np.array(s.widths), "seconds": np.zeros(len(s.widths))}
        i = list(s.widths).index(unit["N"])
        place_cells(grids[unit["grid"]], i, cells[slice(*unit["cells"])], out)
        grids[unit["grid"]]["seconds"][i] += out["seconds"]
    return grids


def narrow_residual_row(X: torch.Tensor, y: torch.Tensor, s, configs: dict, *, seed: int, device="cpu") -> dict:
    """Residual networks of the narrow width ``s.narrow_N`` at every depth of ``s.depths``, under
    ``configs["adversarial"]`` (seed ``seed``) and ``configs["standard"]`` (seed ``seed + 1``). Returns
    ``{objective: mean accuracy per depth}``, float64 arrays (len(depths),)."""
    out = {}
    for offset, objective in enumerate(("adversarial", "standard")):
        r = depth_width_grid(X, y, s.depths, [s.narrow_N], configs[objective], sigma_w2=s.residual_sigma_w2,
                             residual=True, n_seeds=s.n_seeds, seed=seed + offset, device=device)
        out[objective] = r["acc"].mean(axis=2)[0]
    return out


def balance_measurement(data: dict, s, config: TrainConfig, *, seed: int, device="cpu") -> dict:
    """:func:`initial_balance` on each data set of ``data`` (``{name: (X, y)}``), on the same networks and row
    indices (``seed``), ``s.balance_networks`` networks per cell of ``s.depths`` x ``s.widths`` and batches of
    ``min(s.balance_batch, s.n_train)`` rows. Each entry also carries ``norm``, the mean ||x||_2 of its rows."""
    out = {}
    for name, (Xd, yd) in data.items():
        out[name] = initial_balance(Xd, yd, s.depths, s.widths, config, sigma_w2=s.sigma_w2,
                                    n_networks=s.balance_networks, batch_size=min(s.balance_batch, s.n_train),
                                    seed=seed, device=device)
        out[name]["norm"] = float(Xd.norm(dim=1).mean())
    return out


def speed_comparison(X: torch.Tensor, y: torch.Tensor, s, config: TrainConfig, *, seed: int = 500,
                     device="cpu") -> dict:
    """Wall time of training the vanilla cells of one width of the grid (the second of ``s.widths``, every depth
    of ``s.depths``) as one batched computation (:func:`mfat.model.grid.train_grid`) against a Python loop of
    :func:`mfat.model.training.train` runs of the same networks (seeds ``seed + L``) and data streams
    (``seed + 100 + L``). Both are timed with :func:`mfat.runtime.timed`, which drains the GPU queue.

    Returns ``N``, ``batched_s`` and ``sequential_s`` (seconds) and ``ratio`` = sequential / batched.
    """
    seed = check_int("seed", seed, min_value=0)
    device = resolve_device(device)
    N = s.widths[min(1, len(s.widths) - 1)]
    K = int(y.max()) + 1

    def nets():
        return [ReLULikeNet(X.shape[1], N, K, L, s.sigma_w2, generator=make_generator(seed + L, device=device),
                            device=device) for L in s.depths]

    def gens():
        return [make_generator(seed + 100 + L, device=device) for L in s.depths]

    def loop():
        for net, g in zip(nets(), gens()):
            train(net, X, y, config, generator=g, progress=False)

    batched, _ = timed(lambda: train_grid(NetStack(nets()), X, y, config, generators=gens(), progress=False),
                       device)
    sequential, _ = timed(loop, device)
    return {"N": N, "batched_s": batched, "sequential_s": sequential, "ratio": sequential / batched}


# --- the analyses behind the claims and tables of chapter 4 -----------------------------------------------------


def mean_factor(factor: np.ndarray, z: float = stats.Z_DEFAULT) -> tuple[float, float]:
    """The mean of all per-layer gain factors r_l of :func:`depth_gains` (any shape) and its tolerance, ``z``
    standard errors. The r_l are unbiased for omega and uncorrelated, so the mean estimates omega (Lemma 5.5)."""
    f = np.asarray(factor, dtype=np.float64).ravel()
    if f.size < 2:
        raise ValueError(f"parameter 'factor' has {f.size} entries: allowed at least 2")
    return f.mean(), stats.mean_tolerance(f.std(ddof=1), f.size, z)


def classification_agreement(gains: dict, settings: Sequence[tuple], M: float, m: float) -> float:
    """The share of markers of the Lemma 5.5 figure on the side of the band the lemma predicts.

    For each setting of :func:`gain_settings` and each depth l = 1..L_max, the mean measured gain over the
    networks lies in [m, M] exactly when :func:`mfat.theory.is_trainable` (sigma_w^2, l) says trainable:
    ``m <= mean_r gain[r, l] <= M  <=>  m^(1/l) <= omega <= M^(1/l)`` (residual: ``omega - 1 <= M^(1/l) - 1``).
    """
    n_in = n = 0
    for kind, sw, res in settings:
        g = gains[gain_key(kind, sw)]["gain"].mean(0)
        n_in += sum((m <= g[L - 1] <= M) == is_trainable(sw, L, M, m, residual=res) for L in range(1, len(g) + 1))
        n += len(g)
    return n_in / n


def first_crossing_time(t: np.ndarray, values: np.ndarray, level: float) -> float:
    """The first time t[i] at which ``values[i] < level`` (``math.inf`` if never): the measured exit time of a
    run whose gain falls below m. t, values: (n,)."""
    t, values = np.asarray(t), np.asarray(values)
    if t.shape != values.shape:
        raise ValueError(f"parameters 't' and 'values' have shapes {t.shape} and {values.shape}: allowed equal")
    below = np.flatnonzero(values < level)
    return float(t[below[0]]) if below.size else math.inf


def run_predictions(t: np.ndarray, s, beta: float) -> dict:
    """The mean-field predictions for :func:`collapsing_run` at the times t (n,), float64 (n,):

    ``sigma_w2_linear`` and ``sigma_w2_ode``, sigma_w^2(t) under Theorem 5.4 with the rate frozen at t = 0 and
    unfrozen; ``gain_linear`` = (alpha sigma_w^2(t))^L along the linear law (clipped at 1e-12); and
    ``exit_sigma_w2`` = m^(1/L) / alpha, where omega_v^L = m (a float).
    """
    args = (s.sigma_w2, s.eps, beta, s.run_L, s.run_N)
    linear = sigma_w2_linear(t, *args, c=s.c)
    return {"sigma_w2_linear": linear, "sigma_w2_ode": sigma_w2_ode(t, *args, c=s.c),
            "gain_linear": (alpha(1.0, 0.0) * linear).clip(1e-12) ** s.run_L,
            "exit_sigma_w2": exit_threshold_sigma_w2(s.run_L, s.m)}


def exit_time_curves(depths: Sequence[int], N: int, eps: float, beta: float, *, m: float = 1e-4,
                     c: float = 2.0) -> dict:
    """Theorem 5.6's exit time T(L) of a vanilla network started at omega_v(0) = 1, for each depth (float64
    arrays (len(depths),)): ``linear`` (the rate frozen at t = 0), ``ode`` (the unfrozen flow) and
    ``asymptote``, N ln(1/m) / (c alpha eps beta L), which the linear law approaches from below as L grows."""
    depths = np.asarray([check_int("depths", L, min_value=1) for L in depths])
    return {"L": depths,
            **{law: np.array([exit_time(N, int(L), eps, beta, m=m, c=c, law=law) for L in depths]) for law in LAWS},
            "asymptote": N * math.log(1 / m) / (c * alpha(1.0, 0.0) * eps * beta * depths)}


def gain_paths(t: np.ndarray, depths: Sequence[int], N: int, s, beta: float) -> dict:
    """omega(t)^L along the unfrozen ODE of Theorem 5.4 for a vanilla network (sigma_w^2(0) = ``s.sigma_w2``) and
    a residual one (``s.residual_sigma_w2``) of width N, for each depth: float64 arrays (len(depths), len(t))
    ``vanilla`` = (alpha sigma_w^2(t))^L (Theorem 5.6) and ``residual`` = (1 + alpha sigma_w^2(t))^L >= 1
    (Theorem 5.7)."""
    a = alpha(1.0, 0.0)
    vanilla = [(a * sigma_w2_ode(t, s.sigma_w2, s.eps, beta, L, N, c=s.c)) ** L for L in depths]
    residual = [(1 + a * sigma_w2_ode(t, s.residual_sigma_w2, s.eps, beta, L, N, residual=True, c=s.c)) ** L
                for L in depths]
    return {"depths": np.asarray(depths), "t": np.asarray(t), "vanilla": np.array(vanilla),
            "residual": np.array(residual)}


def fine_depths(depths: Sequence[int]) -> np.ndarray:
    """Every integer depth from one below the smallest of ``depths`` (at least 1) to one above the largest: the
    x axis on which the boundary N*(L) is drawn across a heat map's cells."""
    return np.arange(max(1, min(depths) - 1), max(depths) + 2)


def critical_widths(depths: Sequence[int], t_budget: float, eps: float, beta: float, *, m: float = 1e-4,
                    M: float = 1e4, c: float = 2.0) -> dict:
    """The Fig. 5 boundary N*(L) of Theorem 5.6 for each depth, one float64 array (len(depths),) per law of
    :data:`mfat.theory.trainability.LAWS`; linear law: ``N* = c t alpha eps beta / (1 - m^(1/L))``."""
    return {law: np.array([critical_width(int(L), t_budget, eps, beta, m=m, M=M, c=c, law=law) for L in depths])
            for law in LAWS}


def cell_edges(values: Sequence[float], log: bool = False) -> np.ndarray:
    """The n + 1 edges of the cells centred on n sorted grid values (n >= 2): midpoints between neighbours, and
    the outer edges as far out as the nearest midpoint; with ``log``, geometric midpoints. (n,) -> (n + 1,)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"parameter 'values' has shape {v.shape}: allowed a 1-d sequence of at least 2 values")
    if log:
        if (v <= 0).any():
            raise ValueError(f"parameter 'values' = {values!r} is out of range: allowed positive values with log")
        v = np.log(v)
    mid = (v[1:] + v[:-1]) / 2
    e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return np.exp(e) if log else e


def agreements(observed_trainable: np.ndarray, widths: Sequence[float], boundaries: dict) -> dict:
    """:func:`agreement` of the observed trainable cells (n_widths, n_depths) with each predicted boundary of
    ``boundaries`` (``{law: N*(L) per depth}``, e.g. :func:`critical_widths`). Returns ``{law: agreement}``."""
    return {law: agreement(observed_trainable, widths, b) for law, b in boundaries.items()}


def best_law(agreements_by_law: dict) -> str:
    """The law whose boundary agrees with the most cells (the first of them on a tie)."""
    return max(agreements_by_law, key=lambda law: agreements_by_law[law]["fraction"])


def agreement_threshold(widths: Sequence[float], boundary: Sequence[float], cap: float = 0.8) -> tuple[float, int]:
    """What a correct boundary can be asked for on a grid: ``min(cap, 1 - n_amb / n)``, and ``n_amb``.

    A width N_i stands for the cell between the geometric midpoints to its neighbours (:func:`cell_edges`); a
    depth whose N*(L) falls inside cell i makes that one cell ambiguous (it could go either way). ``n`` is the
    number of cells, len(widths) x len(boundary).
    """
    edges = cell_edges(widths, log=True)
    amb = sum(1 for b in boundary for i in range(len(widths)) if edges[i] <= b < edges[i + 1])
    return min(cap, 1.0 - amb / (len(widths) * len(boundary))), amb


def observed_boundary(trains: np.ndarray, widths: Sequence[int]) -> list:
    """Per depth, the smallest width from which every wider cell trains (``math.inf`` if none).

    trains: bool (n_widths, n_depths), widths ascending. Returns a list of len n_depths.
    """
    trains = np.asarray(trains, dtype=bool)
    if trains.ndim != 2 or trains.shape[0] != len(widths):
        raise ValueError(f"parameter 'trains' has shape {trains.shape}: allowed (len(widths), n_depths) with "
                         f"len(widths) = {len(widths)}")
    out = []
    for j in range(trains.shape[1]):
        tail = [i for i in range(len(widths)) if trains[i:, j].all()]
        out.append(widths[tail[0]] if tail else math.inf)
    return out


def collapse_counts(acc: np.ndarray, collapse_acc: float) -> dict:
    """Which cells of a heat map trained: ``observed`` (bool, acc >= collapse_acc, the shape of acc), and the
    numbers ``collapsed``, ``trained`` and ``cells`` (ints)."""
    observed = np.asarray(acc) >= collapse_acc
    return {"observed": observed, "collapsed": int((~observed).sum()), "trained": int(observed.sum()),
            "cells": int(observed.size)}


def shortcut_width(K: int, sigma_w2: float, u: float = 1.0, v: float = 0.0) -> float:
    """The width N_c = K / (alpha sigma_w^2(0)) from which adversarial training cannot cancel a residual network's
    shortcut on its K outputs at a relative cost below one (the book's heuristic, chapter 4)."""
    K = check_int("K", K, min_value=1)
    sigma_w2 = check_real("sigma_w2", sigma_w2, min_value=0.0, min_inclusive=False)
    return K / (alpha(u, v) * sigma_w2)


def narrow_collapses(acc_res: np.ndarray, acc_van: np.ndarray, widths: Sequence[int], N_c: float,
                     collapse_acc: float) -> dict:
    """The residual and vanilla accuracy maps (n_widths, n_depths) on both sides of N_c.

    Returns ``wide`` (bool per width, N >= N_c), ``min_wide`` (the lowest residual accuracy at N >= N_c, NaN if
    no width reaches it), ``res_narrow_collapsed`` and ``van_narrow_collapsed`` (cells below N_c under
    collapse_acc) and ``narrow_cells`` (the number of cells below N_c).
    """
    acc_res, acc_van = np.asarray(acc_res), np.asarray(acc_van)
    wide = np.asarray(widths) >= N_c
    if acc_res.shape != acc_van.shape or acc_res.shape[0] != wide.size:
        raise ValueError(f"parameters 'acc_res', 'acc_van' have shapes {acc_res.shape}, {acc_van.shape}: allowed "
                         f"equal shapes (len(widths) = {wide.size}, n_depths)")
    return {"wide": wide, "min_wide": float(acc_res[wide].min()) if wide.any() else math.nan,
            "res_narrow_collapsed": int((acc_res[~wide] < collapse_acc).sum()),
            "van_narrow_collapsed": int((acc_van[~wide] < collapse_acc).sum()),
            "narrow_cells": int((~wide).sum()) * acc_res.shape[1]}


def paired_relative(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    """Mean, standard error and count of the paired differences b - a, relative to a's mean per cell.

    a, b: arrays (n_widths, n_depths, n_networks) measured on the same networks (two data sets); the relative
    difference of network r in cell (i, j) is (b - a)[i, j, r] / mean_r a[i, j, r].
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.size < 2:
        raise ValueError(f"parameters 'a', 'b' have shapes {a.shape}, {b.shape}: allowed equal 3-d shapes "
                         "(width, depth, network) with at least 2 entries")
    rel = (b - a) / a.mean(axis=2, keepdims=True)
    return float(rel.mean()), float(rel.std(ddof=1) / math.sqrt(rel.size)), rel.size


def pull_log_ratio(base: dict, other: dict) -> tuple[float, float]:
    """How much harder the cross-entropy pulls on ``other``'s data than on ``base``'s, network by network.

    base, other: :func:`initial_balance` results on the same networks. Per network, the log of
    (|grad CE| / |grad lam L_adv|) on ``other`` over the same ratio on ``base``; returns the mean of these logs and
    its standard error (exp(mean) is the geometric-mean ratio).
    """
    log_pull = np.log((other["grad_ce"] / other["grad_adv"]) / (base["grad_ce"] / base["grad_adv"]))
    return float(log_pull.mean()), float(log_pull.std(ddof=1) / math.sqrt(log_pull.size))


def balance_summary(base: dict, other: dict) -> dict:
    """The comparison of two :func:`balance_measurement` entries (same networks, two data sets): the paired
    relative differences (:func:`paired_relative`) of the mean ||J(x)|| (``jnorm_diff``, ``jnorm_se``,
    ``n_pairs``) and of L_adv (``ladv_diff``, ``ladv_se``), the pull (:func:`pull_log_ratio`: ``pull_mean``,
    ``pull_se``, ``pull_ratio`` = exp(pull_mean)) and the mean input norms ``norm_base``, ``norm_other``."""
    jn_mean, jn_se, n_pairs = paired_relative(base["J_norm"], other["J_norm"])
    ladv_mean, ladv_se, _ = paired_relative(base["L_adv"], other["L_adv"])
    pull_mean, pull_se = pull_log_ratio(base, other)
    return {"jnorm_diff": jn_mean, "jnorm_se": jn_se, "n_pairs": n_pairs, "ladv_diff": ladv_mean,
            "ladv_se": ladv_se, "pull_mean": pull_mean, "pull_se": pull_se, "pull_ratio": math.exp(pull_mean),
            "norm_base": base["norm"], "norm_other": other["norm"]}


def guarantee_counts(observed_trainable: np.ndarray, predicted_trainable: np.ndarray) -> dict:
    """The guarantee side of Theorem 5.6: of the cells predicted trainable (N >= N*(L)), how many train.

    Both bool (n_widths, n_depths). Returns ``trained`` and ``cells`` (ints) and ``all`` (every predicted cell
    trains; true when none is predicted)."""
    obs = np.asarray(observed_trainable, dtype=bool)
    pred = np.asarray(predicted_trainable, dtype=bool)
    if obs.shape != pred.shape:
        raise ValueError(f"parameters 'observed_trainable', 'predicted_trainable' have shapes {obs.shape}, "
                         f"{pred.shape}: allowed equal shapes")
    return {"trained": int(obs[pred].sum()), "cells": int(pred.sum()), "all": bool(obs[pred].all())}


def agreement_table(columns: dict, boundary: dict | None = None, depths: Sequence[int] | None = None):
    """A table with one row per law: a column of agreement fractions for each ``{label: agreements(...)}`` of
    ``columns``, then, when ``boundary`` and ``depths`` are given, N*(L) at each depth. Rounded to 3 digits."""
    laws = list(next(iter(columns.values())))
    table = {"law": laws, **{label: [agr[law]["fraction"] for law in laws] for label, agr in columns.items()}}
    if boundary is not None:
        table.update({f"N*(L={L})": [boundary[law][j] for law in laws] for j, L in enumerate(depths)})
    return pd.DataFrame(table).round(3)


def boundary_table(depths: Sequence[int], observed: dict, boundary: dict):
    """Per depth, each observed boundary of ``observed`` (``{label: observed_boundary(...)}``) next to N*(L) of
    the linear law and of the ODE (rounded to 0.1)."""
    return pd.DataFrame({"L": list(depths), **observed, "N* linear": boundary["linear"].round(1),
                         "N* ODE": boundary["ode"].round(1)})


def pull_table(base: dict, other: dict, depths: Sequence[int], widths: Sequence[int],
               names: tuple[str, str] = ("MNIST", "Fashion")):
    """Per depth (rows) and width (columns), the mean over networks of |grad CE| / |grad lam L_adv| at
    initialisation on the two data sets of :func:`balance_measurement`, written "base / other"."""
    pull_b, pull_o = ((b["grad_ce"] / b["grad_adv"]).mean(axis=2) for b in (base, other))  # (width, depth)
    return pd.DataFrame({"L": list(depths), **{
        f"|∇CE|/|∇λL_adv|, N={N}, {names[0]} / {names[1]}": [f"{a:.3f} / {b:.3f}" for a, b in
                                                             zip(pull_b[i], pull_o[i])]
        for i, N in enumerate(widths)}})
