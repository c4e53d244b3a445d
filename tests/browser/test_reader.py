"""Each chapter as a reader sees it in headless Chromium at 1280x900: little visible code, numbered and described
figures, a verdict box, no Python repr, no development words.

Run after `make book` with `make site-test`. The facts come from :data:`mfat.site.browse.FACTS_JS`, which
`python -m mfat.site.browse` prints for every chapter.
"""

import re
from pathlib import Path

import pytest

from mfat.site.browse import VIEWPORT, page_facts
from mfat.site.leaks import PATTERNS

from .conftest import toc_pages

pytestmark = pytest.mark.browser
CHAPTERS = [p for p in toc_pages() if Path(p).stem[:2].isdigit()]
MAX_CODE_SHARE = 0.10
DEVELOPMENT_WORDS = re.compile(r"\b(spec|specs|issue|issues|acceptance)\b|probe run while writing", re.IGNORECASE)
PATH_LIKE = re.compile(r"(^|/)[\w.-]+\.(png|svg|jpe?g|gif)$|^(data:|https?:|/|\.\./|_build)", re.IGNORECASE)


@pytest.fixture(scope="module")
def read(browser, site_url):
    """The facts of every chapter page, loaded once."""
    out = {}
    for rel in CHAPTERS:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{site_url}/{rel}", wait_until="networkidle")
        out[rel] = page_facts(page)
        page.close()
    return out


@pytest.mark.parametrize("rel", CHAPTERS)
def test_visible_code_is_a_small_share_of_the_page(read, rel):
    share = read[rel]["codeShare"]
    assert share <= MAX_CODE_SHARE, f"{rel}: visible code takes {share:.1%} of the page (at most {MAX_CODE_SHARE:.0%})"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_no_visible_code_line_overflows_its_box(read, rel):
    assert read[rel]["overflowing"] == [], f"{rel}: code lines wider than their box: {read[rel]['overflowing'][:3]}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_display_equations_fit_the_column(read, rel):
    assert read[rel]["wideMath"] == [], f"{rel}: display equations wider than the column: {read[rel]['wideMath'][:3]}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_every_figure_is_numbered_captioned_and_described(read, rel):
    facts = read[rel]
    assert facts["bare"] == [], f"{rel}: images outside a numbered figure: {facts['bare'][:3]}"
    for fig in facts["figures"]:
        assert re.match(r"Fig\. \d+(\.\d+)*", fig["number"]), f"{rel}: figure {fig['id']} has no number"
        assert len(fig["caption"]) > len(fig["number"]) + 20, f"{rel}: figure {fig['id']} has no caption"
        if fig["alt"] is not None:
            alt = fig["alt"].strip()
            assert len(alt) >= 40 and not PATH_LIKE.search(alt), f"{rel}: figure {fig['id']} alt text {alt!r}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_figures_are_numbered_by_chapter(read, rel):
    chapter = int(Path(rel).stem[:2])
    numbers = [fig["number"] for fig in read[rel]["figures"]]
    assert numbers, f"{rel}: no figure"
    expected = [f"Fig. {chapter}.{k}" for k in range(1, len(numbers) + 1)]
    assert [n.rstrip(" .:") for n in numbers] == expected


@pytest.mark.parametrize("rel", CHAPTERS)
def test_the_chapter_opens_with_its_verdict(read, rel):
    verdict = read[rel]["verdict"]
    assert verdict, f"{rel}: no verdict box"
    for part in ("Statement.", "Status:", "Scale."):
        assert part in verdict, f"{rel}: the verdict box has no {part!r}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_no_python_repr_in_any_output(read, rel):
    for text in read[rel]["outputs"]:
        for kind, pattern in PATTERNS.items():
            if kind != "bare number":
                assert not pattern.search(text), f"{rel}: {kind} in an output: {text[:120]!r}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_the_prose_speaks_to_readers(read, rel):
    found = DEVELOPMENT_WORDS.findall(read[rel]["prose"])
    assert not found, f"{rel}: development words in the prose: {found}"


@pytest.mark.parametrize("rel", CHAPTERS)
def test_the_chapter_ends_with_summary_exercises_and_settings(read, rel):
    prose = read[rel]["prose"]
    heads = [h for h in ("Summary", "Exercises", "Settings of this page") if h in prose]
    assert heads == ["Summary", "Exercises", "Settings of this page"], f"{rel}: ends with {heads}"
    assert prose.rindex("Summary") < prose.rindex("Exercises") < prose.rindex("Settings of this page")
