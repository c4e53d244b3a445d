"""Chapter 0 measurements and analyses (mfat.experiments.model) on small inputs with known answers."""

from types import SimpleNamespace

import numpy as np
import pytest

from mfat import theory
from mfat.experiments import model
from mfat.runtime import make_generator


def settings(**changes):
    base = dict(d=8, N=16, L=3, n_networks=4, sigma_b2=0.01, vanilla_sigma_w2=(1.6, 2.0, 2.4),
                residual_sigma_w2=(0.1,), u=1.0, v=0.0, seed=0)
    return SimpleNamespace(**{**base, **changes})


def test_configs_list_vanilla_then_residual():
    assert model.signal_configs(settings()) == [("vanilla", 1.6, False), ("vanilla", 2.0, False),
                                               ("vanilla", 2.4, False), ("residual", 0.1, True)]
    assert model.critical_setting(settings()) == ("vanilla", 2.0)


def test_prediction_is_the_recursion():
    s = settings()
    pred = model.signal_prediction(s)
    assert set(pred) == {(k, w) for k, w, _ in model.signal_configs(s)}
    q = [1.0]
    for _ in range(s.L):  # residual, alpha = 1/2
        q.append(q[-1] + 0.5 * (0.1 * q[-1] + s.sigma_b2))
    np.testing.assert_allclose(pred[("residual", 0.1)], q, rtol=1e-14)
    np.testing.assert_allclose(pred[("vanilla", 2.0)], theory.signal_recursion(1.0, 3, 2.0, 0.01), rtol=0)


def test_measurement_shapes_and_reproducible_generators():
    s = settings()
    a = model.signal_measurement(s, generators=lambda i: make_generator(s.seed + i))
    b = model.signal_measurement(s, generators=lambda i: make_generator(s.seed + i))
    assert set(a) == {(k, w) for k, w, _ in model.signal_configs(s)}
    for key, r in a.items():
        assert r["q"].shape == (s.n_networks, s.L + 1) and r["z_last"].shape == (s.n_networks * s.N,)
        np.testing.assert_array_equal(r["q"], b[key]["q"])
    # different settings draw from different generators
    assert not np.array_equal(a[("vanilla", 1.6)]["z_last"], a[("vanilla", 2.0)]["z_last"])


def test_recursion_fit_finds_the_worst_layer():
    q = np.array([[1.0, 1.0, 2.0, 3.0], [1.0, 3.0, 2.2, 3.0]])  # means 1, 2, 2.1, 3; se 0, 1, 0.1, 0
    pred = np.array([1.0, 2.5, 2.0, 3.0])
    fit = model.recursion_fit(q, pred)
    np.testing.assert_allclose(fit["se"], [0.0, 1.0, 0.1, 0.0], atol=1e-15)
    assert fit["layer"] == 2  # |2.1 - 2| / 0.1 = 1 > |2 - 2.5| / 1 = 0.5; layer 3 has z = 0
    assert fit["z_worst"] == pytest.approx(1.0)
    assert fit["predicted"] == 2.0 and fit["measured"] == pytest.approx(2.1)
    assert fit["se_worst"] == pytest.approx(0.1)


def test_recursion_fit_validates_shapes():
    with pytest.raises(ValueError, match="'q'"):
        model.recursion_fit(np.ones((3, 4)), np.ones(5))


def test_variance_ratio_counts_networks():
    z = np.concatenate([[1.0, -1.0, 1.0, -1.0], [2.0, -2.0, 2.0, -2.0]])  # variances 1 and 4
    np.testing.assert_allclose(model.preactivation_variance_ratio(z, 2, 2.0), [0.5, 2.0])
    with pytest.raises(ValueError, match="'z_last'"):
        model.preactivation_variance_ratio(z[:7], 2, 1.0)
    with pytest.raises(ValueError, match="'variance'"):
        model.preactivation_variance_ratio(z, 2, 0.0)
