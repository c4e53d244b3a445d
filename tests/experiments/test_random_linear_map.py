"""Chapter 1 measurements and analyses (mfat.experiments.random_linear_map) on small inputs with known answers."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mfat import stats, theory
from mfat.experiments import random_linear_map as rlm
from mfat.runtime import make_generator


def settings(**changes):
    base = dict(d=6, N=16, K=1, L=3, sigma_w2=2.0, sigma_b2=0.01, n_samples=400, residual_sigma_w2=0.5,
                leaky_v=0.5, leaky_sigma_w2=1.6, explicit_N=8, explicit_n=60, inputs_N=32, inputs_n=60,
                adv_widths=(8,), adv_n=50, adv_eps=0.5, adv_steps=2, seed=0)
    return SimpleNamespace(**{**base, **changes})


# ----------------------------------------------------------------------------- summaries of one sample
def test_law_summary_of_a_symmetric_two_point_law():
    x = np.array([1.0, -1.0] * 50)  # mean 0, mean square 1
    lw = rlm.law_summary(x, 2.0)
    assert lw["n"] == 100 and lw["ratio"] == 0.5 and lw["mean"] == 0.0
    assert lw["ratio_tol"] == pytest.approx(4 * math.sqrt(2 / 99))
    assert lw["kurt"] == pytest.approx(-2.0)


def test_squares_correlation_known_values():
    x = np.linspace(-1, 1, 11)
    assert rlm.squares_correlation(np.stack([x, x], 1)) == pytest.approx(1.0)
    assert rlm.squares_correlation(np.stack([x, -x], 1)) == pytest.approx(1.0)  # squares forget the sign
    assert rlm.squares_correlation(np.array([[0.0, 2.0], [1.0, -math.sqrt(3.0)], [-2.0, 0.0]])) == pytest.approx(-1.0)  # a^2 = 4 - J^2


# ----------------------------------------------------------------------------- architectures and predictions
def test_architectures_and_specs():
    s = settings()
    archs = rlm.architectures(s)
    assert list(archs) == ["vanilla ReLU", "residual ReLU", "vanilla leaky ReLU (v=0.5)"]
    spec = rlm.arch_spec(s, "residual ReLU", N=4)
    assert (spec.N, spec.residual, spec.sigma_w2, spec.d) == (4, True, 0.5, 6)
    with pytest.raises(ValueError, match="'arch'"):
        rlm.arch_spec(s, "tanh")


def test_predictions_at_the_critical_point():
    s = settings()
    pred = rlm.predictions(s)
    van, leaky = pred["vanilla ReLU"], pred["vanilla leaky ReLU (v=0.5)"]
    assert van["omega"] == 1.0 and van["var_J"] == pytest.approx(1 / s.d)
    assert van["var_a"] == pytest.approx(s.sigma_b2 * s.L / 2)  # alpha sigma_b^2 L at omega = 1
    assert leaky["omega"] == pytest.approx(1.0)  # alpha = 0.625, sigma_w^2 = 1.6
    assert pred["residual ReLU"]["omega"] == pytest.approx(1.25)
    assert van["fw"]["kurt_J"][-1] == pytest.approx(theory.jacobian_excess_kurtosis(s.N, s.L, s.sigma_w2))
    assert van["fw_explicit"]["kurt_J"][-1] > van["fw"]["kurt_J"][-1]  # narrower: heavier tails
    table = rlm.prediction_table(pred, s)
    assert list(table["network"]) == list(pred) and table.shape[0] == 3


# ----------------------------------------------------------------------------- samplers and their timing
def test_chain_law_shapes_and_time():
    spec = rlm.arch_spec(settings(), "vanilla ReLU")
    out = rlm.chain_law(spec, 300, generator=make_generator(1))
    assert out["J"].shape == out["a"].shape == (300,) and out["seconds"] >= 0.0
    again = rlm.chain_law(spec, 300, generator=make_generator(1))
    np.testing.assert_array_equal(out["J"], again["J"])


def test_fig1_measurement_uses_one_generator_per_draw():
    s = settings()
    calls = []

    def generators(i):
        calls.append(i)
        return make_generator(i)

    fig1 = rlm.fig1_measurement(s, rlm.fixed_input(s), generators=generators)
    assert calls == [10, 20, 30, 11, 21, 31, 12, 22, 32]
    r = fig1["vanilla ReLU"]
    assert r["chain"]["J"].shape == (s.n_samples,) and r["explicit"]["J"].shape == (s.explicit_n,)
    laws = rlm.law_summaries(fig1, rlm.predictions(s))
    assert laws["vanilla ReLU"]["J"]["n"] == s.n_samples


def test_explicit_comparison_of_identical_samples():
    s = settings()
    pred = rlm.predictions(s)
    x = np.random.default_rng(0).normal(size=s.n_samples) * math.sqrt(pred["vanilla ReLU"]["var_J"])
    draw = {"J": x, "a": x}
    fig1 = {"vanilla ReLU": {"explicit": draw, "chain_small": draw}}
    out = rlm.explicit_comparison(fig1, pred, s)["vanilla ReLU"]
    assert out["ks2"] == 0.0
    assert out["ks2_tol"] == pytest.approx(stats.two_sample_ks_tolerance(s.explicit_n, s.n_samples))
    assert out["J"]["ratio"] == pytest.approx(np.mean(x * x) / pred["vanilla ReLU"]["var_J"])


# ----------------------------------------------------------------------------- joint law, inputs, selection
def test_joint_summary_scales_out_the_theory_variances():
    s = settings()
    pred = rlm.predictions(s)["vanilla ReLU"]
    rng = np.random.default_rng(1)
    J, a = rng.normal(size=2000), rng.normal(size=2000)
    j = rlm.joint_summary({"J": J * math.sqrt(pred["var_J"]), "a": a * math.sqrt(pred["var_a"])}, 64, s, pred)
    assert j["N"] == 64
    assert j["corr"] == pytest.approx(np.corrcoef(J, a)[0, 1], abs=1e-12)
    assert abs(j["corr"]) < j["corr_tol"] and abs(j["corr_sq"]) < 4 * j["corr_sq_se"] + 0.1
    assert j["pred_sq"] == pytest.approx(theory.finite_width_moments(s.d, 64, s.L, s.sigma_w2, s.sigma_b2)["corr_sq"][-1])


def test_input_correlations_reads_the_pairs():
    m = np.array([[1.0, 0.3], [0.3, 1.0]])
    inp = {"corr_J": m, "pred_corr_J": m * 0.9, "corr_a": m * 0.5, "pred_corr_a": m * 0.4}
    (c,) = rlm.input_correlations(inp, [(0, 1)], 100)
    assert (c["i"], c["j"], c["r"], c["pred"], c["r_a"]) == (0, 1, 0.3, 0.27, 0.15)
    assert c["tol"] == pytest.approx(stats.fisher_correlation_tolerance(0.3, 100))


def test_input_network_uses_mnist_dimension():
    net = rlm.input_network(settings(), N=12)
    assert (net["spec"].d, net["spec"].N) == (rlm.MNIST_D, 12)
    assert net["var_J"] == pytest.approx(1 / rlm.MNIST_D)


def test_selection_summary_of_independent_entries():
    J = np.array([[1.0, -2.0], [0.5, 0.0], [-3.0, 1.0]])
    sel = rlm.selection_summary(J, 2.0, 0.0)
    np.testing.assert_allclose(sel["selected"], [2.0, 0.125, 4.5])
    assert sel["predicted"] == pytest.approx(1 + 2 / math.pi)
    assert sel["mean"] == pytest.approx(6.625 / 3)
    assert sel["predicted"] == pytest.approx(1.0 + 2 / math.pi * math.sqrt(1 - 0.0))
    assert rlm.selection_summary(J, 2.0, 1.0)["predicted"] == 1.0  # identical entries: max = either
    with pytest.raises(ValueError, match="'J_pair'"):
        rlm.selection_summary(J[:, 0], 2.0, 0.0)


def test_adversarial_summary_rows():
    s = settings(adv_n=4)
    var_in = rlm.input_network(s)["var_J"]
    row_ms = np.array([[1.0, 0.8], [1.2, 1.0], [0.8, 0.8], [1.0, 0.6]]) * var_in
    adv = {8: {"row_ms": row_ms, "flipped": np.array([0.1, 0.2, 0.3, 0.4]),
               "J": np.array([[0.01, -0.02], [-0.01, 0.02], [0.02, 0.01], [-0.03, -0.01]])}}
    rows, laws = rlm.adversarial_summary(adv, s)
    r = rows[0]
    assert r["N"] == 8 and r["flipped"] == pytest.approx(0.25)
    assert r["row_clean"] == pytest.approx(1.0) and r["row_adv"] == pytest.approx(0.8)
    assert r["shift"] == pytest.approx(-0.2)
    assert r["shift_se"] == pytest.approx(np.std([-0.2, -0.2, 0.0, -0.4], ddof=1) / 2)
    kurt = theory.finite_width_moments(rlm.MNIST_D, 8, s.L, s.sigma_w2, s.sigma_b2)["kurt_J"][-1]
    assert r["spread"] == pytest.approx(math.sqrt(kurt / 3))
    assert list(laws[8]) == ["clean digit", "adversarial input"]
    assert list(rlm.adversarial_table(rows).columns)[0] == "width N"


# ----------------------------------------------------------------------------- width, depth, speed
def test_width_worst_picks_the_largest_deviation():
    ws = {"pred_kurt_J": np.array([5.0, 0.5, 0.1]), "pred_kurt_a": np.array([5.0, 0.5, 0.1]),
          "pred_corr_sq": np.array([0.5, 0.05, 0.01]), "ratio_J": np.array([1.0, 1.05, 0.99]),
          "kurt_J": np.array([1.0, 0.6, 0.3]), "kurt_J_se": np.array([1.0, 0.1, 0.05]),
          "corr_sq": np.array([0.1, 0.05, 0.01]), "corr_sq_se": np.array([1.0, 0.01, 0.01]),
          "corr_Ja": np.array([0.5, 0.001, 0.02])}
    w = rlm.width_worst(ws, 1000)
    np.testing.assert_array_equal(w["light"], [False, True, True])
    assert w["ratio"]["index"] == 1 and w["ratio"]["atol"] == w["ratio_tol"][1]
    assert w["kurt"]["index"] == 2  # |0.3 - 0.1| / 0.05 = 4 > |0.6 - 0.5| / 0.1 = 1 (width 0 is heavy-tailed)
    assert w["kurt"]["atol"] == pytest.approx(stats.Z_DEFAULT * 0.05)
    assert w["corr_sq"]["index"] in (1, 2) and w["corr"]["index"] == 2 and w["corr"]["predicted"] == 0.0
    with pytest.raises(ValueError, match="'ws'"):
        rlm.width_worst({**ws, "pred_kurt_J": np.array([5.0, 5.0, 5.0])}, 1000)


def test_depth_worst_reports_one_based_depth():
    dp = {"sigma_w2": np.array([2.0]), "var_J": np.array([[1.0, 1.3, 1.0]]), "pred_var_J": np.ones((1, 3)),
          "var_a": np.array([[0.9, 1.0, 1.0]]), "pred_var_a": np.ones((1, 3)), "kurt_J": np.zeros((1, 3)),
          "kurt_a": np.zeros((1, 3))}
    (j, a) = rlm.depth_worst(dp, 100)
    assert (j["key"], j["depth"], j["ratio"]) == ("J", 2, 1.3)
    assert (a["key"], a["depth"]) == ("a", 1)
    assert j["atol"] == pytest.approx(stats.variance_ratio_tolerance(100))


def test_sampler_speeds():
    s = settings(n_samples=1000, explicit_n=10)
    fig1 = {"vanilla ReLU": {"chain": {"seconds": 0.5}, "explicit": {"seconds": 2.0}}}
    sp = rlm.sampler_speeds(fig1, {"units_per_s": 20.0}, s)
    assert sp == {"chain": 2000.0, "units": 20.0, "ratio": 100.0, "explicit": 5.0}


def test_speed_measurement_is_timed():
    s = settings()
    out = rlm.speed_measurement(s, rlm.fixed_input(s), generator=make_generator(0))
    assert out["units_per_s"] > 0


def test_fixed_input_has_norm_sqrt_d():
    x = rlm.fixed_input(settings())
    assert x.shape == (1, 6) and x.dtype == torch.float64
    assert float(x.norm()) == pytest.approx(math.sqrt(6))
