"""A small Sphinx extension for the book's site (registered in ``_config.yml``).

- Removes duplicated inline ``<script>`` lines from the written pages. With jupyter-book 1.0.4 the
  configuration snippets of sphinx-thebe and sphinx-togglebutton are emitted twice, and
  ``const THEBE_JS_URL`` declared twice is a JavaScript error on every page.
- Starts the theme in light mode when the reader has no stored preference (pydata-sphinx-theme
  otherwise logs "Got invalid theme mode" on a first visit); figures are drawn for a light background.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["setup", "dedupe_inline_scripts"]

_LIGHT_MODE = ('if (!document.documentElement.dataset.mode) {'
               ' document.documentElement.dataset.mode = localStorage.getItem("mode") || "light"; }')
_INLINE = re.compile(r"^\s*<script>.*</script>\s*$")


def dedupe_inline_scripts(html: str) -> str:
    """Drop every repeated one-line inline ``<script>...</script>`` of a page, keeping the first."""
    seen, out = set(), []
    for line in html.splitlines(keepends=True):
        if _INLINE.match(line):
            key = line.strip()
            if key in seen:
                continue
            seen.add(key)
        out.append(line)
    return "".join(out)


def _postprocess(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = dedupe_inline_scripts(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.add_js_file(None, body=_LIGHT_MODE, priority=1)
    app.connect("build-finished", _postprocess)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
