"""The built site as a reader sees it: each page opened in headless Chromium (Debian's ``chromium``, no download).

    python -m mfat.site.browse [--html _build/html] [PAGE ...]     # one line per page: code share, figures, ...

:data:`FACTS_JS` reads, from the page as laid out at :data:`VIEWPORT`: the share of the article's height taken by
visible code (code cells not folded away), the visible code lines wider than their box, every figure's number,
caption and alt text, images shown without a caption, the chapter's verdict box, the outputs' text and the prose.
The browser tests (``tests/browser``) and this command read the same facts.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

__all__ = ["CHROMIUM_FLAGS", "FACTS_JS", "VIEWPORT", "chromium", "main", "page_facts", "serve", "toc_pages"]

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-quic", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}

FACTS_JS = """() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  // rendered: not inside a closed <details> (Chromium keeps a layout box for its hidden content), not display:none,
  // and not folded behind a toggle (visibility: hidden keeps the box but renders no text)
  const shown = e => !e.closest('details:not([open]) > :not(summary)') && e.getClientRects().length > 0
      && e.getBoundingClientRect().height > 0 && (!e.checkVisibility || e.checkVisibility({visibilityProperty: true}));
  const inputs = [...article.querySelectorAll('.cell_input')].filter(e => shown(e) && e.innerText.trim());
  const codeHeight = inputs.reduce((h, e) => h + e.getBoundingClientRect().height, 0);
  const overflowing = [];
  for (const pre of inputs.flatMap(e => [...e.querySelectorAll('pre')])) {
    if (pre.scrollWidth > pre.clientWidth + 1) overflowing.push(pre.innerText.split('\\n')
        .reduce((a, b) => a.length >= b.length ? a : b, ''));
  }
  // display equations wider than the text column (they would scroll or spill over the margin)
  const right = article.getBoundingClientRect().right;
  const wideMath = [...article.querySelectorAll('mjx-container[display="true"]')].filter(shown)
      .filter(m => m.scrollWidth > m.getBoundingClientRect().width + 1 || m.getBoundingClientRect().right > right + 1)
      .map(m => m.textContent.slice(0, 80));
  const figures = [...article.querySelectorAll('figure')].map(f => {
    const img = f.querySelector('img');
    const number = f.querySelector('.caption-number');
    const caption = f.querySelector('figcaption');
    return {id: f.id || (f.querySelector('[id]') || {}).id || '', number: number ? number.innerText.trim() : '',
            caption: caption ? caption.innerText.trim() : '', alt: img ? (img.getAttribute('alt') || '') : null,
            interactive: !!f.querySelector('.js-plotly-plot'),
            width: img ? img.getBoundingClientRect().width : f.getBoundingClientRect().width,
            naturalWidth: img ? img.naturalWidth : 0};
  });
  const bare = [...article.querySelectorAll('.cell_output img')].filter(i => !i.closest('figure') && shown(i))
      .map(i => i.getAttribute('src'));
  const outputs = [...article.querySelectorAll('.cell_output')].filter(shown).map(e => e.innerText);
  const prose = article.cloneNode(true);
  prose.querySelectorAll('pre, code, script, style, table, mjx-container, .MathJax, .cell_output, details')
      .forEach(e => e.remove());
  const verdict = article.querySelector('.admonition.verdict');
  return {articleHeight: article.getBoundingClientRect().height, codeHeight, codeCells: inputs.length,
          codeShare: codeHeight / Math.max(1, article.getBoundingClientRect().height), overflowing, wideMath, figures, bare,
          outputs, prose: prose.innerText, verdict: verdict ? verdict.innerText : null,
          title: (article.querySelector('h1') || {}).innerText || ''};
}"""


def toc_pages() -> list[str]:
    """Every page of ``_toc.yml``, in reading order, as paths relative to the site root (``book/00_model.html``)."""
    import yaml

    from mfat.paths import repo_root

    toc = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("chapters"))
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [f"{f}.html" for f in files]


def chromium() -> str:
    """The system Chromium's path (Debian's ``chromium``); an error naming the package when it is missing."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        raise RuntimeError("Debian's chromium is not installed: `apt-get install chromium` (as root)")
    return executable


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(html_dir: Path):
    """Serve ``html_dir`` on a free local port for the duration of the block; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def page_facts(page) -> dict:
    """:data:`FACTS_JS` on a loaded playwright page, after MathJax has typeset it."""
    page.wait_for_load_state("load")
    page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.wait_for_timeout(200)
    return page.evaluate(FACTS_JS)


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    from mfat.paths import repo_root

    parser = argparse.ArgumentParser(prog="python -m mfat.site.browse", description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="pages relative to the site (default: every chapter)")
    parser.add_argument("--html", type=Path, default=repo_root() / "_build" / "html")
    args = parser.parse_args(argv)
    pages = args.pages or [p for p in toc_pages() if Path(p).stem[:2].isdigit()]
    print(f"{'page':<36} {'code share':>10} {'code cells':>10} {'figures':>8} {'numbered':>8} {'bare imgs':>9} "
          f"{'overflow':>8} {'wide eqs':>8} verdict")
    with serve(args.html) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
        for rel in pages:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{url}/{rel}", wait_until="networkidle")
            f = page_facts(page)
            numbered = sum(bool(fig["number"]) for fig in f["figures"])
            print(f"{rel:<36} {f['codeShare']:>10.1%} {f['codeCells']:>10} {len(f['figures']):>8} {numbered:>8} "
                  f"{len(f['bare']):>9} {len(f['overflowing']):>8} {len(f['wideMath']):>8} "
                  f"{'yes' if f['verdict'] else 'no'}")
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
