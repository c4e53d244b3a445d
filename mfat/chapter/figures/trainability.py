"""The figures of chapter 4, "Trainability" (Lemma 5.5, Theorems 5.6 and 5.7, the paper's Fig. 5).

Each function draws one figure from a measurement or analysis of :mod:`mfat.experiments.trainability` and the
chapter's settings ``s`` (:class:`mfat.chapter.settings.trainability.TrainabilitySettings`) in the book's theme
(:mod:`mfat.chapter.plotting`) and returns it: predictions as dashed lines, measurements as markers, the
depth-by-width grids as annotated heat maps.
"""

from __future__ import annotations

import math

import numpy as np

from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments.trainability import cell_edges, gain_key
from mfat.theory import alpha, gain, omega

__all__ = ["trainable_bands", "gains_vs_depth", "exit_times", "collapsing_run", "fig5", "final_gains",
           "critical_width_slider"]


def _legend_below(ax, **kwargs) -> None:
    """The legend of ``ax`` under its plot, in small type."""
    ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22), **kwargs)


def trainable_bands(gains: dict, settings, s):
    """Lemma 5.5: the (M, m)-trainable band of the per-layer gain alpha sigma_w^2 against the depth, vanilla
    (left) and residual (right), with one row of markers per setting of ``settings``
    (:func:`mfat.experiments.trainability.gain_settings`): a circle where the mean measured gain of
    ``gains`` (:func:`mfat.experiments.trainability.gains_measurement`) lies in [m, M], a cross where not."""
    depth_axis = np.arange(1, s.gain_L_max + 1)
    Lc = np.linspace(1, s.gain_L_max, 200)
    fig, axes = plotting.figure(2, height=4.6)
    for ax, kind, res in ((axes[0, 0], "vanilla", False), (axes[0, 1], "residual", True)):
        lo_c, hi_c = (np.zeros_like(Lc) if res else s.m ** (1 / Lc)), (s.M ** (1 / Lc) - (1 if res else 0))
        ax.fill_between(Lc, np.maximum(lo_c, 1e-3), hi_c, color=plotting.colors()[2], alpha=0.18,
                        label="$(M,m)$-trainable, Lemma 5.5")
        plotting.theory_line(ax, Lc, hi_c, label=f"$M^{{1/L}}{'-1' if res else ''}$, $M$={s.M:g}")
        if not res:
            plotting.theory_line(ax, Lc, lo_c, label=f"$m^{{1/L}}$, $m$={s.m:g}", ls=":")
        for (k, sw, _), color in zip(settings, plotting.colors()):
            if k != kind:
                continue
            g = gains[gain_key(k, sw)]["gain"].mean(0)
            ok = (g >= s.m) & (g <= s.M)
            w = alpha() * sw
            ax.scatter(depth_axis[ok], np.full(ok.sum(), w), marker="o", color=color, s=22, zorder=4,
                       label=f"$\\alpha\\sigma_w^2$={w:g}")
            ax.scatter(depth_axis[~ok], np.full((~ok).sum(), w), marker="x", color=color, s=26, zorder=4)
        ax.set_yscale("log")
        ax.set(xlabel="depth $L$", ylabel="per-layer gain $\\alpha\\sigma_w^2$", title=f"{kind} networks",
               ylim=(0.002, 300))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="x-small", ncol=2)
    fig.suptitle(f"Lemma 5.5: trainable bands; random networks (N={s.gain_N}) with measured $\\omega^L$ "
                 "in $[m, M]$ (o) or outside (x)")
    return fig


def gains_vs_depth(gains: dict, settings, s):
    """Theorem 4.1 behind Lemma 5.5: the mean measured gain ||J_L||_F^2 / K (markers, +- 2 s.e.) of every setting
    against omega^L (dashed), with the thresholds m and M dotted."""
    depth_axis = np.arange(1, s.gain_L_max + 1)
    fig, axes = plotting.figure(1, height=3.4)
    ax = axes[0, 0]
    for (k, sw, r), color in zip(settings, plotting.colors()):
        g = gains[gain_key(k, sw)]["gain"]
        pred = np.array([gain(sw, int(L), residual=r) for L in depth_axis])
        plotting.theory_line(ax, depth_axis, pred, label=None, color=color)
        se = g.std(0, ddof=1) / np.sqrt(len(g))
        plotting.measured(ax, depth_axis, g.mean(0), yerr=2 * se, color=color,
                          label=f"{k}, $\\sigma_w^2$={sw:g} ($\\omega$={omega(sw, residual=r):.2f})")
    ax.axhline(s.m, color=plotting.THEORY, lw=0.8, ls=":")
    ax.axhline(s.M, color=plotting.THEORY, lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set(xlabel="depth $L$", ylabel="gain $\\|J\\|_F^2/K$",
           title="measured gain (markers, mean $\\pm$ 2 s.e.) vs $\\omega^L$ (dashed); dotted: $m$ and $M$")
    ax.legend(loc="upper left", fontsize="x-small", ncol=2)
    return fig


def exit_times(curves: dict, paths: dict, s, N: int = 1000):
    """Theorem 5.6 against 5.7 (predictions only). Left: the exit time T(L) of width N under both laws and the
    1/L asymptote (:func:`mfat.experiments.trainability.exit_time_curves`). Right: omega(t)^L along the
    unfrozen ODE, vanilla against residual (:func:`mfat.experiments.trainability.gain_paths`)."""
    fig, axes = plotting.figure(2, height=3.2)
    ax = axes[0, 0]
    Ls = curves["L"]
    plotting.theory_line(ax, Ls, curves["linear"], label="linear law (rate frozen at t=0)")
    plotting.theory_line(ax, Ls, curves["ode"], label="unfrozen ODE", ls=":", color=plotting.colors()[3])
    plotting.theory_line(ax, Ls, curves["asymptote"], label="$N\\ln(1/m)/(c\\alpha\\epsilon\\beta L)$", ls="-.",
                         color=plotting.colors()[7], lw=1.0)
    ax.set_yscale("log")
    ax.set(xlabel="depth $L$", ylabel="exit time $T$ (t = lr $\\times$ steps)", title=f"T vs depth, N = {N}")
    ax.legend(fontsize="x-small")
    ax = axes[0, 1]
    for i, (L, color) in enumerate(zip(paths["depths"], plotting.colors())):
        plotting.theory_line(ax, paths["t"], paths["vanilla"][i], label=f"vanilla L={L}", color=color)
        plotting.theory_line(ax, paths["t"], paths["residual"][i], label=f"residual L={L}", color=color, ls="-",
                             lw=1.0)
    ax.axhline(s.m, color=plotting.THEORY, lw=0.8, ls=":", label="$m$")
    ax.set_yscale("log")
    ax.set(xlabel="training time $t$", ylabel="$\\omega(t)^L$", title=f"Thm 5.6 vs 5.7 along the ODE, N = {N}",
           ylim=(s.m / 30, 10))
    ax.legend(fontsize="x-small", ncol=2)
    return fig


def collapsing_run(run: dict, predictions: dict, s, T_linear: float, T_ode: float):
    """The collapsing run in time (:func:`mfat.experiments.trainability.collapsing_run`) against the mean-field
    predictions (:func:`mfat.experiments.trainability.run_predictions`): sigma_w^2(t), the Jacobian gain, and
    the gradient norm, L_adv and training accuracy."""
    t = run["t"]
    fig, axes = plotting.panels(3, height=4.0)
    ax = axes[0]
    plotting.measured(ax, t, run["sigma_w2"], label="measured $\\sigma_w^2(t)$", ms=3)
    plotting.theory_line(ax, t, predictions["sigma_w2_linear"], label="linear law")
    plotting.theory_line(ax, t, predictions["sigma_w2_ode"], label="unfrozen ODE", ls=":",
                         color=plotting.colors()[3])
    ax.axhline(predictions["exit_sigma_w2"], color=plotting.THEORY, lw=0.8, ls="-.",
               label="$m^{1/L}/\\alpha$ (exit)")
    ax.set(xlabel="training time $t$", ylabel="$\\sigma_w^2$", title="weight variance")
    _legend_below(ax)
    ax = axes[1]
    plotting.measured(ax, t, run["gain"], label="measured $\\|J\\|_F^2/K$", ms=3)
    plotting.theory_line(ax, t, (alpha() * run["sigma_w2"]) ** s.run_L,
                         label="$(\\alpha\\sigma_w^2(t))^L$, measured $\\sigma_w^2$", color=plotting.colors()[2],
                         ls="-", lw=1.2)
    plotting.theory_line(ax, t, predictions["gain_linear"], label="linear law")
    ax.axhline(s.m, color=plotting.THEORY, lw=0.8, ls=":", label="$m$")
    ax.set_yscale("log")
    ax.set(xlabel="training time $t$", ylabel="gain $\\omega^L$", title="Jacobian gain", ylim=(1e-9, 1e2))
    _legend_below(ax)
    ax = axes[2]
    plotting.measured(ax, t, run["grad_norm"], label="$\\|\\nabla_W\\mathcal{L}\\|$", ms=3)
    plotting.measured(ax, t, run["L_adv"], label="$L_{adv}$ (batch mean)", ms=3, marker="s")
    ax.set_yscale("log")
    ax2 = ax.twinx()
    ax2.plot(t, run["clean_acc"], color=plotting.colors()[4], lw=1.5, label="train accuracy")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("training accuracy")
    ax2.grid(False)
    ax.set(xlabel="training time $t$", ylabel="norm", title="gradients, $L_{adv}$, accuracy")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig.suptitle(f"A collapsing run: vanilla N={s.run_N}, L={s.run_L}, adversarial training on {s.dataset}\n"
                 f"($\\epsilon$={s.eps:g}, lr={s.lr:g}); predicted exit T={T_linear:.3g} (linear law), "
                 f"{T_ode:.3g} (ODE)")
    return fig


def _grid_axes(ax, s, title: str) -> None:
    """The axes of a depth-by-width heat map: cell edges, log width, one tick per grid value."""
    ax.set_yscale("log")
    ax.set_ylim(cell_edges(s.widths, log=True)[[0, -1]])
    ax.set_xlim(cell_edges(s.depths)[[0, -1]])
    ax.set_yticks(s.widths, [str(w) for w in s.widths])
    ax.minorticks_off()
    ax.set_xticks(s.depths)
    ax.grid(False)
    ax.set(xlabel="depth $L$", ylabel="width $N$", title=title)


def _annotated_mesh(ax, s, values, fmt: str, dark_below: float, **kwargs):
    """One heat map of ``values`` (n_widths, n_depths) over the grid of ``s``, each cell labelled ``fmt``."""
    mesh = ax.pcolormesh(cell_edges(s.depths), cell_edges(s.widths, log=True), values, shading="flat", **kwargs)
    for i, N in enumerate(s.widths):
        for j, L in enumerate(s.depths):
            ax.text(L, N, format(values[i, j], fmt), ha="center", va="center", fontsize=7,
                    color="white" if values[i, j] < dark_below else "black")
    return mesh


def fig5(grids: dict, s, boundary: dict, boundary_fine: dict, L_fine: np.ndarray, t_budget: float):
    """Fig. 5: the final training accuracy of every cell of every grid of ``grids`` (name -> :func:`mfat.
    experiments.trainability.fig5_grid`), one heat map per grid; on the vanilla adversarial maps the predicted
    boundaries N*(L) of both laws (``boundary_fine`` over the depths ``L_fine``; ``boundary`` at the grid's
    depths says whether the ODE line lies below the grid)."""
    names = list(grids)
    fig, axes = plotting.panels(len(names), height=3.6)
    below = " (below the grid)" if boundary["ode"].max() < min(s.widths) else ""
    for ax, name in zip(axes, names):
        mesh = _annotated_mesh(ax, s, grids[name]["acc"].mean(axis=2), ".2f", 0.6, vmin=0.0, vmax=1.0,
                               cmap="viridis")
        if "vanilla adversarial" in name:
            ax.plot(L_fine, boundary_fine["linear"], color="white", ls="--", lw=2.0, label="$N^*(L)$, linear law")
            ax.plot(L_fine, boundary_fine["ode"], color="#ff7f0e", ls=":", lw=2.2,
                    label="$N^*(L)$, unfrozen ODE" + below)
        _grid_axes(ax, s, name)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="small", frameon=True,
               facecolor="0.6")
    fig.colorbar(mesh, ax=axes, label="training accuracy", shrink=0.6)
    data_note = f"{s.dataset} (last panel: Fashion-MNIST)" if len(names) > 3 else s.dataset
    fig.suptitle(f"Fig. 5: training accuracy after t = {t_budget:g} ({s.steps} steps), $p=q=\\infty$, "
                 f"$\\epsilon$={s.eps:g}, {data_note}\nlines: predicted boundaries for m = {s.m:g}")
    return fig


def final_gains(grids: dict, s, N_c: float, t_budget: float):
    """Theorem 5.7's own quantity: the final measured gain log10 ||J||_F^2 / K of every cell of the vanilla and
    the residual adversarial grids, with the shortcut-cancellation width N_c on the residual map."""
    fig, axes = plotting.figure(2, height=3.6)
    log_m = math.log10(s.m)
    for ax, name in zip(axes[0], ("vanilla adversarial", "residual adversarial")):
        lg = np.log10(np.clip(grids[name]["gain"].mean(axis=2), 1e-12, None))
        mesh = _annotated_mesh(ax, s, lg, ".1f", log_m + 2, vmin=min(log_m - 2, np.nanmin(lg)),
                               vmax=max(1.0, np.nanmax(lg)), cmap="magma")
        if name.startswith("residual"):
            ax.axhline(N_c, color="white", ls="--", lw=1.5, label=f"$N_c = K/(\\alpha\\sigma_w^2(0))$ = {N_c:g}")
            ax.legend(loc="lower right", fontsize="x-small")
        _grid_axes(ax, s, f"{name}:\nfinal $\\log_{{10}}$ gain")
    fig.colorbar(mesh, ax=list(axes[0]), label=f"$\\log_{{10}}\\,\\|J\\|_F^2/K$ (m: {log_m:g})", shrink=0.9)
    fig.suptitle(f"the measured gain $\\omega^L$ after t = {t_budget:g}: trainable means between m = {s.m:g} and "
                 f"M = {s.M:g}")
    return fig


def critical_width_slider(L_fine: np.ndarray, boundary_fine: dict, depths, observed: list, t_budget: float,
                          factors=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0)):
    """The boundary N*(L) of both laws at multiples ``factors`` of the budget t (it is exactly proportional to
    t), with this grid's observed boundary (:func:`mfat.experiments.trainability.observed_boundary`) in the
    frame of the budget trained. Returns the interactive figure for :func:`mfat.chapter.interactive.show`."""
    obs = np.array(observed, dtype=float)
    ok = np.isfinite(obs)
    frames = {}
    for factor in factors:
        here = factor == 1.0
        frames[f"{factor:g}× (t = {factor * t_budget:.3g})"] = [
            Series("N*(L), linear law", L_fine, factor * boundary_fine["linear"], "theory"),
            Series("N*(L), unfrozen ODE", L_fine, factor * boundary_fine["ode"], "theory"),
            Series("observed boundary (this grid)", np.asarray(depths, dtype=float)[ok] if here else [],
                   obs[ok] if here else []),
        ]
    return slider_figure(frames, xlabel="depth L", ylabel="critical width N*", log_y=True, slider_label="budget: ",
                         title="Theorem 5.6: widths above N*(L) stay trainable")
