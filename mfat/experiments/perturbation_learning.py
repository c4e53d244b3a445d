"""Chapter 6 measurements: perturbation learning with wide two-layer networks
(Kumano, Kera, Yamasaki, NeurIPS 2024).

- :func:`make_data`: the four data sets of the paper (Gaussian with random labels, shifted Gaussian,
  MNIST 1 vs 2, Fashion-MNIST T-shirt vs ankle boot) with their evaluation inputs.
- :func:`perturbation_learning`: train f, craft one perturbation per sample toward a random target,
  train a fresh g on the perturbations (scenario a) or the perturbed inputs (b), evaluate. Many
  variants (scenario, eps, T_f) and checkpoints (T_g) share one batched run over seeds.
- :func:`sweep_block`: the one-factor-at-a-time sweeps of one data set (d, eps, m, gamma, N, T_f, T_g).
- :func:`alignment`: Theorem A at large width, |cos| between the perturbation and the predicted sum.
- :func:`lazy_dynamics`: f_t - f_0 against the lazy-regime closed form, as the width grows.
- :func:`decision_map`: f, g, f-hat and g-hat on the plane of the two class means.
- The chapter's measurements, each from its settings ``s`` (:class:`mfat.chapter.settings.perturbation_learning.
  PerturbationLearningSettings`): :func:`kernel_measurement`, :func:`lazy_measurement`,
  :func:`alignment_measurement`, :func:`maps_measurement`, :func:`sweeps_measurement`; and the analyses behind its
  claims: :func:`kernel_errors`, :func:`flip_slopes`, :func:`default_row`, :func:`default_summary`,
  :func:`failure_points`.

Time is gradient-flow time: a run of ``steps`` plain gradient-descent steps to time T uses lr = T / steps
(``optimizer="momentum"``: lr = T (1 - 0.9) / steps, the heavy-ball effective rate). Every random draw
comes from the explicit generators; results are tidy tables (dict of equal-length numpy columns).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mfat import data as mdata
from mfat import stats, theory
from mfat.companions.perturbation import (SCENARIOS, abs_cosine, f_hat, g_hat, lazy_change, predicted_direction, random_targets,
                            scale_directions, training_inputs, unit_gradients)
from mfat.companions.two_layer import MOMENTUM, OPTIMIZERS, TwoLayerNets, kernel_monte_carlo, train
from mfat.runtime import Units
from mfat.validation import check_choice, check_int, check_real

__all__ = ["DATASETS", "PLData", "Variant", "make_data", "perturbation_learning", "sweep_block", "curve", "METRICS",
           "alignment", "lazy_dynamics", "decision_map", "IMAGE_SOURCES", "CHAPTER_DATASETS", "DATASET_LABELS",
           "torch_dtype", "kernel_measurement", "kernel_errors", "lazy_measurement", "flip_slopes",
           "alignment_measurement", "alignment_cosines", "maps_measurement", "map_agreements", "sweep_factors",
           "sweeps_measurement", "sweep_runs", "sweep_run", "concat_rows", "sweep_blocks", "sweeps_units",
           "sweep_unit", "default_row", "default_summary", "summary_table", "failure_points", "factors_of",
           "SUMMARY_METRICS"]

DATASETS = ("gauss", "shifted_gauss", "mnist", "fmnist")
#: image data sets: (mfat.data name, (class labelled +1, class labelled -1), pixel mean subtracted)
IMAGE_SOURCES = {"mnist": ("mnist", (1, 2), 0.1307), "fmnist": ("fashion-mnist", (0, 9), 0.2860)}
SWEEP_FACTORS = ("d", "m", "gamma", "N")
#: the per-seed measurements of a perturbation-learning run and the lazy predictions
METRICS = ("standard_acc", "test_acc", "perturbation_acc", "agreement", "g_fit", "cosine", "lazy_perturbation_acc",
           "lazy_agreement")


@dataclass(frozen=True)
class PLData:
    """A data set for perturbation learning.

    ``X`` (S, N, d) (synthetic: one draw per seed) or (N, d) (images: shared); ``y`` (S, N) or (N,) in
    {-1, +1}; ``Z`` and ``yz`` the evaluation inputs and labels (fresh draws, or the test split).
    """

    name: str
    X: torch.Tensor
    y: torch.Tensor
    Z: torch.Tensor
    yz: torch.Tensor

    @property
    def N(self) -> int:
        return self.X.shape[-2]

    @property
    def d(self) -> int:
        return self.X.shape[-1]

    def class_means(self, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Means of the +1 and the -1 training inputs (of one seed's draw), each (d,)."""
        X = self.X[seed] if self.X.ndim == 3 else self.X
        y = self.y[seed] if self.y.ndim == 2 else self.y
        return X[y > 0].mean(0), X[y < 0].mean(0)


def _gaussian(S: int, n: int, d: int, shift: float, random_labels: bool, generator) -> tuple[torch.Tensor, torch.Tensor]:
    if random_labels:
        y = 2.0 * torch.randint(0, 2, (S, n), generator=generator, device=generator.device).double() - 1.0
    else:
        y = torch.cat([torch.ones(n // 2), -torch.ones(n - n // 2)]).double().to(generator.device).expand(S, n)
    X = torch.randn(S, n, d, generator=generator, dtype=torch.float64, device=generator.device)
    return X + shift * y[:, :, None], y.clone()


def make_data(name: str, *, N: int, d: int = 100, n_eval: int = 1000, n_seeds: int = 1, shift: float = 0.3,
              generator: torch.Generator, dtype=torch.float32, device="cpu") -> PLData:
    """One of the paper's four data sets (as in the authors' code).

    - "gauss": x ~ N(0, I_d) with uniformly random labels (memorisation); evaluation: ``n_eval`` fresh draws.
    - "shifted_gauss": N/2 points from N(+shift 1, I_d) labelled +1, the rest from N(-shift 1, I_d) labelled -1.
    - "mnist" (digit 1 -> +1, 2 -> -1) and "fmnist" (T-shirt -> +1, ankle boot -> -1): pixels in [0, 1] minus the
      dataset's pixel mean (no division), d = 784 (``d`` is ignored); the first ``N`` training images of the two
      classes (all of them when ``N`` is 0) and the first ``n_eval`` test images (all when 0).
    Synthetic data are drawn independently for each of the ``n_seeds`` seeds (X is (S, N, d)); images are shared.
    """
    name = check_choice("name", name, DATASETS)
    n_seeds = check_int("n_seeds", n_seeds, min_value=1)
    if name in IMAGE_SOURCES:
        source, classes, mean = IMAGE_SOURCES[name]
        N, n_eval = check_int("N", N, min_value=0), check_int("n_eval", n_eval, min_value=0)

        def split(which, n):
            X, lab = mdata.load(source, which, classes=classes, scaling="unit", dtype=torch.float64)
            X, lab = (X[:n], lab[:n]) if n else (X, lab)
            return (X - mean).to(device=device, dtype=dtype), (1.0 - 2.0 * lab.double()).to(device=device, dtype=dtype)

        X, y = split("train", N)
        Z, yz = split("test", n_eval)
        return PLData(name, X, y, Z, yz)
    N, d = check_int("N", N, min_value=2), check_int("d", d, min_value=1)
    n_eval = check_int("n_eval", n_eval, min_value=2)
    shift = check_real("shift", shift, min_value=0.0)
    random_labels = name == "gauss"
    shift = 0.0 if random_labels else shift
    X, y = _gaussian(n_seeds, N, d, shift, random_labels, generator)
    Z, yz = _gaussian(n_seeds, n_eval, d, shift, random_labels, generator)
    cast = dict(device=device, dtype=dtype)
    return PLData(name, X.to(**cast), y.to(**cast), Z.to(**cast), yz.to(**cast))


@dataclass(frozen=True)
class Variant:
    """One configuration of the second classifier: scenario "a"/"b", perturbation size eps, f's time T_f."""

    scenario: str
    eps: float
    T_f: float


def _lr(T: float, steps: int, optimizer: str) -> float:
    return T * ((1.0 - MOMENTUM) if optimizer == "momentum" else 1.0) / steps


def _step_of(T: float, lr: float, optimizer: str, steps: int) -> int:
    scale = (1.0 - MOMENTUM) if optimizer == "momentum" else 1.0
    return min(steps, max(1, int(round(T * scale / lr))))


def _acc(out: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Per-network fraction of sign agreements: out (B, n), labels (B, n) or (n,) -> (B,)."""
    return ((out * labels) > 0).double().mean(-1).cpu().numpy()


@torch.no_grad()
def perturbation_learning(data: PLData, *, m: int, gamma: float = 0.0, variants: list[Variant], T_g: float,
                          steps: int, T_g_values=(), n_seeds: int = 1, optimizer: str = "gd", loss: str = "identity",
                          with_cosine: bool = False, generator: torch.Generator, dtype=torch.float32,
                          device="cpu") -> dict:
    """The perturbation-learning pipeline (Definition: perturbation learning), batched over seeds and variants.

    1. S = ``n_seeds`` networks f (width m, slope gamma) trained on D for the largest T_f of ``variants``
       (lr = T_f / steps), with snapshots at every variant's T_f.
    2. One set of target labels y_adv and one fresh initialisation of g per seed, shared by all variants
       (common random numbers, as the authors' fixed seed does).
    3. For each variant: eta_n = eps y_adv_n grad f(x_n)/||grad f(x_n)||, the inputs eta (a) or x + eta (b),
       a copy of g_0 trained on (inputs, y_adv) for T_g (lr = T_g / steps), evaluated at ``T_g_values``.
    Returns columns (one row per seed x variant x T_g): seed, scenario, eps, T_f, T_g, standard_acc (f on D),
    test_acc (f on the evaluation inputs), perturbation_acc (g on the clean D with the true labels),
    agreement (sign f = sign g on the evaluation inputs), g_fit (g on its own training set), cosine (mean |cos|
    between eta_n and the predicted sum v_n, NaN unless ``with_cosine``).
    """
    m = check_int("m", m, min_value=1)
    steps = check_int("steps", steps, min_value=1)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    T_g = check_real("T_g", T_g, min_value=0.0, min_inclusive=False)
    if not variants:
        raise ValueError("parameter 'variants' is empty: allowed a non-empty list of Variant")
    for v in variants:
        check_choice("scenario", v.scenario, SCENARIOS)
        check_real("eps", v.eps, min_value=0.0)
        check_real("T_f", v.T_f, min_value=0.0, min_inclusive=False)
    S = check_int("n_seeds", n_seeds, min_value=1)
    if data.X.ndim == 3 and data.X.shape[0] != S:
        raise ValueError(f"parameter 'n_seeds' = {S}: the synthetic data hold {data.X.shape[0]} draws")
    X, y, Z = data.X.to(device, dtype), data.y.to(device, dtype), data.Z.to(device, dtype)
    N, d = data.N, data.d

    # 1. f, with snapshots at every T_f
    T_f_max = max(v.T_f for v in variants)
    lr_f = _lr(T_f_max, steps, optimizer)
    f_steps = {v.T_f: _step_of(v.T_f, lr_f, optimizer, steps) for v in variants}
    snaps: dict[int, TwoLayerNets] = {}
    f = TwoLayerNets(d, m, gamma, batch=S, generator=generator, dtype=dtype, device=device)
    train(f, X, y, steps=steps, lr=lr_f, loss=loss, optimizer=optimizer, record_at=set(f_steps.values()),
          on_record=lambda s, net: snaps.__setitem__(s, net.clone()))

    # 2. shared target labels and g initialisation
    targets = random_targets(S, N, generator=generator, dtype=dtype, device=device)
    g0 = TwoLayerNets(d, m, gamma, batch=S, generator=generator, dtype=dtype, device=device)

    # 3. the g batch: variant j occupies rows j*S .. j*S + S - 1
    f_info, inputs = {}, []
    for s_f, net in snaps.items():
        U = unit_gradients(net, X)
        cos = np.full(S, np.nan)
        if with_cosine:
            V = predicted_direction(X.double(), y.double(), gamma)
            cos = abs_cosine(U.double(), V).mean(-1).cpu().numpy()
        f_info[s_f] = {"U": U, "f_Z": net(Z), "std": _acc(net(X), y), "test": _acc(net(Z), data.yz.to(device, dtype)),
                       "cos": cos}
    for v in variants:
        U = f_info[f_steps[v.T_f]]["U"]
        inputs.append(training_inputs(X, scale_directions(U, targets, v.eps), v.scenario))
    R = torch.cat(inputs, 0)  # (V S, N, d)
    del inputs
    labels = targets.repeat(len(variants), 1)
    lazy = [], []  # per variant: g_0 + t * lazy_change on D and on the evaluation inputs
    g0_X, g0_Z = g0(X), g0(Z)
    for j in range(len(variants)):
        Rj = R[j * S:(j + 1) * S]
        XX = X if X.ndim == 3 else X.expand(S, *X.shape)
        ZZ = Z if Z.ndim == 3 else Z.expand(S, *Z.shape)
        lazy[0].append(lazy_change(XX, Rj, targets, gamma))
        lazy[1].append(lazy_change(ZZ, Rj, targets, gamma))
    g = TwoLayerNets.from_tensors(g0.W.repeat(len(variants), 1, 1), g0.bias.repeat(len(variants), 1),
                                  g0.a.repeat(len(variants), 1), gamma)
    lr_g = _lr(T_g, steps, optimizer)
    g_steps = sorted({_step_of(t, lr_g, optimizer, steps) for t in (*T_g_values, T_g)})
    scale = (1.0 - MOMENTUM) if optimizer == "momentum" else 1.0
    rows = {k: [] for k in ("seed", "scenario", "eps", "T_f", "T_g", "standard_acc", "test_acc", "perturbation_acc",
                            "agreement", "g_fit", "cosine", "lazy_perturbation_acc", "lazy_agreement")}

    def evaluate(step, net):
        for j, v in enumerate(variants):
            part = net.select(slice(j * S, (j + 1) * S))
            info = f_info[f_steps[v.T_f]]
            t_g = step * lr_g / scale
            cols = {"perturbation_acc": _acc(part(X), y), "agreement": _acc(part(Z), info["f_Z"]),
                    "g_fit": _acc(part(R[j * S:(j + 1) * S]), targets),
                    "lazy_perturbation_acc": _acc(g0_X + t_g * lazy[0][j], y),
                    "lazy_agreement": _acc(g0_Z + t_g * lazy[1][j], info["f_Z"])}
            for s in range(S):
                rows["seed"].append(s)
                rows["scenario"].append(v.scenario)
                rows["eps"].append(v.eps)
                rows["T_f"].append(f_steps[v.T_f] * lr_f / scale)
                rows["T_g"].append(t_g)
                rows["standard_acc"].append(info["std"][s])
                rows["test_acc"].append(info["test"][s])
                rows["cosine"].append(info["cos"][s])
                for k, val in cols.items():
                    rows[k].append(val[s])

    train(g, R, labels, steps=max(g_steps), lr=lr_g, loss=loss, optimizer=optimizer, record_at=g_steps,
          on_record=evaluate)
    return {k: np.asarray(v) for k, v in rows.items()}


def _default_variants(eps_by_scenario: dict, T_f: float) -> list[Variant]:
    return [Variant(s, e, T_f) for s, e in eps_by_scenario.items()]


def sweep_block(name: str, *, d: int, N: int, m: int, gamma: float, eps: dict, T: float, steps: int,
                n_seeds: int, n_eval: int, eps_factors=(), time_fractions=(), factors: dict | None = None,
                shift: float = 0.3, optimizer: str = "gd", loss: str = "identity", seed: int = 0,
                dtype=torch.float32, device="cpu", progress=None) -> dict:
    """All one-factor-at-a-time sweeps of one data set around its defaults.

    ``eps`` maps each scenario ("a", "b") to its default perturbation size; T_f = T_g = ``T`` by default.
    The base run (defaults) carries the eps sweep (``eps_factors`` times the default), the T_f sweep and the
    T_g checkpoints (``time_fractions`` times T) in one batch. ``factors`` maps "d", "m", "gamma", "N" to the
    values of separate runs (d is ignored for images; eps is scaled by sqrt(d / d_default) as the authors do).
    Every run (:func:`sweep_runs`) draws its data and networks from ``torch.Generator(seed + run index)``.
    Returns the rows of every run, with the columns of :func:`perturbation_learning` plus factor, value, d, N, m,
    gamma.
    """
    parts = []
    for index, run in enumerate(sweep_runs(name, d=d, N=N, m=m, gamma=gamma, factors=factors)):
        parts.append(sweep_run(name, run, d=d, eps=eps, T=T, steps=steps, n_seeds=n_seeds, n_eval=n_eval,
                               eps_factors=eps_factors, time_fractions=time_fractions, shift=shift,
                               optimizer=optimizer, loss=loss, seed=seed + index, dtype=dtype, device=device))
        if progress is not None:
            progress(f"{name}: {run['factor']}={run['value']}")
    return concat_rows(parts)


def sweep_runs(name: str, *, d: int, N: int, m: int, gamma: float, factors: dict | None = None) -> list[dict]:
    """The runs of :func:`sweep_block`: ``{"factor", "value", "d", "N", "m", "gamma", "base"}``, the base run
    (factor "default", value None) first, then one per value of each factor of ``factors`` that differs from the
    default (no d for images)."""
    check_choice("name", name, DATASETS)
    factors = dict(factors or {})
    for key in factors:
        check_choice("factors", key, SWEEP_FACTORS)
    base = {"d": d, "N": N, "m": m, "gamma": gamma}
    runs = [{"factor": "default", "value": None, **base, "base": True}]
    for key, values in factors.items():
        if key == "d" and name in IMAGE_SOURCES:
            continue
        runs += [{"factor": key, "value": v, **base, key: v, "base": False} for v in values if v != base[key]]
    return runs


def sweep_run(name: str, run: dict, *, d: int, eps: dict, T: float, steps: int, n_seeds: int, n_eval: int,
              eps_factors=(), time_fractions=(), shift: float = 0.3, optimizer: str = "gd", loss: str = "identity",
              seed: int = 0, dtype=torch.float32, device="cpu") -> dict:
    """One run of :func:`sweep_runs` (its data and networks from ``torch.Generator(seed)``; ``d``: the default
    dimension, by which eps is scaled): its rows, a dict of equal-length numpy columns."""
    eps = {check_choice("scenario", s, SCENARIOS): check_real("eps", e, min_value=0.0) for s, e in eps.items()}
    gen = torch.Generator(device="cpu").manual_seed(seed)
    data = make_data(name, N=run["N"], d=run["d"], n_eval=n_eval, n_seeds=n_seeds, shift=shift, generator=gen,
                     dtype=dtype, device=device)
    scale = math.sqrt(run["d"] / d) if name not in IMAGE_SOURCES else 1.0
    eps_run = {s: e * scale for s, e in eps.items()}
    variants = _default_variants(eps_run, T)
    if run["base"]:
        variants += [Variant(s, e * k, T) for s, e in eps_run.items() for k in eps_factors if k != 1.0]
        variants += [Variant(s, e, T * k) for s, e in eps_run.items() for k in time_fractions if k != 1.0]
    out = perturbation_learning(data, m=int(run["m"]), gamma=float(run["gamma"]), variants=variants, T_g=T,
                                steps=steps, T_g_values=[T * k for k in time_fractions] if run["base"] else (),
                                n_seeds=n_seeds, optimizer=optimizer, loss=loss, with_cosine=True,
                                generator=gen, dtype=dtype, device=device)
    rows = len(out["seed"])
    default_eps = np.isclose(out["eps"], [eps_run[sc] for sc in out["scenario"]])
    extra = {"factor": [run["factor"]] * rows, "value": [np.nan if run["value"] is None else float(run["value"])] * rows,
             "default": default_eps & np.isclose(out["T_f"], T) & np.isclose(out["T_g"], T),
             "default_eps": default_eps, "default_T_f": np.isclose(out["T_f"], T),
             "default_T_g": np.isclose(out["T_g"], T),
             "d": [data.d] * rows, "N": [data.N] * rows, "m": [int(run["m"])] * rows,
             "gamma": [float(run["gamma"])] * rows}
    return {k: np.asarray(list(v)) for k, v in {**out, **extra}.items()}


def concat_rows(parts: list[dict]) -> dict:
    """The rows of several :func:`sweep_run` results, one after another (a dict of numpy columns)."""
    table: dict[str, list] = {}
    for part in parts:
        for k, v in part.items():
            table.setdefault(k, []).extend(list(v))
    return {k: np.asarray(v) for k, v in table.items()}


def curve(table: dict, factor: str, scenario: str):
    """One sweep curve of a :func:`sweep_block` table: mean, sd and count over seeds of every metric against
    ``factor`` ("eps", "T_f", "T_g", "d", "m", "gamma", "N"), all other factors at their defaults.

    Returns a pandas DataFrame indexed by the factor's value, with columns (metric, "mean" / "sd" / "n").
    """
    import pandas as pd

    factor = check_choice("factor", factor, ("eps", "T_f", "T_g", *SWEEP_FACTORS))
    scenario = check_choice("scenario", scenario, SCENARIOS)
    df = pd.DataFrame(table)
    df = df[df["scenario"] == scenario]
    if factor in ("eps", "T_f", "T_g"):
        others = [k for k in ("eps", "T_f", "T_g") if k != factor]
        keep = (df["factor"] == "default") & df[f"default_{others[0]}"] & df[f"default_{others[1]}"]
    else:
        keep = df["factor"].isin(["default", factor]) & df["default"]
    sel = df[keep]
    if sel.empty:
        raise ValueError(f"parameter 'factor' = {factor!r}: the table holds no sweep of it for scenario {scenario!r}")
    out = sel.groupby(factor)[list(METRICS)].agg(["mean", "std", "count"])
    return out.rename(columns={"std": "sd", "count": "n"}, level=1)


@torch.no_grad()
def alignment(data: PLData, *, m: int, gamma: float = 0.0, T_values, lr: float, n_seeds: int,
              generator: torch.Generator, device="cpu") -> dict:
    """Theorem A at width m: mean over n of |cos(eta_n, v_n)|, v_n = sum_k y_k Phi(x_n, x_k) x_k.

    f is trained by plain gradient descent with rate ``lr`` (float64) and probed at the gradient-flow times
    ``T_values`` (rounded to multiples of lr). Also returns the cosine with the full lazy prediction
    grad f_0(x_n) + (T/N) v_n, which includes the initial gradient (the "residual" of Theorem A).
    Returns T (nT,), cosine and cosine_full (S, nT), standard_acc (S, nT).
    """
    m = check_int("m", m, min_value=1)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    S = check_int("n_seeds", n_seeds, min_value=1)
    T_values = [check_real("T_values", t, min_value=0.0, min_inclusive=False) for t in T_values]
    X, y = data.X.to(device, torch.float64), data.y.to(device, torch.float64)
    steps = {t: max(1, int(round(t / lr))) for t in T_values}
    f = TwoLayerNets(data.d, m, gamma, batch=S, generator=generator, dtype=torch.float64, device=device)
    G0 = f.input_gradient(X)
    V = predicted_direction(X, y, gamma)
    rec = {}

    def probe(step, net):
        G = net.input_gradient(X)
        rec[step] = (abs_cosine(G, V).mean(-1), abs_cosine(G, G0 + step * lr / data.N * V).mean(-1),
                     _acc(net(X), y))

    train(f, X, y, steps=max(steps.values()), lr=lr, record_at=set(steps.values()), on_record=probe)
    order = [steps[t] for t in T_values]
    return {"T": np.array([s * lr for s in order]),
            "cosine": np.stack([rec[s][0].cpu().numpy() for s in order], 1),
            "cosine_full": np.stack([rec[s][1].cpu().numpy() for s in order], 1),
            "standard_acc": np.stack([rec[s][2] for s in order], 1)}


@torch.no_grad()
def lazy_dynamics(data: PLData, *, widths, gamma: float = 0.0, T: float, steps: int, n_seeds: int,
                  generator: torch.Generator, device="cpu") -> dict:
    """f_T - f_0 on the evaluation inputs against the lazy closed form (t/N) sum_n y_n Phi(z, x_n)(z.x_n + 1).

    For each width m: S networks trained by plain gradient descent (float64, lr = T / steps). Returns per width
    the relative error ||delta f - prediction|| / ||prediction|| (S,), the fraction of activation patterns
    on the training inputs that flipped during training (S,), and for the largest width the pairs
    (prediction, measured delta f) of seed 0.
    """
    T = check_real("T", T, min_value=0.0, min_inclusive=False)
    steps = check_int("steps", steps, min_value=1)
    S = check_int("n_seeds", n_seeds, min_value=1)
    widths = [check_int("widths", w, min_value=1) for w in widths]
    X, y, Z = (t.to(device, torch.float64) for t in (data.X, data.y, data.Z))
    Xs = X if X.ndim == 3 else X.expand(S, *X.shape)
    Zs = Z if Z.ndim == 3 else Z.expand(S, *Z.shape)
    ys = y if y.ndim == 2 else y.expand(S, *y.shape)
    pred = torch.stack([lazy_change(Zs[s:s + 1], Xs[s:s + 1], ys[s:s + 1], gamma)[0] for s in range(S)]) * T
    out = {"widths": np.array(widths), "rel_error": [], "flipped": []}
    for m in widths:
        f = TwoLayerNets(data.d, m, gamma, batch=S, generator=generator, dtype=torch.float64, device=device)
        f0, pattern0 = f(Z), f.preactivations(X) >= 0
        train(f, X, y, steps=steps, lr=T / steps)
        delta = f(Z) - f0
        out["rel_error"].append(((delta - pred).norm(dim=-1) / pred.norm(dim=-1)).cpu().numpy())
        out["flipped"].append((pattern0 != (f.preactivations(X) >= 0)).double().mean((1, 2)).cpu().numpy())
        last = (pred[0].cpu().numpy(), delta[0].cpu().numpy())
    out["rel_error"], out["flipped"] = np.stack(out["rel_error"]), np.stack(out["flipped"])
    out["scatter_predicted"], out["scatter_measured"] = last
    return out


@torch.no_grad()
def decision_map(data: PLData, *, m: int, gamma: float = 0.0, eps: dict, T: float, steps: int, grid: int = 60,
                 margin: float = 0.15, generator: torch.Generator, dtype=torch.float64, device="cpu") -> dict:
    """f, g (one per scenario), f-hat and g-hat on the plane of the two class means.

    The plane is spanned by the orthonormalised class means (e1 = mean of the +1 inputs, normalised; e2 = the
    mean of the -1 inputs minus its e1 component, normalised) of seed 0's draw; z = s1 e1 + s2 e2 on a
    ``grid`` x ``grid`` mesh covering the projected training inputs (plus ``margin``). Returns s1, s2 (grid,),
    f (grid, grid), and per scenario g_<s>, ghat_<s>, plus fhat, the projected training inputs P (N, 2) with
    labels y, and the agreement of sign f-hat with sign g-hat and of sign f with sign g on the grid.
    """
    grid = check_int("grid", grid, min_value=2)
    X = (data.X[0] if data.X.ndim == 3 else data.X).to(device, dtype)
    y = (data.y[0] if data.y.ndim == 2 else data.y).to(device, dtype)
    mp, mn = (v.to(device, dtype) for v in data.class_means(0))
    e1 = mp / mp.norm()
    e2 = mn - (mn @ e1) * e1
    e2 = e2 / e2.norm()
    P = torch.stack([X @ e1, X @ e2], 1)
    lo, hi = P.min(0).values, P.max(0).values
    pad = margin * (hi - lo)
    s1 = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), grid, dtype=dtype, device=device)
    s2 = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), grid, dtype=dtype, device=device)
    A, B = torch.meshgrid(s1, s2, indexing="xy")  # rows: s2, columns: s1
    G = A.reshape(-1, 1) * e1 + B.reshape(-1, 1) * e2
    scen = sorted(eps)
    f = TwoLayerNets(data.d, m, gamma, batch=1, generator=generator, dtype=dtype, device=device)
    train(f, X, y, steps=steps, lr=T / steps)
    targets = random_targets(1, data.N, generator=generator, dtype=dtype, device=device)
    g0 = TwoLayerNets(data.d, m, gamma, batch=1, generator=generator, dtype=dtype, device=device)
    U = unit_gradients(f, X)[0]
    R = torch.cat([training_inputs(X, scale_directions(U[None], targets, eps[s]), s) for s in scen])
    g = g0.repeat(len(scen))
    train(g, R, targets.expand(len(scen), -1), steps=steps, lr=T / steps)
    shape = (grid, grid)
    out = {"s1": s1.cpu().numpy(), "s2": s2.cpu().numpy(), "P": P.cpu().numpy(), "y": y.cpu().numpy(),
           "f": f(G)[0].reshape(shape).cpu().numpy(), "fhat": f_hat(G, X, y, gamma).reshape(shape).cpu().numpy()}
    gG = g(G)
    for i, s in enumerate(scen):
        out[f"g_{s}"] = gG[i].reshape(shape).cpu().numpy()
        out[f"ghat_{s}"] = g_hat(G, X, y, R[i], gamma).reshape(shape).cpu().numpy()
        out[f"hat_agreement_{s}"] = float((np.sign(out["fhat"]) == np.sign(out[f"ghat_{s}"])).mean())
        out[f"agreement_{s}"] = float((np.sign(out["f"]) == np.sign(out[f"g_{s}"])).mean())
    return out


# ----------------------------------------------------------------------------- the chapter's measurements
#: the data sets in the order of the chapter (their index sets the generators and seeds of the chapter's runs)
CHAPTER_DATASETS = ("shifted_gauss", "gauss", "mnist", "fmnist")
DATASET_LABELS = {"shifted_gauss": "shifted Gauss", "gauss": "Gauss (random labels)", "mnist": "MNIST 1 vs 2",
                  "fmnist": "Fashion-MNIST T-shirt vs boot"}


def torch_dtype(s) -> torch.dtype:
    """The precision of the accuracy experiments: ``s.dtype`` ("float32" or "float64") as a torch dtype."""
    return {"float32": torch.float32, "float64": torch.float64}[check_choice("dtype", s.dtype, ("float32", "float64"))]


def kernel_measurement(s, *, generator: torch.Generator) -> dict:
    """The kernel Phi (eq-phi) in closed form (eq-phi-closed) and by Monte Carlo over ``s.kernel_draws`` hidden units.

    ``s.kernel_pairs`` input pairs (z1, z2) in d = ``s.kernel_d``: random lengths sqrt(d) r with r uniform in
    [0.2, 3], at angles evenly spaced in [0, pi]. Returns ``theta`` (pairs,), the angle arccos rho of the two
    pre-activations (bias included), and per slope gamma of ``s.kernel_gammas`` ``mc_<gamma>`` and
    ``closed_<gamma>`` (pairs,).
    """
    gen = generator
    n, d = s.kernel_pairs, s.kernel_d
    u1 = torch.randn(n, d, generator=gen, dtype=torch.float64, device=gen.device)
    u2 = torch.randn(n, d, generator=gen, dtype=torch.float64, device=gen.device)
    u1 = u1 / u1.norm(dim=1, keepdim=True)
    u2 = u2 - (u2 * u1).sum(1, keepdim=True) * u1
    u2 = u2 / u2.norm(dim=1, keepdim=True)
    ang = torch.linspace(0.0, math.pi, n, dtype=torch.float64, device=gen.device)
    r1 = 0.2 + 2.8 * torch.rand(n, 1, generator=gen, dtype=torch.float64, device=gen.device)
    r2 = 0.2 + 2.8 * torch.rand(n, 1, generator=gen, dtype=torch.float64, device=gen.device)
    Z1 = math.sqrt(d) * r1 * u1
    Z2 = math.sqrt(d) * r2 * (torch.cos(ang)[:, None] * u1 + torch.sin(ang)[:, None] * u2)
    out = {"theta": np.arccos(np.clip(theory.kernel_correlation((Z1 * Z2).sum(1), (Z1**2).sum(1), (Z2**2).sum(1), d)
                                      .cpu().numpy(), -1, 1))}
    for gm in s.kernel_gammas:
        mc = kernel_monte_carlo(Z1, Z2, gm, n_draws=s.kernel_draws, generator=gen)
        out[f"mc_{gm}"] = torch.diagonal(mc).cpu().numpy()
        out[f"closed_{gm}"] = np.diag(theory.phi_kernel(Z1.cpu().numpy(), Z2.cpu().numpy(), gm))
    return out


def kernel_errors(kern: dict, gammas) -> dict:
    """Largest |Monte Carlo - closed form| of Phi over the pairs of :func:`kernel_measurement`, per slope gamma."""
    return {gm: float(np.abs(kern[f"mc_{gm}"] - kern[f"closed_{gm}"]).max()) for gm in gammas}


def lazy_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """:func:`lazy_dynamics` on shifted-Gauss data (``s.lazy_N`` points in d = ``s.lazy_d``, float64) at the widths
    ``s.lazy_widths``, time ``s.lazy_T`` in ``s.lazy_steps`` steps, ``s.n_seeds`` seeds."""
    data = make_data("shifted_gauss", N=s.lazy_N, d=s.lazy_d, n_eval=s.lazy_N, n_seeds=s.n_seeds,
                     shift=s.shift, generator=generator, dtype=torch.float64)
    return lazy_dynamics(data, widths=s.lazy_widths, gamma=s.gamma, T=s.lazy_T, steps=s.lazy_steps,
                         n_seeds=s.n_seeds, generator=generator, device=device)


def flip_slopes(lazy: dict, min_width: int) -> np.ndarray:
    """Per seed, the log-log slope of the flipped-pattern fraction against the width m over the widths >= min_width
    (the small-shift regime, where the pattern argument predicts -1/2). lazy: :func:`lazy_dynamics`; returns (S,)."""
    widths = lazy["widths"].astype(float)
    wide = widths >= min_width
    if wide.sum() < 2:
        raise ValueError(f"parameter 'min_width' = {min_width} is out of range: allowed a value that leaves two "
                         f"widths of {lazy['widths'].tolist()}")
    return np.array([stats.loglog_slope(widths[wide], lazy["flipped"][wide, k]) for k in range(lazy["flipped"].shape[1])])


def alignment_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """Theorem A at width ``s.align_m`` on shifted-Gauss data (float64): ``vs_T``, :func:`alignment` at the times
    ``s.align_T_values`` (d = ``s.lazy_d``), and ``vs_d`` {d: :func:`alignment` at T_f = ``s.align_T_d``} for each
    d of ``s.align_d_values``; every data set draws from ``generator`` in turn."""
    gen = generator
    data = make_data("shifted_gauss", N=s.lazy_N, d=s.lazy_d, n_eval=2, n_seeds=s.n_seeds, shift=s.shift,
                     generator=gen, dtype=torch.float64)
    out = {"vs_T": alignment(data, m=s.align_m, gamma=s.gamma, T_values=s.align_T_values, lr=s.align_lr,
                             n_seeds=s.n_seeds, generator=gen, device=device), "vs_d": {}}
    for d in s.align_d_values:
        data = make_data("shifted_gauss", N=s.lazy_N, d=d, n_eval=2, n_seeds=s.n_seeds, shift=s.shift,
                         generator=gen, dtype=torch.float64)
        out["vs_d"][d] = alignment(data, m=s.align_m, gamma=s.gamma, T_values=(s.align_T_d,), lr=s.align_lr,
                                   n_seeds=s.n_seeds, generator=gen, device=device)
    return out


def alignment_cosines(align: dict, min_T: float) -> dict:
    """The mean over seeds of |cos| from :func:`alignment_measurement`: ``T`` and ``cos_T`` (nT,) against T_f,
    ``big_T`` (nT,) the times >= min_T (enough training), ``d`` and ``cos_d`` against the input dimension."""
    vs_T = align["vs_T"]
    ds = np.array(sorted(align["vs_d"]))
    return {"T": vs_T["T"], "cos_T": vs_T["cosine"].mean(0), "big_T": vs_T["T"] >= min_T, "d": ds,
            "cos_d": np.stack([align["vs_d"][d]["cosine"][:, 0] for d in ds], 1).mean(0)}


def maps_measurement(s, *, generators: Callable[[int], torch.Generator], device="cpu") -> dict:
    """:func:`decision_map` of each data set of :data:`CHAPTER_DATASETS` (the i-th from ``generators(100 + i)``) at
    width ``s.map_m`` on a ``s.map_grid`` grid, one seed, the data set's defaults: {name: the map}."""
    out = {}
    for i, name in enumerate(CHAPTER_DATASETS):
        D = s.defaults(name)
        gen = generators(100 + i)
        data = make_data(name, N=D["N"], d=D["d"], n_eval=2, n_seeds=1, shift=s.shift, generator=gen,
                         dtype=torch.float64)
        out[name] = decision_map(data, m=s.map_m, gamma=s.gamma, eps=D["eps"], T=D["T"], steps=s.steps,
                                 grid=s.map_grid, generator=gen, device=device)
    return out


def map_agreements(dmaps: dict, key: str) -> dict:
    """The grid fraction of each map where the signs agree, {(name, scenario): fraction}; key "hat_agreement"
    (sign f-hat = sign g-hat) or "agreement" (sign f = sign g)."""
    key = check_choice("key", key, ("hat_agreement", "agreement"))
    return {(n, sc): dmaps[n][f"{key}_{sc}"] for n in dmaps for sc in ("a", "b")}


def sweep_factors(name: str, D: dict, s, *, generator: torch.Generator) -> dict:
    """The values of the separate sweeps (d, m, gamma, N; those of ``s.sweep_factors``) of data set ``name`` around
    its defaults ``D`` (:meth:`defaults`), or {} when ``name`` is not in ``s.sweep_datasets``.

    N = 0 in ``D`` ("all images") is replaced in place by the number of images (counted with ``generator``), so that
    the N sweep sees the default; the image N sweep never exceeds that number.
    """
    if name not in s.sweep_datasets:
        return {}
    n_base = D["N"] or len(make_data(name, N=0, n_eval=1, generator=generator).y)
    D["N"] = n_base  # N = 0 means "all images": name the number, so that the N sweep sees the default
    table = {"d": [max(2, int(round(k * D["d"]))) for k in s.d_factors], "m": list(s.m_values),
             "gamma": list(s.gamma_values),
             "N": sorted({max(2, int(round(k * n_base))) for k in s.N_factors
                          if name not in IMAGE_SOURCES or k <= 1.0})}
    return {k: v for k, v in table.items() if k in s.sweep_factors}


def sweeps_measurement(s, *, generator: torch.Generator, device="cpu") -> dict:
    """:func:`sweep_block` of every data set of :data:`CHAPTER_DATASETS` at its defaults (the i-th with seed
    ``s.seed + 1000 (i + 1)``), with the sweeps of :func:`sweep_factors`: {name: table}."""
    return {name: sweep_block(name, d=D["d"], N=D["N"], m=s.m, gamma=s.gamma, factors=factors, seed=seed,
                              **_sweep_arguments(s, D), device=device)
            for name, D, factors, seed in sweep_blocks(s, generator=generator)}


def sweep_blocks(s, *, generator: torch.Generator) -> list[tuple[str, dict, dict, int]]:
    """The blocks of :func:`sweeps_measurement`: ``(name, defaults, factors, seed)`` per data set of
    :data:`CHAPTER_DATASETS` (:meth:`defaults` with N resolved by :func:`sweep_factors`)."""
    out = []
    for i, name in enumerate(CHAPTER_DATASETS):
        D = s.defaults(name)
        out.append((name, D, sweep_factors(name, D, s, generator=generator), s.seed + 1000 * (i + 1)))
    return out


def _sweep_arguments(s, D: dict) -> dict:
    """The arguments of :func:`sweep_run` shared by every run of a data set with defaults ``D``."""
    return {"eps": D["eps"], "T": D["T"], "steps": s.steps, "n_seeds": s.n_seeds, "n_eval": s.n_eval,
            "eps_factors": s.eps_factors, "time_fractions": s.time_fractions, "shift": s.shift,
            "optimizer": s.optimizer, "dtype": torch_dtype(s)}


def sweeps_units(s, *, device="cpu") -> Units:
    """:func:`sweeps_measurement` as units (:class:`mfat.runtime.Units`), one per run of every block: ``{"dataset",
    "seed", **run}`` (:func:`sweep_runs`); the combined tables equal the single call bit for bit. (The generator of
    :func:`sweep_factors` only counts images, so the units need none.)"""
    units = [{"dataset": name, "seed": seed + index, **run}
             for name, D, factors, seed in sweep_blocks(s, generator=torch.Generator())
             for index, run in enumerate(sweep_runs(name, d=D["d"], N=D["N"], m=s.m, gamma=s.gamma,
                                                    factors=factors))]
    return Units(units, functools.partial(sweep_unit, s, device=device), functools.partial(_sweeps_combine, units))


def sweep_unit(s, unit: dict, *, device="cpu") -> dict:
    """One unit of :func:`sweeps_units`: :func:`sweep_run` of its run with its seed."""
    D = s.defaults(unit["dataset"])
    return sweep_run(unit["dataset"], unit, d=D["d"], seed=unit["seed"], **_sweep_arguments(s, D), device=device)


def _sweeps_combine(units: list, outs: list) -> dict:
    names = dict.fromkeys(u["dataset"] for u in units)
    return {name: concat_rows([o for u, o in zip(units, outs) if u["dataset"] == name]) for name in names}


def default_row(table: dict, D: dict, scenario: str, eps_factor: float = 1.0, metric: str = "perturbation_acc",
                T_g: float | None = None) -> np.ndarray:
    """Per-seed values (S,) of ``metric`` in a :func:`sweep_block` ``table`` at the defaults ``D`` of its data set,
    scenario ``scenario``, with eps = ``eps_factor`` times the default and T_g = ``T_g`` (default: D["T"])."""
    import pandas as pd

    df = pd.DataFrame(table)
    sel = df[(df.factor == "default") & (df.scenario == scenario) & df.default_T_f
             & np.isclose(df.eps, D["eps"][scenario] * eps_factor)
             & (np.isclose(df.T_g, D["T"]) if T_g is None else np.isclose(df.T_g, T_g))]
    return sel[metric].to_numpy()


SUMMARY_METRICS = ("standard_acc", "perturbation_acc", "agreement", "lazy_perturbation_acc", "cosine")


def default_summary(tables: dict, s) -> dict:
    """The per-seed metrics at the defaults, {(name, scenario): {metric: (S,)}} for every data set of ``tables``
    (:func:`sweeps_measurement`) and both scenarios; metrics: :data:`SUMMARY_METRICS`."""
    return {(name, sc): {k: default_row(tables[name], s.defaults(name), sc, metric=k) for k in SUMMARY_METRICS}
            for name in tables for sc in ("a", "b")}


def summary_table(summary: dict):
    """:func:`default_summary` as a table of "mean ± sd" strings, one row per (data set, scenario); the cosine is
    shown for scenario (a) only (it describes f's perturbations, shared by both)."""
    import pandas as pd

    rows = [{"data set": DATASET_LABELS[name], "scenario": sc,
             **{k: f"{x.mean():.3f} ± {x.std(ddof=1):.3f}" for k, x in v.items() if k != "cosine" or sc == "a"}}
            for (name, sc), v in summary.items()]
    return pd.DataFrame(rows).fillna("")


def failure_points(tables: dict, s, factors: list) -> dict:
    """Where the theory's conditions fail on the shifted Gauss, scenario (a) unless said: {key: (value, mean, sd)}
    of the perturbation accuracy at the smallest width ("small_m", when ``factors`` holds "m"), the shortest T_g
    ("short_T_g") and the second-smallest eps of scenario (b) ("small_eps_b")."""
    sg = tables["shifted_gauss"]
    acc = ("perturbation_acc", "mean"), ("perturbation_acc", "sd")
    fails = {}
    if "m" in factors:
        small_m = min(s.m_values)
        c = curve(sg, "m", "a")
        fails["small_m"] = (small_m, c.loc[small_m, acc[0]], c.loc[small_m, acc[1]])
    c = curve(sg, "T_g", "a")
    fails["short_T_g"] = (c.index[0], c[acc[0]].iloc[0], c[acc[1]].iloc[0])
    c = curve(sg, "eps", "b")
    fails["small_eps_b"] = (c.index[1], c[acc[0]].iloc[1], c[acc[1]].iloc[1])
    return fails


def factors_of(name: str, s) -> list[str]:
    """The factors swept for data set ``name``: eps, T_f, T_g always; d, m, gamma, N (those of ``s.sweep_factors``)
    for the data sets of ``s.sweep_datasets`` (no d for images)."""
    base = ["eps", "T_f", "T_g"]
    if name in s.sweep_datasets:
        base += [k for k in ("d", "m", "gamma", "N") if k in s.sweep_factors
                 and not (k == "d" and name in IMAGE_SOURCES)]
    return base
