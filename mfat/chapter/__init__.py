"""What a page of the book calls: its context (settings, claims, stored results), plotting, interactive figures.

    ctx = mfat.chapter.start("01_random_linear_map", profile, overrides, seed=seed, device=device,
                             replay=replay, theorem="Theorem 4.1")
"""

from mfat.chapter.context import Chapter, glue, start  # noqa: F401

__all__ = ["Chapter", "glue", "start"]
