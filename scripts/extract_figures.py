"""Save the PNG figures of an executed notebook to a folder, to look at them outside the book.

    python scripts/extract_figures.py book/00_model.ipynb /tmp/figs
"""

import base64
import sys
from pathlib import Path

import nbformat


def main(notebook: str, folder: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for i, cell in enumerate(nb.cells):
        for j, output in enumerate(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                path = out / f"{Path(notebook).stem}-cell{i:02d}-{j}.png"
                path.write_bytes(base64.b64decode(png))
                count += 1
                print(path)
    print(f"{count} figure(s)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
