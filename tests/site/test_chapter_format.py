"""The chapters' code cells are formatted to the book's text column (book/.style.yapf: about 76 characters)."""

import subprocess
import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parents[2] / "book"


def test_chapter_sources_are_formatted_to_the_column():
    chapters = sorted(str(p) for p in BOOK.glob("[0-9][0-9]_*.py"))
    assert chapters, "no chapter sources found"
    result = subprocess.run([sys.executable, "-m", "yapf", "--diff", *chapters], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout, (
        "chapter sources are not formatted to the column; run: python -m yapf -i book/*.py\n" + result.stdout[:3000])
