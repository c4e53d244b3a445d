"""Executors: who computes the units of a long measurement (:func:`mfat.chapter.results.cached_units`).

    for index, result in executor(compute_unit, units, gpus=1):   # as units finish, in any order
        ...                                                        # the driver stores each one at once

- :func:`serial` (default): in this process, one unit after another.
- :class:`RayExecutor`: Ray core tasks on a local machine, a multi-GPU node or a cluster (``RAY_ADDRESS``, or
  ``ray symmetric-run`` under Slurm, or a KubeRay ``RayJob``). Each unit is one task that declares the GPUs it
  needs (Ray then sets ``CUDA_VISIBLE_DEVICES`` for it); results come back to the driver, which writes them into
  the store as they finish, so a crash of the driver resumes from the store. A worker that dies (a crashed or
  killed process) is retried; an ordinary exception of the unit (a failed validation, say) is not retried and
  is raised again in the driver as itself. Ray's usage statistics and dashboard are off, and worker logs stay
  out of the notebook.

``executor_from_env()`` picks one from ``MFAT_EXECUTOR`` (``serial`` or ``ray``), which the runner sets from
``--executor``. Ray is an optional extra (``requirements-cluster.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from mfat.validation import check_choice, check_int, check_real

__all__ = ["EXECUTORS", "serial", "RayExecutor", "executor_from_env"]

EXECUTORS = ("serial", "ray")


def serial(compute_unit: Callable, units: list, *, gpus: float = 0.0) -> Iterator[tuple[int, object]]:
    """Compute the units one after another in this process, yielding ``(index, result)``."""
    for i, unit in enumerate(units):
        yield i, compute_unit(unit)


def _run_unit(compute_unit: Callable, unit, threads: int):
    """The body of one Ray task: the driver's torch thread count (so the arithmetic is the driver's), then the
    unit."""
    import torch

    torch.set_num_threads(threads)
    return compute_unit(unit)


class RayExecutor:
    """Units as Ray core tasks. ``address``: a running cluster (default ``RAY_ADDRESS``, else a local one started
    with ``num_cpus``/``num_gpus``); ``threads``: CPU threads (and Ray CPUs) per unit, default the driver's torch
    thread count, so results equal the serial executor's bit for bit; ``max_retries``: retries of a unit whose
    worker died."""

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None, num_gpus: float | None = None,
                 threads: int | None = None, max_retries: int = 2):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = None if num_cpus is None else check_int("num_cpus", num_cpus, min_value=1)
        self.num_gpus = None if num_gpus is None else check_real("num_gpus", num_gpus, min_value=0.0)
        self.threads = None if threads is None else check_int("threads", threads, min_value=1)
        self.max_retries = check_int("max_retries", max_retries, min_value=0)

    def _ray(self):
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # the book makes no outside requests
        try:
            import ray
        except ImportError:
            raise RuntimeError("the ray executor needs Ray: pip install -r requirements-cluster.txt") from None
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address:
                ray.init(address=self.address, **kw)
            else:
                ray.init(num_cpus=self.num_cpus, num_gpus=self.num_gpus, **kw)
        return ray

    def __call__(self, compute_unit: Callable, units: list, *, gpus: float = 0.0) -> Iterator[tuple[int, object]]:
        import torch

        ray = self._ray()
        gpus = check_real("gpus", gpus, min_value=0.0)
        threads = self.threads or torch.get_num_threads()
        task = ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=self.max_retries,
                          retry_exceptions=False)(_run_unit)
        fn = ray.put(compute_unit)
        pending = {task.remote(fn, unit, threads): i for i, unit in enumerate(units)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the unit's own error: raise it as itself
                        raise (exc.cause if isinstance(exc.cause, BaseException) else exc) from None
                    yield i, out
        finally:
            for ref in pending:
                ray.cancel(ref)


def executor_from_env() -> Callable:
    """The executor named by ``MFAT_EXECUTOR`` (default ``serial``)."""
    name = check_choice("MFAT_EXECUTOR", os.environ.get("MFAT_EXECUTOR", "serial"), EXECUTORS)
    return serial if name == "serial" else RayExecutor()
