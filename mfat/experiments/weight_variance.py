"""Chapter 3 measurements: the weight-drift identity, training curves of sigma_w^2(t), slopes, departure times.

Spec sections 6 (Theorem 5.4 and its residual counterpart), 9 (Fig. 4) and 10 (checks 6 and 7). Every
function takes an explicit ``generator`` and ``device``; tables are returned as pandas DataFrames or dicts of
numpy arrays (small enough to store with :func:`mfat.chapter.results.cached`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, jvp

from mfat.model import attacks
from mfat.model.networks import ReLULikeNet
from mfat.validation import normalise_p
from mfat.model.training import TrainConfig, train
from mfat.validation import check_int, check_real

__all__ = [
    "directional_ratios",
    "identity_ratios",
    "train_run",
    "secant_slope",
    "departure_time",
    "update_rank_fraction",
    "summarise_run",
]


def directional_ratios(net: ReLULikeNet, x: torch.Tensor, eta: torch.Tensor, q, *, include_bias: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per-example <W^(l), grad_{W^(l)} L_adv(x)> / L_adv(x) for every layer, at a fixed perturbation eta.

    L_adv(x) = ||f(x + eta) - f(x)||_q with eta (B, d) held fixed (the PGD maximiser: Danskin). The inner
    product is the directional derivative of L_adv along W^(l) -> (1 + s) W^(l), computed for the whole
    batch at once by forward-mode differentiation (``torch.func.jvp``). With ``include_bias`` the direction
    also scales every b^(k), k >= l: for a vanilla network that rescales f by (1 + s) exactly, so the ratio
    is 1 whatever the biases (positive homogeneity of phi). Returns ``(ratios (B, L), L_adv (B,))``, float64.
    """
    q = normalise_p("q", q)
    s = net.spec
    params = {name: p.detach() for name, p in net.named_parameters()}
    x, eta = x.detach(), eta.detach()

    def deviation(pdict):
        return torch.linalg.vector_norm(functional_call(net, pdict, (x + eta,)) - functional_call(net, pdict, (x,)),
                                        ord=q, dim=1)

    ratios = []
    value = None
    for layer in range(s.L):
        tangent = {name: torch.zeros_like(p) for name, p in params.items()}
        tangent[f"W.{layer}"] = params[f"W.{layer}"]
        if include_bias:
            for k in range(layer, s.L):
                tangent[f"b.{k}"] = params[f"b.{k}"]
        value, slope = jvp(deviation, (params,), (tangent,))
        ratios.append((slope / value).double().cpu().numpy())
    return np.stack(ratios, axis=1), value.double().cpu().numpy()


def identity_ratios(X: torch.Tensor, *, N: int, K: int, L: int, sigma_w2: float, sigma_b2: float, eps: float, p, q,
                    residual: bool = False, u: float = 1.0, v: float = 0.0, n_networks: int = 1,
                    attack_steps: int = 20, attack_restarts: int = 1, include_bias: bool = False,
                    generator: torch.Generator, device="cpu") -> dict:
    """The identity <W^(l), grad_{W^(l)} L_adv> = (fraction) L_adv over ``n_networks`` fresh float64 networks.

    For each network: PGD (``attack_steps``, default step size) for the maximiser eta of
    ||f(x + eta) - f(x)||_q over ||eta||_p <= eps on the inputs X (B, d), then :func:`directional_ratios`.
    Returns float64 arrays: ``per_example`` (n_networks, B, L); ``batch`` (n_networks, L), the ratio of the
    batch sums sum_i <W^(l), grad L_adv(x_i)> / sum_i L_adv(x_i) (what one SGD step sees); ``L_adv``
    (n_networks, B).
    """
    n_networks = check_int("n_networks", n_networks, min_value=1)
    X = X.to(device=device, dtype=torch.float64)
    attack = attacks.Attack(eps, p, q, attack_steps, restarts=attack_restarts)
    per_example, batch, values = [], [], []
    for _ in range(n_networks):
        net = ReLULikeNet(X.shape[1], N, K, L, sigma_w2, sigma_b2, u, v, residual, generator=generator,
                          dtype=torch.float64, device=device)
        eta, _ = attacks.pgd(attacks.output_deviation(net, X, attack.q), X, attack, generator=generator)
        r, val = directional_ratios(net, X, eta, q, include_bias=include_bias)
        per_example.append(r)
        values.append(val)
        batch.append((r * val[:, None]).sum(0) / val.sum())
    return {"per_example": np.stack(per_example), "batch": np.stack(batch), "L_adv": np.stack(values)}


@torch.no_grad()
def update_rank_fraction(W0: torch.Tensor, W1: torch.Tensor, k: int) -> float:
    """Share of ||W1 - W0||_F^2 in the top ``k`` singular values of the update W1 - W0 (N, N).

    A Gaussian random update spreads evenly (about k / N); an update aligned with the K output directions puts
    most of its energy in k = K singular values.
    """
    k = check_int("k", k, min_value=1)
    s = torch.linalg.svdvals((W1 - W0).double())
    return float(s[:k].pow(2).sum() / s.pow(2).sum().clamp_min(1e-300))


def train_run(X: torch.Tensor, y: torch.Tensor, config: TrainConfig, *, N: int, K: int, L: int, sigma_w2: float,
              sigma_b2: float = 0.0, residual: bool = False, u: float = 1.0, v: float = 0.0,
              n_init: int = 256, X_eval=None, y_eval=None, generator: torch.Generator, device="cpu",
              dtype=torch.float32) -> dict:
    """Build a fresh network, measure E L_adv at initialisation, train it with ``config``, summarise.

    Returns a dict: ``table`` (the :func:`mfat.model.training.train` DataFrame), ``L_adv0`` (mean L_adv of the
    initial network over the first ``n_init`` training examples, with ``config``'s attack: the rate of the
    frozen-rate line; NaN when config.eps = 0), ``rank_fraction`` (L,) (share of each layer's update
    W(T) - W(0) in its top-K singular values, :func:`update_rank_fraction`), ``N``, ``L``, ``residual``.
    """
    n_init = check_int("n_init", n_init, min_value=1)
    net = ReLULikeNet(X.shape[1], N, K, L, sigma_w2, sigma_b2, u, v, residual, generator=generator, dtype=dtype,
                      device=device)
    X = X.to(device=device, dtype=dtype)
    y = y.to(device)
    W0 = [w.detach().clone() for w in net.W]
    L_adv0 = math.nan
    if config.eps > 0:
        xs = X[:n_init]
        eta, value = attacks.pgd(attacks.output_deviation(net, xs, config.q), xs, config.attack, generator=generator)
        L_adv0 = float(value.double().mean())
    table = train(net, X, y, config, generator=generator, X_eval=X_eval, y_eval=y_eval)
    ranks = np.array([update_rank_fraction(a, b.detach(), K) for a, b in zip(W0, net.W)])
    return {"table": table, "L_adv0": L_adv0, "rank_fraction": ranks, "N": N, "L": L, "residual": residual}


def secant_slope(table: pd.DataFrame, steps: int, column: str = "sigma_w2") -> tuple[float, float]:
    """The measured slope over the first ``steps`` updates and the mean L_adv that drove them.

    slope = (column(step = steps) - column(0)) / t(steps), per unit of gradient-flow time t = lr * step;
    mean_L_adv = mean of the recorded batch L_adv at steps 0 .. steps-1 (the batches of those updates).
    The table must record every one of those steps (``record_first >= steps`` or ``record_every = 1``).
    """
    steps = check_int("steps", steps, min_value=1)
    rows = table.set_index("step")
    needed = range(steps + 1)
    missing = [s for s in needed if s not in rows.index]
    if missing:
        raise ValueError(f"parameter 'steps' = {steps} is out of range: the table lacks steps {missing[:5]}; "
                         "train with record_first >= steps")
    slope = (rows.loc[steps, column] - rows.loc[0, column]) / rows.loc[steps, "t"]
    mean_L_adv = float(rows.loc[list(range(steps)), "L_adv"].mean())
    return float(slope), mean_L_adv


def departure_time(t, measured, predicted, tol: float = 0.1, t_min: float = 0.0) -> float:
    """First time t > t_min at which |measured - predicted| > tol * |predicted(t) - predicted(0)|.

    ``measured`` and ``predicted`` are sigma_w^2 on the grid ``t`` (1-D, increasing, t[0] = 0): the curve
    leaves the prediction once their gap exceeds ``tol`` times the predicted change. Returns ``inf`` when it
    never does on the grid (the departure is later than t[-1]).
    """
    tol = check_real("tol", tol, min_value=0.0, min_inclusive=False)
    t = np.asarray(t, dtype=np.float64)
    m = np.asarray(measured, dtype=np.float64)
    pr = np.asarray(predicted, dtype=np.float64)
    if not (t.shape == m.shape == pr.shape) or t.ndim != 1 or t.size < 2:
        raise ValueError("parameters 't', 'measured', 'predicted' must be 1-D arrays of one length >= 2")
    gap = np.abs(m - pr)
    change = np.abs(pr - pr[0])
    out = np.flatnonzero((t > t_min) & (gap > tol * change) & (change > 0))
    return float(t[out[0]]) if out.size else math.inf


def summarise_run(out: dict, slope_steps: int, *, tol: float = 0.1, fraction: float = 1.0) -> dict:
    """Numbers of one :func:`train_run` result: the measured initial slope and what predicts it.

    ``slope`` and ``mean_L_adv``: :func:`secant_slope` over the first ``slope_steps`` updates (per unit t).
    The prediction is the exact bookkeeping of an SGD step, Delta ||W^(l)||^2 = -2 lr <W^(l), g^(l)> +
    lr^2 ||g^(l)||^2, averaged over layers and divided by N and lr:

    - ``first_order`` = -2 fraction mean_L_adv / N (:func:`mfat.theory.slope_from_measured_Ladv`; exact for a
      vanilla network with zero biases, fraction = 1; NaN when the objective has no L_adv);
    - ``sgd_term`` = lr mean(grad_norm^2) / (N L) over the same updates (the discrete-step correction, absent
      from gradient flow; grad_norm is the norm of the whole objective's gradient in the W's);
    - ``predicted`` = first_order + sgd_term.

    ``departure``: :func:`departure_time` of the layer-averaged curve from the frozen-rate line with the rate
    -2 fraction L_adv0 / N measured at initialisation (inf if it stays within ``tol`` over the run);
    ``rank_fraction``: the mean over layers of the update's top-K share.
    """
    from mfat.theory import slope_from_measured_Ladv

    table = out["table"]
    N, L = out["N"], out["L"]
    slope, mean_L_adv = secant_slope(table, slope_steps)
    rows = table.set_index("step")
    lr = float(rows.loc[slope_steps, "t"]) / slope_steps
    sgd_term = lr * float((rows.loc[list(range(slope_steps)), "grad_norm"] ** 2).mean()) / (N * L)
    first = slope_from_measured_Ladv(mean_L_adv, N, 1.0, fraction=fraction) if mean_L_adv == mean_L_adv else math.nan
    t = table["t"].to_numpy()
    sw = table["sigma_w2"].to_numpy()
    departure = math.nan
    if out["L_adv0"] == out["L_adv0"]:
        line = sw[0] + slope_from_measured_Ladv(out["L_adv0"], N, 1.0, fraction=fraction) * t
        departure = departure_time(t, sw, line, tol=tol)
    return {"N": N, "L": L, "slope": slope, "mean_L_adv": mean_L_adv, "first_order": first, "sgd_term": sgd_term,
            "predicted": first + sgd_term, "L_adv0": out["L_adv0"], "departure": departure,
            "t_max": float(t[-1]), "rank_fraction": float(np.mean(out["rank_fraction"]))}
