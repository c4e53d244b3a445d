"""Chapter 1 measurements and analyses: the law of J(x) and a(x) (Theorem 4.1) from the samplers of
:mod:`mfat.laws.linear_map`.

Every sampler function takes an explicit ``generator`` (its device is the compute device) and returns a dict of
float64 numpy arrays and numbers (small enough for ``mfat.chapter.results``), including its own wall time
(:func:`mfat.runtime.timed`), so that the chapter can report sampler speeds also when replaying stored results.
The functions taking the chapter's settings ``s`` (:class:`mfat.chapter.settings.random_linear_map.
RandomLinearMapSettings`) are the measurements and analyses behind the chapter's figures and claims, section by
section: Figure 1 and the three architectures, the explicit networks, the joint law of (J, a), input
independence, inputs chosen from the parameters, finite width, depth and the sampler speeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import stats as sst

from mfat import data, theory
from mfat.model.attacks import Attack, output_deviation, pgd
from mfat.model.linearize import activation_slopes, decompose
from mfat.model.networks import NetworkSpec
from mfat.model.norms import dual_exponent
from mfat.validation import normalise_p
from mfat.laws.linear_map import sample_chain, sample_explicit, sample_units
from mfat.runtime import timed
from mfat.stats import (Z_DEFAULT, batch_standard_error, excess_kurtosis, fisher_correlation_tolerance,
                        ks_distance_normal, ks_tolerance, mean_tolerance, two_sample_ks_tolerance,
                        uncorrelated_tolerance, variance_ratio_tolerance)
from mfat.validation import check_int, check_real

__all__ = [
    "law_summary",
    "squares_correlation",
    "chain_law",
    "units_law",
    "explicit_law",
    "input_independence",
    "adversarial_inputs",
    "width_sweep",
    "depth_sweep",
    "MNIST_D",
    "NARROW_WIDTH",
    "SPEED_NETWORKS",
    "architectures",
    "arch_spec",
    "predictions",
    "prediction_table",
    "fixed_input",
    "fig1_measurement",
    "law_summaries",
    "explicit_comparison",
    "joint_measurement",
    "joint_summary",
    "input_set",
    "input_network",
    "inputs_measurement",
    "input_laws",
    "input_correlations",
    "adversarial_measurement",
    "adversarial_summary",
    "adversarial_table",
    "selection_summary",
    "width_worst",
    "depth_worst",
    "speed_measurement",
    "sampler_speeds",
]

MNIST_D = 784  # input dimension of the input-independence and adversarial experiments (MNIST)
NARROW_WIDTH = 4  # the narrow network of the joint-law figure: uncorrelated but visibly dependent J, a
SPEED_NETWORKS = 40  # unit-level samples of the speed measurement (about a second on one CPU core at N = 5000)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float64).numpy()


def squares_correlation(rows: np.ndarray) -> float:
    """corr(J^2, a^2) of ``rows`` (n, 2) = [J, a]: zero in the mean-field limit, O(1/N) at width N."""
    return float(np.corrcoef(rows[:, 0] ** 2, rows[:, 1] ** 2)[0, 1])


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
    seconds, out = timed(lambda: sample_chain(spec, n_samples, generator=generator), generator.device)
    return {"J": _np(out["J"][:, 0]), "a": _np(out["a"][:, 0]), "seconds": seconds}


def units_law(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11(x_j), a_1(x_j) for m inputs by the unit-level sampler: arrays (n, m), ``seconds``."""
    seconds, out = timed(lambda: sample_units(spec, x, n_samples, generator=generator), generator.device)
    return {"J": _np(out["J"][..., 0]), "a": _np(out["a"][..., 0]), "seconds": seconds}


def explicit_law(spec: NetworkSpec, x: torch.Tensor, n_samples: int, *, generator: torch.Generator) -> dict:
    """J_11(x), a_1(x) of ``n_samples`` explicit networks (``mfat.model.linearize.decompose``): arrays (n,), ``seconds``."""
    seconds, out = timed(lambda: sample_explicit(spec, n_samples, generator=generator, x=x), generator.device)
    return {"J": _np(out["J"][:, 0, 0]), "a": _np(out["a"][:, 0, 0]), "seconds": seconds}


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

    seconds, out = timed(lambda: sample_explicit(spec, n_samples, generator=generator, inputs=inputs),
                         generator.device)
    res = {"J": _np(out["J"][..., 0]), "a": _np(out["a"][..., 0]), "row_ms": _np(out["row_ms"][..., 0])}
    res.update({key: np.asarray(val) for key, val in extra.items()})
    res["seconds"] = seconds
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

    def sweep():
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
            out["corr_sq"][i] = squares_correlation(rows)
            out["corr_sq_se"][i] = batch_standard_error(rows, squares_correlation)
            out["pred_kurt_J"][i], out["pred_corr_sq"][i] = mom["kurt_J"][-1], mom["corr_sq"][-1]
            out["pred_kurt_a"][i] = mom["kurt_a"][-1]
            out["pred_ks_J"][i] = theory.scale_mixture_ks(mom["kurt_J"][-1])

    seconds, _ = timed(sweep, generator.device)
    out["widths"] = np.asarray(widths, dtype=np.float64)
    out["n"] = n_samples
    out["seconds"] = seconds
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
    def sweep():
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

    seconds, _ = timed(sweep, generator.device)
    out.update({"sigma_w2": np.asarray(sigma_w2s), "n": n_samples, "seconds": seconds})
    return out


# ----------------------------------------------------------------------------- the chapter's measurements
Generators = Callable[[int], torch.Generator]


def architectures(s) -> dict[str, dict]:
    """The three architectures of Figure 1: {label: NetworkSpec arguments} (vanilla ReLU, residual ReLU, leaky ReLU)."""
    return {
        "vanilla ReLU": dict(sigma_w2=s.sigma_w2, u=1.0, v=0.0, residual=False),
        "residual ReLU": dict(sigma_w2=s.residual_sigma_w2, u=1.0, v=0.0, residual=True),
        f"vanilla leaky ReLU (v={s.leaky_v:g})": dict(sigma_w2=s.leaky_sigma_w2, u=1.0, v=s.leaky_v, residual=False),
    }


def arch_spec(s, arch: str, **changes) -> NetworkSpec:
    """The network of architecture ``arch`` at the settings' d, N, K, L, sigma_b^2, with ``changes`` (e.g. N=64)."""
    archs = architectures(s)
    if arch not in archs:
        raise ValueError(f"parameter 'arch' = {arch!r} is out of range: allowed one of {list(archs)}")
    base = dict(d=s.d, N=s.N, K=s.K, L=s.L, sigma_b2=s.sigma_b2, **archs[arch])
    return NetworkSpec(**{**base, **changes})


def predictions(s) -> dict:
    """Theorem 4.1 for every architecture: {arch: omega, var_J = omega^L / d, var_a = alpha sigma_b^2
    sum_k omega^(k-1), fw and fw_explicit = the exact finite-width moments (:func:`mfat.theory.finite_width_moments`)
    at the widths N and explicit_N}."""
    out = {}
    for arch in architectures(s):
        n = arch_spec(s, arch)
        out[arch] = dict(omega=n.omega, var_J=theory.var_J(n.d, n.L, n.sigma_w2, n.u, n.v, n.residual),
                         var_a=theory.var_a(n.L, n.sigma_w2, n.sigma_b2, n.u, n.v, n.residual),
                         fw=theory.finite_width_moments(n.d, n.N, n.L, n.sigma_w2, n.sigma_b2, n.u, n.v, n.residual),
                         fw_explicit=theory.finite_width_moments(n.d, s.explicit_N, n.L, n.sigma_w2, n.sigma_b2,
                                                                 n.u, n.v, n.residual))
    return out


def prediction_table(pred: dict, s):
    """The predictions of :func:`predictions` as a table, one row per architecture."""
    import pandas as pd

    return pd.DataFrame([{"network": a, "omega": p["omega"], "Var J (theory)": p["var_J"], "Var a (theory)": p["var_a"],
                          f"excess kurtosis of J at N={s.N}": p["fw"]["kurt_J"][-1],
                          f"corr(J^2, a^2) at N={s.N}": p["fw"]["corr_sq"][-1]} for a, p in pred.items()])


def fixed_input(s) -> torch.Tensor:
    """The fixed input of Figure 1: (1, d) float64 Gaussian rescaled to ||x|| = sqrt(d), seed ``s.seed + 100``."""
    return data.gaussian_inputs(1, s.d, seed=s.seed + 100, dtype=torch.float64)


def fig1_measurement(s, x: torch.Tensor, *, generators: Generators) -> dict:
    """Figure 1 and its check, for architecture i of :func:`architectures`: {arch: {"chain": the Gram chain at width N
    (generator 10 + i), "chain_small": the chain at explicit_N (20 + i), "explicit": explicit networks at explicit_N
    and input x (30 + i)}}, each with J, a (n,) and seconds; n = n_samples (chains), explicit_n (explicit)."""
    out = {}
    for i, arch in enumerate(architectures(s)):
        out[arch] = {
            "chain": chain_law(arch_spec(s, arch), s.n_samples, generator=generators(10 + i)),
            "chain_small": chain_law(arch_spec(s, arch, N=s.explicit_N), s.n_samples, generator=generators(20 + i)),
            "explicit": explicit_law(arch_spec(s, arch, N=s.explicit_N), x, s.explicit_n,
                                     generator=generators(30 + i)),
        }
    return out


def law_summaries(fig1: dict, pred: dict) -> dict:
    """:func:`law_summary` of the chain's J_11 and a_1 against Theorem 4.1, per architecture: {arch: {"J", "a"}}."""
    return {arch: {"J": law_summary(r["chain"]["J"], pred[arch]["var_J"], pred[arch]["fw"]["kurt_J"][-1]),
                   "a": law_summary(r["chain"]["a"], pred[arch]["var_a"], pred[arch]["fw"]["kurt_a"][-1])}
            for arch, r in fig1.items()}


def explicit_comparison(fig1: dict, pred: dict, s) -> dict:
    """Explicit networks against the chain at the same width explicit_N, per architecture.

    Returns {arch: {"ks2": two-sample KS distance between the explicit and the chain's J_11, "ks2_tol": its critical
    value at level 1e-4, "J", "a": :func:`law_summary` of the explicit J_11, a_1 against Theorem 4.1 with the exact
    finite-width kurtosis at explicit_N}}.
    """
    out = {}
    for arch, r in fig1.items():
        kap = pred[arch]["fw_explicit"]
        out[arch] = {"ks2": float(sst.ks_2samp(r["explicit"]["J"], r["chain_small"]["J"]).statistic),
                     "ks2_tol": two_sample_ks_tolerance(s.explicit_n, s.n_samples),
                     "J": law_summary(r["explicit"]["J"], pred[arch]["var_J"], kap["kurt_J"][-1]),
                     "a": law_summary(r["explicit"]["a"], pred[arch]["var_a"], kap["kurt_a"][-1])}
    return out


def joint_measurement(s, *, generator: torch.Generator) -> dict:
    """The vanilla network of Figure 1 at width :data:`NARROW_WIDTH` by the chain: {"narrow": {J, a, seconds}}."""
    return {"narrow": chain_law(arch_spec(s, "vanilla ReLU", N=NARROW_WIDTH), s.n_samples, generator=generator)}


def joint_summary(draw: dict, N: int, s, pred_vanilla: dict) -> dict:
    """The dependence of J_11 and a_1 at width N (vanilla ReLU, d, L, sigma_w^2, sigma_b^2 of ``s``).

    draw: {J, a} (n,); pred_vanilla: the vanilla entry of :func:`predictions`. Both are scaled to unit theory
    variance. Returns N, corr = corr(J, a) (exactly 0 at every width) with corr_tol (4 s.e. of a zero correlation
    of these heavy-tailed variables), corr_sq = corr(J^2, a^2) with its batch standard error corr_sq_se, and
    pred_sq, its exact finite-width value.
    """
    J, a = draw["J"] / math.sqrt(pred_vanilla["var_J"]), draw["a"] / math.sqrt(pred_vanilla["var_a"])
    fw = theory.finite_width_moments(s.d, N, s.L, s.sigma_w2, s.sigma_b2)
    rows = np.stack([J, a], 1)
    return dict(N=N, corr=float(np.corrcoef(J, a)[0, 1]),
                corr_tol=uncorrelated_tolerance(len(J), fw["kurt_J"][-1], fw["kurt_a"][-1], fw["corr_sq"][-1]),
                corr_sq=squares_correlation(rows), corr_sq_se=batch_standard_error(rows, squares_correlation),
                pred_sq=fw["corr_sq"][-1])


def input_set(s) -> dict:
    """The four inputs of the input-independence experiment, (4, 784) float64 with ||x|| = sqrt(784): two Gaussian
    inputs (seed ``s.seed + 200``) and the first two MNIST training digits. Returns x, labels (4,), and mnist
    (2, 784), the digits alone."""
    x_gauss = data.gaussian_inputs(2, MNIST_D, seed=s.seed + 200, dtype=torch.float64)
    x_mnist, y_mnist = data.load("mnist", "train", n=2, scaling="sqrt_d", dtype=torch.float64)
    labels = ["Gaussian x", "Gaussian x'", f"MNIST digit {int(y_mnist[0])}", f"MNIST digit {int(y_mnist[1])}"]
    return {"x": torch.cat([x_gauss, x_mnist]), "labels": labels, "mnist": x_mnist}


def input_network(s, N: int | None = None) -> dict:
    """The vanilla network of the MNIST-sized experiments at width N (default inputs_N): its NetworkSpec ``spec``,
    Theorem 4.1's ``var_J`` = omega^L / 784, and the exact finite-width moments ``fw``."""
    N = s.inputs_N if N is None else N
    return {"spec": NetworkSpec(MNIST_D, N, 1, s.L, s.sigma_w2, s.sigma_b2),
            "var_J": theory.var_J(MNIST_D, s.L, s.sigma_w2),
            "fw": theory.finite_width_moments(MNIST_D, N, s.L, s.sigma_w2, s.sigma_b2)}


def inputs_measurement(s, x: torch.Tensor, *, generator: torch.Generator) -> dict:
    """:func:`input_independence` of inputs_n networks of :func:`input_network` at the inputs x (m, 784)."""
    return input_independence(input_network(s)["spec"], x, s.inputs_n, generator=generator)


def input_laws(inp: dict, s) -> list[dict]:
    """:func:`law_summary` of J_11 at each input of :func:`inputs_measurement` against Theorem 4.1."""
    net = input_network(s)
    return [law_summary(inp["J"][:, j], net["var_J"], net["fw"]["kurt_J"][-1]) for j in range(inp["J"].shape[1])]


def input_correlations(inp: dict, pairs, n: int) -> list[dict]:
    """For each pair (i, j) of inputs: the measured correlations of J_11 and of a_1 across n networks against the
    mean-field ones, with Fisher-z tolerances. Returns [{i, j, r, pred, tol, r_a, pred_a, tol_a}]."""
    out = []
    for i, j in pairs:
        r, ra = inp["corr_J"][i, j], inp["corr_a"][i, j]
        out.append({"i": i, "j": j, "r": r, "pred": inp["pred_corr_J"][i, j], "tol": fisher_correlation_tolerance(r, n),
                    "r_a": ra, "pred_a": inp["pred_corr_a"][i, j], "tol_a": fisher_correlation_tolerance(ra, n)})
    return out


def adversarial_measurement(s, x: torch.Tensor, *, generators: Generators) -> dict:
    """:func:`adversarial_inputs` at the digit x (784,) for each width N of adv_widths (k-th: generator 60 + k):
    l2 PGD with radius adv_eps sqrt(784) and adv_steps steps. Returns {N: the arrays of adversarial_inputs}."""
    return {N: adversarial_inputs(input_network(s, N)["spec"], x, s.adv_n, eps=s.adv_eps * math.sqrt(MNIST_D),
                                  p=2, q=2, steps=s.adv_steps, generator=generators(60 + k))
            for k, N in enumerate(s.adv_widths)}


def adversarial_summary(adv_all: dict, s) -> tuple[list[dict], dict]:
    """The clean digit against its adversarial input, per width N of :func:`adversarial_measurement`.

    Returns (rows, laws). rows: per N, ``flipped`` (mean fraction of hidden slopes changed), the mean square of the
    row J_1. over omega^L / d at the clean digit (``row_clean`` with ``row_clean_se``; exactly 1 in expectation)
    and at the adversarial input (``row_adv``), their paired ``shift`` with ``shift_se``, and ``spread`` =
    sqrt(kappa_J / 3), the relative spread of the row length across activation regions at width N. laws:
    {N: {"clean digit", "adversarial input": :func:`law_summary` of J_11}}.
    """
    var_in = input_network(s)["var_J"]
    rows, laws = [], {}
    for N, res in adv_all.items():
        kurt = input_network(s, N)["fw"]["kurt_J"][-1]
        row = res["row_ms"] / var_in  # mean square of the row J_1., per network: clean, adversarial
        diff = row[:, 1] - row[:, 0]
        rows.append(dict(N=N, flipped=float(res["flipped"].mean()), row_clean=float(row[:, 0].mean()),
                         row_clean_se=float(row[:, 0].std(ddof=1) / math.sqrt(s.adv_n)),
                         row_adv=float(row[:, 1].mean()), shift=float(diff.mean()),
                         shift_se=float(diff.std(ddof=1) / math.sqrt(s.adv_n)), spread=math.sqrt(kurt / 3)))
        laws[N] = {label: law_summary(res["J"][:, k], var_in, kurt)
                   for k, label in enumerate(("clean digit", "adversarial input"))}
    return rows, laws


def adversarial_table(rows: list[dict]):
    """The rows of :func:`adversarial_summary` as a table with readable column names."""
    import pandas as pd

    return pd.DataFrame(rows).rename(columns={
        "N": "width N", "flipped": "slopes flipped", "row_clean": "row mean square, clean", "row_clean_se": "se clean",
        "row_adv": "row mean square, adversarial", "shift": "paired shift", "shift_se": "se shift",
        "spread": "spread sqrt(kappa_J/3)"})


def selection_summary(J_pair: np.ndarray, variance: float, r: float) -> dict:
    """The input selected by the entry itself: per network the larger of J_11(x)^2, J_11(x')^2 over ``variance``.

    J_pair: (n, 2) J_11 at two inputs of the same networks, jointly Gaussian with correlation r in the limit.
    Returns ``selected`` (n,), its ``mean``, the prediction ``predicted`` = 1 + (2/pi) sqrt(1 - r^2) (E max of two
    correlated chi-squares) and ``tol`` (4 standard errors of the mean).
    """
    J_pair = np.asarray(J_pair, dtype=np.float64)
    if J_pair.ndim != 2 or J_pair.shape[1] != 2:
        raise ValueError(f"parameter 'J_pair' has shape {J_pair.shape}: allowed (n, 2)")
    r = check_real("r", r, min_value=-1.0, max_value=1.0)
    sel = np.max(J_pair ** 2, axis=1) / variance
    return {"selected": sel, "mean": float(sel.mean()), "predicted": 1 + 2 / math.pi * math.sqrt(1 - r**2),
            "tol": mean_tolerance(sel.std(ddof=1), len(sel))}


def width_worst(ws: dict, n: int) -> dict:
    """The worst width of each finite-width claim of a :func:`width_sweep` ``ws`` with n networks per width.

    ``ratio_tol`` (len(widths),): 4 s.e. of the variance ratio at the exact kurtosis. ``light``: widths where the
    exact excess kurtosis of J_11 is at most 1, the only ones where sample moments of order 4 are trustworthy.
    For "ratio" (Var J_11 / Theorem 4.1 = 1, every width), "kurt" (excess kurtosis = exact), "corr_sq"
    (corr(J^2, a^2) = exact) and "corr" (corr(J, a) = 0), the last three over the light widths: the ``index`` of the
    width with the largest deviation in units of its tolerance, with ``predicted``, ``measured`` and ``atol`` there.
    """
    ratio_tol = np.array([variance_ratio_tolerance(n, excess_kurtosis=k) for k in ws["pred_kurt_J"]])
    light = ws["pred_kurt_J"] <= 1.0
    idx = np.flatnonzero(light)
    if not len(idx):
        raise ValueError("parameter 'ws' has no width with excess kurtosis <= 1: allowed a sweep reaching wider networks")

    def corr_tol(i):
        return uncorrelated_tolerance(n, ws["pred_kurt_J"][i], ws["pred_kurt_a"][i], ws["pred_corr_sq"][i])

    i_r = int(np.argmax(np.abs(ws["ratio_J"] - 1) / (ratio_tol / Z_DEFAULT)))
    i_k = int(idx[np.argmax(np.abs(ws["kurt_J"] - ws["pred_kurt_J"])[light] / ws["kurt_J_se"][light])])
    i_s = int(idx[np.argmax(np.abs(ws["corr_sq"] - ws["pred_corr_sq"])[light] / ws["corr_sq_se"][light])])
    i_c = int(idx[np.argmax([abs(ws["corr_Ja"][i]) / corr_tol(i) for i in idx])])
    return {"ratio_tol": ratio_tol, "light": light,
            "ratio": dict(index=i_r, predicted=1.0, measured=ws["ratio_J"][i_r], atol=ratio_tol[i_r]),
            "kurt": dict(index=i_k, predicted=ws["pred_kurt_J"][i_k], measured=ws["kurt_J"][i_k],
                         atol=Z_DEFAULT * ws["kurt_J_se"][i_k]),
            "corr_sq": dict(index=i_s, predicted=ws["pred_corr_sq"][i_s], measured=ws["corr_sq"][i_s],
                            atol=Z_DEFAULT * ws["corr_sq_se"][i_s]),
            "corr": dict(index=i_c, predicted=0.0, measured=ws["corr_Ja"][i_c], atol=corr_tol(i_c))}


def depth_worst(dp: dict, n: int) -> list[dict]:
    """Per sigma_w^2 of a :func:`depth_sweep` ``dp`` (n networks) and per quantity "J", "a": the depth where the
    variance ratio measured / Theorem 4.1 is farthest from 1 in units of its tolerance (4 s.e. at the exact
    kurtosis). Returns [{sigma_w2, key, depth (1-based), ratio, atol}]."""
    out = []
    for i, w in enumerate(dp["sigma_w2"]):
        for key, kk in (("J", "kurt_J"), ("a", "kurt_a")):
            tol = np.array([variance_ratio_tolerance(n, excess_kurtosis=k) for k in dp[kk][i]])
            ratio = dp[f"var_{key}"][i] / dp[f"pred_var_{key}"][i]
            l = int(np.argmax(np.abs(ratio - 1) / tol))
            out.append({"sigma_w2": w, "key": key, "depth": l + 1, "ratio": ratio[l], "atol": tol[l]})
    return out


def speed_measurement(s, x: torch.Tensor, *, generator: torch.Generator) -> dict:
    """The unit-level sampler's rate at Figure 1's width: {"units_per_s"} over :data:`SPEED_NETWORKS` networks."""
    u = units_law(arch_spec(s, "vanilla ReLU"), x, SPEED_NETWORKS, generator=generator)
    return {"units_per_s": SPEED_NETWORKS / u["seconds"]}


def sampler_speeds(fig1: dict, speed: dict, s) -> dict:
    """Samples per second of the three samplers on vanilla ReLU: chain and units at width N, explicit at explicit_N,
    and the ratio chain / units."""
    r = fig1["vanilla ReLU"]
    chain = s.n_samples / r["chain"]["seconds"]
    return {"chain": chain, "units": speed["units_per_s"], "ratio": chain / speed["units_per_s"],
            "explicit": s.explicit_n / r["explicit"]["seconds"]}
