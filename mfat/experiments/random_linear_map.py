"""Chapter 1 measurements: the law of J(x) and a(x) (Theorem 4.1) from the samplers of :mod:`mfat.laws.linear_map`.

Every function takes an explicit ``generator`` (its device is the compute device) and returns a dict of
float64 numpy arrays and numbers (small enough for ``mfat.chapter.results``), including its own wall time, so
that the chapter can report sampler speeds also when replaying stored results.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from mfat import theory
from mfat.model.attacks import Attack, output_deviation, pgd
from mfat.model.linearize import activation_slopes, decompose
from mfat.model.networks import NetworkSpec
from mfat.model.norms import dual_exponent
from mfat.validation import normalise_p
from mfat.laws.linear_map import sample_chain, sample_explicit, sample_units
from mfat.stats import (Z_DEFAULT, batch_standard_error, excess_kurtosis, ks_distance_normal, ks_tolerance,
                     mean_tolerance, variance_ratio_tolerance)
from mfat.validation import check_int, check_real

__all__ = [
    "law_summary",
    "chain_law",
    "units_law",
    "explicit_law",
    "input_independence",
    "adversarial_inputs",
    "width_sweep",
    "depth_sweep",
]


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def law_summary(samples, variance: float, kurtosis: float = 0.0, z: float = Z_DEFAULT) -> dict:
    """How far 1-D ``samples`` are from N(0, variance): variance ratio, KS distance, excess kurtosis.

    ``kurtosis`` is the excess kurtosis of the true law (the finite-width value of
    :func:`mfat.theory.finite_width_moments`), used in the variance-ratio tolerance z sqrt((2 + kappa)/(n - 1)).
    Returns n, ratio, ratio_tol, ks, ks_tol (level 1e-4), kurt, kurt_se (batch standard error), mean, mean_tol.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    n = len(x)
    return {
        "n": n,
        "ratio": float(np.mean(x * x) / variance),  # the mean is 0 exactly: no centring
        "ratio_tol": variance_ratio_tolerance(n, z, max(kurtosis, 0.0)),
        "ks": ks_distance_normal(x, variance),
        "ks_tol": ks_tolerance(n),
        "kurt": excess_kurtosis(x),
        "kurt_se": batch_standard_error(x, excess_kurtosis) if n >= 50 else math.nan,
        "mean": float(x.mean()),
        "mean_tol": mean_tolerance(math.sqrt(variance), n, z),
    }


# ----------------------------------------------------------------------------- the three samplers
def chain_law(spec: NetworkSpec, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11 and a_1 of ``n_samples`` networks by the Gram chain; arrays ``J``, ``a`` (n,), ``seconds``."""
    start = time.perf_counter()
    out = sample_chain(spec, n_samples, generator=generator)
    return {"J": _np(out["J"][:, 0]), "a": _np(out["a"][:, 0]), "seconds": time.perf_counter() - start}


def units_law(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11(x_j), a_1(x_j) for m inputs by the unit-level sampler: arrays (n, m), ``seconds``."""
    start = time.perf_counter()
    out = sample_units(spec, x, n_samples, generator=generator)
    return {"J": _np(out["J"][..., 0]), "a": _np(out["a"][..., 0]), "seconds": time.perf_counter() - start}


def explicit_law(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11(x), a_1(x) of ``n_samples`` explicit networks (``mfat.model.linearize.decompose``): arrays (n,), ``seconds``."""
    start = time.perf_counter()
    out = sample_explicit(spec, n_samples, generator=generator, x=x)
    return {"J": _np(out["J"][:, 0, 0]), "a": _np(out["a"][:, 0, 0]), "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------- input independence
def input_independence(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11 and a_1 at m fixed inputs of the same networks (unit-level sampler), with the mean-field prediction.

    Returns ``J``, ``a`` (n, m), the measured correlation matrices ``corr_J``, ``corr_a`` (m, m), the
    predicted ones ``pred_corr_J``, ``pred_corr_a`` (m, m) from :func:`mfat.theory.linear_map_input_correlation`,
    the input Gram ``x_gram`` = x x^T / d, and ``seconds``.
    """
    out = units_law(spec, x, n_samples, generator=generator)
    xn = _np(torch.as_tensor(x))
    pred = theory.linear_map_input_correlation(xn, spec.L, spec.sigma_w2, spec.sigma_b2, spec.u, spec.v, spec.residual)
    out.update({"corr_J": np.corrcoef(out["J"].T), "corr_a": np.corrcoef(out["a"].T),
                "pred_corr_J": pred["corr_J"][-1], "pred_corr_a": pred["corr_a"][-1],
                "x_gram": xn @ xn.T / spec.d})
    return out


def adversarial_inputs(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, eps: float, p=2, q=2, steps: int = 10,
                       generator: torch.Generator) -> dict:
    """J and a at a clean input x and at x + eta, eta from PGD on ||f(x + eta) - f(x)||_q, ||eta||_p <= eps.

    x: (d,) or (1, d). One fresh explicit network per sample (``sample_explicit``); the attack (``mfat.model.attacks.pgd``
    with :func:`mfat.model.attacks.output_deviation`, random start, ``steps`` steps) depends on that network's
    parameters. Returns arrays over networks: ``J``, ``a``, ``row_ms`` (n, 2) [clean, adversarial];
    ``gain`` (n,) = ||f(x + eta) - f(x)||_q / (eps ||J_1(x)||_{p*}) (1 = the best linear attack within x's
    activation region); ``flipped`` (n,), the fraction of hidden units whose slope differs between x and
    x + eta; ``eta_norm`` (n,); ``seconds``.
    """
    eps = check_real("eps", eps, min_value=0.0, min_inclusive=False)
    steps = check_int("steps", steps, min_value=1)
    x = torch.as_tensor(x).to(device=generator.device, dtype=torch.float64).reshape(1, -1)
    p_norm = normalise_p("p", p)
    pstar = dual_exponent(p_norm)
    extra = {"gain": [], "flipped": [], "eta_norm": []}

    attack = Attack(eps, p, q, steps)

    def inputs(net):
        eta, value = pgd(output_deviation(net, x, attack.q), x, attack, generator=generator)
        xa = x + eta
        with torch.no_grad():
            slopes = [torch.cat(pair) for pair in zip(activation_slopes(net, x), activation_slopes(net, xa))]
            flipped = sum(float((s[0] != s[1]).sum()) for s in slopes) / (spec.N * spec.L)
            J, _ = decompose(net, x)
            linear = eps * float(torch.linalg.vector_norm(J[0], ord=pstar, dim=-1).max())
        extra["gain"].append(float(value[0]) / linear)
        extra["flipped"].append(flipped)
        extra["eta_norm"].append(float(torch.linalg.vector_norm(eta, ord=p_norm)))
        return torch.cat([x, xa])

    start = time.perf_counter()
    out = sample_explicit(spec, n_samples, generator=generator, inputs=inputs)
    res = {"J": _np(out["J"][..., 0]), "a": _np(out["a"][..., 0]), "row_ms": _np(out["row_ms"][..., 0])}
    res.update({key: np.asarray(val) for key, val in extra.items()})
    res["seconds"] = time.perf_counter() - start
    return res


# ----------------------------------------------------------------------------- width and depth
def width_sweep(spec: NetworkSpec, widths, n_samples: int, *, generator: torch.Generator) -> dict:
    """The finite-width law of (J_11, a_1) for each N in ``widths`` (Gram chain), against the exact moments.

    Per width (arrays of len(widths)): measured ``ratio_J``, ``ratio_a`` (variance / Theorem 4.1),
    ``ks_J`` (to the Theorem 4.1 Gaussian), ``kurt_J`` with ``kurt_J_se``, ``corr_Ja``, ``corr_sq``
    (corr(J^2, a^2)) with ``corr_sq_se``; exact predictions ``pred_kurt_J``, ``pred_kurt_a``, ``pred_corr_sq``, and
    ``pred_ks_J`` (first order, :func:`mfat.theory.scale_mixture_ks`).
    """
    widths = [check_int("widths", w, min_value=1) for w in widths]
    vJ = theory.var_J(spec.d, spec.L, spec.sigma_w2, spec.u, spec.v, spec.residual)
    va = theory.var_a(spec.L, spec.sigma_w2, spec.sigma_b2, spec.u, spec.v, spec.residual)
    keys = ("ratio_J", "ratio_a", "ks_J", "kurt_J", "kurt_J_se", "corr_Ja", "corr_sq", "corr_sq_se",
            "pred_kurt_J", "pred_kurt_a", "pred_corr_sq", "pred_ks_J")
    out = {k: np.empty(len(widths)) for k in keys}

    def corr_sq(rows):
        return float(np.corrcoef(rows[:, 0] ** 2, rows[:, 1] ** 2)[0, 1])

    start = time.perf_counter()
    for i, N in enumerate(widths):
        s = NetworkSpec(**{**spec.as_dict(), "N": N})
        draw = sample_chain(s, n_samples, generator=generator)
        J, a = _np(draw["J"][:, 0]), _np(draw["a"][:, 0])
        mom = theory.finite_width_moments(s.d, N, s.L, s.sigma_w2, s.sigma_b2, s.u, s.v, s.residual)
        rows = np.stack([J, a], 1)
        out["ratio_J"][i], out["ratio_a"][i] = np.mean(J * J) / vJ, np.mean(a * a) / va
        out["ks_J"][i] = ks_distance_normal(J, vJ)
        out["kurt_J"][i] = excess_kurtosis(J)
        out["kurt_J_se"][i] = batch_standard_error(J, excess_kurtosis)
        out["corr_Ja"][i] = float(np.corrcoef(J, a)[0, 1])
        out["corr_sq"][i] = corr_sq(rows)
        out["corr_sq_se"][i] = batch_standard_error(rows, corr_sq)
        out["pred_kurt_J"][i], out["pred_corr_sq"][i] = mom["kurt_J"][-1], mom["corr_sq"][-1]
        out["pred_kurt_a"][i] = mom["kurt_a"][-1]
        out["pred_ks_J"][i] = theory.scale_mixture_ks(mom["kurt_J"][-1])
    out["widths"] = np.asarray(widths, dtype=np.float64)
    out["n"] = n_samples
    out["seconds"] = time.perf_counter() - start
    return out


def depth_sweep(spec: NetworkSpec, sigma_w2s, n_samples: int, *, generator: torch.Generator) -> dict:
    """Var J_11 and Var a_1 at every depth 1..spec.L for each sigma_w^2 (Gram chain with ``all_depths``).

    Returns ``var_J``, ``var_a`` (len(sigma_w2s), L) measured (mean of squares: the means are 0 exactly),
    ``pred_var_J``, ``pred_var_a`` (Theorem 4.1), ``kurt_J`` (exact finite-width excess kurtosis, for
    the tolerances), ``sigma_w2``, ``n``, ``seconds``.
    """
    sigma_w2s = [check_real("sigma_w2s", w, min_value=0.0, min_inclusive=False) for w in sigma_w2s]
    L = spec.L
    shape = (len(sigma_w2s), L)
    out = {k: np.empty(shape) for k in ("var_J", "var_a", "pred_var_J", "pred_var_a", "kurt_J", "kurt_a")}
    start = time.perf_counter()
    for i, w in enumerate(sigma_w2s):
        s = NetworkSpec(**{**spec.as_dict(), "sigma_w2": w})
        draw = sample_chain(s, n_samples, generator=generator, all_depths=True)
        out["var_J"][i] = (_np(draw["J"][..., 0]) ** 2).mean(0)
        out["var_a"][i] = (_np(draw["a"][..., 0]) ** 2).mean(0)
        mom = theory.finite_width_moments(s.d, s.N, L, w, s.sigma_b2, s.u, s.v, s.residual)
        out["kurt_J"][i], out["kurt_a"][i] = mom["kurt_J"], mom["kurt_a"]
        for l in range(1, L + 1):
            out["pred_var_J"][i, l - 1] = theory.var_J(s.d, l, w, s.u, s.v, s.residual)
            out["pred_var_a"][i, l - 1] = theory.var_a(l, w, s.sigma_b2, s.u, s.v, s.residual)
    out.update({"sigma_w2": np.asarray(sigma_w2s), "n": n_samples, "seconds": time.perf_counter() - start})
    return out
