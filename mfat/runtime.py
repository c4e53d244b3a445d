"""Where and how code runs: random generators, devices, progress, timing.

    gen = make_generator(0, device="cpu")          # every random draw takes an explicit generator
    dev = resolve_device("auto")                   # CUDA when visible, else the CPU
    seconds, value = timed(lambda: work(), dev)    # wall time, with the GPU queue drained on both sides
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable

import torch

from mfat.validation import check_int

__all__ = ["make_generator", "resolve_device", "device_name", "synchronize", "timed", "interactive"]


def make_generator(seed: int | None = None, generator: torch.Generator | None = None, device="cpu") -> torch.Generator:
    """Return ``generator`` if given, else a new ``torch.Generator`` on ``device`` seeded with ``seed`` (default 0)."""
    if generator is not None:
        return generator
    seed = 0 if seed is None else check_int("seed", seed, min_value=0)
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; otherwise ``torch.device(device)`` (validated)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or device.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise ValueError(f"parameter 'device' = {device!r} is out of range: allowed 'auto', 'cpu', 'cuda[:i]', 'mps'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"parameter 'device' = {device!r} is not available: no CUDA device is visible; use 'cpu' or 'auto'")
    return torch.device(device)


def device_name(device=None) -> str:
    """A human-readable name of the compute device: the GPU model or the CPU model."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"cpu: {cpu} ({os.cpu_count()} cores)"


def synchronize(device=None) -> None:
    """Wait for the queued GPU work of ``device`` (no-op on the CPU)."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], object], device=None, repeats: int = 1) -> tuple[float, object]:
    """Run ``fn()`` ``repeats`` times; return (seconds per call, the last value).

    The GPU queue is drained before the clock starts and before it stops, so asynchronous CUDA kernels are
    counted (timing without it measures only the launch).
    """
    repeats = check_int("repeats", repeats, min_value=1)
    synchronize(device)
    start = time.perf_counter()
    value = None
    for _ in range(repeats):
        value = fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats, value


def interactive() -> bool:
    """Whether to show progress bars: yes, unless ``MFAT_QUIET=1`` (set by the runner and the tests)."""
    return os.environ.get("MFAT_QUIET", "0") != "1"
