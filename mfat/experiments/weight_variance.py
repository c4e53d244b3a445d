"""Chapter 3 measurements: the weight-drift identity, training curves of sigma_w^2(t), slopes, departure times.

Theorem 5.4 and its residual counterpart, the paper's Fig. 4. The building blocks (:func:`identity_ratios`,
:func:`train_run`, :func:`summarise_run`) take an explicit ``generator`` and ``device``; the chapter's
measurements (:func:`identity_measurement`, :func:`objective_runs`, :func:`residual_runs`,
:func:`slope_sweeps`) take the chapter's settings and draw every network from a generator seeded with
``settings.seed + offset``; the analyses after them are pure functions of those results. Tables are pandas
DataFrames or dicts of numpy arrays (small enough for the chapter's result store).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call, jvp

from mfat import stats
from mfat.data import load
from mfat.model import attacks
from mfat.model.networks import ReLULikeNet
from mfat.runtime import Units, make_generator
from mfat.theory.meanfield import alpha
from mfat.theory.weight_variance import frozen_rate_validity_time, sigma_w2_weight_decay
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
    "IDENTITY_PAIRS",
    "FIG4_OBJECTIVES",
    "identity_measurement",
    "identity_table",
    "exact_identity_deviations",
    "vanilla_identity_worst",
    "residual_identity_table",
    "residual_factor_row",
    "objective_runs",
    "residual_runs",
    "slope_sweeps",
    "SLOPE_SWEEPS",
    "sweep_points",
    "sweep_point",
    "sweep_frame",
    "sweep_units",
    "sweep_unit",
    "initial_slopes",
    "slope_table",
    "weight_decay_change",
    "rank_share_table",
    "width_table",
    "doubling_factor",
    "width_ratio_table",
    "worst_sweep_error",
    "bound_ratios",
    "residual_slope",
    "integrate_identity",
    "identity_gap",
    "adversarial_loss_bound",
    "width_grid",
    "departure_summary",
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


# --- the chapter's measurements: settings in, one stored result out -----------------------------------------

#: The (p, q) pairs of the vanilla identity (the threat model ||eta||_p <= eps, the output norm q of L_adv).
IDENTITY_PAIRS = (("inf", "inf"), (2, 2), (1, 1), (2, "inf"))
#: Random biases: (label, sigma_b^2, whether the direction also scales the biases b^(k), k >= l).
BIAS_CASES = (("sigma_b^2 = 0.05, direction W^(l)", 0.05, False),
              ("sigma_b^2 = 0.05, direction W^(l) and b^(k>=l)", 0.05, True))
#: Inputs of the residual identity (the first rows of the identity inputs).
RESIDUAL_EXAMPLES = 32
#: The objectives of Fig. 4 in the order they are trained (``l2`` takes the settings' ``weight_decay``).
FIG4_OBJECTIVES = ("adversarial", "adv_only", "standard", "l2", "madry")


def _generator(settings, offset: int, device) -> torch.Generator:
    """The generator of one network: seeded with ``settings.seed + offset`` on ``device``."""
    return make_generator(settings.seed + offset, device=device)


def identity_measurement(X: torch.Tensor, settings, *, K: int, device="cpu") -> dict:
    """The identity <W^(l), grad_{W^(l)} L_adv> = L_adv on the first ``settings.identity_examples`` rows of X (n, d).

    Three families of :func:`identity_ratios`, keyed by tuples: ``("vanilla", p, q)`` for every pair of
    :data:`IDENTITY_PAIRS` (zero biases, one network, seed offset 10 + i); ``("bias", label)`` for the
    random-bias cases of :data:`BIAS_CASES` (l_inf, offset 20); ``("residual", p, q, eps)`` for (inf, inf) and
    (2, 2) at ``small_eps`` and ``eps`` (the first :data:`RESIDUAL_EXAMPLES` inputs, ``n_residual_networks``
    networks at ``residual_sigma_w2``, offset 30 + i). Settings used: N, L, sigma_w2, residual_sigma_w2, eps,
    small_eps, identity_examples, identity_attack_steps, n_residual_networks, seed.
    """
    S = settings
    X = X[:S.identity_examples]
    common = dict(N=S.N, K=K, L=S.L, attack_steps=S.identity_attack_steps, device=device)
    out = {}
    for i, (p, q) in enumerate(IDENTITY_PAIRS):
        out[("vanilla", p, q)] = identity_ratios(X, sigma_w2=S.sigma_w2, sigma_b2=0.0, eps=S.eps, p=p, q=q,
                                                 generator=_generator(S, 10 + i, device), **common)
    for name, sb2, with_b in BIAS_CASES:
        out[("bias", name)] = identity_ratios(X, sigma_w2=S.sigma_w2, sigma_b2=sb2, eps=S.eps, p="inf", q="inf",
                                              include_bias=with_b, generator=_generator(S, 20, device), **common)
    for i, (p, q) in enumerate([("inf", "inf"), (2, 2)]):
        for eps in (S.small_eps, S.eps):
            out[("residual", p, q, eps)] = identity_ratios(
                X[:RESIDUAL_EXAMPLES], sigma_w2=S.residual_sigma_w2, sigma_b2=0.0, eps=eps, p=p, q=q, residual=True,
                n_networks=S.n_residual_networks, generator=_generator(S, 30 + i, device), **common)
    return out


def identity_table(ident: dict) -> pd.DataFrame:
    """One row per vanilla and random-bias case of :func:`identity_measurement`: the largest |ratio - 1| over
    examples and layers, the mean ratio and the mean L_adv."""
    rows = []
    for (kind, *key), r in ident.items():
        if kind == "residual":
            continue
        label = f"vanilla (p, q) = ({key[0]}, {key[1]}), sigma_b^2 = 0" if kind == "vanilla" else key[0]
        dev = np.abs(r["per_example"] - 1.0)
        rows.append({"case": label, "max |ratio - 1| (examples x layers)": dev.max(),
                     "mean ratio": r["per_example"].mean(), "mean L_adv": r["L_adv"].mean()})
    return pd.DataFrame(rows)


def exact_identity_deviations(ident: dict) -> dict[str, float]:
    """max |<W^(l), grad L_adv> / L_adv - 1| over examples and layers for the cases where the identity is exact:
    every vanilla (p, q) with zero biases, and random biases with the direction that also scales b^(k), k >= l.
    Keys: "(p, q) = (p, q), sigma_b^2 = 0" or the bias case's label, in the order of the measurement."""
    out = {}
    for (kind, *key), r in ident.items():
        if kind == "vanilla" or (kind == "bias" and "b^(k>=l)" in key[0]):
            label = f"(p, q) = ({key[0]}, {key[1]}), sigma_b^2 = 0" if kind == "vanilla" else key[0]
            out[label] = np.abs(r["per_example"] - 1).max()
    return out


def vanilla_identity_worst(ident: dict) -> float:
    """max |<W^(l), grad L_adv> / L_adv - 1| over every vanilla (p, q), example and layer (zero biases)."""
    return float(max(np.abs(r["per_example"] - 1).max() for (kind, *_), r in ident.items() if kind == "vanilla"))


def residual_identity_table(ident: dict, fraction: float) -> pd.DataFrame:
    """One row per residual case: the batch ratio sum_i <W^(l), grad L_adv(x_i)> / sum_i L_adv(x_i), averaged
    over layers, then its mean and standard deviation over networks, next to the theory's ``fraction``
    (alpha sigma_w^2 / omega_r, :func:`mfat.theory.residual_fraction`)."""
    rows = []
    for (kind, *key), r in ident.items():
        if kind != "residual":
            continue
        p, q, eps = key
        per_net = r["batch"].mean(axis=1)  # one number per network (mean over layers)
        rows.append({"(p, q)": f"({p}, {q})", "eps": eps, "networks": len(per_net), "mean ratio": per_net.mean(),
                     "sd over networks": per_net.std(ddof=1), "theory alpha sigma_w^2 / omega_r": fraction})
    return pd.DataFrame(rows)


def residual_factor_row(table: pd.DataFrame, eps: float, pair: str = "(inf, inf)") -> pd.Series:
    """The row of :func:`residual_identity_table` at budget ``eps`` and (p, q) ``pair``: the residual factor
    measured there ("mean ratio"), its spread "sd over networks" and "networks"."""
    return table[(table["eps"] == eps) & (table["(p, q)"] == pair)].iloc[0]


def _with_objective(config: TrainConfig, objective: str, weight_decay: float) -> TrainConfig:
    """``config`` with another objective (``l2`` also takes ``weight_decay``), validated again."""
    extra = {"weight_decay": weight_decay} if objective == "l2" else {}
    return dataclasses.replace(config, objective=objective, **extra)


def objective_runs(X, y, X_eval, y_eval, config: TrainConfig, settings, *, K: int, offset: int,
                   residual: bool = False, device="cpu") -> dict:
    """Fig. 4: one :func:`train_run` per objective, each from the same initial network (seed offset ``offset``).

    Every run trains with ``config`` and its objective replaced: all of :data:`FIG4_OBJECTIVES` for a vanilla
    network at ``settings.sigma_w2``, only "adversarial" for a residual one at ``settings.residual_sigma_w2``.
    X (n, d), y (n,) train; X_eval, y_eval give the accuracies. Settings used: N, L, sigma_w2,
    residual_sigma_w2, weight_decay, seed. Returns {objective: train_run result}.
    """
    S = settings
    sw2 = S.residual_sigma_w2 if residual else S.sigma_w2
    names = ("adversarial",) if residual else FIG4_OBJECTIVES
    return {name: train_run(X, y, _with_objective(config, name, S.weight_decay), N=S.N, K=K, L=S.L, sigma_w2=sw2,
                            residual=residual, X_eval=X_eval, y_eval=y_eval,
                            generator=_generator(S, offset, device), device=device)
            for name in names}


def residual_runs(X, y, X_eval, y_eval, config: TrainConfig, settings, *, K: int, device="cpu") -> dict:
    """The residual network under the main-line objective and under standard training, from one initial
    network (seed offset 200): {"adversarial": ..., "standard": ...} (:func:`objective_runs`, residual)."""
    out = objective_runs(X, y, X_eval, y_eval, config, settings, K=K, offset=200, residual=True, device=device)
    out["standard"] = train_run(X, y, _with_objective(config, "standard", settings.weight_decay), N=settings.N,
                                K=K, L=settings.L, sigma_w2=settings.residual_sigma_w2, residual=True,
                                generator=_generator(settings, 200, device), device=device)
    return out


def slope_sweeps(X, y, config: TrainConfig, settings, *, K: int, device="cpu") -> dict[str, pd.DataFrame]:
    """Initial slopes of ``adv_only`` training across widths, depths and budgets (the setting of Theorem 5.4).

    ``config`` is the width sweep's training (``sweep_steps`` steps, every step recorded); the depth and budget
    sweeps use it over the ``slope_steps`` window only. Returns DataFrames of :func:`summarise_run` rows:
    ``width`` (``n_seeds`` networks per width of ``widths`` at depth L, with "seed"; offsets 1000 + 100 i + s),
    ``depth`` (``n_sweep_seeds`` per depth of ``depths`` at width N; offsets 2000 + ...), ``eps`` (per budget of
    ``eps_values``, with "eps"; offsets 3000 + ...). Departure times are measured in the width sweep only.
    Each point is :func:`sweep_point`.
    """
    return {sweep: sweep_frame([sweep_point(X, y, config, settings, K=K, device=device, **point)
                                for point in sweep_points(settings, sweep)]) for sweep in SLOPE_SWEEPS}


#: the sweeps of :func:`slope_sweeps`: name -> (the settings' values swept, the first seed offset)
SLOPE_SWEEPS = {"width": ("widths", 1000), "depth": ("depths", 2000), "eps": ("eps_values", 3000)}


def sweep_points(settings, sweep: str) -> list[dict]:
    """The points of one sweep of :func:`slope_sweeps`: ``{"sweep", "value", "offset"}``, the i-th value of
    the sweep from seed offset (first offset) + 100 i."""
    field, first = SLOPE_SWEEPS[sweep]
    return [{"sweep": sweep, "value": v, "offset": first + 100 * i} for i, v in enumerate(getattr(settings, field))]


def sweep_point(X, y, config: TrainConfig, settings, *, sweep: str, value, offset: int, K: int,
                device="cpu") -> dict:
    """The runs of one point of :func:`slope_sweeps`, network s from seed offset ``offset + s``: "width" (N =
    ``value`` at depth L, ``n_seeds`` networks, ``config`` whole, departures with ``departure_tol``), "depth"
    (L = ``value`` at width N) or "eps" (budget ``value`` at (N, L)), ``n_sweep_seeds`` networks over the
    slope window. Returns the columns (networks,) of their :func:`summarise_run` rows, with "seed" (width) or
    "eps" (eps)."""
    S = settings
    short = dataclasses.replace(config, steps=S.slope_steps, record_first=S.slope_steps)
    if sweep == "width":
        runs = {"config": config, "N": value, "L": S.L, "seeds": S.n_seeds, "tol": S.departure_tol}
    elif sweep == "depth":
        runs = {"config": short, "N": S.N, "L": value, "seeds": S.n_sweep_seeds, "tol": 0.1}
    else:
        runs = {"config": dataclasses.replace(short, eps=value), "N": S.N, "L": S.L, "seeds": S.n_sweep_seeds,
                "tol": 0.1}
    rows = []
    for s in range(runs["seeds"]):
        r = train_run(X, y, runs["config"], N=runs["N"], K=K, L=runs["L"], sigma_w2=S.sigma_w2,
                      generator=_generator(S, offset + s, device), device=device)
        extra = {"width": {"seed": s}, "depth": {}, "eps": {"eps": value}}[sweep]
        rows.append({**summarise_run(r, S.slope_steps, tol=runs["tol"]), **extra})
    return {k: np.array([row[k] for row in rows]) for k in rows[0]}


def sweep_frame(points: list[dict]) -> pd.DataFrame:
    """One sweep of :func:`slope_sweeps` from its points' :func:`sweep_point` columns, one row per network."""
    return pd.DataFrame({k: np.concatenate([p[k] for p in points]) for k in points[0]})


def sweep_units(settings, config: TrainConfig, dataset: str, *, K: int, device="cpu") -> Units:
    """:func:`slope_sweeps` on the first ``n_train`` training images of ``dataset`` as units
    (:class:`mfat.runtime.Units`), one per point of every sweep: ``{"dataset", "sweep", "value", "offset"}``;
    combined bit for bit the same."""
    units = [{"dataset": dataset, **point} for sweep in SLOPE_SWEEPS for point in sweep_points(settings, sweep)]
    return Units(units, functools.partial(sweep_unit, settings, config, K=K, device=device),
                 functools.partial(_sweeps_combine, units))


def sweep_unit(settings, config: TrainConfig, unit: dict, *, K: int, device="cpu") -> dict:
    """One unit of :func:`sweep_units`: :func:`sweep_point` on its data set (pixels in [0, 1])."""
    X, y = load(unit["dataset"], "train", n=settings.n_train, scaling="unit", device=device)
    return sweep_point(X, y, config, settings, sweep=unit["sweep"], value=unit["value"], offset=unit["offset"],
                       K=K, device=device)


def _sweeps_combine(units: list, outs: list) -> dict[str, pd.DataFrame]:
    return {sweep: sweep_frame([o for u, o in zip(units, outs) if u["sweep"] == sweep]) for sweep in SLOPE_SWEEPS}


# --- analyses of those results -----------------------------------------------------------------------------

def initial_slopes(runs: dict, slope_steps: int, *, tol: float = 0.1) -> tuple[dict, dict]:
    """Measured and predicted initial slopes of sigma_w^2 (per unit t) of the Fig. 4 runs.

    Returns ``(summary, slopes)``: ``summary`` = {objective: :func:`summarise_run`}, ``slopes`` =
    {"adversarial": (measured, predicted), "adv_only": (measured, predicted)}. For ``adv_only`` the prediction
    is -2 mean_L_adv / N + the SGD term; for the main line the cross-entropy's first-order drift is added,
    taken from the standard run over the same window (same initial network, same mini-batches):
    slope_standard - sgd_term_standard.
    """
    summary = {name: summarise_run(r, slope_steps, tol=tol) for name, r in runs.items()}
    std = summary["standard"]
    ce_part = std["slope"] - std["sgd_term"]  # the cross-entropy's first-order drift, from the standard run
    main = summary["adversarial"]
    return summary, {
        "adversarial": (main["slope"], ce_part + main["predicted"]),
        "adv_only": (summary["adv_only"]["slope"], summary["adv_only"]["predicted"]),
    }


def slope_table(slopes: dict, rate_beta: float | None = None) -> pd.DataFrame:
    """One row per objective of ``slopes`` ({objective: (measured, predicted)}): both slopes and the relative
    error; with ``rate_beta`` (Theorem 5.4's rate with beta) also that rate and measured / rate."""
    rows = []
    for k, (m, p) in slopes.items():
        row = {"objective": k, "measured slope": m, "predicted from measured L_adv": p, "relative error": m / p - 1}
        if rate_beta is not None:
            row.update({"Theorem 5.4 with beta": rate_beta, "measured / Theorem 5.4": m / rate_beta})
        rows.append(row)
    return pd.DataFrame(rows)


def weight_decay_change(runs: dict, weight_decay: float) -> tuple[float, float]:
    """(predicted, measured) change of sigma_w^2 over the whole ``l2`` run.

    predicted = sigma_w^2(0) (e^{-2 lam t_end} - 1) (:func:`mfat.theory.sigma_w2_weight_decay`) plus the change
    of the ``standard`` run over its run (the cross-entropy's drift, same initial network); measured =
    sigma_w^2(t_end) - sigma_w^2(0) of the ``l2`` run.
    """
    l2_tab, std_tab = runs["l2"]["table"], runs["standard"]["table"]
    measured = l2_tab["sigma_w2"].iloc[-1] - l2_tab["sigma_w2"].iloc[0]
    predicted = (sigma_w2_weight_decay(l2_tab["t"].iloc[-1], l2_tab["sigma_w2"].iloc[0], weight_decay)
                 - l2_tab["sigma_w2"].iloc[0]) + (std_tab["sigma_w2"].iloc[-1] - std_tab["sigma_w2"].iloc[0])
    return predicted, measured


def rank_share_table(summary: dict, K: int, N: int) -> pd.DataFrame:
    """Share of the update W(T) - W(0) in its top-K singular directions (mean over layers) for the main line
    and the L_adv-only run of :func:`initial_slopes`'s ``summary``, next to K/N for an update that keeps the
    weights iid."""
    return pd.DataFrame({"run": ["MNIST main line", "MNIST adv_only"],
                         "top-K share of the update": [summary["adversarial"]["rank_fraction"],
                                                       summary["adv_only"]["rank_fraction"]],
                         "iid update (K/N)": [K / N, K / N]})


def width_table(width_runs: pd.DataFrame) -> pd.DataFrame:
    """Per width N of the sweep: mean and sd of the measured slope, the number of networks, the mean
    prediction and the mean L_adv of the slope window."""
    return width_runs.groupby("N").agg(slope=("slope", "mean"), slope_sd=("slope", "std"), n=("slope", "size"),
                                       predicted=("predicted", "mean"), L_adv=("mean_L_adv", "mean")).reset_index()


def doubling_factor(width_runs: pd.DataFrame) -> float:
    """2^(-a), a the least-squares exponent of |slope| against N over every network: the factor by which the
    slope changes when the width doubles (2 for the 1/N law of Theorem 5.4)."""
    return 2.0 ** (-stats.loglog_slope(width_runs["N"], -width_runs["slope"]))


def width_ratio_table(width: pd.DataFrame) -> pd.DataFrame:
    """Consecutive widths N -> N' of :func:`width_table`: the slope ratio (N'/N expected) and its standard
    error from the two means (delta method)."""
    rows = []
    for a, b in zip(width.itertuples(), list(width.itertuples())[1:]):
        se = abs(a.slope / b.slope) * math.sqrt((a.slope_sd / a.slope) ** 2 / a.n + (b.slope_sd / b.slope) ** 2 / b.n)
        rows.append({"N -> N'": f"{a.N} -> {b.N}", "N'/N": b.N / a.N, "slope ratio": a.slope / b.slope,
                     "expected (N'/N)": b.N / a.N, "standard error": se})
    return pd.DataFrame(rows)


def worst_sweep_error(sweeps: dict[str, pd.DataFrame]) -> float:
    """max |slope / predicted - 1| over every run of the width, depth and budget sweeps."""
    errs = np.abs(pd.concat([sweeps["width"], sweeps["depth"], sweeps["eps"]])[["slope", "predicted"]].pipe(
        lambda t: t["slope"] / t["predicted"] - 1))
    return errs.max()


def adversarial_loss_bound(eps, beta: float, L, sigma_w2: float):
    """Theorem 5.1's eps beta_{p,q} omega_v^{L/2}, omega_v = alpha sigma_w^2 (vanilla ReLU; arrays broadcast)."""
    return eps * beta * (alpha() * sigma_w2) ** (L / 2)


def bound_ratios(sweeps: dict[str, pd.DataFrame], eps: float, beta: float, omega0: float, L: int) -> np.ndarray:
    """Mean L_adv over networks / Theorem 5.1's eps beta omega0^{L/2}, one entry per depth of the depth sweep
    (at budget ``eps``) and then per budget of the budget sweep (at depth ``L``)."""
    by_depth = sweeps["depth"].groupby("L")["mean_L_adv"].mean()
    by_eps = sweeps["eps"].groupby("eps")["mean_L_adv"].mean()
    return np.concatenate([(by_depth / (eps * beta * omega0 ** (by_depth.index.to_numpy() / 2))).to_numpy(),
                           (by_eps / (by_eps.index.to_numpy() * beta * omega0 ** (L / 2))).to_numpy()])


def residual_slope(runs: dict, fraction: float, steps: int) -> tuple[float, float]:
    """(measured, predicted) slope of sigma_w^2 over the first ``steps`` updates of the residual main line.

    predicted = (slope - sgd_term) of the standard run (the cross-entropy's drift) + the
    :func:`summarise_run` prediction -2 ``fraction`` mean_L_adv / N + sgd_term of the adversarial run.
    """
    summary = {k: summarise_run(r, steps, fraction=fraction) for k, r in runs.items()}
    predicted = summary["standard"]["slope"] - summary["standard"]["sgd_term"] + summary["adversarial"]["predicted"]
    return summary["adversarial"]["slope"], predicted


def integrate_identity(t, L_adv, sigma_w2_0: float, N: int) -> np.ndarray:
    """sigma_w^2(t) = sigma_w^2(0) - (2/N) int_0^t L_adv(s) ds: the exact identity integrated along a measured
    L_adv(t) by the trapezoid rule. ``t`` and ``L_adv`` are 1-D of one length (t[0] = 0); returns that shape."""
    t, L_adv = np.asarray(t), np.asarray(L_adv)
    if t.ndim != 1 or t.shape != L_adv.shape:
        raise ValueError(f"parameters 't' and 'L_adv' have shapes {t.shape} and {L_adv.shape}: allowed equal 1-D")
    N = check_int("N", N, min_value=1)
    return sigma_w2_0 - 2.0 / N * np.concatenate([[0.0], np.cumsum(np.diff(t) * 0.5 * (L_adv[1:] + L_adv[:-1]))])


def identity_gap(integrated, sigma_w2) -> float:
    """max_t |integrated - measured| / |measured(end) - measured(0)|: the gap as a share of the total drop."""
    sigma_w2 = np.asarray(sigma_w2)
    return np.abs(np.asarray(integrated) - sigma_w2).max() / abs(sigma_w2[-1] - sigma_w2[0])


def width_grid(widths, n: int = 50) -> np.ndarray:
    """``n`` widths spaced geometrically from min(widths) / 1.3 to max(widths) * 1.3: where the theory is drawn."""
    widths = np.asarray(widths, dtype=float)
    return np.geomspace(widths.min() / 1.3, widths.max() * 1.3, n)


def departure_summary(width_runs: pd.DataFrame, *, tol: float, sigma_w2: float, eps: float, beta: float,
                      L: int) -> dict:
    """When the width sweep's curves leave the frozen-rate line, against when the theory's own ODE does.

    ``ode`` (one per network) and ``ode_grid`` (on :func:`width_grid` of the sweep's widths):
    :func:`mfat.theory.frozen_rate_validity_time` at that width; ``all_earlier``: every measured departure
    comes before its ODE time; ``median``: the median measured departure; ``exponent``: log-log slope of the
    finite departures against N.
    """
    def ode(widths):
        return [frozen_rate_validity_time(tol, sigma_w2, eps, beta, L, int(n)) for n in widths]

    finite = width_runs[np.isfinite(width_runs["departure"])]
    return {"ode": ode(width_runs["N"]), "ode_grid": ode(width_grid(sorted(set(width_runs["N"])))),
            "all_earlier": bool((width_runs["departure"] < ode(width_runs["N"])).all()),
            "median": width_runs["departure"].median(),
            "exponent": stats.loglog_slope(finite["N"], finite["departure"])}
