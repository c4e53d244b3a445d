"""The figures of chapter 0, "The model": signal propagation through random networks.

Each function draws one figure from the measurement of :func:`mfat.experiments.model.signal_measurement`, the
recursion of :func:`mfat.experiments.model.signal_prediction` and the chapter's settings ``s``
(:class:`mfat.chapter.settings.model.ModelSettings`), and returns it.
"""

from __future__ import annotations

import numpy as np

from mfat import theory
from mfat.chapter import plotting
from mfat.chapter.interactive import Series, slider_figure
from mfat.experiments.model import signal_configs

__all__ = ["signal_propagation", "signal_slider", "preactivation_histogram"]


def signal_propagation(measured: dict, predicted: dict, s):
    """q^(l) against the layer, vanilla (left) and residual (right): the recursion dashed, the mean over networks
    with two standard errors as markers, log scale."""
    fig, axes = plotting.figure(2, height=3.4)
    depth = np.arange(s.L + 1)
    configs = signal_configs(s)
    for ax, kind in zip(axes[0], ("vanilla", "residual")):
        for (k, w, res), color in zip(configs, plotting.colors()):
            if k != kind:
                continue
            q = measured[(k, w)]["q"]
            om = theory.omega(w, s.u, s.v, res)
            plotting.theory_line(ax, depth, predicted[(k, w)], label=None)
            plotting.measured(ax, depth, q.mean(0), yerr=2 * q.std(0, ddof=1) / np.sqrt(len(q)), color=color,
                              label=f"$\\sigma_w^2$={w:g} ($\\omega$={om:.2f})")
        ax.set_yscale("log")
        ax.set(xlabel="layer $l$", ylabel="$q^{(l)} = \\|h^{(l)}\\|^2/N$", title=f"{kind} networks")
        ax.legend(loc="best")
    fig.suptitle(f"Signal propagation, N={s.N}, {s.n_networks} networks per curve (dashed: recursion)")
    return fig


def signal_slider(measured: dict, predicted: dict, s):
    """The same data one setting at a time: a plotly figure with a slider (the static figure is its fallback)."""
    depth = np.arange(s.L + 1)
    frames = {f"{kind} σ²_w={w:g}": [Series("recursion", depth, predicted[(kind, w)], "theory"),
                                     Series("measured mean", depth, measured[(kind, w)]["q"].mean(0))]
              for kind, w, _ in signal_configs(s)}
    return slider_figure(frames, xlabel="layer l", ylabel="q^(l)", log_y=True, slider_label="setting: ",
                         title="Signal propagation: recursion vs simulation")


def preactivation_histogram(z, variance: float, sigma_w2: float, s):
    """Histogram of the last layer's pre-activations ``z`` against the density of N(0, ``variance``)."""
    fig, axes = plotting.figure(1, height=3.0)
    plotting.density_histogram(axes[0, 0], z, variance, label=f"$z^{{(L)}}$, {len(z)} values")
    axes[0, 0].set(xlabel="$z^{(L)}_i$", ylabel="density", title=f"vanilla, $\\sigma_w^2$={sigma_w2:g}, L={s.L}")
    axes[0, 0].legend()
    return fig
