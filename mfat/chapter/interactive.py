"""Interactive figures that work in the static site: plotly with a slider over precomputed frames.

The plotly.js bundle is served from the site itself (``_static/plotly.min.js`` in the built site (copied by
:func:`mfat.site.assets.ensure_plotly`), so pages need no CDN. Each interactive figure comes with a
static matplotlib fallback drawn by the chapter.

    frames = {"eps=0.1": [Series("bound", x, y, "theory"), Series("PGD", x, y2, "measured")], ...}
    show(slider_figure(frames, xlabel="d", ylabel="L_adv", log_x=True), "fig-bound")
"""

from __future__ import annotations

import html
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


def show(fig, div_id: str):
    """Display ``fig``: in the book, HTML that loads plotly.js from the site; live, the normal widget."""
    from IPython.display import HTML, display

    if os.environ.get("MFAT_QUIET") != "1":
        fig.show()
        return
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})
    display(HTML(f'<div class="mfat-interactive"><script src="{html.escape(PLOTLY_SRC)}"></script>{body}</div>'))
