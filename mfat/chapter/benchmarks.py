"""Benchmark tables: every ``scripts/bench_*.py`` writes its table here, and the status page shows them."""

from __future__ import annotations

from pathlib import Path

from mfat.atomic import atomic_write_text
from mfat.paths import output_dir

__all__ = ["write_table"]


def write_table(name: str, table, **to_csv) -> Path:
    """Write ``table`` (a DataFrame or a list of dicts) to ``<output_dir>/benchmarks/<name>.csv`` atomically."""
    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    path = atomic_write_text(output_dir() / "benchmarks" / f"{name}.csv", frame.to_csv(index=False, **to_csv))
    print(f"wrote {path}")
    return path
