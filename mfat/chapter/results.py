"""Result cache keyed on the settings and the mfat version: compute once, replay anywhere.

- ``quick`` profile: always recomputed (cheap; the book's CI must exercise the code path).
- ``full`` profile: looked up in ``results/full/`` (committed, with provenance); computed and stored
  when missing, unless ``replay=True``, in which case a missing result is an error.

A result is a dict of compact arrays and numbers (never model weights), pickled with a JSON
provenance file beside it (settings, device, versions, date, wall time). Both are written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from mfat import __version__
from mfat.atomic import atomic_write_bytes, atomic_write_json
from mfat.paths import cache_dir, full_results_dir
from mfat.validation import check_choice

__all__ = ["settings_key", "cached", "provenance", "MissingResult"]


class MissingResult(FileNotFoundError):
    """A replayed full-profile result is not in ``results/full``."""


def _plain(settings) -> dict:
    if dataclasses.is_dataclass(settings):
        return dataclasses.asdict(settings)
    return dict(settings)


def settings_key(tag: str, settings) -> str:
    """A 16-hex-digit key of (tag, settings, mfat version)."""
    blob = json.dumps({"tag": tag, "settings": _plain(settings), "mfat": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _path(tag: str, settings, profile: str) -> Path:
    folder = full_results_dir() if profile == "full" else cache_dir()
    return folder / f"{tag}-{settings_key(tag, settings)}.pkl"


def provenance(path: Path) -> dict | None:
    """The provenance record stored next to a result, or None."""
    meta = path.with_suffix(".json")
    return json.loads(meta.read_text()) if meta.exists() else None


def cached(tag: str, settings, compute: Callable[[], dict], *, profile: str, replay: bool = False,
           device: str = "cpu") -> tuple[dict, dict]:
    """Return ``(result, provenance)`` for ``compute()`` under ``settings``.

    ``profile`` is "quick" (always recompute) or "full" (reuse ``results/full`` when present).
    """
    profile = check_choice("profile", profile, ("quick", "full"))
    path = _path(tag, settings, profile)
    if profile == "full" and path.exists():
        with path.open("rb") as fh:
            return pickle.load(fh), provenance(path) or {}
    if replay:
        raise MissingResult(f"no stored full-profile result for '{tag}' ({path.name}); run the chapter with "
                            f"--profile full without --replay on a machine that can (see README)")
    start = time.perf_counter()
    result = compute()
    import torch

    meta = {"tag": tag, "key": path.stem, "profile": profile, "settings": _plain(settings), "device": device,
            "mfat_version": __version__, "torch_version": torch.__version__, "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_time_s": round(time.perf_counter() - start, 3)}
    if profile == "full":
        atomic_write_bytes(path, pickle.dumps(result, protocol=4))
        atomic_write_json(path.with_suffix(".json"), meta)
    return result, meta
