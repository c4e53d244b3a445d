"""Chapter 4 measurements: Jacobian gains of random networks (Lemma 5.5), the depth-by-width training grids of
Fig. 5 (Theorems 5.6, 5.7), one collapsing run followed in time, and the balance of the two terms of the
training objective at initialisation (why the boundary moves with the data set).

All randomness comes from explicit seeds/generators; every function takes a ``device``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from mfat.data import gaussian_inputs
from mfat.model.grid import NetStack, train_grid
from mfat.model.linearize import decompose
from mfat.model.networks import ReLULikeNet, layer_tangent, phi_prime
from mfat.runtime import make_generator, resolve_device
from mfat.model.norms import operator_norm
from mfat.model.objectives import L_adv_per_example
from mfat.model.training import TrainConfig
from mfat.validation import check_int, check_real

__all__ = ["depth_gains", "cell_seed", "depth_width_grid", "agreement", "jacobian_gain", "initial_balance"]


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
    X_gain = (X if X_eval is None else X_eval)[:gain_examples]
    K = int(y.max()) + 1
    shape = (len(widths), len(depths), n_seeds)
    res = {k: np.full(shape, np.nan) for k in ("acc", "acc0", "sigma_w2", "sigma_w2_0", "L_adv", "L_adv_0",
                                                "grad_norm_0", "gain")}
    seconds = []
    cells = [(j, L, r) for j, L in enumerate(depths) for r in range(n_seeds)]
    chunk = max_cells or len(cells)
    for i, N in enumerate(widths):
        start = time.perf_counter()
        for lo in range(0, len(cells), chunk):
            part = cells[lo:lo + chunk]
            nets = [ReLULikeNet(X.shape[1], N, K, L, sigma_w2, sigma_b2, u, v, residual,
                                generator=make_generator(cell_seed(seed, N, L, r), device=device),
                                dtype=dtype, device=device) for _, L, r in part]
            gens = [make_generator(cell_seed(seed, N, L, r) + 1, device=device) for _, L, r in part]
            stack, table = train_grid(NetStack(nets), X, y, config, generators=gens, X_eval=X_eval, y_eval=y_eval,
                                      progress=progress)
            trained = stack.to_networks()
            first = table[table.step == 0].sort_values("cell")
            last = table[table.step == config.steps].sort_values("cell")
            for c, (j, _, r) in enumerate(part):
                res["acc"][i, j, r] = last.clean_acc.iloc[c]
                res["acc0"][i, j, r] = first.clean_acc.iloc[c]
                res["sigma_w2"][i, j, r] = last.sigma_w2.iloc[c]
                res["sigma_w2_0"][i, j, r] = first.sigma_w2.iloc[c]
                res["L_adv"][i, j, r] = last.L_adv.iloc[c]
                res["L_adv_0"][i, j, r] = first.L_adv.iloc[c]
                res["grad_norm_0"][i, j, r] = first.grad_norm.iloc[c]
                res["gain"][i, j, r] = jacobian_gain(trained[c], X_gain)
        seconds.append(time.perf_counter() - start)
    res.update(depths=np.array(depths), widths=np.array(widths), seconds=np.array(seconds))
    return res


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
