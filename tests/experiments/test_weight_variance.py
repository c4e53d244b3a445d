"""mfat.experiments.weight_variance: the chapter-3 measurements and the analyses behind its claims.

Oracles: closed forms on synthetic training tables (a linear sigma_w^2(t), a constant or linear L_adv(t)),
hand-computed ratios and standard errors, and the training configurations that chapter 3 built by hand
before its settings produced them (:meth:`TrainingSettings.train_config`).
"""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mfat.chapter import settings as chapter_settings
from mfat.experiments import weight_variance as wv
from mfat.model.training import TrainConfig


def _run(slope, L_adv=0.5, grad_norm=0.0, N=16, L=2, lr=0.01, steps=6, L_adv0=None, sigma0=2.0):
    """A train_run-like result whose sigma_w^2 falls by exactly ``slope`` per unit t, with constant L_adv."""
    step = np.arange(steps + 1)
    t = lr * step
    table = pd.DataFrame({"step": step, "t": t, "sigma_w2": sigma0 + slope * t, "L_adv": L_adv,
                          "grad_norm": grad_norm})
    return {"table": table, "L_adv0": L_adv if L_adv0 is None else L_adv0, "rank_fraction": np.full(L, 0.9),
            "N": N, "L": L, "residual": False}


# --- training configurations --------------------------------------------------------------------------------

def test_train_config_reproduces_the_chapter_configurations():
    for profile in ("quick", "full"):
        S = chapter_settings.get("weight_variance", profile)
        by_hand = dict(lr=S.lr, batch_size=S.batch_size, eps=S.eps, p="inf", q="inf", attack_steps=S.attack_steps,
                       record_every=S.record_every, record_first=S.slope_steps, eval_size=500)
        fig4 = S.train_config("adversarial", S.steps, record_first=S.slope_steps, eval_size=500)
        assert fig4 == TrainConfig(objective="adversarial", steps=S.steps, **by_hand)
        sweep = S.train_config("adv_only", S.sweep_steps, record_every=1, record_first=S.sweep_steps, eval_size=500)
        assert sweep == TrainConfig(**{**by_hand, "objective": "adv_only", "steps": S.sweep_steps, "record_every": 1,
                                       "record_first": S.sweep_steps})
        l2 = wv._with_objective(fig4, "l2", S.weight_decay)
        assert l2 == TrainConfig(objective="l2", steps=S.steps, weight_decay=S.weight_decay, **by_hand)
        assert wv._with_objective(fig4, "standard", S.weight_decay).weight_decay == 0.0


# --- the measurements at a tiny scale -----------------------------------------------------------------------

def _tiny_settings():
    return chapter_settings.get("weight_variance", "quick", n_train=64, N=8, L=2, steps=10, record_every=5,
                                slope_steps=2, widths=(8, 16), n_seeds=2, sweep_steps=3, depths=(1, 2),
                                eps_values=(0.1, 0.3), n_sweep_seeds=1, identity_examples=4,
                                identity_attack_steps=2, n_residual_networks=2, batch_size=8, attack_steps=1)


def _data(n=64, d=12, K=3):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, d, generator=g), torch.arange(n) % K


def test_identity_measurement_keys_and_exactness():
    S = _tiny_settings()
    X, _ = _data()
    ident = wv.identity_measurement(X.double(), S, K=3)
    assert list(ident)[:4] == [("vanilla", p, q) for p, q in wv.IDENTITY_PAIRS]
    assert ident[("vanilla", "inf", "inf")]["per_example"].shape == (1, S.identity_examples, S.L)
    assert ident[("residual", 2, 2, S.eps)]["batch"].shape == (S.n_residual_networks, S.L)
    deviations = wv.exact_identity_deviations(ident)
    assert len(deviations) == len(wv.IDENTITY_PAIRS) + 1 and max(deviations.values()) < 1e-8
    assert len(wv.identity_table(ident)) == len(wv.IDENTITY_PAIRS) + len(wv.BIAS_CASES)


def test_objective_runs_start_from_one_network_and_sweeps_have_their_rows():
    S = _tiny_settings()
    X, y = _data()
    cfg = S.train_config("adversarial", 2, record_first=S.slope_steps, eval_size=500)
    runs = wv.objective_runs(X, y, None, None, cfg, S, K=3, offset=100)
    assert list(runs) == list(wv.FIG4_OBJECTIVES)
    first = {name: r["table"]["sigma_w2"].iloc[0] for name, r in runs.items()}
    assert len(set(first.values())) == 1
    sweep_cfg = S.train_config("adv_only", S.sweep_steps, record_every=1, record_first=S.sweep_steps)
    sw = wv.slope_sweeps(X, y, sweep_cfg, S, K=3)
    assert len(sw["width"]) == len(S.widths) * S.n_seeds and list(sw["eps"]["eps"]) == list(S.eps_values)
    assert list(sw["depth"]["L"]) == list(S.depths)


# --- the analyses ---------------------------------------------------------------------------------------------

def test_initial_slopes_add_the_cross_entropy_drift_of_the_standard_run():
    N = 16
    runs = {"adversarial": _run(-0.1, L_adv=0.4, N=N), "adv_only": _run(-0.05, L_adv=0.4, N=N),
            "standard": _run(0.02, L_adv=math.nan, N=N)}
    summary, slopes = wv.initial_slopes(runs, 3)
    assert slopes["adv_only"] == (pytest.approx(-0.05), pytest.approx(-2 * 0.4 / N))
    assert slopes["adversarial"][1] == pytest.approx(0.02 - 2 * 0.4 / N)
    assert summary["adv_only"]["departure"] > 0
    table = wv.slope_table(slopes, rate_beta=-0.1)
    assert table["measured / Theorem 5.4"].iloc[1] == pytest.approx(0.5)
    assert table["relative error"].iloc[1] == pytest.approx(-0.05 / (-0.8 / N) - 1)


def test_weight_decay_change_is_the_exponential_law_plus_the_standard_drift():
    l2, std = _run(-0.5, sigma0=2.0), _run(0.1, sigma0=2.0)
    predicted, measured = wv.weight_decay_change({"l2": l2, "standard": std}, 0.3)
    t_end = l2["table"]["t"].iloc[-1]
    assert measured == pytest.approx(-0.5 * t_end)
    assert predicted == pytest.approx(2.0 * (math.exp(-2 * 0.3 * t_end) - 1) + 0.1 * t_end)


def test_width_tables_and_the_doubling_factor():
    runs = pd.DataFrame({"N": [8, 8, 16, 16, 32, 32], "slope": [-0.8, -1.2, -0.4, -0.6, -0.2, -0.3],
                         "predicted": [-1.0] * 2 + [-0.5] * 2 + [-0.25] * 2, "mean_L_adv": [1.0] * 6})
    width = wv.width_table(runs)
    assert list(width["N"]) == [8, 16, 32] and width["slope"].tolist() == pytest.approx([-1.0, -0.5, -0.25])
    assert wv.doubling_factor(runs) == pytest.approx(2.0)
    ratios = wv.width_ratio_table(width)
    assert ratios["slope ratio"].tolist() == pytest.approx([2.0, 2.0])
    sd = width["slope_sd"].iloc[0] / 1.0  # relative sd of the first width (mean -1)
    assert ratios["standard error"].iloc[0] == pytest.approx(2.0 * math.sqrt(2 * sd ** 2 / 2))
    assert wv.worst_sweep_error({"width": runs, "depth": runs.iloc[:0], "eps": runs.iloc[:0]}) == pytest.approx(0.2)


def test_bound_ratios_divide_by_theorem_5_1():
    depth = pd.DataFrame({"L": [2, 4], "mean_L_adv": [0.3, 0.6]})
    eps = pd.DataFrame({"eps": [0.1, 0.2], "mean_L_adv": [0.1, 0.1]})
    r = wv.bound_ratios({"depth": depth, "eps": eps}, 0.5, 2.0, 1.0, 4)
    assert r.tolist() == pytest.approx([0.3, 0.6, 0.5, 0.25])
    assert wv.adversarial_loss_bound(0.5, 2.0, 4, 2.0) == pytest.approx(1.0)  # omega_v = alpha sigma_w^2 = 1


def test_residual_slope_uses_the_measured_factor():
    N = 16
    runs = {"adversarial": _run(-0.03, L_adv=0.4, N=N), "standard": _run(0.01, L_adv=math.nan, N=N)}
    measured, predicted = wv.residual_slope(runs, 0.5, 1)
    assert measured == pytest.approx(-0.03)
    assert predicted == pytest.approx(0.01 - 2 * 0.5 * 0.4 / N)


def test_integrate_identity_is_exact_for_linear_losses():
    t = np.linspace(0.0, 2.0, 9)
    const = wv.integrate_identity(t, np.full_like(t, 0.5), 2.0, 10)
    assert const == pytest.approx(2.0 - 2 * 0.5 * t / 10)
    linear = wv.integrate_identity(t, 1.0 + t, 2.0, 4)
    assert linear == pytest.approx(2.0 - 2 / 4 * (t + t ** 2 / 2))
    assert wv.identity_gap(const, const + np.array([0.0] * 8 + [0.01])) == pytest.approx(0.01 / abs(const[-1] + 0.01 - 2.0))
    with pytest.raises(ValueError, match="'t' and 'L_adv'"):
        wv.integrate_identity(t, t[:-1], 2.0, 4)
    with pytest.raises(ValueError, match="'N'"):
        wv.integrate_identity(t, t, 2.0, 0)


def test_departure_summary():
    runs = pd.DataFrame({"N": [8, 16, 32], "departure": [0.1, 0.2, math.inf]})
    out = wv.departure_summary(runs, tol=0.1, sigma_w2=2.0, eps=0.3, beta=2.0, L=4)
    assert out["ode"][1] == pytest.approx(2 * out["ode"][0])  # the ODE's validity time is linear in N
    assert out["median"] == pytest.approx(0.2) and out["exponent"] == pytest.approx(1.0)
    assert out["all_earlier"] is False  # the last network never departs within its run
    assert len(out["ode_grid"]) == 50 and min(out["ode_grid"]) < out["ode"][0]
    assert wv.width_grid([8, 32])[[0, -1]].tolist() == pytest.approx([8 / 1.3, 32 * 1.3])


def test_identity_tables_from_synthetic_ratios():
    one = {"per_example": np.array([[[1.0, 1.001], [0.999, 1.0]]]), "batch": np.ones((1, 2)),
           "L_adv": np.array([[0.5, 1.5]])}
    res = {"per_example": np.ones((3, 2, 2)), "batch": np.array([[0.4, 0.4], [0.5, 0.5], [0.6, 0.6]]),
           "L_adv": np.ones((3, 2))}
    ident = {("vanilla", "inf", "inf"): one, ("bias", wv.BIAS_CASES[0][0]): one,
             ("bias", wv.BIAS_CASES[1][0]): one, ("residual", "inf", "inf", 0.01): res}
    dev = wv.exact_identity_deviations(ident)
    assert list(dev) == ["(p, q) = (inf, inf), sigma_b^2 = 0", wv.BIAS_CASES[1][0]]
    assert dev[wv.BIAS_CASES[1][0]] == pytest.approx(0.001)
    assert wv.vanilla_identity_worst(ident) == pytest.approx(0.001)
    table = wv.identity_table(ident)
    assert len(table) == 3 and table["mean L_adv"].iloc[0] == pytest.approx(1.0)
    rt = wv.residual_identity_table(ident, 0.2)
    assert rt["mean ratio"].iloc[0] == pytest.approx(0.5) and rt["sd over networks"].iloc[0] == pytest.approx(0.1)
    assert wv.residual_factor_row(rt, 0.01)["networks"] == 3
    shares = wv.rank_share_table({"adversarial": {"rank_fraction": 0.9}, "adv_only": {"rank_fraction": 0.8}}, 10, 100)
    assert shares["iid update (K/N)"].tolist() == [0.1, 0.1]
