"""mfat.experiments.trainability: the measurements and analyses of chapter 4.

initial_balance (the two forces of CE + lam L_adv at initialisation): oracles are a direct autograd computation
on the same network and rows, the positive homogeneity of a bias-free ReLU network (scaling the inputs by c is
scaling epsilon by 1/c), and the x-free law of J(x) that chapter 4 uses to explain why the pull, not the drive,
depends on the data. The chapter's analyses (boundaries, agreement, paired statistics, collapsed cells) are
checked on small inputs with answers worked out by hand, its measurements on tiny settings.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfat import theory
from mfat.experiments import trainability as tr
from mfat.experiments.trainability import cell_seed, initial_balance
from mfat.model.networks import ReLULikeNet
from mfat.model.objectives import L_adv_per_example
from mfat.model.training import TrainConfig
from mfat.runtime import make_generator

D, K, F64 = 30, 4, torch.float64


def _data(n=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, D, generator=g, dtype=F64)
    y = torch.arange(n) % K
    return X, y


def _config(eps=0.1, lam=1.0):
    return TrainConfig(objective="adversarial", lr=0.1, steps=1, batch_size=8, eps=eps, p=math.inf, q=math.inf,
                       attack_steps=3, lam=lam)


def test_shapes_and_autograd_oracle():
    X, y = _data()
    cfg = _config(lam=0.5)
    res = initial_balance(X, y, (1, 3), (8, 16), cfg, sigma_w2=2.0, n_networks=2, batch_size=20, seed=3)
    for key in ("J_norm", "L_adv", "grad_ce", "grad_adv"):
        assert res[key].shape == (2, 2, 2) and np.isfinite(res[key]).all() and (res[key] > 0).all()
    # cell (N=16, L=3, r=1) recomputed by hand
    s = cell_seed(3, 16, 3, 1)
    net = ReLULikeNet(D, 16, K, 3, 2.0, generator=make_generator(s), dtype=F64)
    g = make_generator(s + 1)
    idx = torch.randperm(len(X), generator=g)[:20]
    xb, yb = X[idx], y[idx]
    ce = F.cross_entropy(net(xb), yb)
    l_adv = L_adv_per_example(net, xb, cfg.attack, generator=g).mean()
    g_ce = torch.autograd.grad(ce, list(net.parameters()))
    g_adv = torch.autograd.grad(0.5 * l_adv, list(net.parameters()))
    norm = lambda gs: math.sqrt(sum(float(t.pow(2).sum()) for t in gs))  # noqa: E731
    assert res["L_adv"][1, 1, 1] == pytest.approx(float(l_adv.detach()), rel=1e-12)
    # ||J(x)||_{inf,inf} = the largest row l1 norm of the autograd Jacobian of f at x, per row of the batch
    J_auto = torch.stack([torch.autograd.functional.jacobian(net, x[None])[0, :, 0] for x in xb])  # (B, K, d)
    assert res["J_norm"][1, 1, 1] == pytest.approx(float(J_auto.abs().sum(-1).amax(-1).mean()), rel=1e-10)
    assert res["grad_ce"][1, 1, 1] == pytest.approx(norm(g_ce), rel=1e-10)
    assert res["grad_adv"][1, 1, 1] == pytest.approx(norm(g_adv), rel=1e-10)


def test_homogeneity_larger_inputs_act_like_smaller_eps():
    """f(cx) = c f(x) at initialisation (zero biases): L_adv(cX, c eps) = c L_adv(X, eps), and the L_adv
    gradient with respect to the weights scales the same way, network by network."""
    X, y = _data()
    c = 2.5
    a = initial_balance(X, y, (2, 4), (12,), _config(eps=0.1), sigma_w2=2.0, n_networks=3, batch_size=16, seed=1)
    b = initial_balance(c * X, y, (2, 4), (12,), _config(eps=0.1 * c), sigma_w2=2.0, n_networks=3, batch_size=16,
                        seed=1)
    np.testing.assert_allclose(b["L_adv"], c * a["L_adv"], rtol=1e-9)
    assert not np.allclose(b["grad_ce"], a["grad_ce"])  # the cross-entropy is not homogeneous


def test_jacobian_norm_does_not_depend_on_the_data():
    """J(x) of a bias-free ReLU network at initialisation has a law free of x != 0, so the mean ||J(x)||_{inf,inf}
    (the eps -> 0 limit of L_adv / eps) is the same on two very different input sets: paired over the same
    networks, within 4 standard errors of the paired difference."""
    X1, y = _data(seed=1)
    X2 = 5.0 * torch.randn(len(X1), D, generator=torch.Generator().manual_seed(2), dtype=F64)
    a = initial_balance(X1, y, (2, 3), (64,), _config(), sigma_w2=2.0, n_networks=40, batch_size=4, seed=5)
    b = initial_balance(X2, y, (2, 3), (64,), _config(), sigma_w2=2.0, n_networks=40, batch_size=4, seed=5)
    diff = (b["J_norm"] - a["J_norm"]).ravel() / a["J_norm"].mean()
    assert abs(diff.mean()) <= 4 * diff.std(ddof=1) / math.sqrt(diff.size)


def test_validation_names_the_parameter():
    X, y = _data(10)
    with pytest.raises(ValueError, match="batch_size"):
        initial_balance(X, y, (2,), (8,), _config(), sigma_w2=2.0, batch_size=11)
    with pytest.raises(ValueError, match="n_networks"):
        initial_balance(X, y, (2,), (8,), _config(), sigma_w2=2.0, n_networks=0)
    with pytest.raises(ValueError, match="depths"):
        initial_balance(X, y, (0,), (8,), _config(), sigma_w2=2.0)


# --- the chapter's analyses: small inputs, known answers --------------------------------------------------------


def test_cell_edges_linear_and_geometric():
    np.testing.assert_allclose(tr.cell_edges([2, 4, 6]), [1, 3, 5, 7])
    np.testing.assert_allclose(tr.cell_edges([64, 128, 256], log=True), [64 / 2**0.5, 64 * 2**0.5, 128 * 2**0.5,
                                                                          256 * 2**0.5])
    with pytest.raises(ValueError, match="values"):
        tr.cell_edges([3])
    with pytest.raises(ValueError, match="values"):
        tr.cell_edges([0, 1], log=True)


def test_observed_boundary():
    trains = np.array([[False, True, False],
                       [True, False, False],
                       [True, True, False]])  # (widths, depths)
    assert tr.observed_boundary(trains, [64, 128, 256]) == [128, 256, math.inf]
    with pytest.raises(ValueError, match="trains"):
        tr.observed_boundary(trains, [64, 128])


def test_agreements_best_law_and_threshold():
    widths = [64, 128, 256]
    observed = np.array([[False, False], [True, False], [True, True]])
    boundaries = {"linear": np.array([100.0, 200.0]), "ode": np.array([10.0, 10.0])}
    agr = tr.agreements(observed, widths, boundaries)
    assert agr["linear"]["fraction"] == 1.0 and agr["ode"]["fraction"] == 0.5
    assert tr.best_law(agr) == "linear"
    assert tr.best_law({"linear": {"fraction": 0.5}, "ode": {"fraction": 0.5}}) == "linear"  # first on a tie
    # cells: [45.3, 90.5), [90.5, 181), [181, 362): 100 and 200 each fall inside one cell, 10 in none
    assert tr.agreement_threshold(widths, [100.0, 200.0]) == (min(0.8, 1 - 2 / 6), 2)
    assert tr.agreement_threshold(widths, [10.0, 10.0]) == (0.8, 0)
    assert tr.agreement_threshold(widths, [10.0, 10.0], cap=1.0) == (1.0, 0)


def test_collapse_counts_and_guarantee_side():
    acc = np.array([[0.1, 0.9], [0.19, 0.2]])
    c = tr.collapse_counts(acc, 0.2)
    assert (c["collapsed"], c["trained"], c["cells"]) == (2, 2, 4)
    np.testing.assert_array_equal(c["observed"], [[False, True], [False, True]])
    predicted = np.array([[False, True], [True, True]])
    assert tr.guarantee_counts(c["observed"], predicted) == {"trained": 2, "cells": 3, "all": False}
    assert tr.guarantee_counts(c["observed"], np.zeros((2, 2), bool))["all"]  # nothing promised
    with pytest.raises(ValueError, match="observed_trainable"):
        tr.guarantee_counts(c["observed"], predicted[:1])


def test_shortcut_width_and_narrow_collapses():
    assert tr.shortcut_width(10, 0.1) == pytest.approx(200.0)  # alpha = 1/2 for ReLU
    assert tr.shortcut_width(10, 0.1, u=1.0, v=1.0) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="sigma_w2"):
        tr.shortcut_width(10, 0.0)
    acc_res = np.array([[0.1, 0.5, 0.15], [0.6, 0.7, 0.8]])  # widths 64, 256
    acc_van = np.array([[0.1, 0.1, 0.5], [0.9, 0.1, 0.9]])
    out = tr.narrow_collapses(acc_res, acc_van, [64, 256], 200.0, 0.2)
    np.testing.assert_array_equal(out["wide"], [False, True])
    assert out["min_wide"] == 0.6
    assert (out["res_narrow_collapsed"], out["van_narrow_collapsed"], out["narrow_cells"]) == (2, 2, 3)
    assert math.isnan(tr.narrow_collapses(acc_res, acc_van, [64, 128], 200.0, 0.2)["min_wide"])


def test_paired_relative_known_answer():
    a = np.array([1.0, 3.0]).reshape(1, 1, 2)  # cell mean 2
    b = a + np.array([0.2, 0.6]).reshape(1, 1, 2)
    mean, se, n = tr.paired_relative(a, b)
    rel = np.array([0.1, 0.3])
    assert n == 2
    assert mean == pytest.approx(0.2)
    assert se == pytest.approx(rel.std(ddof=1) / math.sqrt(2))
    with pytest.raises(ValueError, match="'a', 'b'"):
        tr.paired_relative(a, b[..., :1])


def test_pull_log_ratio_and_balance_summary():
    base = {"grad_ce": np.full((1, 1, 2), 2.0), "grad_adv": np.full((1, 1, 2), 1.0),
            "J_norm": np.full((1, 1, 2), 5.0), "L_adv": np.array([1.0, 1.0]).reshape(1, 1, 2), "norm": 9.0}
    other = {"grad_ce": np.array([6.0, 24.0]).reshape(1, 1, 2), "grad_adv": np.full((1, 1, 2), 1.5),
             "J_norm": np.full((1, 1, 2), 5.0), "L_adv": np.array([1.1, 1.3]).reshape(1, 1, 2), "norm": 10.0}
    # ratios on other: 4 and 16, on base: 2 -> logs ln 2 and ln 8
    mean, se = tr.pull_log_ratio(base, other)
    assert mean == pytest.approx(2 * math.log(2))
    assert se == pytest.approx(np.std([math.log(2), math.log(8)], ddof=1) / math.sqrt(2))
    s = tr.balance_summary(base, other)
    assert s["pull_ratio"] == pytest.approx(4.0)
    assert (s["jnorm_diff"], s["jnorm_se"], s["n_pairs"]) == (0.0, 0.0, 2)
    assert s["ladv_diff"] == pytest.approx(0.2)
    assert (s["norm_base"], s["norm_other"]) == (9.0, 10.0)


def test_first_crossing_time():
    t = np.array([0.0, 0.5, 1.0, 1.5])
    assert tr.first_crossing_time(t, np.array([1.0, 1e-3, 1e-5, 1e-6]), 1e-4) == 1.0
    assert tr.first_crossing_time(t, np.ones(4), 1e-4) == math.inf
    with pytest.raises(ValueError, match="values"):
        tr.first_crossing_time(t, np.ones(3), 1e-4)


def test_mean_factor_and_classification():
    factor = np.array([[0.9, 1.1], [1.0, 1.0]])
    mean, tol = tr.mean_factor(factor)
    assert mean == pytest.approx(1.0)
    assert tol == pytest.approx(4 * np.std(factor, ddof=1) / 2)
    with pytest.raises(ValueError, match="factor"):
        tr.mean_factor([1.0])
    settings = tr.gain_settings((2.0,), (0.5,))
    assert settings == [("vanilla", 2.0, False), ("residual", 0.5, True)]
    assert tr.gain_key("vanilla", 2.0) == "vanilla 2"
    # omega_v = 1: trainable at every depth; gains measured exactly omega^L (in band) -> full agreement
    gains = {"vanilla 2": {"gain": np.ones((3, 4))}, "residual 0.5": {"gain": np.tile(1.25 ** np.arange(1, 5),
                                                                                        (3, 1))}}
    assert tr.classification_agreement(gains, settings, 1e4, 1e-4) == 1.0
    # a vanilla gain far below m at every depth disagrees with the lemma at all 4 depths
    gains["vanilla 2"]["gain"] = np.full((3, 4), 1e-9)
    assert tr.classification_agreement(gains, settings, 1e4, 1e-4) == 0.5


def test_critical_widths_linear_law_closed_form():
    depths, t, eps, beta, m, c = (2, 5, 10), 15.0, 0.3, 1.7, 1e-4, 2.0
    b = tr.critical_widths(depths, t, eps, beta, m=m, c=c)
    assert set(b) == set(theory.LAWS)
    expected = [c * t * 0.5 * eps * beta / (1 - m ** (1 / L)) for L in depths]
    np.testing.assert_allclose(b["linear"], expected, rtol=1e-12)
    assert (b["ode"] < b["linear"]).all()  # the unfrozen flow exits later, so a smaller width suffices
    np.testing.assert_array_equal(tr.fine_depths([2, 4, 8]), np.arange(1, 10))
    np.testing.assert_array_equal(tr.fine_depths([1, 3]), np.arange(1, 5))


def test_exit_time_curves_and_gain_paths():
    curves = tr.exit_time_curves(np.arange(2, 41), 1000, 0.3, 1.7)
    # the linear law approaches its 1/L asymptote from below, the ODE exits later
    assert (curves["linear"] <= curves["asymptote"]).all()
    assert curves["linear"][-1] / curves["asymptote"][-1] > 0.85
    assert (curves["ode"] > curves["linear"]).all()
    with pytest.raises(ValueError, match="depths"):
        tr.exit_time_curves([0, 2], 1000, 0.3, 1.7)
    s = SimpleNamespace(sigma_w2=2.0, residual_sigma_w2=0.1, eps=0.3, c=2.0)
    t = np.linspace(0, 100, 5)
    p = tr.gain_paths(t, (5, 10), 1000, s, 1.7)
    assert p["vanilla"].shape == p["residual"].shape == (2, 5)
    np.testing.assert_allclose(p["vanilla"][:, 0], 1.0)  # omega_v(0) = 1
    assert (np.diff(p["vanilla"], axis=1) < 0).all() and (p["residual"] >= 1).all()


def test_run_predictions():
    s = SimpleNamespace(sigma_w2=2.0, eps=0.3, run_L=6, run_N=64, c=2.0, m=1e-4)
    t = np.array([0.0, 1.0, 2.0])
    p = tr.run_predictions(t, s, 1.7)
    assert p["sigma_w2_linear"][0] == pytest.approx(2.0) and p["sigma_w2_ode"][0] == pytest.approx(2.0)
    assert p["gain_linear"][0] == pytest.approx(1.0)
    assert p["exit_sigma_w2"] == pytest.approx(2 * 1e-4 ** (1 / 6))


def test_tables():
    agr = {"linear": {"fraction": 0.83333}, "ode": {"fraction": 0.5}}
    boundary = {"linear": np.array([10.04, 20.0]), "ode": np.array([1.0, 2.0])}
    t = tr.agreement_table({"agreement": agr}, boundary, [2, 4])
    assert list(t.columns) == ["law", "agreement", "N*(L=2)", "N*(L=4)"]
    assert t["agreement"].tolist() == [0.833, 0.5] and t["N*(L=2)"].tolist() == [10.04, 1.0]
    b = tr.boundary_table([2, 4], {"observed": [64, math.inf]}, boundary)
    assert b["N* linear"].tolist() == [10.0, 20.0]
    base = {"grad_ce": np.full((1, 2, 2), 2.0), "grad_adv": np.full((1, 2, 2), 1.0)}
    other = {"grad_ce": np.full((1, 2, 2), 3.0), "grad_adv": np.full((1, 2, 2), 1.0)}
    p = tr.pull_table(base, other, [2, 4], [64])
    assert p.iloc[0, 1] == "2.000 / 3.000"


# --- the chapter's measurements on tiny settings ----------------------------------------------------------------


def _tiny_settings(**kw):
    base = {"seed": 0, "depths": (1, 2), "widths": (6, 10), "narrow_N": 4, "n_seeds": 1, "sigma_w2": 2.0,
            "residual_sigma_w2": 0.1, "max_cells": 8, "run_N": 8, "run_L": 2, "run_gain_examples": 4,
            "balance_networks": 2, "balance_batch": 8, "n_train": 40, "gain_d": 5, "gain_N": 12, "gain_L_max": 3,
            "gain_networks": 2}
    return SimpleNamespace(**{**base, **kw})


def _tiny_config(objective="adversarial", steps=2):
    return TrainConfig(objective=objective, lr=0.05, steps=steps, batch_size=8, eps=0.1, attack_steps=2,
                       record_every=1, eval_size=20)


def test_gains_measurement_uses_one_generator_per_setting():
    s = _tiny_settings()
    settings = tr.gain_settings((2.0,), (0.5,))
    out = tr.gains_measurement(s, settings, seed=3)
    assert set(out) == {"vanilla 2", "residual 0.5"}
    alone = tr.depth_gains(5, 12, 3, 0.5, residual=True, n_networks=2, generator=make_generator(4))
    np.testing.assert_array_equal(out["residual 0.5"]["gain"], alone["gain"])


def test_collapsing_run_and_grids_on_tiny_settings():
    X, y = _data(40)
    X = X.float()
    s = _tiny_settings()
    run = tr.collapsing_run(X, y, s, _tiny_config(), seed=1)
    assert set(run) == {"t", "sigma_w2", "gain", "grad_norm", "L_adv", "clean_acc"}
    assert len(run["t"]) == 3 and (run["gain"] > 0).all()
    configs = {"adversarial": _tiny_config(), "standard": _tiny_config("standard")}
    grids = tr.fig5_grids(X, y, s, configs, seed=2)
    assert list(grids) == ["vanilla adversarial", "vanilla standard", "residual adversarial"]
    assert all(g["acc"].shape == (2, 2, 1) for g in grids.values())
    # each grid is the one-grid call with its own seed
    again = tr.fig5_grid(X, y, s, configs["standard"], residual=False, seed=3)
    np.testing.assert_array_equal(again["acc"], grids["vanilla standard"]["acc"])
    row = tr.narrow_residual_row(X, y, s, configs, seed=5)
    assert set(row) == {"adversarial", "standard"} and row["standard"].shape == (2,)


def test_balance_measurement_and_speed_comparison():
    X, y = _data(40)
    s = _tiny_settings()
    cfg = _config()
    bal = tr.balance_measurement({"a": (X, y), "b": (2 * X, y)}, s, cfg, seed=7)
    assert bal["b"]["norm"] == pytest.approx(2 * bal["a"]["norm"])
    np.testing.assert_allclose(bal["b"]["J_norm"], bal["a"]["J_norm"], rtol=1e-6)  # J(x) is scale-free
    speed = tr.speed_comparison(X.float(), y, s, _tiny_config(steps=1))
    assert speed["N"] == 10 and speed["batched_s"] > 0 and speed["sequential_s"] > 0
    assert speed["ratio"] == pytest.approx(speed["sequential_s"] / speed["batched_s"])
