"""mfat.chapter.executors: the serial and the Ray executor of measurement units, on a local Ray cluster
(2 CPUs and two declared GPUs: Ray assigns them through CUDA_VISIBLE_DEVICES without any GPU present)."""

import os

import numpy as np
import pytest
import torch

from mfat.chapter import results
from mfat.chapter.executors import RayExecutor, executor_from_env, serial


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # installed by `make test` (requirements-cluster.txt): these tests are never skipped

    executor = RayExecutor(num_cpus=2, num_gpus=2)
    executor._ray()
    yield executor
    ray.shutdown()


def _grid_unit(unit):
    """One width of a small trainability grid: two depths trained together for a few steps."""
    from mfat.model.grid import train_grid
    from mfat.model.networks import ReLULikeNet
    from mfat.model.training import TrainConfig

    N = unit["N"]
    g = torch.Generator().manual_seed(10 + N)
    X = torch.randn(64, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (64,), generator=g)
    nets = [ReLULikeNet(12, N, 3, L, 2.0, seed=100 * N + L, dtype=torch.float64) for L in (2, 3)]
    config = TrainConfig(objective="adversarial", lr=0.05, steps=3, batch_size=16, eps=0.1, attack_steps=2,
                         record_every=1)
    gens = [torch.Generator().manual_seed(7 * N + L) for L in (2, 3)]
    _, table = train_grid(nets, X, y, config, generators=gens, progress=False)
    return {"N": N, "loss": table["loss"].to_numpy(), "acc": table["clean_acc"].to_numpy()}


def _combine(outs):
    return {"N": np.array([o["N"] for o in outs]), "loss": np.stack([o["loss"] for o in outs]),
            "acc": np.stack([o["acc"] for o in outs])}


def test_serial_is_the_default(monkeypatch):
    monkeypatch.delenv("MFAT_EXECUTOR", raising=False)
    assert executor_from_env() is serial
    monkeypatch.setenv("MFAT_EXECUTOR", "ray")
    assert isinstance(executor_from_env(), RayExecutor)
    monkeypatch.setenv("MFAT_EXECUTOR", "slurm")
    with pytest.raises(ValueError, match="'MFAT_EXECUTOR'"):
        executor_from_env()


def test_ray_results_equal_serial_bit_for_bit(ray_cluster):
    units = [{"N": 8}, {"N": 16}]
    a, _ = results.cached_units("demo", "grid", {}, units, _grid_unit, _combine, tier="quick", executor=serial)
    b, _ = results.cached_units("demo", "grid", {}, units, _grid_unit, _combine, tier="quick",
                                executor=ray_cluster)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k])


def test_gpu_units_see_different_devices(ray_cluster):
    def where(unit):
        import time

        time.sleep(2.0)  # both units hold their GPU at the same time
        return os.environ.get("CUDA_VISIBLE_DEVICES")

    ex = RayExecutor(threads=1)
    seen = dict(ex(where, [0, 1], gpus=1))
    assert sorted(seen.values()) == ["0", "1"]


def test_a_worker_that_dies_once_is_retried(ray_cluster, tmp_path):
    marker = str(tmp_path / "died")

    def dies_once(unit):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies
        return unit * 10

    assert dict(RayExecutor(threads=1)(dies_once, [4])) == {0: 40}


def test_an_ordinary_error_is_not_retried_and_surfaces_as_itself(ray_cluster, tmp_path):
    log = str(tmp_path / "calls")

    def invalid(unit):
        with open(log, "a") as fh:
            fh.write("x")
        raise ValueError(f"parameter 'N' = {unit} is out of range: allowed an integer >= 1")

    with pytest.raises(ValueError, match="parameter 'N' = -3"):
        list(RayExecutor(threads=1)(invalid, [-3]))
    assert open(log).read() == "x"


def test_an_interrupted_ray_run_resumes_without_recomputing(ray_cluster, tmp_outputs, tmp_path):
    calls = str(tmp_path / "calls")
    crash = str(tmp_path / "crash")
    open(crash, "w").close()

    def unit_fn(unit):
        with open(calls, "a") as fh:
            fh.write(f"{unit['N']} ")
        if unit["N"] == 16 and os.path.exists(crash):
            raise RuntimeError("interrupted")
        return _grid_unit(unit)

    units = [{"N": 8}, {"N": 16}]
    ex = RayExecutor(threads=2)  # one unit at a time: the N=8 unit finishes before N=16 fails
    with pytest.raises(RuntimeError, match="interrupted"):
        results.cached_units("demo", "grid", {}, units, unit_fn, _combine, tier="cpu", executor=ex)
    os.remove(crash)
    open(calls, "w").close()
    out, _ = results.cached_units("demo", "grid", {}, units, unit_fn, _combine, tier="cpu", executor=ex)
    assert open(calls).read().split() == ["16"]
    ref, _ = results.cached_units("demo", "grid", {}, units, _grid_unit, _combine, tier="quick")
    for k in ref:
        assert np.array_equal(ref[k], out[k])
