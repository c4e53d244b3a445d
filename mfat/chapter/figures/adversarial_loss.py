"""The figures of chapter 2, "Upper bounds on the adversarial loss" (Theorem 5.1).

Each function draws one figure from a measurement of :mod:`mfat.experiments.adversarial_loss` and the chapter's
settings ``s`` (:class:`mfat.chapter.settings.adversarial_loss.AdversarialLossSettings`) in the book's theme
(:mod:`mfat.chapter.plotting`) and returns it: predictions as lines, measurements as markers with their spread.
"""

from __future__ import annotations

import math

import matplotlib.ticker as mticker
import numpy as np

from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments import adversarial_loss as al
from mfat.theory import adversarial_loss as bounds
from mfat.theory.meanfield import omega

__all__ = ["eps_sweep", "fig3", "fig3_exact_law", "fig3_slider", "beta_2inf", "depth_law", "k_law", "width_excess"]


def plain_ticks(ax, x=None, y: bool = True) -> None:
    """Log axes labelled with plain numbers: x ticks at the measured values ``x``, y ticks at 1, 2, 5 x 10^k."""
    if x is not None:
        ax.set_xticks(x)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    if y:
        ax.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.yaxis.set_minor_formatter(mticker.NullFormatter())


def _legend_below(fig, axes, **kwargs) -> None:
    """One legend under the figure with every label of ``axes`` once."""
    handles = {}
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center", **kwargs)


def eps_sweep(identity_result: dict, s):
    """The loss over the identity eps ||J(x)||_{p,q} and the fraction of units flipped, against the budget.

    identity_result: :func:`mfat.experiments.adversarial_loss.identity_measurement`; dotted lines mark the median
    region radius r_p(x) of each threat model.
    """
    sweep_eps, ident = identity_result["eps_sweep"], identity_result["identity"]
    eps_grid = np.asarray(s.eps_grid)
    fig, axes = plotting.figure(2, height=3.4)
    for k, pq in enumerate(map(tuple, sweep_eps["pairs"])):
        color = plotting.colors()[k]
        ratio = sweep_eps["L_adv"][:, k, :] / (eps_grid[:, None] * sweep_eps["norm"][k][None, :])
        axes[0, 0].errorbar(eps_grid, ratio.mean(1), yerr=ratio.std(1, ddof=1), marker="o", ms=4, capsize=2,
                            color=color, label=f"{al.pair_label(*pq)} (mean ± sd)")
        axes[0, 1].plot(eps_grid, sweep_eps["flips"][:, k, :].mean(1), marker="o", ms=4, color=color,
                        label=f"{al.pair_label(*pq)}")
        r = np.median(ident["radius"][al.RADIUS_INDEX[pq[0]]])
        for ax in axes[0]:
            ax.axvline(r, color=color, ls=":", lw=1)
    plotting.theory_line(axes[0, 0], eps_grid, np.ones_like(eps_grid),
                         label="identity: $\\epsilon\\|J(x)\\|_{p,q}$")
    axes[0, 0].set(xscale="log", xlabel="budget $\\epsilon$", ylabel="$L_{adv}/(\\epsilon\\|J(x)\\|_{p,q})$",
                   title="loss over the identity")
    axes[0, 1].set(xscale="log", xlabel="budget $\\epsilon$", ylabel="units flipped (fraction)",
                   title="activation flips at the attack's point")
    axes[0, 1].set_yscale("symlog", linthresh=1e-4)
    axes[0, 1].set_ylim(0, 1)
    axes[0, 0].legend(loc="lower left")
    axes[0, 1].legend(loc="upper left")
    fig.suptitle(f"MNIST images, N={s.id_N}, K={s.id_K}, L={s.L}; dotted: median region radius $r_p(x)$")
    return fig


def _bound_grid(s, d_values, summary: dict, beta: dict, K: int, scale: float, ylabel: str, measured_label: str,
                title: str, eps_symbol: str = "\\epsilon"):
    """The panels of Fig. 3, one per pair (p, q) in the order of ``threat_pairs``, two per row: ``summary``
    mean ± sd (C, n_pairs) against d, with the predictions ``scale`` beta (Monte Carlo, solid) and ``scale``
    beta_bar (closed form, dashed)."""
    pairs = al.threat_pairs(s.ps, s.qs)
    d_arr = np.asarray(d_values, dtype=float)
    d_fine = np.geomspace(d_arr.min(), d_arr.max(), 60)
    fig, axes = plotting.panels(len(pairs), height=2.5)
    for j, pq in enumerate(pairs):
        ax = axes[j]
        mc = np.array([beta[d][pq][0] for d in d_values])
        plotting.measured(ax, d_arr, summary["mean"][:, j], yerr=summary["sd"][:, j], label=measured_label,
                          color=plotting.colors()[0])
        plotting.theory_line(ax, d_arr, scale * mc, ls="-", lw=1.2,
                             label=f"${eps_symbol}\\beta\\omega^{{L/2}}$, $\\beta$ = Monte Carlo "
                                   "(of lower bounds where NP-hard)")
        plotting.theory_line(ax, d_fine, [scale * bounds.beta(*pq, int(round(d)), K, "bound") for d in d_fine],
                             label=f"closed-form upper bound ${eps_symbol}\\bar\\beta\\omega^{{L/2}}$")
        if pq == (2.0, math.inf):
            ax.plot(d_fine, [scale * bounds.beta(2, 2, int(round(d)), K, "bound") for d in d_fine], ":",
                    color="gray", label="(2,∞) through the spectral norm")
        ax.set(xscale="log", yscale="log", title=f"$(p,q)$ = {al.pair_label(*pq)}",
               xlim=(d_arr.min() / 1.6, d_arr.max() * 1.6))
        plain_ticks(ax, d_arr)
        ax.set(xlabel="input dimension $d$", ylabel=ylabel)
    _legend_below(fig, axes, ncol=2, fontsize="small")
    fig.suptitle(title)
    return fig


def fig3(res: dict, s, gain: float):
    """The paper's Fig. 3: measured L_adv (mean ± sd over inputs) against d for every pair, with eps beta
    omega^(L/2). res: :func:`mfat.experiments.adversarial_loss.fig3_measurement`; gain: omega^(L/2)."""
    return _bound_grid(s, s.d_values, al.loss_summary(res), res["beta"], s.K, s.eps * gain, "$L_{adv}$",
                       "measured $L_{adv}$ (mean ± sd)",
                       f"Fig. 3: adversarial loss, vanilla ReLU, N={s.N}, K={s.K}, L={s.L}, $\\epsilon$={s.eps:g}, "
                       f"{s.n_networks * s.n_inputs} inputs per d")


def fig3_exact_law(res: dict, s, gain: float):
    """Fig. 3 at the paper's width from the exact law of ||J(x)||_{p,q} (L_adv / eps for small eps), with beta
    omega^(L/2). res: :func:`mfat.experiments.adversarial_loss.paper_law_measurement`."""
    return _bound_grid(s, s.mf_d_values, al.law_summary(res), res["beta"], s.mf_K, gain, "$\\|J(x)\\|_{p,q}$",
                       "exact law of $\\|J(x)\\|_{p,q}$ (mean ± sd)",
                       f"Fig. 3 from the exact law: N={s.mf_N}, K={s.mf_K}, L={s.L}, {s.mf_samples} draws per d "
                       "($L_{adv}/\\epsilon$ for small $\\epsilon$)", eps_symbol="")


def fig3_slider(res: dict, s, gain: float):
    """Fig. 3 one threat model at a time (an interactive slider over the pairs), over a wider range of d: the
    closed-form bound, the Monte Carlo prediction and the measured mean L_adv."""
    d_arr = np.asarray(s.d_values, dtype=float)
    d_wide = np.unique(np.round(np.geomspace(max(1.0, d_arr.min() / 4), d_arr.max() * 4, 50)).astype(int))
    mean = al.loss_summary(res)["mean"]
    frames = {}
    for j, pq in enumerate(al.threat_pairs(s.ps, s.qs)):
        frames[al.pair_label(*pq)] = [
            Series("closed-form bound ε β̄ ω^(L/2)", d_wide,
                   [s.eps * bounds.beta(*pq, int(d), s.K, method="bound") * gain for d in d_wide], "theory"),
            Series("ε β ω^(L/2), β Monte Carlo", d_arr, [s.eps * res["beta"][d][pq][0] * gain for d in s.d_values],
                   "theory"),
            Series("measured mean L_adv", d_arr, mean[:, j]),
        ]
    return slider_figure(frames, xlabel="input dimension d", ylabel="L_adv", log_x=True, log_y=True,
                         slider_label="(p,q) = ", title=f"Fig. 3 per threat model: K={s.K}, L={s.L}, ε={s.eps:g}")


def beta_2inf(samples: dict, d_values, K_values):
    """Monte Carlo beta_{2,inf}(d, K) (mean ± sd) against d for every K, with its closed-form bound
    (m_d + sqrt(2 ln K)) / sqrt(d) and the cruder spectral route 1 + sqrt(K / d).
    samples: :func:`mfat.experiments.adversarial_loss.beta_2inf_measurement`."""
    d_values = np.asarray(d_values)
    fig, axes = plotting.figure(1, height=3.6)
    ax = axes[0, 0]
    d_line = np.geomspace(d_values.min(), d_values.max(), 60)
    for K, color in zip(K_values, plotting.colors()):
        v = np.array([samples[(K, int(d))].mean() for d in d_values])
        sd = np.array([samples[(K, int(d))].std(ddof=1) for d in d_values])
        plotting.measured(ax, d_values, v, yerr=sd, color=color, label=f"K={K}: Monte Carlo (mean ± sd)")
        plotting.theory_line(ax, d_line, [bounds.beta(2, math.inf, int(round(d)), K, "bound") for d in d_line],
                             color=color, label=f"K={K}: closed-form bound")
        ax.plot(d_line, 1 + np.sqrt(K / d_line), ":", color=color, lw=1.2, label=f"K={K}: spectral route")
    ax.axhline(1.0, color=plotting.THEORY, lw=0.8)
    ax.set(xscale="log", xlabel="input dimension $d$", ylabel="$\\beta_{2,\\infty}(d, K)$",
           title="the $(2,\\infty)$ factor tends to 1, so $L_{adv}\\approx\\epsilon\\,\\omega^{L/2}$ for every $d$")
    plain_ticks(ax, d_values, y=False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=len(K_values), fontsize="x-small")
    return fig


def depth_law(depth: dict, s):
    """||J(x)||_{p,q} (L_adv / eps for small eps; mean ± sd) against the depth, one panel per pair with p = q, one
    colour per network, with beta omega^(L/2) (dashed).
    depth: :func:`mfat.experiments.adversarial_loss.depth_measurement`."""
    pairs = al.diagonal_pairs(al.threat_pairs(s.ps, s.qs))
    networks = al.depth_networks(s.depth_sigma_w2, s.residual_sigma_w2)
    depths = np.asarray(s.depths)
    fig, axes = plotting.panels(len(pairs), height=3.3)
    for k, pq in enumerate(pairs):
        ax = axes[k]
        b = depth["beta"][pq][0]
        for (kind, w, residual), color in zip(networks, plotting.colors()):
            om = omega(w, residual=residual)
            stats = al.norm_summary(depth[(kind, w)])
            plotting.theory_line(ax, depths, b * om ** (depths / 2), label=None, color=color)
            plotting.measured(ax, depths, stats["mean"][:, k], yerr=stats["sd"][:, k], color=color,
                              label=f"{kind}, $\\sigma_w^2$={w:g}, $\\omega$={om:.2f} (mean ± sd)")
        ax.set(yscale="log", xlabel="depth $L$", title=f"$(p,q)$ = {al.pair_label(*pq)}",
               ylabel="$L_{adv}/\\epsilon$ (small $\\epsilon$) $=\\|J(x)\\|_{p,q}$")
        ax.set_xticks(depths)
        plain_ticks(ax)
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="outside lower center", ncol=2, fontsize="small")
    fig.suptitle(f"Exponential in depth: d={s.depth_d}, K={s.depth_K}, N={s.sweep_N} "
                 "(dashed: $\\beta\\,\\omega^{L/2}$)")
    return fig


def k_law(res: dict, s, gain: float):
    """||J(x)||_{p,q} (mean ± sd) against the number of outputs K, one panel per p, one colour per q, with the Monte
    Carlo beta omega^(L/2) (dashed). res: :func:`mfat.experiments.adversarial_loss.k_measurement`."""
    K_arr = np.asarray(s.K_values, dtype=float)
    stats = al.norm_summary(res)
    fig, axes = plotting.panels(len(s.ps), height=3.2)
    for j, pq in enumerate(al.threat_pairs(s.ps, s.qs)):
        ax = axes[s.ps.index(pq[0])]
        color = plotting.colors()[s.qs.index(pq[1])]
        mc = np.array([res["beta"][K][pq][0] for K in s.K_values])
        plotting.theory_line(ax, K_arr, mc * gain, label=None, color=color)
        plotting.measured(ax, K_arr, stats["mean"][:, j], yerr=stats["sd"][:, j], color=color,
                          label=f"q = {al.exponent_symbol(pq[1])}")
    for ax, p in zip(axes, s.ps):
        ax.set(xscale="log", yscale="log", xlabel="outputs $K$", title=f"p = {al.exponent_symbol(p)}",
               ylabel="$L_{adv}/\\epsilon$ (small $\\epsilon$)")
        plain_ticks(ax, K_arr)
        ax.legend(loc="upper left", fontsize="x-small")
    fig.suptitle(f"The law in K: d={s.K_d}, N={s.sweep_N}, L={s.L} "
                 "(markers: mean ± sd; dashed: $\\beta\\,\\omega^{L/2}$, Monte Carlo)")
    return fig


def width_excess(excess: dict, s, paper_N: int = 40000):
    """The finite-width excess E||J||_{p,q} / (beta omega^(L/2)) - 1 against the width: explicit networks (markers,
    ± 1 s.e.) and the exact law (lines). excess: :func:`mfat.experiments.adversarial_loss.finite_width_excess`."""
    N_arr = np.asarray(s.widths, dtype=float)
    NL_arr = np.asarray(al.law_widths(s.widths, s.law_widths), dtype=float)
    fig, axes = plotting.figure(1, height=4.4)
    ax = axes[0, 0]
    for j, pq in enumerate(al.threat_pairs(s.ps, s.qs)):
        color = plotting.colors()[j % 10]
        (m, se), (lm, _) = excess["explicit"][pq], excess["law"][pq]
        ax.errorbar(N_arr, m, yerr=se, marker="o", ms=4, capsize=2, ls="none", color=color)
        ax.plot(NL_arr, lm, "-", lw=0.9, color=color, label=f"{al.pair_label(*pq)}")
    ax.errorbar([], [], yerr=[], marker="o", ms=4, ls="none", color="0.4", label="explicit networks (± 1 s.e.)")
    ax.plot([], [], "-", lw=0.9, color="0.4", label="exact law")
    ax.axhline(0.05, color=plotting.THEORY, ls="--", lw=1, label="5% (allowance of the bound)")
    ax.axhline(0.0, color=plotting.THEORY, lw=0.6)
    ax.axvline(paper_N, color="0.5", ls=":", lw=1)
    ax.text(paper_N, ax.get_ylim()[1], " paper's N", va="top", fontsize="x-small", color="0.4")
    ax.set(xscale="log", xlabel="width $N$", ylabel="$\\mathbb{E}\\|J\\|_{p,q}/(\\beta\\,\\omega^{L/2}) - 1$",
           title=f"finite-width excess, K={s.width_K}, d={s.width_d}, L={s.L}")
    plain_ticks(ax, NL_arr, y=False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize="x-small")
    return fig
