"""The figures of chapter 7, "The implicit bias of adversarial training" (Lyu & Zhu, ICLR 2022, reconstructed).

Each function draws one figure from the runs of :mod:`mfat.experiments.implicit_bias` and the chapter's settings
``s`` (:class:`mfat.chapter.settings.implicit_bias.ImplicitBiasSettings`) and returns it: targets and bounds as
dashed lines, the runs as medians over seeds (with their range where shown).
"""

from __future__ import annotations

import math

import numpy as np

from mfat import theory
from mfat.chapter import plotting
from mfat.experiments.implicit_bias import angle_degrees, below_margin, beyond_margin, layer_bounds

__all__ = ["e1_styles", "e1_direction", "e1_loss_and_norm", "layer_alignment", "e2_trajectories",
           "relu_margins"]


def e1_styles(configs: list[dict], gamma: float) -> tuple[dict, dict]:
    """Colour and line style of each E1 configuration: solid below the margin gamma, dashed at or beyond it, dotted
    for l_inf. Returns ({name: colour}, {name: line style})."""
    palette = plotting.colors()
    color_of = dict(zip([c["name"] for c in configs], [palette[i] for i in (0, 1, 2, 3, 4, 7)]))
    style_of = {c["name"]: ("--" if c["eps"] >= gamma else ":" if c["linf"] else "-") for c in configs}
    return color_of, style_of


def _legend_below(fig, ax, ncol: int):
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize="x-small")


def e1_direction(runs_norm: dict, runs_const: dict, configs: list[dict], gamma: float, s):
    """1 - cos(w(t), u*) against the step on E1 for every configuration (median and range over seeds), under
    normalised GD (left) and plain GD (right), with the 1 - 0.999 target."""
    color_of, style_of = e1_styles(configs, gamma)
    fig, axes = plotting.figure(2, height=3.9)
    for ax, runs, title in ((axes[0, 0], runs_norm, f"normalised GD, lr={s.lr_normalised:g}"),
                            (axes[0, 1], runs_const, f"plain GD, lr={s.lr_constant:g}")):
        steps = runs["step"][1:]
        for ci, name in enumerate(runs["names"]):
            gap = np.clip(1.0 - runs["cos_svm"][1:, ci, :], 1e-16, None)      # (T, seeds)
            ax.plot(steps, np.median(gap, axis=1), color=color_of[name], ls=style_of[name], label=name, lw=1.6)
            if gap.shape[1] > 1:
                plotting.band(ax, steps, gap.min(1), gap.max(1), color=color_of[name], alpha=0.15)
        ax.axhline(1e-3, color=plotting.THEORY, ls="-.", lw=1.2, label="$1-0.999$ (target)")
        ax.set(xscale="log", yscale="log", xlabel="gradient step", ylabel="$1-\\cos(w(t), u^*)$", title=title)
    _legend_below(fig, axes[0, 0], 4)
    fig.suptitle(f"E1 (n={s.n}, d={s.d}, L={len(s.widths) + 1}): direction of $w$ vs the SVM direction $u^*$\n"
                 f"(median and range over {s.seeds} seeds)")
    return fig


def e1_loss_and_norm(runs_norm: dict, configs: list[dict], gamma: float, s):
    """The mean adversarial loss (log10, with the floor log10(1/n) for eps >= gamma*) and the parameter norm against
    the step, for standard training and the l2 budgets (normalised GD, median over seeds)."""
    color_of, style_of = e1_styles(configs, gamma)
    floor = math.log(theory.adversarial_loss_floor(s.n, "exp"))
    steps = runs_norm["step"][1:]
    fig, axes = plotting.figure(2, height=3.7)
    for ci in [0, *below_margin(configs, gamma), *beyond_margin(configs, gamma)]:
        name = configs[ci]["name"]
        axes[0, 0].plot(steps, np.median(runs_norm["log_loss"][1:, ci], axis=1) / math.log(10),
                        color=color_of[name], ls=style_of[name], label=name)
        axes[0, 1].plot(steps, np.median(runs_norm["rho"][1:, ci], axis=1), color=color_of[name],
                        ls=style_of[name], label=name)
    plotting.theory_line(axes[0, 0], steps, np.full(len(steps), floor / math.log(10)),
                         label="floor $\\log_{10}(1/n)$ for $\\epsilon\\geq\\gamma^*$")
    axes[0, 0].set(xscale="log", xlabel="gradient step", ylabel="$\\log_{10}$ mean adversarial loss",
                   title="adversarial training loss", ylim=(-12, 0.5))
    axes[0, 1].set(xscale="log", yscale="log", xlabel="gradient step", ylabel="$\\|\\theta\\|_2$",
                   title="parameter norm")
    _legend_below(fig, axes[0, 0], 3)
    fig.suptitle("E1, normalised GD (median over seeds)\n"
                 "below the margin the loss vanishes and $\\|\\theta\\|$ grows; at or beyond it, neither")
    return fig


def layer_alignment(runs: dict, ci: int, name: str):
    """sigma_2 / sigma_1 of each layer (left) and the alignment gap of adjacent layers (right) against the step for
    configuration ``ci`` (named ``name``), with the bounds of :func:`mfat.experiments.implicit_bias.layer_bounds`."""
    fig, axes = plotting.figure(2, height=3.4)
    st = runs["step"][1:]
    _, s2b, alb = layer_bounds(runs, ci)
    for l, color in zip(range(runs["sigma1"].shape[-1] - 1), plotting.colors()):
        sigma1 = runs["sigma1"][1:, ci, :, l]
        axes[0, 0].plot(st, np.median(runs["sigma2"][1:, ci, :, l] / sigma1, 1), color=color,
                        label=f"$W_{l + 1}$ measured")
        axes[0, 0].plot(st, np.median(s2b[1:, :, l] / sigma1, 1), color=color, ls="--", lw=1.2,
                        label=f"$W_{l + 1}$ bound")
        gap = np.clip(1 - runs["alignment"][1:, ci, :, l], 1e-17, None)
        axes[0, 1].plot(st, np.median(gap, 1), color=color, label=f"$W_{l + 1}, W_{l + 2}$ measured")
        axes[0, 1].plot(st, np.median(np.clip(alb[1:, :, l], 1e-17, None), 1), color=color, ls="--", lw=1.2,
                        label=f"$W_{l + 1}, W_{l + 2}$ bound")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="gradient step", ylabel="$\\sigma_2(W_l)/\\sigma_1(W_l)$",
                   title="each layer tends to rank one")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="gradient step",
                   ylabel="$1-|\\langle u_1(W_l), v_1(W_{l+1})\\rangle|$", title="adjacent layers align")
    axes[0, 0].legend(fontsize="x-small")
    axes[0, 1].legend(fontsize="x-small")
    fig.suptitle(f"E1, {name}, normalised GD\n(median over seeds; dashed: bounds from the conserved $D_l$)")
    return fig


def e2_trajectories(X2, y2, runs2: dict, configs: list[dict], u_svm, u_rob, s):
    """Left: the E2 data with the boundaries of the two targets. Right: the angle of w(t) for each training
    (median over seeds) against the angles of u* and of the l_inf-robust direction."""
    fig, axes = plotting.figure(2, height=3.6)
    ax = axes[0, 0]
    pos = y2 > 0
    ax.scatter(X2[pos, 0], X2[pos, 1], s=14, color=plotting.colors()[0], label="$y=+1$")
    ax.scatter(X2[~pos, 0], X2[~pos, 1], s=14, color=plotting.colors()[1], label="$y=-1$")
    lim = 1.2 * np.abs(X2[:, :2]).max()
    grid = np.linspace(-lim, lim, 2)
    for u, style, name in ((u_svm, "--", "$\\ell_2$ SVM boundary"), (u_rob, ":", "$\\ell_\\infty$-robust boundary")):
        ax.plot(-u[1] * grid / np.hypot(*u[:2]), u[0] * grid / np.hypot(*u[:2]), color=plotting.THEORY, ls=style,
                label=name)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$", title="E2 data and the two targets",
           aspect="equal")
    ax.legend(fontsize="x-small", loc="upper left")
    ax = axes[0, 1]
    st2 = runs2["step"][1:]
    for ci, color in zip(range(len(configs)), plotting.colors()):
        ax.plot(st2, np.median(angle_degrees(runs2["w"][1:, ci]), 1), color=color, label=configs[ci]["name"])
    a_svm, a_rob = angle_degrees(u_svm), angle_degrees(u_rob)
    plotting.theory_line(ax, st2, np.full(len(st2), a_svm), label="$u^*$ ($\\ell_2$ SVM)")
    plotting.theory_line(ax, st2, np.full(len(st2), a_rob), label="$\\ell_\\infty$-robust direction", ls=":")
    ax.set(xscale="log", xlabel="gradient step", ylabel="angle of $w(t)$ (degrees)",
           title="trajectories (median over seeds)")
    lo, hi = min(a_svm, a_rob), max(a_svm, a_rob)
    ax.set_ylim(lo - 3 * (hi - lo), hi + 3 * (hi - lo))
    ax.legend(fontsize="x-small")
    fig.suptitle(f"E2: normalised GD, L={len(s.widths) + 1}, {s.steps_normalised} steps")
    return fig


def relu_margins(relu: dict, eps_of: dict, s):
    """For each data set (rows): the normalised adversarial margin and its smoothed version (left) and the KKT
    residual (right) from t0 on, one line per training. relu: {data set: :func:`two_layer_runs`}; eps_of:
    {data set: (l2 budget, l_inf budget)}."""
    fig, axes = plotting.figure(2, 2, height=3.1)
    palette = plotting.colors()
    relu_colors = [palette[i] for i in (0, 1, 2, 4)]
    for row, (dname, res) in enumerate(relu.items()):
        for (name, out), color, ls in zip(res.items(), relu_colors, ("-", "-", "-", "--")):
            a = out["step"] >= max(out["t0"], 1)
            axes[row, 0].plot(out["step"][a], out["normalized_margin"][a], color=color, ls=ls, label=name)
            axes[row, 0].plot(out["step"][a], out["smoothed_margin"][a], color=color, ls=":", lw=1.1)
            axes[row, 1].plot(out["step"][a], out["kkt"][a], color=color, ls=ls, label=name)
        axes[row, 0].set(xscale="log", xlabel="gradient step (from $t_0$)", ylabel="normalised margin",
                         title=f"{dname}: margin ($\\epsilon_2$={eps_of[dname][0]:g}, "
                               f"$\\epsilon_\\infty$={eps_of[dname][1]:g})")
        axes[row, 1].set(xscale="log", yscale="log", xlabel="gradient step (from $t_0$)", ylabel="KKT residual $r$",
                         title=f"{dname}: KKT residual")
    _legend_below(fig, axes[0, 0], 2)
    fig.suptitle(f"Bias-free two-layer ReLU networks, width {s.relu_m}, {s.relu_steps} steps\n"
                 "(solid/dashed: $\\gamma=\\min_i q_i/\\|\\theta\\|^2$; dotted: smoothed $\\tilde\\gamma$)")
    return fig
