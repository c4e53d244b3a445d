"""Where and how code runs: random generators, devices, progress, timing.

    gen = make_generator(0, device="cpu")          # every random draw takes an explicit generator
    dev = resolve_device("auto")                   # CUDA when visible, else the CPU
    seconds, value = timed(lambda: work(), dev)    # wall time, with the GPU queue drained on both sides
    plan = Units(units, compute, combine)          # a measurement as independent units (resumable, spreadable)
    gen = make_generator(unit_seed(seed, i, k))    # the stream of one unit, whatever order the units run in
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import NamedTuple

import torch

from mfat.validation import check_int

__all__ = ["make_generator", "resolve_device", "device_name", "synchronize", "timed", "interactive", "Units", "unit_seed"]


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


class Units(NamedTuple):
    """A measurement split into independent units, as :func:`mfat.chapter.results.cached_units` takes it
    (``ctx.cached_units(tag, *plan)``): ``units``, a list of JSON-able descriptors; ``compute(unit)``, a
    picklable function (a module-level function with plain arguments bound by ``functools.partial``) that draws
    its randomness from the unit alone and returns a dict of arrays and numbers; ``combine(outs)``, the
    measurement's result from the unit results in the order of ``units``."""

    units: list
    compute: Callable
    combine: Callable

    def run(self):
        """The measurement computed here, one unit after another (what the serial executor does, unstored)."""
        return self.combine([self.compute(unit) for unit in self.units])


def unit_seed(*keys: int) -> int:
    """The seed of one unit of a measurement, mixed by numpy's ``SeedSequence`` from the non-negative integers
    that name it (the measurement's seed, a setting's index, a network's index, ...): units that differ in any
    key get unrelated streams, in any order and on any machine. An int in [0, 2**63)."""
    import numpy as np

    entropy = [check_int("keys", k, min_value=0) for k in keys]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0] >> np.uint64(1))
