"""The built site in headless Chromium: every page of the table of contents loads offline and renders.

Run after `make book` with `make site-test` (pytest -m browser). Screenshots of every page are saved to
``_output/screenshots/`` as artifacts.
"""

import re
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from .conftest import HTML, SCREENSHOTS, toc_pages

pytestmark = pytest.mark.browser
PAGES = toc_pages()
MATH_PAGES = [p for p in PAGES if Path(p).stem[:2].isdigit() or Path(p).stem == "intro"]


@pytest.fixture(scope="module")
def visited(browser, site_url):
    """Load every page once; record console errors, outside requests, and the facts the tests check."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for rel in PAGES:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors, outside, failed = [], [], []
        page.on("console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.on("request", lambda req, outside=outside: outside.append(req.url)
                if urlparse(req.url).hostname not in ("127.0.0.1", None) and not req.url.startswith("data:") else None)
        page.on("response", lambda r, failed=failed: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        response = page.goto(f"{site_url}/{rel}", wait_until="networkidle")
        page.wait_for_function("!window.MathJax || !MathJax.startup || MathJax.startup.promise !== undefined")
        page.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
        page.wait_for_timeout(300)
        facts = page.evaluate("""() => {
            const main = document.querySelector('main') || document.body;
            const clone = main.cloneNode(true);
            clone.querySelectorAll('pre, code, script, style, mjx-container, .MathJax').forEach(e => e.remove());
            const imgs = [...main.querySelectorAll('img')].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}));
            const plots = [...main.querySelectorAll('.js-plotly-plot')].map(p => ({
                w: p.getBoundingClientRect().width, h: p.getBoundingClientRect().height,
                traces: p.querySelectorAll('.scatterlayer .trace').length}));
            const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
            return {text: clone.innerText, math: main.querySelectorAll('mjx-container').length, imgs, plots, links,
                    errorOutputs: main.querySelectorAll('.output.traceback, .output.error, .cell_output .traceback').length,
                    ids: [...document.querySelectorAll('[id]')].map(e => e.id)};
        }""")
        page.screenshot(path=str(SCREENSHOTS / (rel.replace("/", "_").removesuffix(".html") + ".png")), full_page=True)
        facts.update(status=response.status if response else None, errors=errors, outside=outside, failed=failed)
        out[rel] = facts
        page.close()
    return out


@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_without_errors(visited, rel):
    facts = visited[rel]
    assert facts["status"] == 200
    assert facts["failed"] == [], f"failed requests on {rel}: {facts['failed']}"
    assert facts["errors"] == [], f"console errors on {rel}: {facts['errors']}"
    assert facts["outside"] == [], f"{rel} requested outside resources: {facts['outside'][:5]}"


@pytest.mark.parametrize("rel", PAGES)
def test_no_error_text(visited, rel):
    facts = visited[rel]
    assert facts["errorOutputs"] == 0
    for marker in ("Traceback (most recent call last)", "ClaimFailed", "PapermillExecutionError"):
        assert marker not in facts["text"], f"{marker!r} on {rel}"


@pytest.mark.parametrize("rel", MATH_PAGES)
def test_maths_is_typeset(visited, rel):
    facts = visited[rel]
    assert facts["math"] > 0, f"no MathJax output on {rel}"
    raw = re.findall(r"\$\$|\\\(|\\\[|(?<![\w$])\$[^$\s][^$\n]{0,80}\$(?![\w$])", facts["text"])
    assert raw == [], f"untypeset TeX on {rel}: {raw[:5]}"


@pytest.mark.parametrize("rel", PAGES)
def test_figures_are_present_and_not_empty(visited, rel):
    facts = visited[rel]
    broken = [i["src"] for i in facts["imgs"] if not i["ok"]]
    assert broken == [], f"broken images on {rel}: {broken}"
    for plot in facts["plots"]:
        assert plot["w"] > 100 and plot["h"] > 100 and plot["traces"] > 0, f"empty interactive plot on {rel}: {plot}"
    if Path(rel).stem[:2].isdigit():
        assert len(facts["imgs"]) + len(facts["plots"]) > 0, f"chapter {rel} shows no figure"


@pytest.mark.parametrize("rel", PAGES)
def test_internal_links_resolve(visited, rel):
    facts = visited[rel]
    base = f"http://site/{rel}"
    missing = []
    for href in facts["links"]:
        url = urlparse(urljoin(base, href))
        if url.scheme not in ("http", "https") or url.netloc != "site":
            continue
        path = url.path.lstrip("/") or "index.html"
        target = HTML / path
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            missing.append(href)
        elif url.fragment and path == rel and url.fragment not in facts["ids"]:
            missing.append(href)
    assert missing == [], f"broken internal links on {rel}: {missing[:10]}"


@pytest.mark.parametrize("rel", [p for p in PAGES if Path(p).stem[:2].isdigit()])
def test_a_chapter_says_where_its_numbers_come_from_and_offers_its_source(visited, rel):
    facts = visited[rel]
    assert re.search(r"The numbers on this page (come from|were computed while the book was built, at) the \w+ tier",
                     facts["text"]), f"{rel} does not open with the evidence note"
    stem = Path(rel).stem
    assert any(h and h.endswith(f"_sources/book/{stem}.py") for h in facts["links"]), f"no .py download on {rel}"
    assert (HTML / "_sources" / "book" / f"{stem}.py").read_text().startswith("# ---")
    assert not any(h and ("mybinder" in h or "colab.research" in h) for h in facts["links"]), f"launch button on {rel}"


def test_every_chapter_is_in_the_site():
    chapters = sorted(p.stem for p in (HTML.parent.parent / "book").glob("[0-9][0-9]_*.py"))
    in_toc = sorted(Path(p).stem for p in PAGES if Path(p).stem[:2].isdigit())
    assert chapters == in_toc
    assert (HTML / ".nojekyll").exists()
