"""Assets that make the site work offline: MathJax 3 and plotly.js served from the site itself, not a CDN.

The npm package ``mathjax@3.2.2`` is fetched once with ``npm pack`` (no root needed), verified by
SHA-256, and ``es5/tex-chtml.js`` with its woff-v2 fonts is copied into ``_assets/mathjax/``;
``_config.yml`` points ``mathjax_path`` at it.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mfat.atomic import atomic_write_bytes
from mfat.paths import repo_root

__all__ = ["MATHJAX", "ensure_mathjax", "ensure_plotly", "ensure_css"]

MATHJAX = {"spec": "mathjax@3.2.2", "file": "mathjax-3.2.2.tgz",
           "sha256": "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"}
_MEMBERS = ("package/es5/tex-chtml.js", "package/es5/output/chtml/fonts/woff-v2/")


def _tarball(cache: Path) -> bytes:
    path = cache / MATHJAX["file"]
    if not path.exists():
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(["npm", "pack", MATHJAX["spec"]], cwd=tmp, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"`npm pack {MATHJAX['spec']}` failed: {proc.stderr.strip()[-500:]}")
            atomic_write_bytes(path, (Path(tmp) / MATHJAX["file"]).read_bytes())
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MATHJAX["sha256"]:
        path.unlink()
        raise RuntimeError(f"{MATHJAX['file']}: SHA-256 mismatch: expected {MATHJAX['sha256']}, got {digest}; "
                           "the file was removed, run the build again")
    return blob


def ensure_mathjax(static_dir: Path | None = None) -> Path:
    """Make ``_assets/mathjax/tex-chtml.js`` (and fonts) exist; return the script's path."""
    target = static_dir or repo_root() / "_assets" / "mathjax"
    script = target / "tex-chtml.js"
    if script.exists():
        return script
    cache = repo_root() / ".cache" / "site"
    with tarfile.open(fileobj=io.BytesIO(_tarball(cache)), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith(_MEMBERS):
                rel = member.name.removeprefix("package/es5/")
                atomic_write_bytes(target / rel, tar.extractfile(member).read())
    return script


def ensure_plotly(static_dir: Path | None = None) -> Path:
    """Copy the installed plotly package's ``plotly.min.js`` to ``_assets/plotly.min.js``."""
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = (static_dir or repo_root() / "_assets") / "plotly.min.js"
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        atomic_write_bytes(target, source.read_bytes())
    return target


def ensure_css(static_dir: Path | None = None) -> Path:
    """Copy the book's style sheet (``mfat/site/book.css``) to ``_assets/book.css``."""
    target = (static_dir or repo_root() / "_assets") / "book.css"
    atomic_write_bytes(target, (Path(__file__).parent / "book.css").read_bytes())
    return target
