"""A small Sphinx extension for the book's site (registered in ``_config.yml``).

- Removes duplicated inline ``<script>`` lines from the written pages. With jupyter-book 1.0.4 the
  configuration snippets of sphinx-thebe and sphinx-togglebutton are emitted twice, and
  ``const THEBE_JS_URL`` declared twice is a JavaScript error on every page.
- Offers each chapter's jupytext source ``book/NN_<stem>.py`` in the page's download menu (beside the
  executed ``.ipynb``), copied to ``_sources/book/`` of the site.
- Starts the theme in light mode when the reader has no stored preference (pydata-sphinx-theme
  otherwise logs "Got invalid theme mode" on a first visit); figures are drawn for a light background. The same
  script marks the page ``mfat-js``: interactive figures then replace their static twins (``book.css``).
- Makes the tables of a page sortable: a click on a column header sorts the rows by that column, numbers as
  numbers (``1e-4`` < ``0.3`` < ``12``, signs, ``%`` and thousands separators understood), text as text; a
  second click reverses the order. Without JavaScript the tables stay as written.
- Numbers figures (and tables) by chapter: the k-th figure of ``book/NN_<stem>`` is "Fig. N.k", as the chapters
  are numbered in their titles, instead of one count running through the whole book.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["setup", "dedupe_inline_scripts", "add_source_download", "number_by_chapter"]

_LIGHT_MODE = ('if (!document.documentElement.dataset.mode) {'
               ' document.documentElement.dataset.mode = localStorage.getItem("mode") || "light"; }'
               ' document.documentElement.classList.add("mfat-js");')
# sortable tables: header cells of a table with a <thead> and at least two body rows sort the body on click
_SORT_TABLES = r"""document.addEventListener("DOMContentLoaded", () => {
  const key = t => { const s = t.trim().replace(/[,\u2009%]/g, "").replace(/\u2212/g, "-").split(/\s|\u00b1/)[0];
    const x = Number(s); return s !== "" && Number.isFinite(x) ? x : null; };
  document.querySelectorAll("article table").forEach(table => {
    const body = table.tBodies[0];
    if (!table.tHead || !body || body.rows.length < 2) return;
    const heads = [...[...table.tHead.rows].reduce((a, b) => b.cells.length > a.cells.length ? b : a).cells];
    heads.forEach((th, col) => {
      th.classList.add("mfat-sortable"); th.setAttribute("aria-sort", "none"); th.title = "sort by this column";
      th.addEventListener("click", () => {
        const up = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(h => h.setAttribute("aria-sort", "none"));
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        const rows = [...body.rows], text = r => (r.cells[col] || {innerText: ""}).innerText;
        const numeric = rows.every(r => key(text(r)) !== null || text(r).trim() === "");
        rows.sort((a, b) => { const x = text(a), y = text(b);
          const d = numeric ? (key(x) ?? -Infinity) - (key(y) ?? -Infinity) : x.localeCompare(y, undefined, {numeric: true});
          return up ? d : -d; });
        rows.forEach(r => body.appendChild(r));
      });
    });
  });
});"""
_INLINE = re.compile(r"^\s*<script>.*</script>\s*$")
_CHAPTER = re.compile(r"^book/(\d\d)_")


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


def _chapter_source(app, docname: str) -> Path | None:
    """The jupytext source of a chapter page (``book/NN_<stem>.py``), or None for other pages."""
    path = Path(app.srcdir) / f"{docname}.py"
    return path if docname.startswith("book/") and path.exists() else None


def add_source_download(app, pagename, templatename, context, doctree):
    """Add ``.py`` (the chapter's source) to the download menu that sphinx-book-theme builds."""
    source = _chapter_source(app, pagename)
    if source is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(1, {
                "type": "link", "url": f"{context['pathto']('_sources', 1)}/{pagename}.py", "text": ".py",
                "tooltip": "Download the chapter's source (jupytext percent format)", "icon": "fas fa-file-code",
                "label": "download-py-button"})


def number_by_chapter(app, env):
    """After Sphinx numbered the figures of the whole book in one count, renumber each chapter's own: (N, k) for
    the k-th figure (table, code block) of chapter N, in the order of the page. Returns the pages to rewrite."""
    changed = []
    for docname, kinds in env.toc_fignumbers.items():
        match = _CHAPTER.match(docname)
        if not match:
            continue
        for numbers in kinds.values():
            for k, key in enumerate(sorted(numbers, key=numbers.get), start=1):
                numbers[key] = (int(match.group(1)), k)
        changed.append(docname)
    return changed


def _postprocess(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for docname in app.env.found_docs:
        source = _chapter_source(app, docname)
        if source is not None:
            target = Path(app.outdir) / "_sources" / f"{docname}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = dedupe_inline_scripts(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.add_js_file(None, body=_LIGHT_MODE, priority=1)
    app.add_js_file(None, body=_SORT_TABLES)
    app.connect("html-page-context", add_source_download, priority=502)  # after the theme's buttons
    app.connect("build-finished", _postprocess)
    app.connect("env-get-updated", number_by_chapter, priority=900)  # after Sphinx's own numbering (500)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
