"""Interactive figures that work in the static site: plotly with a slider over precomputed frames.

The plotly.js bundle is served from the site itself (``_static/plotly.min.js`` in the built site (copied by
:func:`mfat.site.assets.ensure_plotly`), so pages need no CDN. :func:`show` hands the figure to the page under a
key, for a numbered ``{glue:figure}`` with a caption in the prose; given its static twin (a matplotlib figure of the
same data), the page shows the interactive figure on screen and the static one in print or without JavaScript,
under one number.

    frames = {"eps=0.1": [Series("bound", x, y, "theory"), Series("PGD", x, y2, "measured")], ...}
    show(slider_figure(frames, xlabel="d", ylabel="L_adv", log_x=True), "ch2_bound", static=fig, alt="...")
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Series", "slider_figure", "show", "typeset", "static_twin", "PLOTLY_SRC"]

PLOTLY_SRC = "../_static/plotly.min.js"  # relative to a chapter page book/NN_<topic>.html


@dataclass
class Series:
    """One curve of a frame: ``kind`` is "theory" (dashed line) or "measured" (markers)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    kind: str = "measured"

    def __post_init__(self):
        if self.kind not in ("theory", "measured"):
            raise ValueError(f"parameter 'kind' = {self.kind!r} is out of range: allowed 'theory' or 'measured'")
        self.x = np.asarray(self.x, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        if self.x.shape != self.y.shape:
            raise ValueError(f"parameters 'x' and 'y' have shapes {self.x.shape} and {self.y.shape}: allowed equal shapes")


def _trace(series: Series, color: str):
    import plotly.graph_objects as go

    if series.kind == "theory":
        return go.Scatter(x=series.x, y=series.y, name=series.name, mode="lines",
                          line=dict(color=color, dash="dash", width=2))
    return go.Scatter(x=series.x, y=series.y, name=series.name, mode="markers", marker=dict(color=color, size=8))


# a subscript follows a one-letter symbol (L_adv, J_11, σ_l) or a closing ², ) or ‖ (σ²_w, ‖w‖²_FR), never a
# word (adv_only stays as written)
_SUB = re.compile(r"(?:(?<=(?<![A-Za-zα-ωΑ-Ω])[A-Za-zα-ωΑ-Ω])|(?<=[²³)‖]))_(\{[^}]*\}|\([^)]*\)|[A-Za-z0-9,∞]+)")
_SUP = re.compile(r"\^(\{[^}]*\}|\([^)]*\)|[A-Za-z0-9∞-]+)")


def typeset(label: str) -> str:
    """A plain-text label as plotly's HTML subset: ``L_adv`` -> L<sub>adv</sub>, ``q^(l)`` -> q<sup>(l)</sup>,
    ``||w||`` -> ‖w‖ (braces group and are dropped; parentheses are kept)."""
    def group(m):
        body = m.group(1)
        return body[1:-1] if body.startswith("{") else body

    text = label.replace("||", "‖")
    text = _SUP.sub(lambda m: f"<sup>{group(m)}</sup>", text)
    return _SUB.sub(lambda m: f"<sub>{group(m)}</sub>", text)


def _log_axis(values) -> dict:
    """Axis settings of a log axis: labels at powers of ten only (no minor-tick labels) when the data span a
    decade or more; otherwise plotly's own ticks, which then are the only labels in range."""
    v = np.asarray([x for x in values if np.isfinite(x) and x > 0], dtype=float)
    axis = dict(type="log", exponentformat="power", minor=dict(ticks="outside", showgrid=True))
    if v.size and math.log10(v.max() / v.min()) >= 1.0:
        axis["dtick"] = 1
    return axis


def slider_figure(frames: dict[str, list[Series]], *, xlabel: str, ylabel: str, title: str = "",
                  slider_label: str = "", log_x: bool = False, log_y: bool = False):
    """A plotly figure with one slider step per entry of ``frames`` (all frames have the same series).

    Labels, titles and series names are typeset (:func:`typeset`); log axes label powers of ten only."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    if not frames:
        raise ValueError("parameter 'frames' is empty: allowed a dict with at least one frame")
    labels = list(frames)
    names = [s.name for s in frames[labels[0]]]
    for label in labels:
        if [s.name for s in frames[label]] != names:
            raise ValueError(f"frame {label!r} has series {[s.name for s in frames[label]]}: allowed {names}")
    palette = qualitative.Safe
    colors = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    fig = go.Figure()
    for label in labels:
        for series in frames[label]:
            trace = _trace(Series(typeset(series.name), series.x, series.y, series.kind), colors[series.name])
            trace.visible = label == labels[0]
            fig.add_trace(trace)
    k = len(names)
    steps = []
    for i, label in enumerate(labels):
        visible = [False] * (k * len(labels))
        visible[i * k:(i + 1) * k] = [True] * k
        steps.append(dict(method="update", label=typeset(label), args=[{"visible": visible}]))
    xs = np.concatenate([s.x for f in frames.values() for s in f] or [np.array([])])
    ys = np.concatenate([s.y for f in frames.values() for s in f] or [np.array([])])
    xaxis = _log_axis(xs) if log_x else dict(type="linear")
    yaxis = _log_axis(ys) if log_y else dict(type="linear")
    fig.update_layout(
        title=typeset(title), template="plotly_white", height=430, margin=dict(l=60, r=20, t=50, b=40),
        xaxis=dict(title=typeset(xlabel), **xaxis), yaxis=dict(title=typeset(ylabel), **yaxis),
        sliders=[dict(active=0, currentvalue=dict(prefix=typeset(slider_label)), steps=steps, pad=dict(t=50))],
    )
    return fig


def _plain(label: str, *, math: bool = True) -> str:
    """Plotly's HTML subset as matplotlib text: <sub>x</sub> -> mathtext $_{x}$, <sup>x</sup> -> $^{x}$; with
    ``math=False`` as plain words for alt text (_x and ^x)."""
    sub, sup = (r"$_{\1}$", r"$^{\1}$") if math else (r"_\1", r"^\1")
    return re.sub(r"<sup>(.*?)</sup>", sup, re.sub(r"<sub>(.*?)</sub>", sub, label or ""))


def static_twin(fig, *, per_row: int = 3):
    """The print fallback of a :func:`slider_figure`: one small panel per slider position, same axes, theory
    dashed and measurements as markers (a matplotlib figure of the same data)."""
    from mfat.chapter import plotting

    steps = fig.layout.sliders[0].steps
    n = len(steps)
    k = len(fig.data) // n
    names = [trace.name for trace in fig.data[:k]]
    palette = plotting.colors(max(k, 1))
    per_row = min(per_row, n)
    rows = math.ceil(n / per_row)
    width = plotting.WIDTH
    figure, axes = plotting.figure(per_row, rows, height=min(2.6, width / per_row * 0.8), width=width,
                                   sharex=True, sharey=True)
    flat = axes.ravel()
    for i, step in enumerate(steps):
        ax = flat[i]
        for j, trace in enumerate(fig.data[i * k:(i + 1) * k]):
            x = np.asarray(trace.x if trace.x is not None else [], dtype=float)
            y = np.asarray(trace.y if trace.y is not None else [], dtype=float)
            if not x.size:
                continue
            if trace.mode == "lines":
                ax.plot(x, y, "--", color=plotting.THEORY if k == 1 else palette[j], lw=1.3)
            else:
                ax.plot(x, y, "o", color=palette[j], ms=3.5)
        ax.set_title(_plain(step.label), fontsize="small")
        if fig.layout.xaxis.type == "log":
            ax.set_xscale("log")
        if fig.layout.yaxis.type == "log":
            ax.set_yscale("log")
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(_plain(fig.layout.xaxis.title.text))
    for ax in axes[:, 0]:
        ax.set_ylabel(_plain(fig.layout.yaxis.title.text))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="--" if t.mode == "lines" else "", marker="" if t.mode == "lines" else "o",
                      color=palette[j]) for j, t in enumerate(fig.data[:k])]
    figure.legend(handles, [_plain(n_) for n_ in names], loc="outside lower center", ncol=min(k, 2),
                  fontsize="small")
    return figure


def _static_html(fig, alt: str) -> str:
    """The matplotlib figure ``fig`` as an inline PNG (twice the pixels, shown at its size), then closed."""
    import matplotlib.pyplot as plt

    from mfat.chapter import plotting

    plotting.fit_titles(fig)
    plotting.readable_fonts(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=2 * fig.dpi, bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="mfat-static" src="data:image/png;base64,{png}" alt="{html.escape(alt, quote=True)}" '
            f'style="max-width: 100%">')


def show(fig, key: str, *, static=None, alt: str = ""):
    """Hand the interactive ``fig`` to the page under ``key`` (HTML that loads plotly.js from the site) for a
    ``{glue:figure}`` in the prose, which gives it its number and caption; live, also show the widget.

    ``static``: the matplotlib twin of ``fig`` (same data), shown instead of it in print and without JavaScript,
    with the alt text ``alt``; it is closed here. Without one, a :func:`slider_figure` gets its
    :func:`static_twin` (one panel per slider position), with ``alt`` or a description made from its axes.
    """
    from IPython.display import HTML

    from mfat.chapter.context import glue

    if static is not None and not alt.strip():
        raise ValueError("parameter 'alt' is empty: allowed a description of the static figure in words")
    if os.environ.get("MFAT_QUIET") != "1":
        fig.show()
    div_id = key.replace("_", "-")
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    if static is None and fig.layout.sliders:
        static = static_twin(fig)
        alt = alt.strip() or (f"One panel per slider position ({len(fig.layout.sliders[0].steps)}) of "
                              f"{_plain(fig.layout.yaxis.title.text, math=False)} against "
                              f"{_plain(fig.layout.xaxis.title.text, math=False)}: "
                              "dashed lines are predictions, markers are measurements.")
    twin = _static_html(static, alt) if static is not None else ""
    glue(key, HTML(f'<div class="mfat-interactive"><script src="{html.escape(PLOTLY_SRC)}"></script>{body}</div>'
                   f"{twin}"), display=False)
