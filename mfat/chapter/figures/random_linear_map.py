"""The figures of chapter 1, "The network as a random linear map" (Theorem 4.1, the paper's Fig. 1).

Each function draws one figure from the measurements and analyses of :mod:`mfat.experiments.random_linear_map` and
the chapter's settings ``s`` (:class:`mfat.chapter.settings.random_linear_map.RandomLinearMapSettings`) and returns
it: Theorem 4.1 as dashed lines, the samples as histograms, markers or empirical distribution functions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sst

from mfat import stats, theory
from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments.random_linear_map import MNIST_D

__all__ = ["law", "explicit_quantiles", "joint_law", "input_independence", "parameter_dependent_inputs",
           "finite_width", "depth", "depth_slider"]

NOTE_BOX = dict(facecolor="white", alpha=0.8, lw=0)


def law(fig1: dict, pred: dict, laws: dict, key: str, symbol: str, s):
    """Figure 1 (key "J") or its twin for a (key "a"): one histogram of the chain's samples per architecture with the
    Gaussian of Theorem 4.1, annotated with the variance ratio and KS distance of ``laws``
    (:func:`mfat.experiments.random_linear_map.law_summaries`); ``symbol`` is the LaTeX name of the entry."""
    fig, axes = plotting.panels(len(fig1), height=3.0)
    for ax, (arch, r) in zip(axes, fig1.items()):
        plotting.density_histogram(ax, r["chain"][key], pred[arch][f"var_{key}"], label=f"{s.n_samples} networks")
        lw = laws[arch][key]
        ax.set_ylim(0, ax.get_ylim()[1] * 1.9)  # room for the legend and the numbers
        ax.text(0.97, 0.64, f"var ratio {lw['ratio']:.3f}\nKS {lw['ks']:.3f}", transform=ax.transAxes,
                ha="right", va="top", fontsize="x-small")
        ax.set(xlabel=f"${symbol}(x)$", ylabel="density",
               title=f"{arch}\n$\\omega$={pred[arch]['omega']:.3g}")
        ax.legend(loc="upper left", fontsize="xx-small")
    fig.suptitle(f"${symbol}$ over random networks, d={s.d}, N={s.N}, L={s.L}, "
                 f"$\\sigma_b^2$={s.sigma_b2:g} (dashed: Theorem 4.1)")
    return fig


def explicit_quantiles(fig1: dict, pred: dict, comparison: dict, s):
    """Quantile-quantile plots of J_11: explicit networks against the chain at the same width explicit_N, one panel
    per architecture, titled with the two-sample KS distance of ``comparison``
    (:func:`mfat.experiments.random_linear_map.explicit_comparison`)."""
    fig, axes = plotting.panels(len(fig1), height=3.0)
    for ax, (arch, r) in zip(axes, fig1.items()):
        sd = math.sqrt(pred[arch]["var_J"])
        n = len(r["explicit"]["J"])
        e = np.sort(r["explicit"]["J"]) / sd
        c = np.quantile(r["chain_small"]["J"], (np.arange(n) + 0.5) / n) / sd
        lim = float(max(abs(e).max(), abs(c).max()))
        plotting.theory_line(ax, [-lim, lim], [-lim, lim], label="equal laws")
        plotting.measured(ax, c, e, ms=3, label="quantiles")
        ax.set(xlabel="chain quantile / sd", ylabel="explicit networks quantile / sd",
               title=f"{arch}\ntwo-sample KS {comparison[arch]['ks2']:.3f}")
    fig.suptitle(f"$J_{{11}}$: {s.explicit_n} explicit networks vs the Gram chain, N={s.explicit_N}, L={s.L} "
                 "(dashed: equal laws)")
    return fig


def joint_law(draws: dict, summaries: dict, pred_vanilla: dict, s):
    """Log-density of (J_11, a_1) in units of their theory standard deviations, one panel per label of ``draws``
    ("paper", "narrow"; each {J, a}), annotated with its :func:`mfat.experiments.random_linear_map.joint_summary`."""
    fig, axes = plotting.figure(2, height=3.3)
    lim = 4.5
    for ax, (label, draw) in zip(axes[0], draws.items()):
        j = summaries[label]
        J, a = draw["J"] / math.sqrt(pred_vanilla["var_J"]), draw["a"] / math.sqrt(pred_vanilla["var_a"])
        ax.hexbin(np.clip(J, -lim, lim), np.clip(a, -lim, lim), gridsize=45, bins="log", cmap="Blues",
                  extent=(-lim, lim, -lim, lim))
        ax.text(0.03, 0.97, f"corr(J, a) = {j['corr']:+.3f} (exact 0)\n"
                            f"corr(J$^2$, a$^2$) = {j['corr_sq']:.3f} (exact {j['pred_sq']:.3f})",
                transform=ax.transAxes, ha="left", va="top", fontsize="x-small", bbox=NOTE_BOX)
        ax.set(xlabel="$J_{11}$ / theory sd", ylabel="$a_1$ / theory sd" if label == "paper" else None,
               title=f"N={j['N']}" + (" (the paper's width)" if label == "paper" else ""))
    fig.suptitle(f"Joint law of $(J_{{11}}, a_1)$, vanilla ReLU, L={s.L}, {s.n_samples} networks (log colour scale)")
    return fig


def input_independence(inp: dict, labels: list, var_J: float, s):
    """Top left: the empirical CDF of J_11 at each input against the Gaussian of Theorem 4.1. Top right and bottom: J_11 of
    the same networks at two random inputs and at two MNIST digits, with the measured and mean-field correlations.
    inp: :func:`mfat.experiments.random_linear_map.inputs_measurement`."""
    fig, axes = plotting.panels(3, height=3.2)
    ax = axes[0]
    grid = np.linspace(-4, 4, 200)
    for j, (label, color) in enumerate(zip(labels, plotting.colors())):
        z = np.sort(inp["J"][:, j]) / math.sqrt(var_J)
        ax.step(z, (np.arange(len(z)) + 1) / len(z), where="post", color=color, lw=1.2, label=label)
    plotting.theory_line(ax, grid, sst.norm.cdf(grid), label="Theorem 4.1")
    ax.set(xlim=(-4, 4), xlabel="$J_{11}(x)$ / theory sd", ylabel="empirical CDF", title="each input")
    ax.legend(loc="upper left", fontsize="x-small")
    for ax, (i, j) in zip(axes[1:], ((0, 1), (2, 3))):
        ax.scatter(inp["J"][:, i] / math.sqrt(var_J), inp["J"][:, j] / math.sqrt(var_J), s=3, alpha=0.35,
                   color=plotting.colors()[i])
        cosine = inp["x_gram"][i, j] / math.sqrt(inp["x_gram"][i, i] * inp["x_gram"][j, j])
        ax.text(0.03, 0.97, f"r = {inp['corr_J'][i, j]:.3f}\nmean field {inp['pred_corr_J'][i, j]:.3f}\n"
                            f"input cosine {cosine:.2f}", transform=ax.transAxes, ha="left", va="top",
                fontsize="x-small", bbox=NOTE_BOX)
        ax.set(xlabel=f"$J_{{11}}$({labels[i]}) / sd", ylabel=f"$J_{{11}}$({labels[j]}) / sd",
               title="two random inputs" if i == 0 else "two MNIST digits")
    fig.suptitle(f"Input independence, vanilla ReLU, d={MNIST_D}, N={s.inputs_N}, L={s.L}, {s.inputs_n} networks")
    return fig


def parameter_dependent_inputs(adv: dict, selection: dict, J_fixed, var_J: float, N: int, s):
    """Left: J_11 at the clean digit and at its PGD input (``adv``, one width N) against Theorem 4.1. Right: J_11^2
    at the input selected by |J_11| (``selection``: :func:`mfat.experiments.random_linear_map.selection_summary`)
    against one fixed input ``J_fixed``, with the predicted and measured means."""
    fig, axes = plotting.figure(2, height=3.2)
    grid = np.linspace(-4, 4, 200)
    ax = axes[0, 0]
    for k, (label, color) in enumerate(zip(("clean digit", "adversarial"), plotting.colors())):
        ax.hist(adv["J"][:, k] / math.sqrt(var_J), bins=30, density=True, histtype="step", lw=1.6, color=color,
                label=f"{label} ({s.adv_n} networks)")
    plotting.theory_line(ax, grid, sst.norm.pdf(grid), label="Theorem 4.1")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)
    ax.set(xlabel="$J_{11}$ / theory sd", ylabel="density", title=f"PGD inputs, N={N}")
    ax.legend(loc="upper left", fontsize="x-small")
    ax = axes[0, 1]
    sel = selection["selected"]
    ax.hist(sel, bins=60, density=True, alpha=0.55, color=plotting.colors()[2], label="larger of two inputs")
    ax.hist(np.asarray(J_fixed) ** 2 / var_J, bins=60, density=True, histtype="step", color=plotting.colors()[0],
            label="one fixed input")
    ax.axvline(selection["predicted"], color=plotting.THEORY, ls="--",
               label=f"predicted mean {selection['predicted']:.2f}")
    ax.axvline(sel.mean(), color=plotting.colors()[2], ls=":", label=f"measured mean {sel.mean():.2f}")
    ax.set(xlabel="$J_{11}^2$ / (theory variance)", xlim=(0, 8), ylabel="density",
           title="inputs selected by $|J_{11}|$")
    ax.legend(loc="upper right", fontsize="x-small")
    fig.suptitle("Inputs that depend on the parameters")
    return fig


def _heavy_tailed(ax, x, y, label: str):
    """Hollow markers: sample moments of heavy-tailed laws (biased low)."""
    plotting.measured(ax, x, y, mfc="none", mec=plotting.colors()[0], color=plotting.colors()[0], label=label)


def finite_width(ws: dict, worst: dict, s):
    """Four panels against the width N: the variance ratios, the excess kurtosis of J_11, the KS distance to the
    Gaussian and the two correlations, each with its exact finite-width curve. ws: a width sweep
    (:func:`mfat.experiments.random_linear_map.width_sweep`); worst: its :func:`width_worst` (tolerances, light
    tails)."""
    Ns, light = ws["widths"], worst["light"]
    heavy = ~light
    fine = np.unique(np.geomspace(Ns.min(), Ns.max(), 160).astype(int))
    kurt_fine = np.array([theory.jacobian_excess_kurtosis(int(n), s.L, s.sigma_w2) for n in fine])
    fig, axes = plotting.figure(2, 2, height=3.6)
    ax = axes[0, 0]
    plotting.theory_line(ax, Ns, np.ones_like(Ns), label="exact at every N")
    plotting.measured(ax, Ns, ws["ratio_J"], yerr=worst["ratio_tol"] / stats.Z_DEFAULT,
                      label="Var $J_{11}$ ratio (1 se)")
    plotting.measured(ax, Ns, ws["ratio_a"], label="Var $a_1$ ratio", marker="s", color=plotting.colors()[1])
    ax.set(xscale="log", ylim=(0.85, 1.15), xlabel="width N", ylabel="measured / Theorem 4.1",
           title="variance: exact at every width")
    plotting.legend_below(ax)
    ax = axes[0, 1]
    plotting.theory_line(ax, fine, kurt_fine, label="exact $3[(1+2/N)(1+5/N)^L-1]$")
    plotting.measured(ax, Ns[light], ws["kurt_J"][light], yerr=ws["kurt_J_se"][light], label="measured (1 se)")
    _heavy_tailed(ax, Ns[heavy], ws["kurt_J"][heavy], "measured, heavy tails (biased low)")
    ax.set(xscale="log", yscale="log", xlabel="width N", ylabel="excess kurtosis of $J_{11}$", title="Gaussianity")
    plotting.legend_below(ax)
    ax = axes[1, 0]
    floor = math.sqrt(math.pi / 2) * math.log(2) / math.sqrt(s.width_n)  # E[KS] for exact Gaussian samples
    first = kurt_fine <= 2.0
    plotting.theory_line(ax, fine[first], [theory.scale_mixture_ks(k) for k in kurt_fine[first]],
                         label="first order in 1/N")
    ax.axhline(floor, color="grey", ls=":", label=f"sampling noise, n={s.width_n}")
    ax.axhline(stats.ks_tolerance(s.width_n), color="grey", ls="-.", lw=1, label="critical value ($10^{-4}$)")
    plotting.measured(ax, Ns, ws["ks_J"], label="measured")
    ax.set(xscale="log", yscale="log", xlabel="width N", ylabel="KS distance to N(0, $\\omega^L/d$)",
           title="distance to the Gaussian")
    plotting.legend_below(ax)
    ax = axes[1, 1]
    plotting.theory_line(ax, Ns, ws["pred_corr_sq"], label="exact corr($J^2$, $a^2$)")
    plotting.measured(ax, Ns[light], ws["corr_sq"][light], yerr=ws["corr_sq_se"][light],
                      label="corr($J^2$, $a^2$) (1 se)")
    _heavy_tailed(ax, Ns[heavy], ws["corr_sq"][heavy], "corr($J^2$, $a^2$), heavy tails")
    plotting.measured(ax, Ns, ws["corr_Ja"], label="corr($J$, $a$)", marker="s", color=plotting.colors()[1])
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xscale="log", ylim=(-0.25, 0.55), xlabel="width N", ylabel="correlation", title="independence")
    plotting.legend_below(ax)
    fig.suptitle(f"Finite width, vanilla ReLU, d={s.d}, L={s.L}, {s.width_n} networks per width")
    return fig


def depth(dp: dict, s):
    """d Var J_11 (left) and Var a_1 (right) against the depth for each sigma_w^2 of a depth sweep
    (:func:`mfat.experiments.random_linear_map.depth_sweep`), with Theorem 4.1 dashed."""
    L = np.arange(1, dp["var_J"].shape[1] + 1)
    fig, axes = plotting.figure(2, height=3.2)
    for i, (w, color) in enumerate(zip(dp["sigma_w2"], plotting.colors())):
        om = theory.omega(w)
        plotting.theory_line(axes[0, 0], L, dp["pred_var_J"][i] * s.d, label=None)
        plotting.measured(axes[0, 0], L, dp["var_J"][i] * s.d, color=color, ms=4,
                          label=f"$\\sigma_w^2$={w:g} ($\\omega$={om:.2f})")
        plotting.theory_line(axes[0, 1], L, dp["pred_var_a"][i], label=None)
        plotting.measured(axes[0, 1], L, dp["var_a"][i], color=color, ms=4, label=f"$\\omega$={om:.2f}")
    axes[0, 0].set(yscale="log", xlabel="depth L", ylabel="$d\\cdot$Var $J_{11}$", title="Var J = $\\omega^L/d$")
    axes[0, 1].set(yscale="log", xlabel="depth L", ylabel="Var $a_1$",
                   title="Var a = $\\alpha\\sigma_b^2\\sum_k\\omega^{k-1}$")
    axes[0, 0].legend(fontsize="x-small", loc="lower left")
    fig.suptitle(f"Depth, vanilla ReLU, N={s.N}, {s.depth_n} networks per curve (dashed: Theorem 4.1)")
    return fig


def depth_slider(dp: dict, s):
    """Var J_11 = omega^L / d against the depth, one slider frame per (architecture, sigma_w^2): vanilla gains around
    the critical point (and those of the depth sweep ``dp``, whose measurements are shown) and residual ones."""
    L = np.arange(1, dp["var_J"].shape[1] + 1)
    settings = ([("vanilla", w) for w in sorted({1.6, 1.8, 2.0, 2.2, 2.4, *map(float, dp["sigma_w2"])})]
                + [("residual", w) for w in (0.2, 0.5, 1.0, 2.0)])
    frames = {}
    for kind, w in settings:
        res = kind == "residual"
        pred = [theory.var_J(s.d, int(l), w, residual=res) for l in L]
        hit = [i for i, w_m in enumerate(dp["sigma_w2"]) if not res and abs(float(w_m) - w) < 1e-12]
        mx, my = (L, dp["var_J"][hit[0]]) if hit else (np.array([]), np.array([]))
        frames[f"{kind} σ²_w={w:g} (ω={theory.omega(w, residual=res):.2f})"] = [
            Series("ω^L/d (Theorem 4.1)", L, pred, "theory"), Series("measured (depth sweep)", mx, my)]
    return slider_figure(frames, xlabel="depth L", ylabel="Var J_11", log_y=True, slider_label="setting: ",
                         title=f"Var J_11 = ω^L/d against depth (d={s.d})")
