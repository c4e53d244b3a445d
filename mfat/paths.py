"""Where mfat reads and writes: repository root, data cache, outputs, result caches.

Every location can be moved with an environment variable, so that CI, a GPU runner and a reader's
laptop can keep their own copies.

| function          | default                         | environment variable |
|-------------------|---------------------------------|----------------------|
| ``data_dir()``    | ``<repo>/.data``                | ``MFAT_DATA_DIR``    |
| ``output_dir()``  | ``<repo>/_output``              | ``MFAT_OUTPUT_DIR``  |
| ``results_dir(tier)`` | ``<repo>/results/<tier>``   | ``MFAT_RESULTS_DIR`` (the folder holding the tiers) |
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "data_dir", "output_dir", "results_dir"]


def repo_root() -> Path:
    """The repository root (the folder that holds ``mfat/``)."""
    return Path(__file__).resolve().parent.parent


def _dir(env: str, default: Path) -> Path:
    path = Path(os.environ.get(env) or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Cache of verified raw data files (``MFAT_DATA_DIR``)."""
    return _dir("MFAT_DATA_DIR", repo_root() / ".data")


def output_dir() -> Path:
    """Per-run outputs: claims, run records, benchmark tables (``MFAT_OUTPUT_DIR``)."""
    return _dir("MFAT_OUTPUT_DIR", repo_root() / "_output")


def results_dir(tier: str) -> Path:
    """Committed results of one tier, ``results/<tier>`` (the parent folder moves with ``MFAT_RESULTS_DIR``)."""
    return _dir("MFAT_RESULTS_DIR", repo_root() / "results") / tier
