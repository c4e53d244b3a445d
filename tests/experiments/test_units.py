"""The long measurements as units (mfat.runtime.Units): combined, they equal the single call bit for bit; an
interrupted run resumes with only the missing units; the Ray executor gives the serial executor's numbers.
Tiny settings of the chapters' own settings classes, on the first training images."""

import numpy as np
import pandas as pd
import pytest
import torch

from mfat.chapter import results
from mfat.chapter import settings as chapter_settings
from mfat.chapter.executors import RayExecutor, serial
from mfat.data import load
from mfat.experiments import capacity as cap
from mfat.experiments import perturbation_learning as pl
from mfat.experiments import trainability as tr
from mfat.experiments import weight_variance as wv


def _same(a, b, where="result"):
    """Exact equality of nested results (dicts, arrays, numbers, data frames), NaN equal to NaN."""
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    else:
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{where}: {a.ravel()} != {b.ravel()}"


def _without_seconds(grids):
    return {name: {k: v for k, v in g.items() if k != "seconds"} for name, g in grids.items()}


# ---------------------------------------------------------------------------------------------- chapter 4
def _grid_settings(**changes):
    """Two widths, two depths, one cell per chunk: 12 units over the three heat maps."""
    tiny = {"n_train": 64, "eval_size": 50, "batch_size": 16, "steps": 2, "attack_steps": 1, "depths": (1, 2),
            "widths": (4, 6), "max_cells": 1}
    return chapter_settings.get("04_trainability", "quick", {**tiny, **changes})


def _grid_configs(s):
    return {obj: s.train_config(obj, s.steps, record_every=s.steps) for obj in ("adversarial", "standard")}


@pytest.fixture(scope="module")
def grid_plan():
    s = _grid_settings()
    return s, tr.fig5_units(s, _grid_configs(s), "mnist", seed=3)


def test_fig5_units_combined_equal_the_single_call(grid_plan):
    s, plan = grid_plan
    assert len(plan.units) == 3 * 2 * 2
    combined = plan.combine([plan.compute(u) for u in plan.units])
    X, y = load("mnist", "train", n=s.n_train)
    single = tr.fig5_grids(X, y, s, _grid_configs(s), seed=3)
    _same(_without_seconds(single), _without_seconds(combined))
    assert combined["vanilla adversarial"]["seconds"].shape == (2,)
    # one heat map under another name (as the Fashion-MNIST panel of chapter 4) keeps its seed offset
    one = tr.fig5_units(s, _grid_configs(s), "mnist", seed=3, grids={"panel": "vanilla standard"})
    assert len(one.units) == 4
    again = one.combine([one.compute(u) for u in one.units])
    _same(_without_seconds(single)["vanilla standard"], _without_seconds(again)["panel"])


class _Interrupted(RuntimeError):
    pass


def test_an_interrupted_grid_resumes_with_the_missing_units_only(grid_plan, tmp_outputs):
    s, plan = grid_plan
    reference, _ = results.cached_units("trainability", "grid-cells", s, *plan, tier="quick")
    calls, crash_at = [], [5]

    def crashing(unit):
        calls.append(results.unit_key(unit))
        if len(calls) == crash_at[0]:
            raise _Interrupted("stopped after four units")
        return plan.compute(unit)

    with pytest.raises(_Interrupted):
        results.cached_units("trainability", "grid-cells", s, plan.units, crashing, plan.combine, tier="cpu")
    stored = {results.unit_key(u) for u in plan.units[:4]}
    calls.clear()
    crash_at[0] = 0
    out, _ = results.cached_units("trainability", "grid-cells", s, plan.units, crashing, plan.combine, tier="cpu")
    assert len(calls) == len(plan.units) - 4 and not stored & set(calls)
    _same(_without_seconds(reference), _without_seconds(out))
    replayed, _ = results.cached_units("trainability", "grid-cells", s, *plan, tier="cpu", replay=True)
    _same(out, replayed)


def test_ray_gives_the_serial_grid_bit_for_bit():
    import ray  # installed by `make test` (requirements-cluster.txt)

    s = _grid_settings(max_cells=64)
    plan = tr.fig5_units(s, _grid_configs(s), "mnist", seed=3, grids={"vanilla adversarial": "vanilla adversarial"})
    assert len(plan.units) == 2  # one per width
    executor = RayExecutor(num_cpus=2, num_gpus=2)
    try:
        a, _ = results.cached_units("trainability", "grid-cells", s, *plan, tier="quick", executor=serial)
        b, _ = results.cached_units("trainability", "grid-cells", s, *plan, tier="quick", executor=executor,
                                    gpus=1)  # each unit declares a (here fake) GPU; its device stays the CPU
    finally:
        ray.shutdown()
    _same(_without_seconds(a), _without_seconds(b))


# ---------------------------------------------------------------------------------------------- chapter 3
def test_slope_sweep_units_combined_equal_the_single_call():
    s = chapter_settings.get("03_weight_variance", "quick", dict(
        n_train=64, N=8, L=2, batch_size=8, attack_steps=1, steps=10, slope_steps=1, widths=(8, 12), n_seeds=2,
        sweep_steps=2, depths=(1, 2), eps_values=(0.1, 0.3), n_sweep_seeds=1))
    config = s.train_config("adv_only", s.sweep_steps, record_every=1, record_first=s.sweep_steps, eval_size=20)
    plan = wv.sweep_units(s, config, "mnist", K=10)
    assert len(plan.units) == 6
    X, y = load("mnist", "train", n=s.n_train)
    _same(wv.slope_sweeps(X, y, config, s, K=10), plan.combine([plan.compute(u) for u in plan.units]))


# ---------------------------------------------------------------------------------------------- chapter 5
def test_capacity_units_combined_equal_the_single_calls():
    s = chapter_settings.get("05_capacity", "quick", dict(
        n_train=64, fr_batch=8, eval_size=10, batch_size=8, attack_steps=1, widths=(8, 16), L=2, depths=(1, 2),
        N=16, slope_seeds=2, slope_batch=16, curve_steps=3, slope_steps=1, acc_widths=(8,), acc_steps=2,
        acc_record_every=1))
    K, grid = 10, cap.slope_grid(s)
    X, y, X_test, y_test = cap.chapter_data(s, "mnist")
    X_fr = X_test[:s.fr_batch]
    slope = s.train_config("adv_only", 100, batch_size=16)
    curve = s.train_config("adv_only", s.curve_steps, record_every=1, record_first=s.slope_steps)
    acc = s.train_config("adversarial", s.acc_steps, record_every=1, robust_eval=True)

    def run(plan):
        return plan.combine([plan.compute(u) for u in plan.units])

    _same(cap.slope_sweep(X, y, X_fr, slope, s, grid=grid, K=K, offset=1000),
          run(cap.slope_units(s, slope, "mnist", grid=grid, K=K, offset=1000)))
    curves = run(cap.curve_units(s, curve, "mnist", grid=grid, K=K, offset=2000))
    assert list(curves) == [("adv_only", N, L) for N, L in grid] + [("standard", s.N, s.L)]
    _same(dict(cap.curve_runs(X, y, X_fr, curve, s, grid=grid, K=K, offset=2000)), curves)
    _same(cap.accuracy_runs(X, y, X_fr, X_test[:s.eval_size], y_test[:s.eval_size], acc, s, K=K, offset=3000),
          run(cap.accuracy_units(s, acc, "mnist", K=K, offset=3000)))
    Xf, yf, Xf_test, _ = cap.chapter_data(s, "fashion-mnist")
    fashion = run(cap.fashion_units(s, slope, curve, grid=[(s.N, s.L)], K=K))
    _same(cap.fashion_measurement(Xf, yf, Xf_test[:s.fr_batch], slope, curve, s, grid=[(s.N, s.L)], K=K), fashion)


# ---------------------------------------------------------------------------------------------- chapter 6
def test_sweep_units_combined_equal_the_single_call():
    s = chapter_settings.get("06_perturbation_learning", "quick", dict(
        n_seeds=1, m=4, steps=2, n_eval=4, gauss_d=4, gauss_N=6, sg_d=4, sg_N=6, mnist_N=6, fmnist_N=6,
        eps_factors=(0.0, 1.0), time_fractions=(0.5, 1.0), sweep_factors=("m", "N"), m_values=(2, 4),
        N_factors=(0.5, 1.0)))
    plan = pl.sweeps_units(s)
    assert len(plan.units) == 4 + 2  # one base run per data set, m = 2 and N = 3 on the shifted Gauss
    assert len({results.unit_key(u) for u in plan.units}) == len(plan.units)
    _same(pl.sweeps_measurement(s, generator=torch.Generator()),
          plan.combine([plan.compute(u) for u in plan.units]))
