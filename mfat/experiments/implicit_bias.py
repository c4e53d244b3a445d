"""Chapter 7: the data sets and training runs behind "the implicit bias of adversarial training".

- :func:`separable_data`, :func:`discriminating_data`, :func:`sign_product_data`, :func:`mnist_pair`: inputs
  (n, d) float64 and labels (n,) in {-1, +1}.
- :func:`deep_linear_runs`: several (eps, threat model) configurations x seeds of deep linear networks, trained
  together (one batch), with the cosines to given target directions.
- :func:`two_layer_runs`: bias-free two-layer ReLU networks trained with each attack in turn.
- The analyses behind the chapter's claims: :func:`margin_targets` (the l2 SVM and l_inf-robust directions of
  E1 and E2), :func:`e1_configs`, :func:`e2_configs` and :func:`attack_list` (the training configurations),
  :func:`below_margin` and :func:`beyond_margin`, :func:`layer_bounds` and :func:`layer_bound_excess` (rank one
  and alignment against the bounds from the conserved D_l), :func:`margin_trajectory` (eventual monotonicity of
  the normalised adversarial margin and the KKT residual of one ReLU run), :func:`angle_degrees`.

Every random draw comes from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mfat import theory
from mfat.data import load
from mfat.companions import margins
from mfat.companions.homogeneous import DeepLinear, TwoLayerReLU, train_deep_linear, train_two_layer
from mfat.validation import check_int, check_real

__all__ = ["separable_data", "discriminating_data", "sign_product_data", "mnist_pair", "deep_linear_runs",
           "two_layer_runs", "margin_targets", "e1_configs", "e2_configs", "attack_list", "below_margin",
           "beyond_margin", "layer_bounds", "layer_bound_excess", "margin_trajectory", "angle_degrees"]


def separable_data(n: int, d: int, margin: float, *, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, I_d), y = sign(u.x) for a random unit u, then x <- x + margin y u (so the data are separable
    through the origin with l2 margin >= margin). Returns X (n, d), y (n,)."""
    n, d = check_int("n", n, min_value=2), check_int("d", d, min_value=1)
    margin = check_real("margin", margin, min_value=0.0, min_inclusive=False)
    u = torch.randn(d, generator=generator, dtype=torch.float64, device=generator.device)
    u = u / u.norm()
    X = torch.randn(n, d, generator=generator, dtype=torch.float64, device=generator.device)
    y = torch.where(X @ u >= 0, 1.0, -1.0).to(torch.float64)
    X = X + margin * y[:, None] * u
    return X.cpu().numpy(), y.cpu().numpy()


def discriminating_data(n_per_class: int, center=(2.0, 1.0), spread: float = 0.2, *,
                        generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clusters, c + spread N(0, I) (y = +1) and -c + spread N(0, I) (y = -1), drawn independently:
    data whose l2 max-margin and l_inf-robust max-margin directions differ (c = (2, 1) is not on an axis, and the
    l1 cost of the l_inf worst case pulls the robust direction towards the larger coordinate axis)."""
    k = check_int("n_per_class", n_per_class, min_value=1)
    spread = check_real("spread", spread, min_value=0.0)
    c = torch.as_tensor(center, dtype=torch.float64, device=generator.device)
    if c.ndim != 1 or c.numel() < 1:
        raise ValueError(f"parameter 'center' = {center!r} is out of range: allowed a vector of reals")
    d = c.numel()
    pos = c + spread * torch.randn(k, d, generator=generator, dtype=torch.float64, device=generator.device)
    neg = -c + spread * torch.randn(k, d, generator=generator, dtype=torch.float64, device=generator.device)
    X = torch.cat([pos, neg]).cpu().numpy()
    return X, np.concatenate([np.ones(k), -np.ones(k)])


def sign_product_data(n: int, d: int, min_margin: float = 0.05, *,
                      generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An XOR-like set no linear classifier separates: x uniform on the sphere of radius sqrt(d), y = sign(x_1 x_2),
    keeping only points with |x_1 x_2| / ||x||^2 >= min_margin (rejection sampling). A bias-free ReLU network
    separates it: |x_1 + x_2| - |x_1 - x_2| = sum of four ReLUs has the sign of x_1 x_2."""
    n, d = check_int("n", n, min_value=1), check_int("d", d, min_value=2)
    min_margin = check_real("min_margin", min_margin, min_value=0.0, max_value=0.5, max_inclusive=False)
    kept = []
    count = 0
    while count < n:
        Z = torch.randn(4 * n, d, generator=generator, dtype=torch.float64, device=generator.device)
        Z = Z / Z.norm(dim=1, keepdim=True)
        Z = Z[(Z[:, 0] * Z[:, 1]).abs() >= min_margin]
        kept.append(Z)
        count += Z.shape[0]
    X = torch.cat(kept)[:n] * math.sqrt(d)
    y = torch.sign(X[:, 0] * X[:, 1])
    return X.cpu().numpy(), y.cpu().numpy()


def mnist_pair(n: int, classes=(0, 1), scaling: str = "unit") -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images of ``classes`` (flattened, (n, 784), float64) with y = -1 for the first
    class and +1 for the second (:func:`mfat.data.load`)."""
    X, y = load("mnist", "train", classes=tuple(classes), n=n, scaling=scaling, dtype=torch.float64)
    return X.numpy(), (2.0 * y.numpy() - 1.0)


def deep_linear_runs(X, y, configs: list[dict], *, seeds: int, widths, init_std: float, steps: int, lr: float,
                     schedule: str, norm_power: float | None = None, loss: str = "exp", n_log: int = 60,
                     targets: dict | None = None, generator: torch.Generator, device="cpu") -> dict:
    """Train ``len(configs) x seeds`` deep linear networks in one batch.

    configs: list of {"name": str, "eps": float, "linf": bool}. Returns the arrays of
    :func:`mfat.companions.homogeneous.train_deep_linear` with the run axis reshaped to (config, seed): e.g. ``cos_<t>``
    (T, C, S), ``sigma1`` (T, C, S, L); plus ``names`` (C,) and ``eps`` (C,).
    """
    seeds = check_int("seeds", seeds, min_value=1)
    C = len(configs)
    if C == 0:
        raise ValueError("parameter 'configs' is empty: allowed a non-empty list of configurations")
    eps = np.repeat([float(c["eps"]) for c in configs], seeds)
    linf = np.repeat([bool(c.get("linf", False)) for c in configs], seeds)
    net = DeepLinear(X.shape[1], tuple(widths), runs=C * seeds, init_std=init_std, generator=generator,
                     device=device)
    out = train_deep_linear(net, torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(eps),
                            torch.as_tensor(linf), steps=steps, lr=lr, schedule=schedule, loss=loss,
                            norm_power=norm_power, n_log=n_log, targets=targets)
    res = {"step": out.pop("step"), "names": [c["name"] for c in configs],
           "eps": np.array([float(c["eps"]) for c in configs])}
    for k, v in out.items():
        res[k] = v.reshape(v.shape[0], C, seeds, *v.shape[2:])
    return res


def two_layer_runs(X, y, attacks: list[dict], *, m: int, init_scale: float, steps: int, lr: float,
                   lr_fit: float, norm_power: float, pgd_steps: int, n_log: int, loss: str = "exp",
                   dtype: torch.dtype = torch.float64, generator: torch.Generator, device="cpu") -> dict:
    """Train one bias-free two-layer ReLU network per entry of ``attacks`` ({"name", "attack", "eps"}), all from
    the same initialisation; returns {name: the arrays of :func:`mfat.companions.homogeneous.train_two_layer`}."""
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    yt = torch.as_tensor(y, dtype=dtype, device=device)
    init = TwoLayerReLU(X.shape[1], m, init_scale, generator=generator, dtype=dtype, device=device)
    out = {}
    for cfg in attacks:
        model = init.clone()
        out[cfg["name"]] = train_two_layer(model, Xt, yt, attack=cfg["attack"], eps=float(cfg["eps"]), steps=steps,
                                           lr=lr, lr_fit=lr_fit, norm_power=norm_power, pgd_steps=pgd_steps,
                                           loss=loss, n_log=n_log)
    return out


# ----------------------------------------------------------------------------- the chapter's analyses
def margin_targets(X1, y1, X2, y2, s) -> dict:
    """The two targets of E1 (X1 (n, d), y1) and E2 (X2, y2): the l2 SVM direction u* and the l_inf-robust one.

    The E1 l_inf budget is ``s.eps_linf_e1`` gamma*, the E2 one ``s.eps_linf_e2`` (absolute). Every target is solved
    by the dual (L-BFGS-B, polished) and by the primal QP (SLSQP, not polished), so that the two can be compared.
    Returns ``gamma1`` (gamma* of E1), ``eps_linf1``, ``u_svm1``, ``u_rob1`` (d,), ``svm2``, ``rob2`` (the dual
    :class:`mfat.companions.margins.MarginSolution` of E2), ``gamma2``, the cosines ``cos_targets1``,
    ``cos_targets2`` between the two targets, and ``solutions`` {name: (dual, primal)} of all four.
    """
    svm1 = margins.max_margin(X1, y1)
    gamma1 = svm1.margin
    eps_linf1 = s.eps_linf_e1 * gamma1
    rob1_name, rob2_name = f"E1 l_inf robust (eps={eps_linf1:.3f})", f"E2 l_inf robust (eps={s.eps_linf_e2:g})"
    problems = {"E1 l2 SVM": (X1, y1, 0.0, 2), rob1_name: (X1, y1, eps_linf1, "inf"),
                "E2 l2 SVM": (X2, y2, 0.0, 2), rob2_name: (X2, y2, s.eps_linf_e2, "inf")}
    solutions = {name: (margins.max_margin(X, y, eps, p, method="dual"),
                        margins.max_margin(X, y, eps, p, method="primal", polish=False))
                 for name, (X, y, eps, p) in problems.items()}
    u_rob1 = solutions[rob1_name][0].direction
    svm2, rob2 = solutions["E2 l2 SVM"][0], solutions[rob2_name][0]
    return {"gamma1": gamma1, "eps_linf1": eps_linf1, "u_svm1": svm1.direction, "u_rob1": u_rob1,
            "svm2": svm2, "rob2": rob2, "gamma2": svm2.margin, "cos_targets2": float(svm2.direction @ rob2.direction),
            "cos_targets1": float(svm1.direction @ u_rob1), "solutions": solutions}


def e1_configs(s, gamma1: float, eps_linf1: float) -> list[dict]:
    """The deep linear runs on E1: standard training, l2 budgets ``s.eps_below`` and ``s.eps_beyond`` (units of the
    margin gamma1), and l_inf (FGSM) at ``eps_linf1``. Each is {"name", "eps", "linf"}."""
    return ([{"name": "standard", "eps": 0.0, "linf": False}]
            + [{"name": f"l2, eps={f:g} gamma*", "eps": f * gamma1, "linf": False} for f in s.eps_below]
            + [{"name": f"l2, eps={f:g} gamma*", "eps": f * gamma1, "linf": False} for f in s.eps_beyond]
            + [{"name": f"l_inf, eps={s.eps_linf_e1:g} gamma*", "eps": eps_linf1, "linf": True}])


def e2_configs(s, gamma2: float) -> list[dict]:
    """The deep linear runs on E2: standard, l2 and l_inf (FGSM) training, both at the budget ``s.eps_linf_e2``, which
    must lie below the margin gamma2 (else no direction has a positive adversarial margin)."""
    if s.eps_linf_e2 >= gamma2:
        raise ValueError(f"parameter 'eps_linf_e2' = {s.eps_linf_e2} is out of range: allowed < gamma* = {gamma2:.4f}")
    return [{"name": "standard", "eps": 0.0, "linf": False},
            {"name": f"l2 (FGM/PGD), eps={s.eps_linf_e2:g}", "eps": s.eps_linf_e2, "linf": False},
            {"name": f"l_inf (FGSM), eps={s.eps_linf_e2:g}", "eps": s.eps_linf_e2, "linf": True}]


def attack_list(s, eps_l2: float, eps_linf: float) -> list[dict]:
    """The trainings of the ReLU networks: none, FGM (l2), FGSM (l_inf) and PGD (l2, ``s.pgd_steps`` steps)."""
    return [{"name": "standard", "attack": "none", "eps": 0.0},
            {"name": "FGM (l2)", "attack": "fgm", "eps": eps_l2},
            {"name": "FGSM (l_inf)", "attack": "fgsm", "eps": eps_linf},
            {"name": f"PGD (l2, {s.pgd_steps} steps)", "attack": "pgd", "eps": eps_l2}]


def below_margin(configs: list[dict], gamma: float) -> list[int]:
    """Indices of the l2 configurations with a budget below the margin gamma (where the bias towards u* holds)."""
    return [i for i, c in enumerate(configs) if c["name"].startswith("l2") and c["eps"] < gamma]


def beyond_margin(configs: list[dict], gamma: float) -> list[int]:
    """Indices of the l2 configurations with a budget at or beyond the margin gamma (no separable adversarial data)."""
    return [i for i, c in enumerate(configs) if c["name"].startswith("l2") and c["eps"] >= gamma]


def layer_bounds(runs: dict, ci: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds on rank one and alignment of configuration ``ci`` of :func:`deep_linear_runs`, from D_l(0) alone.

    B (T, S, L-1) = ||D_l(0)|| + the accumulated second-order drift: a bound on ||D_l(t)||; the Weyl bound on
    sigma_2(W_l) (T, S, L), sqrt of :func:`mfat.theory.rank_one_bound`; and the Davis-Kahan bound on
    1 - |<u_1(W_l), v_1(W_{l+1})>| (T, S, L-1), :func:`mfat.theory.alignment_bound`.
    """
    bal0 = runs["balance"][0, ci]                                   # (seeds, L-1)
    B = bal0[None] + runs["drift_bound"][:, ci]                     # (T, seeds, L-1)
    s2_bound = np.sqrt(theory.rank_one_bound(B))                    # (T, seeds, L)
    al_bound = theory.alignment_bound(B, runs["sigma1"][:, ci, :, 1:], runs["sigma2"][:, ci, :, 1:])
    return B, s2_bound, al_bound


def layer_bound_excess(runs: dict, configs: list[int]) -> dict:
    """How far the measured layers exceed their bounds at the end of the runs ``configs`` (worst layer, seed, run;
    <= 0 when every bound holds): ``drift``, | ||D_l(T)|| - ||D_l(0)|| | minus the second-order bound; ``s2``,
    sigma_2(W_l) minus its Weyl bound (the last layer, a row, is left out); ``alignment``, 1 - alignment minus the
    Davis-Kahan bound."""
    worst_s2, worst_al, worst_drift = -np.inf, -np.inf, -np.inf
    for ci in configs:
        B, s2b, alb = layer_bounds(runs, ci)
        worst_s2 = max(worst_s2, float(np.max(runs["sigma2"][-1, ci, :, :-1] - s2b[-1, :, :-1])))
        worst_al = max(worst_al, float(np.max((1 - runs["alignment"][-1, ci]) - alb[-1])))
        worst_drift = max(worst_drift, float(np.max(np.abs(runs["balance"][-1, ci] - runs["balance"][0, ci])
                                                    - runs["drift_bound"][-1, ci])))
    return {"drift": worst_drift, "s2": worst_s2, "alignment": worst_al}


def margin_trajectory(out: dict, n: int, steps: int) -> dict:
    """The margin claims of one ReLU run (``out``: one entry of :func:`two_layer_runs`) on n examples of ``steps``.

    From t0 (the first recorded step with training loss < ell(0)/n) on: ``gamma`` (the normalised adversarial
    margin min_i q_i / ||theta||^2), ``smoothed``, ``kkt``; ``slack`` = min over recorded t0 <= t1 < t2 of
    gamma(t2) - gamma(t1) + log(n) / ||theta(t1)||^2 (>= 0: eventually non-decreasing, Lyu & Li's allowance); and
    the row of the chapter's table (decreases of the smoothed margin, of gamma in the second half, ...).
    """
    t0 = out["t0"]
    a = out["step"] >= t0
    g, rho, kkt = out["normalized_margin"][a], out["rho"][a], out["kkt"][a]
    allow = theory.margin_gap_bound(n, rho, 2)
    slack = min(float(g[j] - g[i] + allow[i]) for i in range(len(g)) for j in range(i + 1, len(g)))
    sm = out["smoothed_margin"][a]
    late = out["step"][a] >= steps / 2
    row = {"t0": t0, "gamma(t0)": g[0], "gamma(T)": g[-1], "recorded steps": len(sm),
           "smoothed-margin decreases": int((np.diff(sm) < 0).sum()),
           "gamma decreases, 2nd half": int((np.diff(g[late]) < 0).sum()),
           "KKT r(t0)": kkt[0], "KKT r(T)": kkt[-1], "clean accuracy": out["clean_acc"][-1]}
    return {"t0": t0, "gamma": g, "kkt": kkt, "slack": slack, "row": row}


def angle_degrees(u) -> np.ndarray:
    """The angle (degrees) of the first two coordinates of u (..., >= 2) in the plane."""
    u = np.asarray(u)
    return np.degrees(np.arctan2(u[..., 1], u[..., 0]))
