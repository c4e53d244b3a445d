"""Benchmark tables: every ``scripts/bench_*.py`` writes its table here, and the status page shows them.

Also the machine's reference rates that the benchmarks divide by: :func:`gemm_rate` (a square matrix product) and
:func:`draw_rate` (Gaussian draws), both timed with :func:`mfat.runtime.timed`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mfat.atomic import atomic_write_text
from mfat.paths import output_dir
from mfat.runtime import make_generator, timed
from mfat.validation import check_int

__all__ = ["write_table", "gemm_rate", "draw_rate"]


def write_table(name: str, table, **to_csv) -> Path:
    """Write ``table`` (a DataFrame or a list of dicts) to ``<output_dir>/benchmarks/<name>.csv`` atomically."""
    import pandas as pd

    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    path = atomic_write_text(output_dir() / "benchmarks" / f"{name}.csv", frame.to_csv(index=False, **to_csv))
    print(f"wrote {path}")
    return path


def gemm_rate(n: int, dtype: torch.dtype, device, *, repeats: int = 5) -> dict:
    """The best of ``repeats`` timings of one (n x n) (n x n) product in ``dtype`` on ``device`` (after a warm-up):
    ``{"seconds": s, "flops": 2 n^3, "rate": 2 n^3 / s}`` (operations per second)."""
    n = check_int("n", n, min_value=1)
    repeats = check_int("repeats", repeats, min_value=1)
    gen = make_generator(0, device=device)
    a = torch.randn(n, n, generator=gen, dtype=dtype, device=device)
    b = torch.randn(n, n, generator=gen, dtype=dtype, device=device)
    a @ b  # warm-up: library initialisation and kernel selection are not the product
    best = min(timed(lambda: a @ b, device)[0] for _ in range(repeats))
    return {"seconds": best, "flops": 2 * n ** 3, "rate": 2 * n ** 3 / best}


def draw_rate(count: int, dtype: torch.dtype, device, *, repeats: int = 3) -> dict:
    """The best of ``repeats`` timings of ``count`` standard Gaussian draws from a generator on ``device``:
    ``{"seconds": s, "draws": count, "rate": count / s}`` (draws per second)."""
    count = check_int("count", count, min_value=1)
    gen = make_generator(0, device=device)
    torch.randn(count, generator=gen, dtype=dtype, device=device)  # warm-up
    best = min(timed(lambda: torch.randn(count, generator=gen, dtype=dtype, device=device), device)[0]
               for _ in range(check_int("repeats", repeats, min_value=1)))
    return {"seconds": best, "draws": count, "rate": count / best}
