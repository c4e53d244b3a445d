"""Chapter 7 analyses (mfat.experiments.implicit_bias) on small inputs with known answers."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from mfat import theory
from mfat.experiments import implicit_bias as ib
from mfat.runtime import make_generator


def settings(**changes):
    base = dict(eps_linf_e1=0.3, eps_linf_e2=0.5, eps_below=(0.3, 0.6), eps_beyond=(1.0, 1.2), pgd_steps=3)
    return SimpleNamespace(**{**base, **changes})


def test_margin_targets_of_a_symmetric_pair():
    X = np.array([[2.0, 0.0], [-2.0, 0.0], [3.0, 1.0], [-3.0, -1.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    T = ib.margin_targets(X, y, X, y, settings())
    assert T["gamma1"] == pytest.approx(2.0, abs=1e-8)  # support vectors (+-2, 0): u* = (1, 0)
    np.testing.assert_allclose(T["u_svm1"], [1.0, 0.0], atol=1e-8)
    assert T["eps_linf1"] == pytest.approx(0.6, abs=1e-8)
    assert T["gamma2"] == pytest.approx(T["gamma1"])
    assert -1.0 <= T["cos_targets2"] <= 1.0 + 1e-12
    assert list(T["solutions"]) == ["E1 l2 SVM", f"E1 l_inf robust (eps={T['eps_linf1']:.3f})", "E2 l2 SVM",
                                    "E2 l_inf robust (eps=0.5)"]
    for dual, primal in T["solutions"].values():
        assert dual.margin == pytest.approx(primal.margin, rel=1e-6)


def test_margin_targets_on_the_chapter_data():
    X1, y1 = ib.separable_data(20, 3, 0.5, generator=make_generator(1))
    X2, y2 = ib.discriminating_data(5, (2.0, 1.0), 0.2, generator=make_generator(2))
    T = ib.margin_targets(X1, y1, X2, y2, settings(eps_linf_e2=0.8))
    assert T["gamma1"] >= 0.5 - 1e-9  # shifted by 0.5 along a unit direction
    assert float(np.linalg.norm(T["u_svm1"])) == pytest.approx(1.0)
    assert T["cos_targets2"] < 1.0 - 1e-3  # E2 separates the two targets


def test_configurations():
    s = settings()
    c1 = ib.e1_configs(s, 2.0, 0.6)
    assert [c["name"] for c in c1] == ["standard", "l2, eps=0.3 gamma*", "l2, eps=0.6 gamma*", "l2, eps=1 gamma*",
                                      "l2, eps=1.2 gamma*", "l_inf, eps=0.3 gamma*"]
    assert [c["eps"] for c in c1] == pytest.approx([0.0, 0.6, 1.2, 2.0, 2.4, 0.6])
    assert ib.below_margin(c1, 2.0) == [1, 2] and ib.beyond_margin(c1, 2.0) == [3, 4]
    c2 = ib.e2_configs(s, 1.0)
    assert [c["linf"] for c in c2] == [False, False, True] and c2[2]["eps"] == 0.5
    with pytest.raises(ValueError, match="'eps_linf_e2'"):
        ib.e2_configs(s, 0.5)
    attacks = ib.attack_list(s, 0.3, 0.1)
    assert [a["attack"] for a in attacks] == ["none", "fgm", "fgsm", "pgd"]
    assert attacks[3]["name"] == "PGD (l2, 3 steps)" and attacks[2]["eps"] == 0.1


def _runs(T=2, C=1, S=2, L=3):
    """Recorded layers with D_l = 0 (balanced) and no drift: the bounds say rank one and perfect alignment."""
    return {"balance": np.zeros((T, C, S, L - 1)), "drift_bound": np.zeros((T, C, S, L - 1)),
            "sigma1": np.ones((T, C, S, L)), "sigma2": np.zeros((T, C, S, L)),
            "alignment": np.ones((T, C, S, L - 1))}


def test_layer_bounds_of_balanced_layers():
    B, s2b, alb = ib.layer_bounds(_runs(), 0)
    assert B.shape == (2, 2, 2) and s2b.shape == (2, 2, 3) and alb.shape == (2, 2, 2)
    np.testing.assert_array_equal(s2b, 0.0)
    np.testing.assert_allclose(alb, 0.0, atol=1e-15)
    excess = ib.layer_bound_excess(_runs(), [0])
    assert excess == {"drift": 0.0, "s2": 0.0, "alignment": pytest.approx(0.0, abs=1e-15)}


def test_layer_bound_excess_sees_a_violation():
    runs = _runs()
    runs["sigma2"][-1, 0, 1, 0] = 0.25  # layer 1 is not rank one although D = 0
    runs["balance"][-1, 0, 0, 1] = 0.1  # D_2 drifted without a second-order term to allow it
    runs["drift_bound"][-1, 0, 0, 1] = 0.04
    excess = ib.layer_bound_excess(runs, [0])
    assert excess["s2"] == pytest.approx(0.25) and excess["drift"] == pytest.approx(0.06)
    B, s2b, _ = ib.layer_bounds(runs, 0)
    assert B[-1, 0, 1] == pytest.approx(0.04)  # ||D(0)|| + drift bound
    np.testing.assert_allclose(s2b[-1, 0], np.sqrt(theory.rank_one_bound(B[-1, 0])))


def test_margin_trajectory_slack_and_row():
    out = {"t0": 2, "step": np.array([0, 1, 2, 4, 8]), "normalized_margin": np.array([-1.0, -0.5, 0.1, 0.3, 0.25]),
           "rho": np.array([1.0, 1.0, 2.0, 3.0, 4.0]), "kkt": np.array([1.0, 1.0, 0.5, 0.3, 0.2]),
           "smoothed_margin": np.array([-2.0, -1.0, 0.0, 0.2, 0.1]), "clean_acc": np.array([0.5, 0.7, 1.0, 1.0, 1.0])}
    tr = ib.margin_trajectory(out, 4, 8)
    np.testing.assert_array_equal(tr["gamma"], [0.1, 0.3, 0.25])
    np.testing.assert_array_equal(tr["kkt"], [0.5, 0.3, 0.2])
    # the worst pair is (t1, t2) = (4, 8): 0.25 - 0.3 + log(4) / 3^2
    assert tr["slack"] == pytest.approx(-0.05 + math.log(4) / 9)
    assert tr["row"]["smoothed-margin decreases"] == 1 and tr["row"]["gamma decreases, 2nd half"] == 1
    assert tr["row"]["recorded steps"] == 3 and tr["row"]["clean accuracy"] == 1.0


def test_angle_degrees():
    np.testing.assert_allclose(ib.angle_degrees([[1.0, 1.0], [0.0, -2.0]]), [45.0, -90.0])
    assert float(ib.angle_degrees(np.array([-1.0, 0.0, 5.0]))) == pytest.approx(180.0)
