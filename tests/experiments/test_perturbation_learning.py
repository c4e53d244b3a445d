"""Chapter 6 measurements and analyses (mfat.experiments.perturbation_learning) on small inputs with known answers."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from mfat import theory
from mfat.experiments import perturbation_learning as pl
from mfat.runtime import make_generator


@dataclass(frozen=True)
class Small:
    """A tiny stand-in for the chapter's settings (shifted Gauss only, a few runs)."""

    seed: int = 0
    n_seeds: int = 2
    m: int = 10
    gamma: float = 0.0
    steps: int = 10
    optimizer: str = "gd"
    dtype: str = "float64"
    n_eval: int = 10
    shift: float = 0.3
    eps_factors: tuple = (0.0, 0.5, 1.0)
    time_fractions: tuple = (0.1, 1.0)
    sweep_datasets: tuple = ("shifted_gauss",)
    sweep_factors: tuple = ("m", "N")
    d_factors: tuple = (0.5, 1.0)
    m_values: tuple = (3, 10)
    gamma_values: tuple = (0.0,)
    N_factors: tuple = (0.5, 1.0)
    kernel_d: int = 3
    kernel_pairs: int = 5
    kernel_draws: int = 40_000
    kernel_gammas: tuple = (0.0, 0.5)

    def defaults(self, dataset):
        return {"d": 4, "N": 20, "T": 10.0, "eps": {"a": 0.1, "b": 0.5}}


def test_torch_dtype():
    assert pl.torch_dtype(Small()) is torch.float64
    assert pl.torch_dtype(Small(dtype="float32")) is torch.float32
    with pytest.raises(ValueError, match="'dtype'"):
        pl.torch_dtype(Small(dtype="half"))


def test_kernel_measurement_matches_the_closed_form():
    s = Small()
    kern = pl.kernel_measurement(s, generator=make_generator(0))
    assert kern["theta"].shape == (s.kernel_pairs,)
    assert np.all((kern["theta"] >= 0) & (kern["theta"] <= math.pi))
    for gm in s.kernel_gammas:
        np.testing.assert_allclose(kern[f"closed_{gm}"], theory.kernel_from_angle(kern["theta"], gm), rtol=1e-10)
    err = pl.kernel_errors(kern, s.kernel_gammas)
    assert set(err) == set(s.kernel_gammas)
    assert max(err.values()) < 4 * 0.5 / math.sqrt(s.kernel_draws) + 1e-3  # Monte Carlo error, 4 standard errors


def test_kernel_errors_known_values():
    kern = {"mc_0.0": np.array([0.5, 0.4]), "closed_0.0": np.array([0.5, 0.45])}
    assert pl.kernel_errors(kern, (0.0,)) == {0.0: pytest.approx(0.05)}


def test_flip_slopes_recover_a_power_law():
    widths = np.array([10, 100, 1000, 10000])
    flipped = np.stack([0.3 * widths ** -0.5, 0.1 * widths ** -1.0], 1)  # (widths, seeds)
    slopes = pl.flip_slopes({"widths": widths, "flipped": flipped}, 100)
    np.testing.assert_allclose(slopes, [-0.5, -1.0], rtol=1e-12)
    with pytest.raises(ValueError, match="'min_width'"):
        pl.flip_slopes({"widths": widths, "flipped": flipped}, 5000)


def test_alignment_cosines_means_over_seeds():
    align = {"vs_T": {"T": np.array([1.0, 10.0, 30.0]), "cosine": np.array([[0.5, 0.9, 1.0], [0.7, 0.95, 0.98]])},
             "vs_d": {30: {"cosine": np.array([[0.8], [0.6]])}, 10: {"cosine": np.array([[0.9], [0.9]])}}}
    c = pl.alignment_cosines(align, 10.0)
    np.testing.assert_allclose(c["cos_T"], [0.6, 0.925, 0.99])
    np.testing.assert_array_equal(c["big_T"], [False, True, True])
    np.testing.assert_array_equal(c["d"], [10, 30])
    np.testing.assert_allclose(c["cos_d"], [0.9, 0.7])


def test_map_agreements():
    dmaps = {"gauss": {"agreement_a": 0.9, "agreement_b": 0.8, "hat_agreement_a": 1.0, "hat_agreement_b": 0.7}}
    assert pl.map_agreements(dmaps, "agreement") == {("gauss", "a"): 0.9, ("gauss", "b"): 0.8}
    assert pl.map_agreements(dmaps, "hat_agreement")[("gauss", "b")] == 0.7
    with pytest.raises(ValueError, match="'key'"):
        pl.map_agreements(dmaps, "accuracy")


def test_sweep_factors_and_factors_of():
    s = Small()
    D = {"d": 4, "N": 20}
    assert pl.sweep_factors("gauss", dict(D), s, generator=make_generator(0)) == {}
    assert pl.sweep_factors("shifted_gauss", dict(D), s, generator=make_generator(0)) == {"m": [3, 10], "N": [10, 20]}
    full = Small(sweep_factors=("d", "m", "gamma", "N"))
    assert pl.sweep_factors("shifted_gauss", dict(D), full, generator=make_generator(0))["d"] == [2, 4]
    assert pl.factors_of("shifted_gauss", s) == ["eps", "T_f", "T_g", "m", "N"]
    assert pl.factors_of("gauss", s) == ["eps", "T_f", "T_g"]
    assert pl.factors_of("mnist", Small(sweep_datasets=("mnist",), sweep_factors=("d", "m"))) == ["eps", "T_f",
                                                                                                   "T_g", "m"]


@pytest.fixture(scope="module")
def tables():
    """A tiny run of the chapter's sweeps on the shifted Gauss alone."""
    s = Small()
    D = s.defaults("shifted_gauss")
    factors = pl.sweep_factors("shifted_gauss", D, s, generator=make_generator(0))
    table = pl.sweep_block("shifted_gauss", d=D["d"], N=D["N"], m=s.m, gamma=s.gamma, eps=D["eps"], T=D["T"],
                           steps=s.steps, n_seeds=s.n_seeds, n_eval=s.n_eval, eps_factors=s.eps_factors,
                           time_fractions=s.time_fractions, factors=factors, seed=1, dtype=torch.float64)
    return {"shifted_gauss": table}


def test_default_row_selects_one_value_per_seed(tables):
    s = Small()
    D = s.defaults("shifted_gauss")
    table = tables["shifted_gauss"]
    row = pl.default_row(table, D, "a")
    assert row.shape == (s.n_seeds,) and np.all((row >= 0) & (row <= 1))
    zero = pl.default_row(table, D, "b", eps_factor=0.0, metric="g_fit")
    assert zero.shape == (s.n_seeds,)
    short = pl.default_row(table, D, "a", T_g=1.0)
    assert short.shape == (s.n_seeds,)
    expected = [v for f, sc, e, tf, tg, v in zip(table["factor"], table["scenario"], table["eps"], table["T_f"],
                                                table["T_g"], table["perturbation_acc"])
                if f == "default" and sc == "a" and np.isclose(e, 0.1) and np.isclose(tf, 10) and np.isclose(tg, 10)]
    np.testing.assert_array_equal(row, expected)


def test_default_summary_and_table(tables):
    s = Small()
    summary = pl.default_summary(tables, s)
    assert list(summary) == [("shifted_gauss", "a"), ("shifted_gauss", "b")]
    assert set(summary[("shifted_gauss", "a")]) == set(pl.SUMMARY_METRICS)
    table = pl.summary_table(summary)
    assert list(table["scenario"]) == ["a", "b"]
    assert table.loc[1, "cosine"] == ""  # the cosine is shown for scenario (a) only
    x = summary[("shifted_gauss", "a")]["agreement"]
    assert table.loc[0, "agreement"] == f"{x.mean():.3f} ± {x.std(ddof=1):.3f}"


def test_failure_points(tables):
    s = Small()
    fails = pl.failure_points(tables, s, pl.factors_of("shifted_gauss", s))
    assert list(fails) == ["small_m", "short_T_g", "small_eps_b"]
    assert fails["small_m"][0] == 3
    assert fails["short_T_g"][0] == pytest.approx(1.0)  # the shortest checkpoint: 0.1 T
    assert fails["small_eps_b"][0] == pytest.approx(0.25)  # the second eps of (b): 0.5 x 0.5
    assert "small_m" not in pl.failure_points(tables, s, ["eps", "T_f", "T_g"])
