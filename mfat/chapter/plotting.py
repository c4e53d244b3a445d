"""One look for every figure: theory as (dashed) lines, experiment as markers or bands.

Call :func:`setup` once per chapter. Colours: :data:`THEORY` for predictions, the seaborn
"colorblind" palette (:func:`colors`) for measured series.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = ["setup", "colors", "figure", "theory_line", "measured", "band", "density_histogram", "THEORY", "WIDTH"]

THEORY = "#222222"
WIDTH = 7.0  # inches: the width of the book's text column


def setup() -> None:
    """The book's theme (seaborn whitegrid, colorblind palette) and figure defaults."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "figure.autolayout": False,
                         "axes.titlesize": "medium", "legend.fontsize": "small", "legend.frameon": False})


def colors(n: int = 10) -> list:
    """The first ``n`` colours of the measured-series palette."""
    return sns.color_palette("colorblind", n)


def figure(ncols: int = 1, nrows: int = 1, *, height: float = 3.2, width: float = WIDTH, **kwargs):
    """``plt.subplots`` with the book's sizes and constrained layout."""
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), layout="constrained", squeeze=False, **kwargs)


def theory_line(ax, x, y, label: str = "theory", color=THEORY, **kwargs):
    """A prediction: a dashed line."""
    kwargs.setdefault("lw", 1.8)
    kwargs.setdefault("ls", "--")
    return ax.plot(x, y, color=color, label=label, zorder=3, **kwargs)


def measured(ax, x, y, yerr=None, label: str = "measured", color=None, **kwargs):
    """A measurement: markers, with error bars when ``yerr`` is given."""
    kwargs.setdefault("marker", "o")
    kwargs.setdefault("ms", 5)
    kwargs.setdefault("ls", "none")
    return ax.errorbar(x, y, yerr=yerr, label=label, color=color, capsize=2, zorder=4, **kwargs)


def band(ax, x, lo, hi, label: str | None = None, color=None, alpha: float = 0.25):
    """A measured spread (e.g. mean +- sd) as a shaded band."""
    return ax.fill_between(x, lo, hi, color=color, alpha=alpha, lw=0, label=label)


def density_histogram(ax, samples, variance: float, *, bins: int = 60, label: str = "samples", color=None):
    """Histogram of ``samples`` (density) with the N(0, variance) density of the theory on top."""
    samples = np.asarray(samples, dtype=np.float64).ravel()
    ax.hist(samples, bins=bins, density=True, alpha=0.55, color=color or colors(1)[0], label=label)
    s = float(np.sqrt(variance))
    grid = np.linspace(-4.5 * s, 4.5 * s, 400)
    theory_line(ax, grid, np.exp(-grid**2 / (2 * variance)) / np.sqrt(2 * np.pi * variance),
                label=f"theory N(0, {variance:.3g})")
    return ax


# --- shared figure helpers (chapters 3 and 5) ---------------------------------------------------------------

__all__ += ["legend_below", "figure_legend", "integer_ticks"]


def legend_below(ax, ncol: int = 1, **kwargs):
    """A legend under the panel, so that it never hides a curve."""
    kwargs.setdefault("fontsize", "x-small")
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=ncol, **kwargs)


def figure_legend(fig, handles, labels=None, ncol: int = 2, **kwargs):
    """One legend for the whole figure, under its panels (``labels`` default to the handles' own)."""
    kwargs.setdefault("fontsize", "small")
    if labels is not None:
        kwargs["labels"] = labels
    return fig.legend(handles=handles, loc="outside lower center", ncol=ncol, **kwargs)


def integer_ticks(ax, values, rotation: float = 0):
    """Ticks at exactly ``values`` (widths, depths) on a log axis, labelled as integers, no minor ticks."""
    values = sorted(set(values))
    ax.set_xticks(values, [str(int(v)) for v in values], rotation=rotation)
    ax.minorticks_off()
