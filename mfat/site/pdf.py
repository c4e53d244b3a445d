"""The whole book as one PDF, printed from the built site by the system Chromium (Debian's ``chromium``; no download).

    python -m mfat pdf          # after `python -m mfat build`: _build/html/mfat-book.pdf (`make pdf`)

The pages of the table of contents (introduction, chapters, appendix) are joined into one print page,
``_build/html/book/print.html``: the site's page around the ``<article>`` of every page, one page break between
them, each page's headings one level down so that the PDF's outline lists the pages and their sections. Chromium
loads it, waits for MathJax, and prints it with the book's print style (``book.css``: interactive figures give way
to their static twins).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mfat.paths import repo_root

__all__ = ["TYPESET_JS", "PDF_NAME", "PRINT_PAGE", "book_pages", "main", "print_page", "write_pdf"]

PDF_NAME = "mfat-book.pdf"
PRINT_PAGE = "book/print.html"
GENERATED = ("book/scorecard.html", "book/status.html")  # long tables of this build: on the site, not in print
TYPESET_JS = ("async () => { if (window.MathJax && MathJax.startup) { await MathJax.startup.promise;"
              " await MathJax.typesetPromise(); } }")


def book_pages(html_dir: Path) -> list[str]:
    """The pages of ``_toc.yml`` that exist in ``html_dir``, in reading order, without the generated tables."""
    from mfat.site.browse import toc_pages

    return [p for p in toc_pages() if p not in GENERATED and (html_dir / p).exists()]


def _article(page_html: str, rel: str) -> tuple[int, int]:
    """The span of the ``<article>`` element of a jupyter-book page."""
    start, end = page_html.find("<article"), page_html.rfind("</article>")
    if start < 0 or end < 0:
        raise ValueError(f"page {rel} has no <article>: allowed the pages of a jupyter-book 1.x site")
    return page_html.index(">", start) + 1, end


def _one_level_down(article: str) -> str:
    """Headings one level lower (h1 -> h2, ..., h5 -> h6): Chromium's PDF outline starts at h2, so each page's
    title becomes an entry of the outline and its sections nest under it (the print style keeps the sizes)."""
    return re.sub(r"<(/?)h([1-5])\b", lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", article)


def print_page(html_dir: Path, pages: list[str]) -> Path:
    """Write ``book/print.html``: the first page's frame around the articles of ``pages`` (all under ``book/``, so
    that every relative link, image and script still resolves)."""
    if not pages or any(Path(p).parent != Path("book") for p in pages):
        raise ValueError(f"parameter 'pages' = {pages}: allowed a non-empty list of pages under book/")
    texts = [(html_dir / p).read_text(encoding="utf-8") for p in pages]
    bodies = []
    for rel, text in zip(pages, texts):
        a, b = _article(text, rel)
        bodies.append(f'<section class="mfat-print-page" data-page="{rel}">{_one_level_down(text[a:b])}</section>')
    frame = texts[0]
    a, b = _article(frame, pages[0])
    target = html_dir / PRINT_PAGE
    target.write_text(frame[:a] + "\n".join(bodies) + frame[b:], encoding="utf-8")
    return target


def write_pdf(html_dir: Path | None = None) -> Path:
    """Print the whole book to ``<html_dir>/mfat-book.pdf`` with the system Chromium; return its path."""
    from playwright.sync_api import sync_playwright

    from mfat.site.browse import CHROMIUM_FLAGS, chromium, serve

    html_dir = Path(html_dir or repo_root() / "_build" / "html")
    print_page(html_dir, book_pages(html_dir))
    target = html_dir / PDF_NAME
    with serve(html_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page()
        page.goto(f"{url}/{PRINT_PAGE}", wait_until="load", timeout=300_000)  # parsed to the end
        page.evaluate(TYPESET_JS)
        page.emulate_media(media="print")
        page.pdf(path=str(target), format="A4", print_background=True, outline=True, tagged=True,
                 margin={"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"})
        browser.close()
    return target


def main(argv=None) -> int:
    path = write_pdf()
    print(f"The book as one PDF: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
