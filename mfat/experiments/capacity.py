"""Chapter 5: the Fisher-Rao norm of random networks and of networks under (adversarial) training.

- :func:`fisher_rao_at_init`  ||w||_FR^2 of independent random networks (Monte Carlo of Theorem 5.8 at t = 0);
- :func:`initial_slopes`      the gradient-flow derivative dFR/dt at the current weights, split into the part
  carried by the shrinking weight norms (the mechanism of Theorem 5.8) and the rest;
- :func:`capacity_run`        one training run with the exact FR recorded on a fixed batch, plus the mean-field
  FR evaluated at the measured per-layer weight variances (Assumption 5.2).

Then the chapter's measurements, each stored under one tag (:func:`estimator_check`, :func:`init_monte_carlo`,
:func:`slope_sweep`, :func:`curve_runs`, :func:`accuracy_runs`, :func:`fashion_measurement`): they take the
chapter's settings and draw every network from a generator seeded with ``settings.seed + offset``; and the
analyses of their results (:func:`init_table`, :func:`summarise_slopes`, :func:`window_table`, ...).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pandas as pd
import torch

from mfat import theory
from mfat import stats
from mfat.data import gaussian_inputs, load
from mfat.model.fisher_rao import (directional_derivatives, directional_derivatives_jvp, fisher_rao_metric,
                                   fisher_rao_norm, fisher_rao_per_sample)
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig, batch_objective, train
from mfat.runtime import Units, make_generator
from mfat.validation import check_int

__all__ = ["fisher_rao_at_init", "initial_slopes", "capacity_run", "input_q0",
           "estimator_check", "estimator_table", "init_monte_carlo", "init_table", "slope_grid", "slope_sweep",
           "summarise_slopes", "slope_profiles", "decay_trend", "decay_exponent", "radial_identity_error",
           "curve_runs", "window_summary", "window_table", "measured_rate", "theorem_rate", "accuracy_runs",
           "accuracy_table", "final_capacity", "accuracy_summary", "fashion_measurement",
           # the same measurements as units
           "slope_point", "slope_frame", "curve_plan", "accuracy_plan", "planned_run", "FASHION_RUN", "chapter_data",
           "capacity_unit", "slope_units", "curve_units", "accuracy_units", "fashion_units"]


def input_q0(X: torch.Tensor) -> float:
    """q^(0) = E_x ||x||^2 / d over the rows of X (n, d): the factor of the FR formula (1 for ||x|| = sqrt(d))."""
    return float(X.double().pow(2).sum(1).mean() / X.shape[1])


@torch.no_grad()
def fisher_rao_at_init(d: int, N: int, K: int, L: int, sigma_w2: float, *, sigma_b2: float = 0.0, u: float = 1.0,
                       v: float = 0.0, residual: bool = False, n_networks: int = 50, n_inputs: int = 16,
                       X: torch.Tensor | None = None, generator: torch.Generator, device="cpu",
                       dtype: torch.dtype = torch.float64) -> dict:
    """||w||_FR^2 (exact forward-mode estimator) of ``n_networks`` independent random networks.

    Each network gets ``n_inputs`` fresh Gaussian inputs with ||x|| = sqrt(d) (q^(0) = 1), or the fixed batch
    ``X`` (n, d) when given (e.g. MNIST images; then q^(0) = :func:`input_q0`). Returns float64 arrays ``fr``
    (n_networks,), ``layers`` (n_networks, L) and the float ``q0``.
    """
    n_networks = check_int("n_networks", n_networks, min_value=2)
    n_inputs = check_int("n_inputs", n_inputs, min_value=1)
    if X is not None:
        X = X.to(device=device, dtype=dtype)
        d = X.shape[1]
    layers = np.empty((n_networks, L))
    q0 = []
    for i in range(n_networks):
        net = ReLULikeNet(d, N, K, L, sigma_w2, sigma_b2, u, v, residual, generator=generator, dtype=dtype,
                          device=device)
        x = X if X is not None else gaussian_inputs(n_inputs, d, generator=generator, dtype=dtype, device=device)
        layers[i] = fisher_rao_per_sample(net, x).mean(0).double().cpu().numpy()
        q0.append(input_q0(x))
    return {"fr": layers.sum(1), "layers": layers, "q0": float(np.mean(q0))}


def initial_slopes(net: ReLULikeNet, X: torch.Tensor, y: torch.Tensor, X_fr: torch.Tensor, config: TrainConfig, *,
                   generator: torch.Generator) -> dict:
    """dFR/dt at the current weights under gradient flow of ``config``'s objective on (X, y), t = lr * steps.

    FR is the exact ||w||_FR^2 on the fixed batch X_fr; the loss gradient g is that of
    :func:`mfat.model.training.batch_objective` on all of (X, y) (PGD maximisers drawn with ``generator``).

    - ``full``   = -<grad_theta FR, g> over all trained parameters (W and b): the exact first-order slope;
    - ``radial`` = -sum_l <grad_{W^(l)} FR, W^(l)> <W^(l), g_l> / ||W^(l)||_F^2: the part carried by the change
      of the weight norms alone, i.e. the only part a model with i.i.d. weights of variance sigma_w^2(t)
      (Assumption 5.2) keeps.

    Returns floats ``full``, ``radial``, ``fr``, ``L_adv`` (batch mean; NaN if the objective has none), ``ce``,
    ``sigma_w2`` (mean over layers) and the array ``sigma_w2_layers`` (L,).
    """
    params = [*net.W, *net.b]
    out = batch_objective(net, X, y, config, generator=generator)
    g = torch.autograd.grad(out["loss"], params, allow_unused=True)
    fr = directional_derivatives(net, X_fr, differentiable=True).pow(2).sum(-1).mean(0).sum()
    g_fr = torch.autograd.grad(fr, params, allow_unused=True)
    full, radial = 0.0, 0.0
    for p, a, b in zip(params, g_fr, g):
        if a is not None and b is not None:
            full -= float((a.double() * b.double()).sum())
    for layer, W in enumerate(net.W):
        a, b = g_fr[layer], g[layer]
        if a is not None and b is not None:
            Wd = W.detach().double()
            radial -= float((a.double() * Wd).sum() * (Wd * b.double()).sum() / Wd.pow(2).sum())
    sw = net.sigma_w2_per_layer().double().cpu().numpy()
    return {"full": full, "radial": radial, "fr": float(fr.detach()), "L_adv": float(out["L_adv"]),
            "ce": float(out["ce"]), "sigma_w2": float(sw.mean()), "sigma_w2_layers": sw}


def capacity_run(X: torch.Tensor, y: torch.Tensor, X_fr: torch.Tensor, *, N: int, L: int, K: int, sigma_w2: float,
                 config: TrainConfig, generator: torch.Generator, X_eval: torch.Tensor | None = None,
                 y_eval: torch.Tensor | None = None, residual: bool = False, device="cpu",
                 dtype: torch.dtype = torch.float32) -> dict:
    """Train one fresh network (bias-free init, sigma_b = 0) with ``config`` and record its capacity.

    Returns the training table as float64 arrays (columns of :func:`mfat.model.training.train`, including ``fr``:
    the exact ||w||_FR^2 on the fixed batch X_fr), and ``fr_mf``: the formula of Theorem 5.8 evaluated at
    the measured per-layer variances sigma_l^2(t) with q^(0) of X_fr (what FR would be if the weights stayed
    i.i.d. Gaussian, Assumption 5.2), and the float ``q0``.
    """
    net = ReLULikeNet(X.shape[1], N, K, L, sigma_w2, 0.0, residual=residual, generator=generator, dtype=dtype,
                      device=device)
    X_fr = X_fr.to(device=device, dtype=dtype)
    table = train(net, X.to(device=device, dtype=dtype), y.to(device), config, generator=generator,
                  X_eval=None if X_eval is None else X_eval.to(device=device, dtype=dtype),
                  y_eval=None if y_eval is None else y_eval.to(device),
                  metrics={"fr": fisher_rao_metric(X=X_fr)})
    out = {col: table[col].to_numpy(dtype=np.float64) for col in table.columns}
    q0 = input_q0(X_fr)
    layer_cols = [f"sigma_w2_{i + 1}" for i in range(L)]
    out["fr_mf"] = np.array([theory.fisher_rao_expectation(list(row), L, K, residual=residual, q0=q0)
                             for row in table[layer_cols].to_numpy(dtype=np.float64)])
    out["q0"] = q0
    return out


# --- the chapter's measurements: settings in, one stored result out -----------------------------------------

def _generator(seed: int, offset: int, device) -> torch.Generator:
    """The generator of one network (or probe): seeded with ``seed + offset`` on ``device``."""
    return make_generator(seed + offset, device=device)


def estimator_check(seed: int, *, n_probes: int = 200, device="cpu") -> dict:
    """||w||_FR^2 of one random float64 network (d = 50, N = 64, K = 10, L = 4, sigma_w^2 = 2, sigma_b^2 = 0.05)
    on 32 Gaussian inputs, by every route of :mod:`mfat.model.fisher_rao`.

    Returns floats ``forward`` (the forward-mode stack), ``jvp`` (one ``torch.func.jvp`` per layer),
    ``reverse`` (reverse mode with the K basis cotangents): three exact values; ``probe_mean`` and
    ``probe_sd`` of ``n_probes`` one-probe random-sign estimates (seed offsets 100 + i) and ``n_probe``.
    """
    n_probes = check_int("n_probes", n_probes, min_value=2)
    gen = _generator(seed, 1, device)
    net = ReLULikeNet(50, 64, 10, 4, 2.0, 0.05, residual=False, generator=gen, dtype=torch.float64, device=device)
    x = gaussian_inputs(32, 50, generator=gen, dtype=torch.float64, device=device)
    fwd = fisher_rao_per_sample(net, x, method="forward")
    out = {"forward": fwd.sum(1).mean().item()}
    out["jvp"] = directional_derivatives_jvp(net, x).pow(2).sum(-1).sum(1).mean().item()
    out["reverse"] = fisher_rao_per_sample(net, x, method="reverse").sum(1).mean().item()
    probes = [fisher_rao_norm(net, x, method="probe", n_probes=1, generator=_generator(seed, 100 + i, device))
              for i in range(n_probes)]
    out["probe_mean"], out["probe_sd"], out["n_probe"] = float(np.mean(probes)), float(np.std(probes, ddof=1)), n_probes
    return out


def estimator_table(est: dict) -> pd.DataFrame:
    """The four values of :func:`estimator_check`, one row per method."""
    return pd.DataFrame([{"method": "forward-mode stack (exact)", "||w||_FR^2": est["forward"]},
                         {"method": "torch.func.jvp per layer (exact)", "||w||_FR^2": est["jvp"]},
                         {"method": "reverse, K basis cotangents (exact)", "||w||_FR^2": est["reverse"]},
                         {"method": f"reverse, 1 random-sign probe (mean of {est['n_probe']}, sd "
                                    f"{est['probe_sd']:.2f})", "||w||_FR^2": est["probe_mean"]}])


def init_monte_carlo(X: torch.Tensor, settings, *, K: int, device="cpu") -> dict:
    """:func:`fisher_rao_at_init` for every setting of the chapter, keyed by (networks, L).

    ("vanilla", L) and ("residual", L) for L in ``init_depths`` (Gaussian inputs in dimension ``init_d``,
    width ``init_N``; seed offsets 10 + 2 i + j); ("vanilla + bias", L_mid) at the middle depth with
    ``bias_sigma_b2`` (offset 30); ("vanilla, <dataset> inputs", scale_L) on the first 64 rows of X (n, d) at
    width ``scale_N`` with ``scale_networks`` networks (offset 31).
    """
    S = settings
    out = {}
    for i, L in enumerate(S.init_depths):
        for j, (kind, sw2, res) in enumerate([("vanilla", S.vanilla_sigma_w2, False),
                                              ("residual", S.residual_sigma_w2, True)]):
            out[(kind, L)] = fisher_rao_at_init(S.init_d, S.init_N, K, L, sw2, residual=res,
                                                n_networks=S.init_networks, n_inputs=S.init_inputs,
                                                generator=_generator(S.seed, 10 + 2 * i + j, device), device=device)
    L_mid = S.init_depths[len(S.init_depths) // 2]
    out[("vanilla + bias", L_mid)] = fisher_rao_at_init(
        S.init_d, S.init_N, K, L_mid, S.vanilla_sigma_w2, sigma_b2=S.bias_sigma_b2, n_networks=S.init_networks,
        n_inputs=S.init_inputs, generator=_generator(S.seed, 30, device), device=device)
    out[(f"vanilla, {S.dataset} inputs", S.scale_L)] = fisher_rao_at_init(
        X.shape[1], S.scale_N, K, S.scale_L, S.vanilla_sigma_w2, n_networks=S.scale_networks, X=X[:64],
        generator=_generator(S.seed, 31, device), device=device)
    return out


def init_table(init: dict, settings, *, K: int) -> pd.DataFrame:
    """One row per setting of :func:`init_monte_carlo`: Theorem 5.8 at t = 0 with the inputs' q^(0)
    (:func:`mfat.theory.fisher_rao_expectation`, with the bias signal where there are biases), the mean over
    networks, twice its standard error, measured / predicted and the number of networks."""
    S = settings
    rows = []
    for (kind, L), r in init.items():
        n = len(r["fr"])
        mean, sd = r["fr"].mean(), r["fr"].std(ddof=1)
        res = kind.startswith("residual")
        pred = theory.fisher_rao_expectation(S.residual_sigma_w2 if res else S.vanilla_sigma_w2, L, K, residual=res,
                                             q0=r["q0"], sigma_b2=S.bias_sigma_b2 if "bias" in kind else 0.0)
        rows.append({"networks": kind, "L": L, "N": S.scale_N if "inputs" in kind else S.init_N,
                     "q0 = E||x||^2/d": r["q0"], "predicted": pred, "measured mean": mean,
                     "2 s.e.": 2 * sd / math.sqrt(n), "ratio": mean / pred, "n": n})
    return pd.DataFrame(rows)


def slope_grid(settings) -> list[tuple[int, int]]:
    """The (N, L) settings of the sweeps: every width at depth L and every depth at width N, sorted."""
    return sorted({(N, settings.L) for N in settings.widths} | {(settings.N, L) for L in settings.depths})


def slope_sweep(X, y, X_fr, config: TrainConfig, settings, *, grid, K: int, offset: int, device="cpu"
                ) -> pd.DataFrame:
    """:func:`initial_slopes` of ``slope_seeds`` fresh float64 vanilla networks per (N, L) of ``grid``.

    The gradient is taken on the first ``slope_batch`` rows of (X, y), FR on X_fr; the network of setting i,
    seed s is drawn from seed offset ``offset + 100 i + s`` (which then also draws its PGD starts). One row
    per network: N, L, seed and the fields of :func:`initial_slopes` (``sigma_w2_layers`` as a list).
    """
    return slope_frame([slope_point(X, y, X_fr, config, settings, N=N, L=L, K=K, offset=offset + 100 * i,
                                    device=device) for i, (N, L) in enumerate(grid)])


def slope_point(X, y, X_fr, config: TrainConfig, settings, *, N: int, L: int, K: int, offset: int,
                device="cpu") -> dict:
    """One setting (N, L) of :func:`slope_sweep`, its network s drawn from seed offset ``offset + s``: columns
    (slope_seeds,) ``N``, ``L``, ``seed`` and the fields of :func:`initial_slopes` (``sigma_w2_layers``:
    (slope_seeds, L))."""
    S = settings
    rows = []
    for s in range(S.slope_seeds):
        gen = _generator(S.seed, offset + s, device)
        net = ReLULikeNet(X.shape[1], N, K, L, S.vanilla_sigma_w2, 0.0, generator=gen, dtype=torch.float64,
                          device=device)
        r = initial_slopes(net, X[:S.slope_batch].double(), y[:S.slope_batch], X_fr.double(), config,
                           generator=gen)
        rows.append({"N": N, "L": L, "seed": s, **r})
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def slope_frame(points: list[dict]) -> pd.DataFrame:
    """The table of :func:`slope_sweep` from its settings' :func:`slope_point` columns: one row per network,
    ``sigma_w2_layers`` as a list."""
    columns = {k: np.concatenate([p[k] for p in points]) for k in points[0] if k != "sigma_w2_layers"}
    columns["sigma_w2_layers"] = [list(row) for p in points for row in p["sigma_w2_layers"]]
    return pd.DataFrame(columns)


def theorem_rate(eps: float, beta: float, N: int, L: int, K: int, sigma_w2: float) -> float:
    """Theorem 5.8's relative rate d log E||w||_FR^2 / dt at t = 0: -c eps alpha beta L / N at criticality
    (:func:`mfat.theory.fisher_rao_adversarial_slope` / :func:`mfat.theory.fisher_rao_expectation`)."""
    return (theory.fisher_rao_adversarial_slope(eps, beta, N, L, K, sigma_w2)
            / theory.fisher_rao_expectation(sigma_w2, L, K))


def summarise_slopes(df: pd.DataFrame, *, eps: float, beta: float, sigma_w2: float, K: int
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Relative slopes of the sweep and their means per setting.

    Adds to ``df`` (rows of :func:`slope_sweep`): ``rel_full`` = full / fr and ``rel_radial`` = radial / fr
    (the exact initial slope of log FR and its radial part, per unit t) and ``rel_identity``, the radial
    slope's closed form -c E[L_adv] sum_l 1 / (N sigma_l^2) (:func:`mfat.theory.fisher_rao_radial_slope`).
    Returns ``(df, table)``: the table has per (N, L) the means of L_adv, rel_full and rel_radial, the
    number of networks n, ``rel_theorem_beta`` (:func:`theorem_rate`) and ``exact / radial``.
    """
    df = df.assign(rel_full=df["full"] / df["fr"], rel_radial=df["radial"] / df["fr"])
    df = df.assign(rel_identity=[theory.fisher_rao_radial_slope(1.0, r.L_adv, int(r.N), int(r.L), r.sigma_w2_layers)
                                 for r in df.itertuples()])
    g = df.groupby(["N", "L"]).agg(L_adv=("L_adv", "mean"), rel_full=("rel_full", "mean"),
                                   rel_radial=("rel_radial", "mean"), n=("seed", "size")).reset_index()
    g["rel_theorem_beta"] = [theorem_rate(eps, beta, int(N), int(L), K, sigma_w2) for N, L in zip(g["N"], g["L"])]
    g["exact / radial"] = g["rel_full"] / g["rel_radial"]
    return df, g


def radial_identity_error(df: pd.DataFrame) -> float:
    """max |rel_radial / rel_identity - 1| over the networks of :func:`summarise_slopes`'s first result."""
    return float(np.max(np.abs(df["rel_radial"] / df["rel_identity"] - 1)))


def slope_profiles(table: pd.DataFrame, N: int, L: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by_depth, by_width): the rows of the slope table at width N sorted by L, and at depth L sorted by N."""
    return (table[table["N"] == N].sort_values("L"), table[table["L"] == L].sort_values("N"))


def decay_trend(table: pd.DataFrame, x: str, column: str) -> dict:
    """How the decay rate -``column`` changes along ``x`` in ``table`` (sorted by x): ``increasing`` and
    ``decreasing`` (strictly, at every step) and ``text``, "x=value: column value" for every row."""
    steps = np.diff(-table[column].to_numpy())
    return {"increasing": bool(np.all(steps > 0)), "decreasing": bool(np.all(steps < 0)),
            "text": ", ".join(f"{x}={v}: {r:.3g}" for v, r in zip(table[x], table[column]))}


def decay_exponent(table: pd.DataFrame, x: str, column: str) -> float:
    """The log-log slope of the decay rate -``column`` against ``x`` (e.g. -1 for a rate proportional to 1/N)."""
    return stats.loglog_slope(table[x], -table[column])


def curve_runs(X, y, X_fr, config: TrainConfig, settings, *, grid, K: int, offset: int, device="cpu") -> dict:
    """:func:`capacity_run` with ``config`` (adv_only) for every (N, L) of ``grid`` (seed offset ``offset + i``),
    and standard training at (settings.N, settings.L) from the same initial network as its adv_only run
    (:func:`curve_plan`). Keys: (objective, N, L)."""
    return {(r["objective"], r["N"], r["L"]): planned_run(X, y, X_fr, r, config, settings, K=K, device=device)
            for r in curve_plan(settings, grid, offset)}


def curve_plan(settings, grid, offset: int) -> list[dict]:
    """The runs of :func:`curve_runs`, ``{"objective", "N", "L", "offset"}``: adv_only at the i-th (N, L) of
    ``grid`` from seed offset ``offset + i``, then standard at (settings.N, settings.L) from its adv_only start."""
    S = settings
    plan = [{"objective": "adv_only", "N": N, "L": L, "offset": offset + i} for i, (N, L) in enumerate(grid)]
    return plan + [{"objective": "standard", "N": S.N, "L": S.L, "offset": offset + grid.index((S.N, S.L))}]


def planned_run(X, y, X_fr, run: dict, config: TrainConfig, settings, *, K: int, X_eval=None, y_eval=None,
                device="cpu") -> dict:
    """:func:`capacity_run` of one planned run ``{"objective", "N", "L", "offset"}``: a vanilla network
    (``settings.vanilla_sigma_w2``) from seed offset ``offset``, trained with ``config`` under ``objective``."""
    return capacity_run(X, y, X_fr, N=run["N"], L=run["L"], K=K, sigma_w2=settings.vanilla_sigma_w2,
                        config=dataclasses.replace(config, objective=run["objective"]), X_eval=X_eval,
                        y_eval=y_eval, generator=_generator(settings.seed, run["offset"], device), device=device)


def measured_rate(run: dict, N: int, L: int, slope_steps: int, sigma_w2) -> float:
    """Theorem 5.8's relative rate with the measured E[L_adv] (mean of the first ``slope_steps`` batch values)
    in place of eps beta: :func:`mfat.theory.fisher_rao_radial_slope` at the variances ``sigma_w2``."""
    return theory.fisher_rao_radial_slope(1.0, float(np.mean(run["L_adv"][:slope_steps])), N, L, sigma_w2)


def window_summary(run: dict, N: int, L: int, slope_steps: int) -> dict:
    """Secant of the mean-field norm over the first ``slope_steps`` updates of a :func:`capacity_run` against
    the theorem with the measured L_adv of those updates and the run's initial per-layer variances.

    Returns N, L, ``t_window``, ``mean L_adv``, the measured and predicted relative slopes of the mean-field
    norm, their ratio, and the secant of the exact norm over the same window.
    """
    step = run["step"]
    i_w = int(np.flatnonzero(step == slope_steps)[0])
    t_w = run["t"][i_w]
    mean_L_adv = float(np.mean(run["L_adv"][:i_w]))            # the batch values of the w updates
    sig0 = [run[f"sigma_w2_{k + 1}"][0] for k in range(L)]
    measured = (run["fr_mf"][i_w] / run["fr_mf"][0] - 1.0) / t_w
    predicted = theory.fisher_rao_radial_slope(1.0, mean_L_adv, N, L, sig0)
    exact = (run["fr"][i_w] / run["fr"][0] - 1.0) / t_w
    return {"N": N, "L": L, "t_window": t_w, "mean L_adv": mean_L_adv, "mean-field: measured": measured,
            "mean-field: predicted": predicted, "ratio": measured / predicted, "exact FR (secant)": exact}


def window_table(curves: dict, slope_steps: int) -> pd.DataFrame:
    """:func:`window_summary` of every adv_only run of :func:`curve_runs`, one row each."""
    return pd.DataFrame([window_summary(r, N, L, slope_steps) for (obj, N, L), r in curves.items()
                         if obj == "adv_only"])


def accuracy_runs(X, y, X_fr, X_eval, y_eval, config: TrainConfig, settings, *, K: int, offset: int,
                  device="cpu") -> dict:
    """:func:`capacity_run` of the main line ("adversarial") and of standard training at every width of
    ``acc_widths`` (depth L), both from the network of seed offset ``offset + i`` (:func:`accuracy_plan`), with
    clean and robust accuracy on (X_eval, y_eval). ``config`` carries the runs' steps, learning rate, budget and
    recording. Keys: (objective, N)."""
    return {(r["objective"], r["N"]): planned_run(X, y, X_fr, r, config, settings, K=K, X_eval=X_eval,
                                                  y_eval=y_eval, device=device)
            for r in accuracy_plan(settings, offset)}


def accuracy_plan(settings, offset: int) -> list[dict]:
    """The runs of :func:`accuracy_runs`, ``{"objective", "N", "L", "offset"}``: at the i-th width of
    ``acc_widths``, adversarial then standard training from seed offset ``offset + i``."""
    return [{"objective": obj, "N": N, "L": settings.L, "offset": offset + i}
            for i, N in enumerate(settings.acc_widths) for obj in ("adversarial", "standard")]


def accuracy_table(acc: dict) -> pd.DataFrame:
    """One row per run of :func:`accuracy_runs`: FR at the end and at its lowest (relative to FR(0)), and the
    clean and robust accuracy at the end."""
    return pd.DataFrame([{"objective": obj, "N": N, "FR(T)/FR(0)": r["fr"][-1] / r["fr"][0],
                          "min FR(t)/FR(0)": r["fr"].min() / r["fr"][0],
                          "clean acc (T)": r["clean_acc"][-1], "robust acc (T)": r["robust_acc"][-1]}
                         for (obj, N), r in acc.items()])


def final_capacity(table: pd.DataFrame) -> dict:
    """{N: (adversarial FR(T)/FR(0), standard FR(T)/FR(0))} from :func:`accuracy_table`, in the runs' order."""
    out = {}
    for N in dict.fromkeys(table["N"]):
        a = table[(table["objective"] == "adversarial") & (table["N"] == N)].iloc[0]
        s_ = table[(table["objective"] == "standard") & (table["N"] == N)].iloc[0]
        out[N] = (a["FR(T)/FR(0)"], s_["FR(T)/FR(0)"])
    return out


def accuracy_summary(table: pd.DataFrame) -> dict:
    """The numbers the text quotes from :func:`accuracy_table`, at the smallest and the largest width:
    ``acc_N_*``, the lowest relative norm of adversarial training ``acc_min``, its final relative norm
    ``acc_fr_*``, standard / adversarial final norm ``acc_gap_*``, and final clean and robust accuracies."""
    adv = table[table["objective"] == "adversarial"].set_index("N")
    std = table[table["objective"] == "standard"].set_index("N")
    fr = "FR(T)/FR(0)"
    return {"acc_N_small": int(adv.index[0]), "acc_N_large": int(adv.index[-1]),
            "acc_min": float(adv["min FR(t)/FR(0)"].min()),
            "acc_fr_small": float(adv[fr].iloc[0]), "acc_fr_large": float(adv[fr].iloc[-1]),
            "acc_gap_small": float(std[fr].iloc[0] / adv[fr].iloc[0]),
            "acc_gap_large": float(std[fr].iloc[-1] / adv[fr].iloc[-1]),
            "clean_adv_small": float(adv["clean acc (T)"].iloc[0]),
            "clean_adv_large": float(adv["clean acc (T)"].iloc[-1]),
            "clean_std_large": float(std["clean acc (T)"].iloc[-1]),
            "robust_adv_large": float(adv["robust acc (T)"].iloc[-1]),
            "robust_std_large": float(std["robust acc (T)"].iloc[-1])}


def fashion_measurement(X, y, X_fr, slope_config: TrainConfig, curve_config: TrainConfig, settings, *, grid,
                        K: int, device="cpu") -> dict:
    """The Fashion-MNIST version: ``slopes``, :func:`slope_sweep` over ``grid`` (seed offsets from 5000), and
    ``run``, one adv_only :func:`capacity_run` at (settings.N, settings.L) with ``curve_config`` (offset 6000)."""
    slopes = slope_sweep(X, y, X_fr, slope_config, settings, grid=grid, K=K, offset=5000, device=device)
    run = planned_run(X, y, X_fr, FASHION_RUN | {"N": settings.N, "L": settings.L}, curve_config, settings, K=K,
                      device=device)
    return {"slopes": slopes, "run": run}


#: the training curve of :func:`fashion_measurement` (at the settings' N and L)
FASHION_RUN = {"objective": "adv_only", "offset": 6000}


# --- the training measurements as units (mfat.runtime.Units): one per run or slope setting --------------------

def chapter_data(settings, dataset: str, device="cpu") -> tuple:
    """The chapter's images of ``dataset`` (pixels in [0, 1]): the first ``n_train`` training images and labels,
    and the first max(``fr_batch``, ``eval_size``) test images and labels; (X, y, X_test, y_test)."""
    X, y = load(dataset, "train", n=settings.n_train, scaling="unit", device=device)
    X_test, y_test = load(dataset, "test", n=max(settings.fr_batch, settings.eval_size), scaling="unit",
                          device=device)
    return X, y, X_test, y_test


def capacity_unit(settings, configs: dict, unit: dict, *, K: int, device="cpu") -> dict:
    """One unit on data set ``unit["dataset"]`` (:func:`chapter_data`; FR on the first ``fr_batch`` test images):
    kind "slopes", :func:`slope_point` at (N, L) from ``offset`` with ``configs["slopes"]``; kind "curves" or
    "accuracy", :func:`planned_run` with ``configs[kind]`` (accuracy: evaluated on the first ``eval_size`` test
    images)."""
    X, y, X_test, y_test = chapter_data(settings, unit["dataset"], device)
    X_fr = X_test[:settings.fr_batch]
    if unit["kind"] == "slopes":
        return slope_point(X, y, X_fr, configs["slopes"], settings, N=unit["N"], L=unit["L"], K=K,
                           offset=unit["offset"], device=device)
    evaluated = unit["kind"] == "accuracy"
    return planned_run(X, y, X_fr, unit, configs[unit["kind"]], settings, K=K, device=device,
                       X_eval=X_test[:settings.eval_size] if evaluated else None,
                       y_eval=y_test[:settings.eval_size] if evaluated else None)


def _units(settings, configs: dict, units: list, combine, *, K: int, device) -> Units:
    return Units(units, functools.partial(capacity_unit, settings, configs, K=K, device=device),
                 functools.partial(combine, units))


def _slope_units(dataset: str, grid, offset: int) -> list[dict]:
    return [{"kind": "slopes", "dataset": dataset, "N": N, "L": L, "offset": offset + 100 * i}
            for i, (N, L) in enumerate(grid)]


def slope_units(settings, config: TrainConfig, dataset: str, *, grid, K: int, offset: int, device="cpu") -> Units:
    """:func:`slope_sweep` on ``dataset`` as units, one per (N, L) of ``grid``; combined bit for bit the same."""
    return _units(settings, {"slopes": config}, _slope_units(dataset, grid, offset),
                  lambda units, outs: slope_frame(outs), K=K, device=device)


def _keyed_runs(fields: tuple, units: list, outs: list) -> dict:
    return {tuple(u[f] for f in fields): out for u, out in zip(units, outs)}


def curve_units(settings, config: TrainConfig, dataset: str, *, grid, K: int, offset: int, device="cpu") -> Units:
    """:func:`curve_runs` on ``dataset`` as units, one per run of :func:`curve_plan`; combined bit for bit the
    same."""
    units = [{"kind": "curves", "dataset": dataset, **r} for r in curve_plan(settings, grid, offset)]
    return _units(settings, {"curves": config}, units, functools.partial(_keyed_runs, ("objective", "N", "L")),
                  K=K, device=device)


def accuracy_units(settings, config: TrainConfig, dataset: str, *, K: int, offset: int, device="cpu") -> Units:
    """:func:`accuracy_runs` on ``dataset`` (evaluated on its test images) as units, one per run of
    :func:`accuracy_plan`; combined bit for bit the same."""
    units = [{"kind": "accuracy", "dataset": dataset, **r} for r in accuracy_plan(settings, offset)]
    return _units(settings, {"accuracy": config}, units, functools.partial(_keyed_runs, ("objective", "N")),
                  K=K, device=device)


def _fashion_combine(units: list, outs: list) -> dict:
    return {"slopes": slope_frame(outs[:-1]), "run": outs[-1]}


def fashion_units(settings, slope_config: TrainConfig, curve_config: TrainConfig, *, grid, K: int,
                  device="cpu") -> Units:
    """:func:`fashion_measurement` on Fashion-MNIST as units: one per slope setting of ``grid``, then the run."""
    run = {"kind": "curves", "dataset": "fashion-mnist", **FASHION_RUN, "N": settings.N, "L": settings.L}
    return _units(settings, {"slopes": slope_config, "curves": curve_config},
                  _slope_units("fashion-mnist", grid, 5000) + [run], _fashion_combine, K=K, device=device)
