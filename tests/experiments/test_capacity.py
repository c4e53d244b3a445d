"""mfat.experiments.capacity: the chapter-5 measurements and the analyses behind its claims.

Oracles: Theorem 5.8's closed forms at the critical point (omega_v = 1: E||w||_FR^2 = L K, relative rate
-c eps alpha beta L / N, radial rate -L E[L_adv] / N at sigma_w^2 = 2), synthetic tables with known means
and trends, the agreement of the exact estimators, and the training configurations that chapter 5 built by
hand before its settings produced them (:meth:`TrainingSettings.train_config`).
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mfat.chapter import settings as chapter_settings
from mfat.experiments import capacity as cap
from mfat.model.training import TrainConfig


# --- training configurations --------------------------------------------------------------------------------

def test_train_config_reproduces_the_chapter_configurations():
    for profile in ("quick", "full"):
        S = chapter_settings.get("capacity", profile)
        assert S.train_config("adv_only", 100, batch_size=128, eval_size=1000) == TrainConfig(
            objective="adv_only", eps=S.eps, p="inf", q="inf", attack_steps=S.attack_steps)
        by_hand = dict(lr=S.lr, batch_size=S.batch_size, eps=S.eps, p="inf", q="inf", attack_steps=S.attack_steps,
                       record_every=max(1, S.curve_steps // 10), record_first=S.slope_steps, eval_size=S.eval_size)
        curve = S.train_config("adv_only", S.curve_steps, record_every=max(1, S.curve_steps // 10),
                               record_first=S.slope_steps)
        assert curve == TrainConfig(objective="adv_only", steps=S.curve_steps, **by_hand)
        acc = S.train_config("adversarial", S.acc_steps, lr=S.acc_lr, eps=S.acc_eps, record_every=S.acc_record_every,
                             robust_eval=True)
        assert acc == TrainConfig(objective="adversarial", steps=S.acc_steps, **{
            **by_hand, "lr": S.acc_lr, "eps": S.acc_eps, "record_every": S.acc_record_every, "record_first": 0,
            "robust_eval": True})


# --- the measurements at a tiny scale -----------------------------------------------------------------------

def _tiny_settings():
    return chapter_settings.get("capacity", "quick", init_d=6, init_N=8, init_depths=(1, 2), init_networks=3,
                                init_inputs=2, scale_N=8, scale_L=2, scale_networks=2, n_train=64, fr_batch=8,
                                batch_size=8, attack_steps=1, widths=(8, 16), L=2, depths=(1, 2), N=16,
                                slope_seeds=1, slope_batch=16, curve_steps=3, slope_steps=2, acc_widths=(8,),
                                acc_steps=2, acc_record_every=1, eval_size=10)


def _data(n=64, d=12, K=3):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, d, generator=g), torch.arange(n) % K


def test_estimators_agree():
    est = cap.estimator_check(0, n_probes=4)
    assert est["reverse"] == pytest.approx(est["forward"], rel=1e-10)
    assert est["jvp"] == pytest.approx(est["forward"], rel=1e-10)
    assert est["n_probe"] == 4 and est["probe_sd"] > 0
    assert len(cap.estimator_table(est)) == 4
    with pytest.raises(ValueError, match="n_probes"):
        cap.estimator_check(0, n_probes=1)


def test_init_monte_carlo_keys_and_table():
    S = _tiny_settings()
    X, _ = _data()
    init = cap.init_monte_carlo(X[:S.fr_batch], S, K=3)
    assert list(init) == [("vanilla", 1), ("residual", 1), ("vanilla", 2), ("residual", 2), ("vanilla + bias", 2),
                          ("vanilla, mnist inputs", 2)]
    table = cap.init_table(init, S, K=3)
    assert table["n"].tolist() == [3, 3, 3, 3, 3, 2] and table["N"].tolist() == [8] * 5 + [S.scale_N]


def test_init_table_divides_by_theorem_5_8():
    S = _tiny_settings()
    init = {("vanilla", 2): {"fr": np.array([5.0, 7.0]), "q0": 1.0},
            ("vanilla + bias", 2): {"fr": np.array([5.0, 7.0]), "q0": 0.5}}
    table = cap.init_table(init, S, K=3)
    assert table["predicted"].iloc[0] == pytest.approx(2 * 3)  # L K omega_v^L at omega_v = 1
    assert table["ratio"].iloc[0] == pytest.approx(1.0)
    assert table["2 s.e."].iloc[0] == pytest.approx(2 * math.sqrt(2) / math.sqrt(2))
    assert table["predicted"].iloc[1] > 2 * 3 * 0.5  # the bias adds to the signal q^(1)


def test_sweeps_and_runs_at_a_tiny_scale():
    S = _tiny_settings()
    X, y = _data()
    grid = cap.slope_grid(S)
    assert grid == [(8, 2), (16, 1), (16, 2)]
    cfg = S.train_config("adv_only", 100, batch_size=128, eval_size=1000)
    df = cap.slope_sweep(X, y, X[:S.fr_batch], cfg, S, grid=grid, K=3, offset=1000)
    assert len(df) == len(grid) * S.slope_seeds and {"full", "radial", "fr", "L_adv"} <= set(df.columns)
    rows, table = cap.summarise_slopes(df, eps=S.eps, beta=2.0, sigma_w2=S.vanilla_sigma_w2, K=3)
    assert cap.radial_identity_error(rows) < 1e-8  # the radial part is the exact homogeneity identity
    curve = S.train_config("adv_only", S.curve_steps, record_every=1, record_first=S.slope_steps)
    curves = cap.curve_runs(X, y, X[:S.fr_batch], curve, S, grid=grid, K=3, offset=2000)
    assert curves[("standard", S.N, S.L)]["fr"][0] == curves[("adv_only", S.N, S.L)]["fr"][0]  # one start
    assert len(cap.window_table(curves, S.slope_steps)) == len(grid)
    acc_cfg = S.train_config("adversarial", S.acc_steps, record_every=1, robust_eval=True)
    acc = cap.accuracy_runs(X, y, X[:S.fr_batch], X[:10], y[:10], acc_cfg, S, K=3, offset=3000)
    assert list(acc) == [("adversarial", 8), ("standard", 8)]
    fashion = cap.fashion_measurement(X, y, X[:S.fr_batch], cfg, curve, S, grid=[(S.N, S.L)], K=3)
    assert len(fashion["slopes"]) == S.slope_seeds and "fr_mf" in fashion["run"]


# --- the analyses ---------------------------------------------------------------------------------------------

def test_rates_at_the_critical_point():
    assert cap.theorem_rate(0.3, 2.0, 100, 4, 10, 2.0) == pytest.approx(-2 * 0.3 * 0.5 * 2.0 * 4 / 100)
    run = {"L_adv": np.array([0.2, 0.4, 9.0])}
    assert cap.measured_rate(run, 100, 4, 2, 2.0) == pytest.approx(-0.3 * 4 / 100)


def test_summarise_slopes_means_and_theorem_column():
    df = pd.DataFrame({"N": [8, 8, 16], "L": [2, 2, 2], "seed": [0, 1, 0], "full": [-4.0, -2.0, -1.0],
                       "radial": [-1.0, -0.5, -0.25], "fr": [2.0, 1.0, 1.0], "L_adv": [0.5, 0.5, 0.5],
                       "sigma_w2_layers": [[2.0, 2.0]] * 3})
    rows, table = cap.summarise_slopes(df, eps=0.3, beta=2.0, sigma_w2=2.0, K=3)
    assert rows["rel_full"].tolist() == pytest.approx([-2.0, -2.0, -1.0])
    assert rows["rel_identity"].tolist() == pytest.approx([-0.5 * 2 / 8, -0.5 * 2 / 8, -0.5 * 2 / 16])
    assert table["n"].tolist() == [2, 1] and table["exact / radial"].tolist() == pytest.approx([4.0, 4.0])
    assert table["rel_theorem_beta"].iloc[1] == pytest.approx(cap.theorem_rate(0.3, 2.0, 16, 2, 3, 2.0))
    assert cap.radial_identity_error(rows) == pytest.approx(abs(-0.5 / -0.125 - 1))


def test_profiles_trends_and_exponents():
    table = pd.DataFrame({"N": [16, 8, 16, 16], "L": [2, 2, 4, 1], "rel_full": [-2.0, -4.0, -4.0, -1.0],
                          "rel_radial": [-0.5, -1.0, -1.0, -0.25]})
    by_depth, by_width = cap.slope_profiles(table, 16, 2)
    assert by_depth["L"].tolist() == [1, 2, 4] and by_width["N"].tolist() == [8, 16]
    depth = cap.decay_trend(by_depth, "L", "rel_full")
    assert depth["increasing"] and not depth["decreasing"]
    assert depth["text"] == "L=1: -1, L=2: -2, L=4: -4"
    assert cap.decay_trend(by_width, "N", "rel_radial")["decreasing"]
    assert cap.decay_exponent(by_width, "N", "rel_radial") == pytest.approx(-1.0)
    assert cap.decay_exponent(by_depth, "L", "rel_full") == pytest.approx(1.0)


def test_window_summary_of_a_run_on_the_theorem_line():
    N, L, lr, w = 16, 2, 0.01, 3
    step = np.arange(6)
    t = lr * step
    L_adv = np.full(6, 0.4)
    rate = -L * 0.4 / N  # the radial rate at sigma_l^2 = 2 with E[L_adv] = 0.4
    run = {"step": step, "t": t, "L_adv": L_adv, "sigma_w2_1": np.full(6, 2.0), "sigma_w2_2": np.full(6, 2.0),
           "fr_mf": 6.0 * (1 + rate * t), "fr": 6.0 * (1 + 3 * rate * t)}
    out = cap.window_summary(run, N, L, w)
    assert out["t_window"] == pytest.approx(w * lr) and out["mean L_adv"] == pytest.approx(0.4)
    assert out["mean-field: predicted"] == pytest.approx(rate) and out["ratio"] == pytest.approx(1.0)
    assert out["exact FR (secant)"] == pytest.approx(3 * rate)
    table = cap.window_table({("adv_only", N, L): run, ("standard", N, L): run}, w)
    assert len(table) == 1


def test_accuracy_tables():
    def run(fr, clean, robust):
        return {"fr": np.array(fr), "clean_acc": np.array(clean), "robust_acc": np.array(robust)}

    acc = {("adversarial", 8): run([2.0, 0.5, 1.0], [0.1, 0.5], [0.0, 0.2]),
           ("standard", 8): run([2.0, 3.0, 4.0], [0.1, 0.8], [0.0, 0.05]),
           ("adversarial", 32): run([1.0, 0.1, 0.25], [0.1, 0.6], [0.0, 0.3]),
           ("standard", 32): run([1.0, 1.0, 1.5], [0.1, 0.9], [0.0, 0.1])}
    table = cap.accuracy_table(acc)
    assert table["FR(T)/FR(0)"].tolist() == pytest.approx([0.5, 2.0, 0.25, 1.5])
    assert table["min FR(t)/FR(0)"].tolist() == pytest.approx([0.25, 1.0, 0.1, 1.0])
    assert cap.final_capacity(table) == {8: (0.5, 2.0), 32: (0.25, 1.5)}
    summary = cap.accuracy_summary(table)
    assert summary["acc_N_small"] == 8 and summary["acc_N_large"] == 32
    assert summary["acc_min"] == pytest.approx(0.1)
    assert summary["acc_gap_small"] == pytest.approx(4.0) and summary["acc_gap_large"] == pytest.approx(6.0)
    assert summary["clean_std_large"] == pytest.approx(0.9) and summary["robust_adv_large"] == pytest.approx(0.3)
