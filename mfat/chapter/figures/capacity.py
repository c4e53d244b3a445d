"""Figures of chapter 5, capacity: the Fisher-Rao norm under adversarial training (Theorem 5.8).

Each function takes the chapter's results (:mod:`mfat.experiments.capacity`) and settings, and returns the
figure. Norms along training are shown relative to their value at t = 0; time is t = lr x steps.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from mfat import theory
from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments import capacity as cap

__all__ = ["init_norm", "slope_rates", "fr_curves", "fr_curve_slider", "accuracy", "fashion_comparison"]

_T_LABEL = "training time $t$ = lr $\\times$ steps"


def init_norm(table, settings, *, K: int):
    """E||w||_FR^2 at initialisation against the depth, vanilla and residual: the Monte Carlo means of
    :func:`mfat.experiments.capacity.init_table` with two standard errors, and Theorem 5.8's formula."""
    S = settings
    fig, axes = plotting.figure(2, height=3.4)
    for ax, kind, sw2, res in ((axes[0, 0], "vanilla", S.vanilla_sigma_w2, False),
                               (axes[0, 1], "residual", S.residual_sigma_w2, True)):
        LL = np.arange(1, max(S.init_depths) + 1)
        plotting.theory_line(ax, LL, [theory.fisher_rao_expectation(sw2, int(L), K, residual=res) for L in LL],
                             label="$LK\\alpha\\sigma_w^2\\omega^{L-1}$")
        sub = table[table["networks"] == kind]
        plotting.measured(ax, sub["L"], sub["measured mean"], yerr=sub["2 s.e."],
                          label=f"mean of {S.init_networks} networks $\\pm$ 2 s.e.")
        ax.set_yscale("log")
        om = theory.omega(sw2, residual=res)
        ax.set(xlabel="depth $L$", ylabel="$\\mathbb{E}\\,\\|w\\|_{FR}^2$",
               title=f"{kind}, $\\sigma_w^2$={sw2:g} ($\\omega$={om:.2f}), N={S.init_N}, K={K}")
        ax.legend(loc="upper left")
    fig.suptitle(f"Fisher-Rao norm at initialisation, inputs with $\\|x\\|^2 = d$ = {S.init_d} (dashed: theory)")
    return fig


def slope_rates(slopes, by_width, by_depth, settings):
    """The initial decay rate of log FR against the width and the depth: exact and radial, each network
    (``slopes`` from :func:`mfat.experiments.capacity.summarise_slopes`), with Theorem 5.8's line."""
    S = settings
    fig, axes = plotting.figure(2, height=3.5)
    c = plotting.colors()
    for ax, sub, xcol, label in ((axes[0, 0], by_width, "N", f"width $N$ (L={S.L})"),
                                 (axes[0, 1], by_depth, "L", f"depth $L$ (N={S.N})")):
        pts = slopes[slopes["L"] == S.L] if xcol == "N" else slopes[slopes["N"] == S.N]
        plotting.measured(ax, pts[xcol], -pts["rel_full"], label="exact FR (each network)", color=c[0], alpha=0.6)
        plotting.measured(ax, pts[xcol], -pts["rel_radial"], label="radial part (each network)", color=c[1],
                          marker="s", alpha=0.6)
        plotting.theory_line(ax, sub[xcol], -sub["rel_theorem_beta"], label="Theorem 5.8: $c\\epsilon\\alpha\\beta L/N$")
        ax.set(xscale="log", yscale="log", xlabel=label,
               ylabel="initial decay rate $-\\frac{d}{dt}\\log\\|w\\|_{FR}^2$")
        plotting.integer_ticks(ax, pts[xcol])
        ax.set_ylim(0.3 * min(-pts["rel_radial"].max(), -sub["rel_theorem_beta"].max()), 5 * (-pts["rel_full"]).max())
        ax.legend(loc="center left", fontsize="small")
    fig.suptitle(f"{S.dataset}: initial decay rate of the Fisher-Rao norm, adv_only, $p=q=\\infty$, "
                 f"$\\epsilon$={S.eps}")
    return fig


def _curve_column(top, bottom, runs, settings, sel, label_of, beta, K):
    """One column of :func:`fr_curves`: the runs of ``sel`` (N, L), exact norm on top, mean-field below."""
    S = settings
    for (N, L), color in zip(sel, plotting.colors()):
        r = runs[("adv_only", N, L)]
        tt = np.linspace(0, r["t"][-1], 100)
        rate_beta = cap.theorem_rate(S.eps, beta, N, L, K, S.vanilla_sigma_w2)
        rate_meas = cap.measured_rate(r, N, L, S.slope_steps, S.vanilla_sigma_w2)
        top.plot(r["t"], r["fr"] / r["fr"][0], color=color, marker="o", ms=3, lw=1.2, label=label_of(N, L))
        plotting.theory_line(top, tt, 1 + rate_beta * tt, color=color, label=None, lw=1.2)
        bottom.plot(r["t"], r["fr_mf"] / r["fr_mf"][0], color=color, marker="s", ms=3, mfc="none", lw=1.0,
                    label=label_of(N, L))
        plotting.theory_line(bottom, tt, 1 + rate_meas * tt, color=color, label=None, lw=1.2)
        plotting.theory_line(bottom, tt, 1 + rate_beta * tt, color=color, label=None, lw=1.0, ls=":")
    std = runs.get(("standard", S.N, S.L))
    if std is not None and (S.N, S.L) in sel:
        top.plot(std["t"], std["fr"] / std["fr"][0], color="grey", marker="^", ms=3, lw=1.0,
                 label=f"standard, N={S.N}, L={S.L}")


def fr_curves(runs: dict, settings, *, beta: float, K: int, title: str):
    """The norm along adv_only training (:func:`mfat.experiments.capacity.curve_runs`), widths on the left
    and depths on the right: the exact norm (log scale, top) with Theorem 5.8's line, and the mean-field norm
    (bottom) with the line at the measured E[L_adv] and with beta."""
    S = settings
    fig, axes = plotting.figure(2, 2, height=3.1)
    panels = (([(N, S.L) for N in S.widths], lambda N, L: f"N={N}", f"widths, L={S.L}"),
              ([(S.N, L) for L in S.depths], lambda N, L: f"L={L}", f"depths, N={S.N}"))
    for col, (sel, label_of, name) in enumerate(panels):
        top, bottom = axes[0, col], axes[1, col]
        _curve_column(top, bottom, runs, S, sel, label_of, beta, K)
        top.set(yscale="log", ylabel="exact $\\|w(t)\\|_{FR}^2/\\|w(0)\\|_{FR}^2$", title=f"exact norm: {name}")
        bottom.set(xlabel=_T_LABEL, ylabel="mean-field norm / initial", title=f"mean-field norm: {name}")
        top.legend(loc="lower left", fontsize="x-small")
    styles = [Line2D([], [], color="grey", marker="o", ms=3, label="measured (exact: filled, mean-field: open)"),
              Line2D([], [], color=plotting.THEORY, ls="--",
                     label="Theorem 5.8: top with $\\beta_{\\infty,\\infty}$, bottom with measured $\\mathbb{E}L_{adv}$"),
              Line2D([], [], color=plotting.THEORY, ls=":", label="Theorem 5.8 with $\\beta_{\\infty,\\infty}$")]
    plotting.figure_legend(fig, styles, ncol=2)
    fig.suptitle(title)
    return fig


def fr_curve_slider(runs: dict, settings, *, beta: float, K: int, grid):
    """Interactive: one frame per (N, L) of ``grid``: Theorem 5.8's line with beta and with the measured
    E[L_adv] (clipped at 0), and the measured mean-field and exact norms, all relative to t = 0."""
    S = settings
    frames = {}
    for N, L in grid:
        r = runs[("adv_only", N, L)]
        tt = np.linspace(0, r["t"][-1], 100)
        fr0 = theory.fisher_rao_expectation(S.vanilla_sigma_w2, L, K)
        rate_meas = cap.measured_rate(r, N, L, S.slope_steps, S.vanilla_sigma_w2)
        frames[f"N={N}, L={L}"] = [
            Series("Theorem 5.8 with β", tt,
                   theory.fisher_rao_linear(tt, S.eps, beta, N, L, K, S.vanilla_sigma_w2) / fr0, "theory"),
            Series("Theorem 5.8 with measured E L_adv", tt, np.maximum(1 + rate_meas * tt, 0.0), "theory"),
            Series("mean-field norm (measured σ_l²)", r["t"], r["fr_mf"] / r["fr_mf"][0]),
            Series("exact norm", r["t"], r["fr"] / r["fr"][0]),
        ]
    return slider_figure(frames, xlabel="training time t = lr × steps", ylabel="||w(t)||²_FR / ||w(0)||²_FR",
                         slider_label="setting: ", log_y=True,
                         title=f"Fisher-Rao norm under adv_only training, ε={S.eps:g}")


def accuracy(acc: dict, settings):
    """Capacity against accuracy (:func:`mfat.experiments.capacity.accuracy_runs`): the relative exact norm,
    the clean and the robust test accuracy over training, main line and standard, each width."""
    S = settings
    fig, axes = plotting.panels(3, height=3.3)
    obj_color = {"adversarial": plotting.colors()[0], "standard": plotting.colors()[1]}
    width_style = dict(zip(S.acc_widths, ["-", "--", ":", "-."]))
    for (obj, N), r in acc.items():
        lab = f"{'CE + $L_{adv}$' if obj == 'adversarial' else 'standard'}, N={N}"
        kw = dict(color=obj_color[obj], ls=width_style[N], marker="o", ms=3, lw=1.3, label=lab)
        axes[0].plot(r["t"], r["fr"] / r["fr"][0], **kw)
        axes[1].plot(r["t"], r["clean_acc"], **kw)
        axes[2].plot(r["t"], r["robust_acc"], **kw)
    axes[0].set(yscale="log", ylabel="$\\|w(t)\\|_{FR}^2/\\|w(0)\\|_{FR}^2$", title="capacity (exact norm)")
    axes[1].set(ylabel="clean accuracy", title="clean accuracy (test)", ylim=(0, 1))
    axes[2].set(ylabel="robust accuracy", title=f"robust accuracy, PGD $\\epsilon$={S.acc_eps}", ylim=(0, 1))
    for ax in axes:
        ax.set_xlabel("time $t$ = lr $\\times$ steps")
    axes[1].axhline(0.1, color="grey", lw=0.8, ls=":")
    axes[2].set_ylim(0, max(0.2, 1.2 * max(float(r["robust_acc"].max()) for r in acc.values())))
    handles, labels = axes[0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, labels, ncol=2)
    fig.suptitle(f"{S.dataset}: capacity versus accuracy, vanilla ReLU, L={S.L}, $\\epsilon$={S.acc_eps}, "
                 f"{S.acc_steps} steps (dotted: chance)")
    return fig


def fashion_comparison(mnist_run: dict, fashion_run: dict, settings):
    """The exact and mean-field norms of the middle setting on the main data set and on Fashion-MNIST, with
    Theorem 5.8 at the measured E[L_adv]."""
    S = settings
    fig, axes = plotting.figure(2, height=3.3)
    main = "MNIST" if S.dataset == "mnist" else S.dataset
    for ax, (name, run) in zip(axes[0], ((main, mnist_run), ("Fashion-MNIST", fashion_run))):
        tt = np.linspace(0, run["t"][-1], 100)
        ax.plot(run["t"], run["fr"] / run["fr"][0], marker="o", ms=3, label="exact")
        ax.plot(run["t"], run["fr_mf"] / run["fr_mf"][0], marker="s", ms=3, mfc="none", ls=":",
                label="mean-field (measured $\\sigma_l^2$)")
        rate = cap.measured_rate(run, S.N, S.L, S.slope_steps, S.vanilla_sigma_w2)
        plotting.theory_line(ax, tt, 1 + rate * tt, label="Theorem 5.8, measured $\\mathbb{E}L_{adv}$")
        ax.set(yscale="log", xlabel="training time $t$", ylabel="$\\|w(t)\\|_{FR}^2/\\|w(0)\\|_{FR}^2$",
               title=f"{name}, N={S.N}, L={S.L}")
        ax.legend(loc="lower left", fontsize="small")
    fig.suptitle(f"{main} versus Fashion-MNIST, adv_only, $p=q=\\infty$, $\\epsilon$={S.eps}")
    return fig
