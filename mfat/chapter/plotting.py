"""One look for every figure: theory as (dashed) lines, experiment as markers or bands.

Call :func:`setup` once per chapter. Colours: :data:`THEORY` for predictions, the seaborn
"colorblind" palette (:func:`colors`) for measured series.
"""

from __future__ import annotations

import math
import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = ["setup", "colors", "figure", "panels", "theory_line", "measured", "band", "density_histogram",
           "glue_figure", "fit_titles", "readable_fonts", "displayed_scale", "THEORY", "WIDTH", "DPI", "COLUMN_PX",
           "MIN_FONT_PT", "PER_ROW"]

THEORY = "#222222"
WIDTH = 7.0  # inches: the width of the book's text column
DPI = 110  # figure pixels per inch; the page gets twice as many (retina) shown at this size
COLUMN_PX = 680  # CSS pixels a figure gets in the text column of a 1280-pixel-wide window (measured)
MIN_FONT_PT = 9.0  # the smallest text of a figure as displayed, in CSS points
PER_ROW = 2  # panels per row at page width


def setup() -> None:
    """The book's theme (seaborn whitegrid, colorblind palette) and figure defaults."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    mpl.rcParams.update({"figure.dpi": DPI, "savefig.dpi": 2 * DPI, "figure.autolayout": False,
                         "axes.titlesize": "medium", "legend.fontsize": "small", "legend.frameon": False})
    try:  # sharp on high-density screens: twice the pixels, shown at the same size
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("retina")
    except ImportError:
        pass


def colors(n: int = 10) -> list:
    """The first ``n`` colours of the measured-series palette."""
    return sns.color_palette("colorblind", n)


def figure(ncols: int = 1, nrows: int = 1, *, height: float = 3.2, width: float = WIDTH, **kwargs):
    """``plt.subplots`` with the book's sizes and constrained layout."""
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), layout="constrained", squeeze=False, **kwargs)


def panels(n: int, *, height: float = 3.2, width: float = WIDTH, per_row: int = PER_ROW, **subplot_kw):
    """``n`` panels in rows of at most ``per_row`` (an incomplete last row centred), constrained layout.

    Returns the figure and the list of its ``n`` axes in reading order; ``height`` is per row."""
    if n < 1:
        raise ValueError(f"parameter 'n' = {n} is out of range: allowed n >= 1")
    rows = math.ceil(n / per_row)
    fig = plt.figure(figsize=(width, height * rows), layout="constrained")
    grid = fig.add_gridspec(rows, 2 * per_row)
    axes = []
    for i in range(n):
        row, col = divmod(i, per_row)
        start = 2 * col + per_row - min(per_row, n - row * per_row)
        axes.append(fig.add_subplot(grid[row, start:start + 2], **subplot_kw))
    return fig, axes


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


# --- figures on the page ------------------------------------------------------------------------------------

def displayed_scale(fig, column_px: float = COLUMN_PX) -> float:
    """CSS points on the page per point of the figure: the figure is saved at :data:`DPI` to its tight bounding
    box (legends and titles that stick out included) and shrunk to the column when wider (1 CSS pt = 4/3 CSS px)."""
    width_px = fig.get_tightbbox(fig.canvas.get_renderer()).width * fig.dpi
    return fig.dpi / 72 * 0.75 * min(1.0, column_px / width_px)


def _wrap(text, width_px: float, renderer) -> bool:
    """Break each line of the matplotlib text ``text`` into lines no wider than ``width_px`` (between words;
    ``$...$`` kept whole). Returns whether it changed."""
    if text.get_window_extent(renderer).width <= width_px:
        return False
    original, out = text.get_text(), []
    for paragraph in original.split("\n"):
        words = re.findall(r"(?:\$[^$]*\$|\S)+", paragraph)
        line = words[0] if words else ""
        for word in words[1:]:
            text.set_text(f"{line} {word}")
            if text.get_window_extent(renderer).width > width_px:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}"
        out.append(line)
    text.set_text("\n".join(out))
    return text.get_text() != original


def fit_titles(fig) -> int:
    """Wrap the figure's title to the figure's width and every panel's title to its panel's width, so that no
    title widens the saved figure or runs into its neighbour. Returns how many titles were wrapped."""
    renderer = fig.canvas.get_renderer()
    fig.draw_without_rendering()
    titles = [(fig._suptitle, fig.bbox.width)] if fig._suptitle is not None else []
    titles += [(ax.title, ax.get_window_extent(renderer).width) for ax in fig.axes if ax.get_title()]
    return sum(_wrap(text, 1.05 * width, renderer) for text, width in titles)


def readable_fonts(fig, min_pt: float = MIN_FONT_PT) -> int:
    """Raise every text of ``fig`` smaller than ``min_pt`` as displayed on the page to ``min_pt``; return how many
    were raised (legends, annotations and tick labels drawn with "xx-small" or a fixed small size). Larger type
    can widen the figure, and so shrink it on the page: the floor is computed again until nothing changes."""
    raised = 0
    for _ in range(4):
        floor = min_pt / displayed_scale(fig) + 1e-9
        small = [t for t in fig.findobj(mpl.text.Text) if t.get_visible() and t.get_text() and t.get_fontsize() < floor]
        for text in small:
            text.set_fontsize(floor)
        raised += len(small)
        if not small:
            break
    return raised


def glue_figure(fig, key: str) -> None:
    """Hand ``fig`` to the page under ``key`` without showing it here, then close it.

    The prose shows it with a number, a caption and alt text::

        ```{glue:figure} key
        :name: fig-key
        :alt: what the figure shows, in words

        Caption.
        ```

    Titles are wrapped to their width (:func:`fit_titles`) and texts smaller than :data:`MIN_FONT_PT` as
    displayed are enlarged (:func:`readable_fonts`) first. ``fig=None``
    (a run that skips the figure's measurement) glues a short note instead, so that the page still builds.
    """
    from mfat.chapter.context import glue

    if fig is None:
        glue(key, "(this run did not draw this figure; see the settings at the end of the page)", display=False)
        return
    fit_titles(fig)
    readable_fonts(fig)
    glue(key, fig, display=False)
    plt.close(fig)
