"""The book as one PDF (`make pdf`): it exists, has a page per site page at least, and its outline holds the title
of every chapter."""

import re
from pathlib import Path

import pytest

from mfat.site.pdf import PDF_NAME, PRINT_PAGE, book_pages

from .conftest import HTML, ROOT

pytestmark = pytest.mark.browser


def _outline_titles(pdf: bytes) -> list[str]:
    """The ``/Title`` strings of a PDF (its outline and document title), literal or UTF-16 hex."""
    titles = []
    for literal, hexa in re.findall(rb"/Title\s*(?:\(((?:\\.|[^\\)])*)\)|<([0-9A-Fa-f]+)>)", pdf):
        if hexa:
            raw = bytes.fromhex(hexa.decode())
            titles.append(raw[2:].decode("utf-16-be") if raw[:2] == b"\xfe\xff" else raw.decode("latin-1"))
        else:
            titles.append(re.sub(rb"\\(.)", rb"\1", literal).decode("latin-1"))
    return titles


def _chapter_titles() -> list[str]:
    titles = []
    for source in sorted((ROOT / "book").glob("[0-9][0-9]_*.py")):
        match = re.search(r"^# # (.+)$", source.read_text(), re.MULTILINE)
        titles.append(match.group(1).strip())
    return titles


def test_the_pdf_holds_every_chapter():
    pdf = HTML / PDF_NAME
    assert pdf.exists(), f"no {pdf}: run `make pdf` after `make book`"
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= len(book_pages(HTML)), f"{pdf} has {pages} pages"
    printed = (HTML / PRINT_PAGE).read_text(encoding="utf-8")
    outline = re.sub(r"\s", "", "".join(_outline_titles(data)))  # the outline drops the spaces at line breaks
    for title in _chapter_titles():
        words = title.split("$")[0].split()[:4]  # the title's first words, before any maths
        assert " ".join(words) in printed, f"{PRINT_PAGE} lacks the chapter {title!r}"
        assert "".join(words) in outline, f"the PDF's outline lacks the chapter {title!r}"


def test_the_introduction_links_the_pdf():
    intro = (HTML / "book" / "intro.html").read_text(encoding="utf-8")
    assert f'href="../{PDF_NAME}"' in intro
    assert Path(HTML / PDF_NAME).exists()
