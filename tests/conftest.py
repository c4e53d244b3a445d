"""Shared test set-up: quiet progress bars, outputs in a temporary folder, float64 by default where asked."""

import os

import pytest

os.environ.setdefault("MFAT_QUIET", "1")


@pytest.fixture
def tmp_outputs(tmp_path, monkeypatch):
    """Route mfat's outputs and result caches into a temporary folder."""
    monkeypatch.setenv("MFAT_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("MFAT_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path
