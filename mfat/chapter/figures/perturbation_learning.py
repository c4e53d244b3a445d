"""The figures of chapter 6, "Wide two-layer networks learn from adversarial perturbations" (NeurIPS 2024).

Each function draws one figure from a measurement of :mod:`mfat.experiments.perturbation_learning` and the chapter's
settings ``s`` (:class:`mfat.chapter.settings.perturbation_learning.PerturbationLearningSettings`) and returns it:
closed forms and lazy predictions as dashed lines, measurements as markers with one standard deviation over seeds.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mfat import theory
from mfat.chapter import plotting
from mfat.experiments import perturbation_learning as pl

__all__ = ["kernel", "lazy_dynamics", "alignment", "decision_maps", "sweeps", "cosine_at_width"]

#: metric -> (legend label, colour index, marker, line style) of the sweep figures
METRIC_STYLE = {"standard_acc": ("Standard (f on D)", 0, "o", "-"),
                "perturbation_acc": ("Perturbation (g on D)", 1, "X", "--"),
                "agreement": ("Agreement (f vs g)", 2, "^", ":")}
XLABEL = {"eps": "$\\epsilon$", "T_f": "$T_f$", "T_g": "$T_g$", "d": "$d$", "m": "width $m$",
          "gamma": "leaky slope $\\gamma$", "N": "$N$"}
LOGX = {"T_f", "T_g", "m", "N", "d"}
AGREE, DISAGREE, FHAT = "#d9ead3", "#f4c7c3", "#c0392b"
POSITIVE, NEGATIVE = "#1f4e79", "#7f3b08"


def _seed_markers(ax, x, values, **kwargs):
    """Mean over seeds (axis 0 of ``values``) with one standard deviation as error bars."""
    return plotting.measured(ax, x, values.mean(0), yerr=values.std(0, ddof=1), **kwargs)


def kernel(kern: dict, s):
    """Phi against the angle theta: the closed form (eq-phi-closed) dashed, the Monte Carlo estimates as markers,
    one colour per slope gamma. kern: :func:`mfat.experiments.perturbation_learning.kernel_measurement`."""
    fig, axes = plotting.figure(1, height=3.2)
    ax = axes[0, 0]
    grid = np.linspace(0, np.pi, 200)
    for gm, color in zip(s.kernel_gammas, plotting.colors()):
        plotting.theory_line(ax, grid, theory.kernel_from_angle(grid, gm), label=None)
        plotting.measured(ax, kern["theta"], kern[f"mc_{gm}"], color=color,
                          label=f"Monte Carlo, $\\gamma$={gm:g} ({s.kernel_draws:,} units)")
    ax.plot([], [], color=plotting.THEORY, ls="--", label="closed form (eq-phi-closed)")
    ax.set(xlabel="angle $\\theta = \\arccos\\rho$ (rad)", ylabel="$\\Phi(z_1, z_2)$",
           title=f"The kernel $\\Phi$: closed form vs Monte Carlo ({s.kernel_pairs} input pairs, d={s.kernel_d})")
    ax.legend(loc="lower left")
    return fig


def lazy_dynamics(lazy: dict, s):
    """Left: measured f_T - f_0 against the lazy prediction (eq-lazy) at the largest width. Right: the relative error
    of the prediction and the flipped-pattern fraction against the width, with the m^(-1/2) law through the widest
    point. lazy: :func:`mfat.experiments.perturbation_learning.lazy_dynamics`."""
    widths = lazy["widths"].astype(float)
    fig, axes = plotting.figure(2, height=3.3)
    ax = axes[0, 0]
    p, q = lazy["scatter_predicted"], lazy["scatter_measured"]
    lim = [min(p.min(), q.min()), max(p.max(), q.max())]
    plotting.theory_line(ax, lim, lim, label="y = x")
    plotting.measured(ax, p, q, ms=3, alpha=0.6, label=f"m={int(widths[-1])}, {len(p)} inputs")
    ax.set(xlabel="predicted $f_T(z)-f_0(z)$ (eq-lazy)", ylabel="measured $f_T(z)-f_0(z)$",
           title=f"T={s.lazy_T:g}, d={s.lazy_d}, N={s.lazy_N}")
    ax.legend(loc="upper left")
    ax = axes[0, 1]
    for key, label, color in (("rel_error", "relative error of (eq-lazy)", plotting.colors()[0]),
                              ("flipped", "flipped activation patterns", plotting.colors()[1])):
        vals = lazy[key]
        plotting.measured(ax, widths, vals.mean(1), yerr=vals.std(1, ddof=1) if len(vals[0]) > 1 else None,
                          color=color, label=label)
    ref = lazy["flipped"].mean(1)[-1] * np.sqrt(widths[-1] / widths)
    plotting.theory_line(ax, widths, ref, label="slope $m^{-1/2}$ (pattern argument)")
    ax.set(xscale="log", yscale="log", xlabel="width $m$", ylabel="fraction",
           title=f"approach to the lazy regime ({s.n_seeds} seeds)")
    ax.legend(loc="lower left")
    fig.suptitle("Lazy dynamics of f on shifted Gauss (markers: mean $\\pm$ sd over seeds)")
    return fig


def alignment(align: dict, s):
    """Theorem A: mean |cos(eta_n, .)| against T_f (with the learned sum alone and with the init residual added) and
    against d, with the 0.95 target. align: :func:`mfat.experiments.perturbation_learning.alignment_measurement`."""
    fig, axes = plotting.figure(2, height=3.1)
    colors = plotting.colors()
    vs_T = align["vs_T"]
    ax = axes[0, 0]
    _seed_markers(ax, vs_T["T"], vs_T["cosine"], color=colors[0], label="with $\\sum_k y_k\\Phi(x_n, x_k) x_k$")
    _seed_markers(ax, vs_T["T"], vs_T["cosine_full"], color=colors[2], marker="s",
                  label="with $\\nabla f_0 + \\frac{T_f}{N}\\sum_k y_k\\Phi x_k$")
    ax.axhline(0.95, color=plotting.THEORY, ls="--", lw=1, label="0.95 (target)")
    ax.set(xscale="log", xlabel="$T_f$", ylabel="mean over $n$ of $|\\cos|$",
           title=f"vs $T_f$ (m={s.align_m}, d={s.lazy_d}, N={s.lazy_N})")
    ax.legend(loc="lower right", fontsize="x-small")
    ax = axes[0, 1]
    ds = np.array(sorted(align["vs_d"]))
    _seed_markers(ax, ds, np.stack([align["vs_d"][d]["cosine"][:, 0] for d in ds], 1), color=colors[0],
                  label=f"$T_f$={s.align_T_d:g}")
    ax.axhline(0.95, color=plotting.THEORY, ls="--", lw=1, label="0.95")
    ax.set(xscale="log", xlabel="input dimension $d$", ylabel="mean over $n$ of $|\\cos|$",
           title=f"vs $d$ (m={s.align_m}, N={s.lazy_N})")
    ax.legend(loc="lower right", fontsize="x-small")
    fig.suptitle(f"Theorem A: $|\\cos(\\eta_n, \\cdot)|$ on shifted Gauss, mean $\\pm$ sd over {s.n_seeds} seeds")
    return fig


def _decision_panel(ax, mp: dict, sc: str):
    """One decision map: where sign f = sign g (shaded), f-hat = 0, g-hat = 0 and the projected training inputs."""
    agree = (np.sign(mp["f"]) == np.sign(mp[f"g_{sc}"])).astype(float)
    ax.pcolormesh(mp["s1"], mp["s2"], agree, cmap=ListedColormap([DISAGREE, AGREE]), vmin=0, vmax=1,
                  shading="auto", rasterized=True)
    ax.contour(mp["s1"], mp["s2"], mp["fhat"], levels=[0.0], colors=FHAT, linewidths=1.6)
    ax.contour(mp["s1"], mp["s2"], mp[f"ghat_{sc}"], levels=[0.0], colors="k", linewidths=1.4, linestyles="--")
    P, y = mp["P"], mp["y"]
    k = slice(None, None, max(1, len(y) // 150))
    ax.scatter(P[k][y[k] > 0, 0], P[k][y[k] > 0, 1], s=9, marker="o", facecolors="none", edgecolors=POSITIVE,
               lw=0.7)
    ax.scatter(P[k][y[k] < 0, 0], P[k][y[k] < 0, 1], s=9, marker="x", color=NEGATIVE, lw=0.7)


def decision_maps(dmaps: dict, s):
    """The decision maps of every data set (rows) and scenario (columns) on the plane of the class means.
    dmaps: :func:`mfat.experiments.perturbation_learning.maps_measurement`."""
    fig, axes = plotting.figure(2, len(dmaps), height=2.9, sharex=False, sharey=False)
    for row, name in enumerate(dmaps):
        for col, sc in enumerate(("a", "b")):
            ax = axes[row, col]
            _decision_panel(ax, dmaps[name], sc)
            ax.set_title(f"{pl.DATASET_LABELS[name]} ({sc})", fontsize="small")
            ax.tick_params(labelsize="x-small")
            if row == len(dmaps) - 1:
                ax.set_xlabel("$s_1$ (along +1 mean)", fontsize="small")
            if col == 0:
                ax.set_ylabel("$s_2$ (along -1 mean, orth.)", fontsize="small")
    fig.legend(handles=[Patch(color=AGREE, label="sign f = sign g"), Patch(color=DISAGREE, label="sign f $\\neq$ sign g"),
                        Line2D([], [], color=FHAT, lw=1.6, label="$\\hat f = 0$"),
                        Line2D([], [], color="k", ls="--", lw=1.4, label="$\\hat g = 0$"),
                        Line2D([], [], ls="none", marker="o", mfc="none", mec=POSITIVE, label="y = +1"),
                        Line2D([], [], ls="none", marker="x", color=NEGATIVE, label="y = -1")],
               loc="outside lower center", ncol=3, fontsize="small")
    fig.suptitle(f"Decision maps on the plane of the class means (m={s.map_m}); scenario (a) left, (b) right")
    return fig


def _sweep_panel(ax, table: dict, fac: str, sc: str, first: bool):
    """The three metrics and the lazy prediction of the perturbation accuracy against one factor."""
    colors = plotting.colors()
    c = pl.curve(table, fac, sc)
    x = c.index.to_numpy(dtype=float)
    for metric, (label, ci, marker, ls) in METRIC_STYLE.items():
        mean, sd = c[(metric, "mean")].to_numpy(), c[(metric, "sd")].fillna(0).to_numpy()
        ax.errorbar(x, mean, yerr=sd, color=colors[ci], marker=marker, ls=ls, ms=4, capsize=2,
                    label=label if first else None)
    plotting.theory_line(ax, x, c[("lazy_perturbation_acc", "mean")].to_numpy(), lw=1.2, color=colors[1],
                         ls=(0, (2, 1)), alpha=0.8, label="lazy prediction of g (eq-g-lazy)" if first else None)
    if fac in LOGX and x.min() > 0:
        ax.set_xscale("log")
    ax.set_ylim(0.35, 1.05)
    ax.set_xlabel(XLABEL[fac], fontsize="small")
    ax.tick_params(labelsize="x-small")
    ax.set_title(f"({sc}) vs {XLABEL[fac]}", fontsize="small")


def sweeps(table: dict, name: str, s):
    """Every sweep of data set ``name`` (one panel per factor of :func:`mfat.experiments.perturbation_learning.
    factors_of`, scenario (a) above (b)): standard accuracy, perturbation accuracy and agreement, mean ± sd over
    seeds, with the lazy prediction of the perturbation accuracy. table: one entry of ``sweeps_measurement``."""
    facs = pl.factors_of(name, s)
    ncols = min(plotting.PER_ROW, len(facs))
    per = math.ceil(len(facs) / ncols)
    fig, axes = plotting.figure(ncols, 2 * per, height=2.2, sharey=True)
    for r, sc in enumerate(("a", "b")):
        for i, fac in enumerate(facs):
            _sweep_panel(axes[r * per + i // ncols, i % ncols], table, fac, sc, (r, i) == (0, 0))
        for j in range(len(facs), per * ncols):
            axes[r * per + j // ncols, j % ncols].set_visible(False)
    for r in range(2 * per):
        axes[r, 0].set_ylabel("accuracy", fontsize="small")
    D = s.defaults(name)
    dtxt = f"d={D['d']}, " if name not in pl.IMAGE_SOURCES else ""
    fig.suptitle(f"{pl.DATASET_LABELS[name]}: {dtxt}N={int(table['N'][0])}, m={s.m}, T={D['T']:g}, "
                 f"$\\epsilon_a$={D['eps']['a']:g}, $\\epsilon_b$={D['eps']['b']:g}\n"
                 f"mean $\\pm$ sd over {s.n_seeds} seeds")
    fig.legend(loc="outside lower center", ncol=2, fontsize="small")
    return fig


def cosine_at_width(tables: dict, s):
    """Theorem A at the width of the accuracy runs: mean |cos| against T_f and (where swept) against d, one colour per
    data set. tables: :func:`mfat.experiments.perturbation_learning.sweeps_measurement`."""
    fig, axes = plotting.figure(2, height=3.0)
    for name, color in zip(tables, plotting.colors()):
        for ax, fac in zip(axes[0], ("T_f", "d")):
            if fac in pl.factors_of(name, s):
                c = pl.curve(tables[name], fac, "a")
                plotting.measured(ax, c.index.to_numpy(float), c[("cosine", "mean")],
                                  yerr=c[("cosine", "sd")].fillna(0), color=color, label=pl.DATASET_LABELS[name])
    axes[0, 0].set(xscale="log", xlabel="$T_f$", ylabel="mean over $n$ of $|\\cos|$", title="vs $T_f$ (defaults)")
    axes[0, 1].set(xscale="log", xlabel="input dimension $d$", ylabel="mean over $n$ of $|\\cos|$",
                   title="vs $d$ (defaults, $\\epsilon \\propto \\sqrt{d}$)")
    for ax in axes[0]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize="x-small")
        else:
            ax.set_visible(False)
    fig.suptitle(f"Theorem A at the authors' width m={s.m}: mean $\\pm$ sd over {s.n_seeds} seeds")
    return fig
