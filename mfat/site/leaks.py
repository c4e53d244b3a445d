"""Python reprs that leak onto a page: what a reader should never see under a cell.

    problems = leaked_outputs(notebook)   # [(cell index, snippet), ...]

A cell's output leaks when its plain text (an ``execute_result`` or a printed stream) looks like a Python repr:
``<matplotlib.legend.Legend at 0x...>``, ``Text(0.5, 0.98, '...')``, ``Claim(...)``, ``np.float64(...)``, or a bare
number returned by the last expression of a cell. Figures, tables (HTML), markdown and LaTeX outputs are fine.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["PATTERNS", "leaked_outputs", "check_notebooks"]

PATTERNS = {
    "object repr": re.compile(r"<[\w.]+ (object )?at 0x[0-9a-f]+>"),
    "matplotlib text": re.compile(r"^Text\(-?[\d.e+-]+, -?[\d.e+-]+, "),
    "claim repr": re.compile(r"\bClaim\("),
    "numpy scalar repr": re.compile(r"\bnp\.(float|int|bool)\d*\("),
    "bare number": re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"),
    "list of artists": re.compile(r"^\[<matplotlib\."),
}


def _texts(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            yield out.get("text", "")
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            if set(data) <= {"text/plain"}:  # only a repr: no figure, table or markdown alongside
                yield data.get("text/plain", "")


def leaked_outputs(nb) -> list[tuple[int, str, str]]:
    """``(cell index, kind, snippet)`` for every output of ``nb`` (an nbformat notebook) that leaks a repr."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        for text in _texts(cell):
            text = text if isinstance(text, str) else "".join(text)
            for kind, pattern in PATTERNS.items():
                m = pattern.search(text) if kind != "bare number" else pattern.match(text)
                if m:
                    found.append((i, kind, text.strip()[:80]))
                    break
    return found


def check_notebooks(paths) -> list[str]:
    """One line per leaked output in the executed notebooks ``paths``."""
    import nbformat

    lines = []
    for path in paths:
        nb = nbformat.read(Path(path), as_version=4)
        lines += [f"{Path(path).name}: cell {i}: {kind}: {snippet!r}" for i, kind, snippet in leaked_outputs(nb)]
    return lines
