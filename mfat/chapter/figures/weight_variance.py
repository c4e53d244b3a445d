"""Figures of chapter 3, weight variance under adversarial training (Theorem 5.4).

Each function takes the chapter's results (:mod:`mfat.experiments.weight_variance`), its settings and the
dimension factor ``beta`` = beta_{inf,inf}(d, K), and returns the figure. Time is gradient-flow time
t = lr x steps throughout.
"""

from __future__ import annotations

import numpy as np

from mfat import theory
from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments import weight_variance as wv

__all__ = ["fig4", "slope_sweeps", "residual", "departure", "variance_width_slider"]

# label and marker of each objective in the right panel of Fig. 4
_STYLES = {"adversarial": ("CE + $L_{adv}$ (main line)", "o"), "adv_only": ("$L_{adv}$ only", "s"),
           "madry": ("Madry (CE at PGD examples)", "^"), "standard": ("standard (CE)", "D"), "l2": (None, "v")}
_T_LABEL = "training time $t$ = lr $\\times$ steps"


def _layer_changes(table):
    """sigma_{w,l}^2(t) - sigma_{w,l}^2(0), one column per layer."""
    cols = [c for c in table.columns if c.startswith("sigma_w2_")]
    return table[cols] - table[cols].iloc[0]


def _fig4_layers(ax, runs, S, beta):
    """Left panel of Fig. 4: each layer's change under CE + L_adv, with the three predicted lines."""
    adv = runs["adversarial"]["table"]
    t = adv["t"].to_numpy()
    tt = np.linspace(0, t[-1], 200)
    changes = _layer_changes(adv)
    for col, color in zip(changes.columns, plotting.colors(S.L)):
        ax.plot(t, changes[col], color=color, lw=1.2, alpha=0.85)
    ax.plot([], [], color="grey", lw=1.2, label=f"measured, each of the {S.L} layers")
    plotting.theory_line(ax, tt, theory.sigma_w2_linear(tt, 2.0, S.eps, beta, S.L, S.N) - 2.0,
                         label="Theorem 5.4, frozen rate")
    plotting.theory_line(ax, tt, theory.sigma_w2_ode(tt, 2.0, S.eps, beta, S.L, S.N) - 2.0, ls="-.",
                         label="Theorem 5.4, unfrozen ODE")
    rate_meas = theory.slope_from_measured_Ladv(runs["adversarial"]["L_adv0"], S.N)
    plotting.theory_line(ax, tt, rate_meas * tt, ls=":", color=plotting.colors(8)[7],
                         label="rate $-2\\,\\mathbb{E}L_{adv}(0)/N$ (measured)")
    ax.set(xlabel=_T_LABEL, ylabel="$\\sigma_{w,l}^2(t) - \\sigma_{w,l}^2(0)$", title="CE + $L_{adv}$: every layer")
    rate_beta = theory.variance_slope(S.eps, beta, S.L, S.N, S.sigma_w2)
    ax.set_ylim(1.1 * min(ax.get_ylim()[0], changes.min().min()), 0.02 * abs(rate_beta) * t[-1])
    plotting.legend_below(ax)


def _fig4_objectives(ax, runs, S, beta):
    """Right panel of Fig. 4: sigma_w^2(t) (mean over layers) for every objective, Theorem 5.4 and the l2 law."""
    t_end = runs["adversarial"]["table"]["t"].iloc[-1]
    tt = np.linspace(0, t_end, 200)
    for (name, (label, marker)), color in zip(_STYLES.items(), plotting.colors()):
        if name in runs:
            tab = runs[name]["table"]
            plotting.measured(ax, tab["t"], tab["sigma_w2"], color=color, marker=marker, ms=3, ls="-", lw=0.8,
                              label=label or f"$\\ell_2$, $\\lambda$={S.weight_decay:g}",
                              markevery=max(1, len(tab) // 15))
    sw0 = runs["adversarial"]["table"]["sigma_w2"].iloc[0]
    plotting.theory_line(ax, tt, theory.sigma_w2_linear(tt, sw0, S.eps, beta, S.L, S.N), label="Theorem 5.4")
    plotting.theory_line(ax, tt, theory.sigma_w2_weight_decay(tt, sw0, S.weight_decay), ls=(0, (1, 1.5)),
                         label="$\\ell_2$: $\\sigma_w^2(0)e^{-2\\lambda t}$")
    ax.set(xlabel=_T_LABEL, ylabel="$\\sigma_w^2(t)$ (mean over layers)", title="all objectives")
    low = min(min(float(r["table"]["sigma_w2"].min()) for r in runs.values()),
              float(theory.sigma_w2_weight_decay(t_end, sw0, S.weight_decay)))
    pad = 0.15 * max(sw0 - low, 1e-4)
    ax.set_ylim(low - pad, max(float(r["table"]["sigma_w2"].max()) for r in runs.values()) + pad)
    plotting.legend_below(ax)


def fig4(runs: dict, settings, *, beta: float, title: str):
    """Fig. 4: every layer's sigma_w^2 under CE + L_adv (left) and sigma_w^2(t) per objective (right).

    ``runs``: {objective: :func:`mfat.experiments.weight_variance.train_run` result}, as returned by
    :func:`mfat.experiments.weight_variance.objective_runs`.
    """
    fig, axes = plotting.figure(2, height=4.6)
    _fig4_layers(axes[0, 0], runs, settings, beta)
    _fig4_objectives(axes[0, 1], runs, settings, beta)
    fig.suptitle(title)
    return fig


def _sweep_panel(ax, tab, key, S, beta):
    """Depth or budget panel: -N slope / 2 and the mean L_adv against L or eps, with the Theorem 5.1 bound."""
    omega0 = theory.omega(S.sigma_w2)
    xs = tab["L"] if key == "depth" else tab["eps"]
    plotting.measured(ax, xs, -tab["slope"] * S.N / 2, label="measured $-N\\dot\\sigma_w^2/2$")
    plotting.measured(ax, xs, tab["mean_L_adv"], label="measured $\\overline{L_{adv}}$", marker="x", ms=8,
                      color=plotting.colors(2)[1])
    grid = np.linspace(min(xs) * 0.9, max(xs) * 1.05, 50)
    if key == "depth":
        plotting.theory_line(ax, grid, [S.eps * beta * omega0 ** (g / 2) for g in grid],
                             label="$\\epsilon\\beta\\omega_v^{L/2}$ (Theorem 5.4)")
        ax.set(title=f"depth (N={S.N}, $\\omega_v$=1)", xlabel="depth $L$")
    else:
        plotting.theory_line(ax, grid, grid * beta * omega0 ** (S.L / 2), label="$\\epsilon\\beta\\omega_v^{L/2}$")
        ax.set(title=f"budget (N={S.N}, L={S.L})", xlabel="budget $\\epsilon$")
    ax.set(ylabel="rate $\\times N/2$")
    ax.set_ylim(0, None)
    plotting.legend_below(ax)


def slope_sweeps(sweeps: dict, width, settings, *, beta: float):
    """Initial slope of sigma_w^2 against the width (log-log, with 1/N), the depth and the budget.

    ``sweeps``: :func:`mfat.experiments.weight_variance.slope_sweeps`; ``width``: its
    :func:`mfat.experiments.weight_variance.width_table`.
    """
    S = settings
    fig, axes = plotting.panels(3, height=4.2)
    ax = axes[0]
    NN = wv.width_grid(S.widths)
    plotting.measured(ax, sweeps["width"]["N"], -sweeps["width"]["slope"], label="measured (each network)", ms=4,
                      alpha=0.5)
    plotting.measured(ax, width["N"], -width["slope"], label="mean", marker="D", color=plotting.colors(2)[1])
    plotting.theory_line(ax, NN, [-theory.variance_slope(S.eps, beta, S.L, int(n), S.sigma_w2) for n in NN],
                         label="Theorem 5.4 ($\\propto 1/N$)")
    plotting.theory_line(ax, NN, 2 * width["L_adv"].mean() / NN, ls=":", label="$2\\,\\overline{L_{adv}}/N$")
    ax.set(xscale="log", yscale="log", xlabel="width $N$", ylabel="$-d\\sigma_w^2/dt$ at $t=0$",
           title=f"width (L={S.L})")
    plotting.integer_ticks(ax, S.widths)
    plotting.legend_below(ax)
    _sweep_panel(axes[1], sweeps["depth"], "depth", S, beta)
    _sweep_panel(axes[2], sweeps["eps"], "eps", S, beta)
    fig.suptitle("Initial slope of $\\sigma_w^2$ under $L_{adv}$-only training (MNIST, $p=q=\\infty$)")
    return fig


def residual(runs: dict, settings, *, beta: float, rate: float):
    """The residual network's sigma_w^2(t) (main line and standard) with the residual Theorem 5.4 (frozen and
    unfrozen) and the initial ``rate`` predicted from the measured residual factor and L_adv."""
    S = settings
    fig, axes = plotting.figure(1, height=4.4, width=plotting.WIDTH * 0.62)
    ax = axes[0, 0]
    tab, std = runs["adversarial"]["table"], runs["standard"]["table"]
    tt = np.linspace(0, tab["t"].iloc[-1], 200)
    sw0 = tab["sigma_w2"].iloc[0]
    plotting.measured(ax, tab["t"], tab["sigma_w2"], label="measured (CE + $L_{adv}$)", ms=3, ls="-", lw=0.8)
    plotting.measured(ax, std["t"], std["sigma_w2"], label="measured (standard)", ms=3, ls="-", lw=0.8, marker="D",
                      color=plotting.colors(4)[3])
    plotting.theory_line(ax, tt, theory.sigma_w2_linear(tt, sw0, S.eps, beta, S.L, S.N, residual=True),
                         label="residual Theorem 5.4, frozen")
    plotting.theory_line(ax, tt, theory.sigma_w2_ode(tt, sw0, S.eps, beta, S.L, S.N, residual=True), ls="-.",
                         label="residual, unfrozen ODE")
    plotting.theory_line(ax, tt, sw0 + rate * tt, ls=":", color=plotting.colors(8)[7],
                         label="initial rate $-2f\\,\\overline{L_{adv}}/N$ + standard")
    span = 0.1 * abs(rate * tt[-1])
    ax.set(xlabel="training time $t$", ylabel="$\\sigma_w^2(t)$",
           ylim=(min(tab["sigma_w2"].min(), sw0 + rate * tt[-1]) - span, max(sw0, std["sigma_w2"].max()) + span),
           title=f"residual, L={S.L}, N={S.N}, $\\sigma_w^2(0)$={S.residual_sigma_w2:g}")
    plotting.legend_below(ax, ncol=2)
    return fig


def departure(table, integrated, width_runs, departure: dict, settings, *, beta: float):
    """Where Theorem 5.4 stops holding: the L_adv-only curve with the integrated identity (top left), its L_adv
    against the Theorem 5.1 bound at the current sigma_w^2 (top right), and the departure times against the
    width next to the ODE's (bottom; ``departure`` from
    :func:`mfat.experiments.weight_variance.departure_summary`)."""
    S = settings
    t = table["t"].to_numpy()
    sw = table["sigma_w2"]
    fig, axes = plotting.panels(3, height=4.2)
    ax = axes[0]
    plotting.measured(ax, t, sw, label="measured", ms=5, markevery=max(1, len(t) // 15), mfc="none")
    ax.plot(t, integrated, ls="-", lw=1.4, color=plotting.colors(2)[1], zorder=5,
            label="identity along measured $L_{adv}(t)$")
    plotting.theory_line(ax, t, theory.sigma_w2_linear(t, sw.iloc[0], S.eps, beta, S.L, S.N), label="Theorem 5.4")
    ax.set(xlabel="training time $t$", ylabel="$\\sigma_w^2(t)$", title="$L_{adv}$ only: $\\sigma_w^2$")
    drop = sw.iloc[0] - sw.min()
    ax.set_ylim(sw.min() - 1.5 * drop, sw.iloc[0] + 0.3 * drop)
    plotting.legend_below(ax)
    ax = axes[1]
    plotting.measured(ax, t, table["L_adv"], label="measured $L_{adv}$ (batch)", ms=4, markevery=max(1, len(t) // 25))
    plotting.theory_line(ax, t, wv.adversarial_loss_bound(S.eps, beta, S.L, sw.to_numpy()),
                         label="$\\epsilon\\beta(\\alpha\\sigma_w^2(t))^{L/2}$")
    ax.set(xlabel="training time $t$", ylabel="$L_{adv}$", title="the adversarial loss", ylim=(0, None))
    plotting.legend_below(ax)
    _departure_panel(axes[2], width_runs, departure, S)
    fig.suptitle(f"Where Theorem 5.4 stops holding (MNIST, L={S.L}, $\\epsilon$={S.eps})")
    return fig


def _departure_panel(ax, wt, departure, S):
    """Measured departure times of each network against the width, the ODE's, and the end of the runs."""
    plotting.measured(ax, wt["N"], wt["departure"].clip(upper=wt["t_max"].max()), label="measured (each network)",
                      alpha=0.6)
    plotting.theory_line(ax, wv.width_grid(S.widths), departure["ode_grid"], label="ODE vs line (inside the theory)")
    ax.axhline(wt["t_max"].max(), color="grey", lw=0.8, ls="--", label="end of the runs")
    ax.set(xscale="log", yscale="log", xlabel="width $N$", ylabel="time $t$ of a 10% departure",
           title="how long is 'early'?")
    plotting.integer_ticks(ax, S.widths, rotation=45)
    plotting.legend_below(ax)


def variance_width_slider(table, integrated, settings, *, beta: float):
    """Interactive: Theorem 5.4's frozen line and unfrozen ODE for each width of the chapter; at the Fig. 4
    width also the measured L_adv-only curve (``table``) and the identity ``integrated`` along it."""
    S = settings
    t_meas = table["t"].to_numpy()
    t_grid = np.linspace(0.0, float(t_meas[-1]), 200)
    empty = np.array([])
    frames = {}
    for n_width in sorted(set(S.widths) | {S.N}):
        here = n_width == S.N
        frames[f"N={n_width}"] = [
            Series("Theorem 5.4, frozen rate", t_grid,
                   theory.sigma_w2_linear(t_grid, S.sigma_w2, S.eps, beta, S.L, n_width), "theory"),
            Series("unfrozen ODE", t_grid, theory.sigma_w2_ode(t_grid, S.sigma_w2, S.eps, beta, S.L, n_width),
                   "theory"),
            Series("identity along measured L_adv(t)", t_meas if here else empty, integrated if here else empty,
                   "theory"),
            Series("measured (L_adv only)", t_meas if here else empty,
                   table["sigma_w2"].to_numpy() if here else empty, "measured"),
        ]
    return slider_figure(frames, xlabel="training time t = lr × steps", ylabel="σ²_w(t) (mean over layers)",
                         title=f"Theorem 5.4 against the width (L={S.L}, ε={S.eps}, p=q=∞)", slider_label="width: ")
