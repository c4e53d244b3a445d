"""The figures of chapter 8, "Why some (p, q) attacks are harder".

Each function draws one figure from the measurements and analyses of :mod:`mfat.experiments.attack_gaps` in the
book's theme (:mod:`mfat.chapter.plotting`) and returns it. A ratio of 1 is the linearised value
eps ||J(x)||_{p,q}, drawn as a dashed line where it is a reference.
"""

from __future__ import annotations

import numpy as np
import seaborn as sns

from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments.adversarial_loss import pair_label

__all__ = ["gap_heatmaps", "steps_and_restarts", "steps_slider", "geometry", "sweeps", "nonlinearity"]


def gap_heatmaps(panels: dict, *, title: str):
    """Heat maps of the mean ratio, variant (rows, shared) x pair (columns), one panel per entry of ``panels``
    (title -> :func:`mfat.experiments.attack_gaps.gap_matrix`, all with the same rows), two panels per row, on
    one colour scale from the smallest value shown to 1."""
    tables = list(panels.values())
    low = min(0.9, np.floor(10 * min(float(np.nanmin(t.values)) for t in tables)) / 10)
    n = len(panels)
    fig, axes = plotting.figure(min(n, 2), (n + 1) // 2, height=0.24 * len(tables[0]) + 1.4)
    for k, (ax, (name, table)) in enumerate(zip(axes.ravel(), panels.items())):
        sns.heatmap(table, ax=ax, vmin=low, vmax=1.0, cmap="viridis", annot=True, fmt=".2f",
                    cbar=k % 2 == 1 or k == n - 1, annot_kws={"fontsize": 6}, yticklabels=k % 2 == 0,
                    cbar_kws={"label": "found / (ε‖J(x)‖)", "shrink": 0.6})
        ax.set_title(name)
        ax.tick_params(axis="y", labelsize=7)
        ax.tick_params(axis="x", labelsize=7, rotation=90)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return fig


def _pair_colors(pairs) -> dict:
    return {pq: c for pq, c in zip(pairs, plotting.colors(len(pairs)))}


def steps_and_restarts(panels: dict):
    """The ratio against the number of steps, per pair: one restart (solid) and the best of R (dashed), one panel
    per entry of ``panels`` (title -> (curves of :func:`mfat.experiments.attack_gaps.steps_curves`, pairs))."""
    fig, axes = plotting.figure(len(panels), height=3.8, sharey=True)
    for ax, (name, (curves, pairs)) in zip(axes[0], panels.items()):
        colors = _pair_colors(pairs)
        R = curves["mean"].shape[2]
        for j, pq in enumerate(pairs):
            ax.plot(curves["steps"], curves["mean"][j, :, 0], "-o", ms=3, color=colors[pq], label=pair_label(*pq))
            ax.plot(curves["steps"], curves["mean"][j, :, R - 1], "--", color=colors[pq], lw=1)
        ax.axhline(1.0, color=plotting.THEORY, ls=":", lw=1)
        ax.set(xscale="log", xlabel="PGD steps", title=f"{name}\nsolid: 1 restart, dashed: best of {R}")
        plotting.integer_ticks(ax, curves["steps"])
    axes[0, 0].set_ylabel("found / ($\\epsilon\\|J(x)\\|_{p,q}$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, labels, ncol=5)
    return fig


def steps_slider(panels: dict):
    """The interactive version of :func:`steps_and_restarts`: one frame per (setting, pair), one curve per number
    of restarts r = 1, 2, 4, ..., R against the number of steps, and the linearised value as a dashed line."""
    frames = {}
    for name, (curves, pairs) in panels.items():
        R = curves["mean"].shape[2]
        counts = sorted({min(2 ** k, R) for k in range(R.bit_length() + 1)})
        for j, pq in enumerate(pairs):
            series = [Series(f"best of {r} restart{'s' if r > 1 else ''}", curves["steps"],
                             curves["mean"][j, :, r - 1]) for r in counts]
            series.append(Series("ε‖J(x)‖ (linearised value)", curves["steps"], np.ones(len(curves["steps"])),
                                 "theory"))
            frames[f"{pair_label(*pq)}, {name}"] = series
    return slider_figure(frames, xlabel="PGD steps", ylabel="found / (ε‖J(x)‖)", log_x=True,
                         slider_label="pair, setting: ", title="The gap over steps and restarts")


def geometry(table, bound_cap: float = 1e4):
    """The local maxima per pair (:func:`mfat.experiments.attack_gaps.geometry_table`): the distinct end points
    reached from the random starts (mean and largest) with the bound on the local maxima (capped at
    ``bound_cap`` for display), and the fraction of starts that end at the maximum."""
    fig, axes = plotting.figure(2, height=3.4)
    x = np.arange(len(table))
    ax = axes[0, 0]
    ax.bar(x, table["distinct end points (mean)"], color=plotting.colors()[0], label="distinct end points (mean)")
    ax.plot(x, table["distinct end points (max)"], "o", color=plotting.colors()[1], label="largest")
    ax.plot(x, np.minimum(table["local maxima at most"], bound_cap), "_", ms=18, mew=2, color=plotting.THEORY,
            label=f"bound on the local maxima (capped at {bound_cap:g})")
    ax.set(yscale="log", ylabel="count (up to sign)", title="local maxima reached")
    plotting.legend_below(ax)
    axes[0, 1].bar(x, table["starts ending at the maximum"], color=plotting.colors()[2])
    axes[0, 1].set(ylim=(0, 1.05), ylabel="fraction of starts", title="starts that end at the maximum")
    for a in axes[0]:
        a.set_xticks(x, list(table.index), rotation=90)
    return fig


def sweeps(table, name: str):
    """The ratio of one attack against d, K, depth and width (:func:`mfat.experiments.attack_gaps.sweep_table`),
    one line per pair, on exact draws of J (the small-eps limit)."""
    keys = list(dict.fromkeys(table.index.get_level_values(0)))
    fig, axes = plotting.figure(2, (len(keys) + 1) // 2, height=3.0, sharey=True)
    titles = {"d": "input dimension $d$", "K": "outputs $K$", "L": "depth $L$", "N": "width $N$"}
    for ax, key in zip(axes.ravel(), keys):
        part = table.loc[key]
        for column, color in zip(part.columns, plotting.colors(len(part.columns))):
            ax.plot(part.index, part[column], "-o", ms=3, color=color, label=column)
        ax.set(xscale="log", xlabel=titles.get(key, key))
        plotting.integer_ticks(ax, part.index)
        ax.axhline(1.0, color=plotting.THEORY, ls=":", lw=1)
    for ax in axes[:, 0]:
        ax.set_ylabel("found / ($\\epsilon\\|J\\|_{p,q}$)")
    for ax in axes.ravel()[len(keys):]:
        ax.set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, labels, ncol=5)
    fig.suptitle(f"{name}, one restart, on exact draws of $J$")
    return fig


def nonlinearity(table):
    """Per budget, the jump to the linearised maximiser, one attack and the best of all, per pair
    (:func:`mfat.experiments.attack_gaps.nonlinearity_table`), against the linearised value (dashed)."""
    budgets = list(dict.fromkeys(table.index.get_level_values(0)))
    fig, axes = plotting.figure(len(budgets), height=3.4, sharey=True)
    for ax, eps in zip(axes[0], budgets):
        part = table.loc[eps]
        x = np.arange(len(part))
        for k, (column, marker) in enumerate(zip(part.columns, ("v", "o", "^"))):
            ax.plot(x, part[column], marker, ms=6, color=plotting.colors()[k], label=column)
        ax.axhline(1.0, color=plotting.THEORY, ls="--", lw=1.2, label="$\\epsilon\\|J(x)\\|_{p,q}$")
        ax.set_xticks(x, list(part.index), rotation=90)
        ax.set(title=f"$\\epsilon$ = {eps:g}")
    axes[0, 0].set_ylabel("found / ($\\epsilon\\|J(x)\\|_{p,q}$)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    plotting.figure_legend(fig, handles, labels, ncol=4)
    return fig
