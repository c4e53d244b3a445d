"""Fixtures for the checks of the built site: a local HTTP server and the system Chromium (no download)."""

import os
from pathlib import Path

import pytest

from mfat.site.browse import CHROMIUM_FLAGS, chromium, serve, toc_pages  # noqa: F401 (toc_pages: used by the tests)

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = Path(os.environ.get("MFAT_OUTPUT_DIR", ROOT / "_output")) / "screenshots"


@pytest.fixture(scope="session")
def site_url():
    if not (HTML / "index.html").exists():
        raise RuntimeError(f"no built site in {HTML}: run `make book` first")
    with serve(HTML) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()
