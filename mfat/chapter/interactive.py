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
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Series", "slider_figure", "show", "PLOTLY_SRC"]

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


def slider_figure(frames: dict[str, list[Series]], *, xlabel: str, ylabel: str, title: str = "",
                  slider_label: str = "", log_x: bool = False, log_y: bool = False):
    """A plotly figure with one slider step per entry of ``frames`` (all frames have the same series)."""
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
            trace = _trace(series, colors[series.name])
            trace.visible = label == labels[0]
            fig.add_trace(trace)
    k = len(names)
    steps = []
    for i, label in enumerate(labels):
        visible = [False] * (k * len(labels))
        visible[i * k:(i + 1) * k] = [True] * k
        steps.append(dict(method="update", label=label, args=[{"visible": visible}]))
    fig.update_layout(
        title=title, template="plotly_white", height=430, margin=dict(l=60, r=20, t=50, b=40),
        xaxis=dict(title=xlabel, type="log" if log_x else "linear"),
        yaxis=dict(title=ylabel, type="log" if log_y else "linear"),
        sliders=[dict(active=0, currentvalue=dict(prefix=slider_label), steps=steps, pad=dict(t=50))],
    )
    return fig


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
    with the alt text ``alt``; it is closed here.
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
    twin = _static_html(static, alt) if static is not None else ""
    glue(key, HTML(f'<div class="mfat-interactive"><script src="{html.escape(PLOTLY_SRC)}"></script>{body}</div>'
                   f"{twin}"), display=False)
