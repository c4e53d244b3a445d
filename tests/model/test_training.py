"""mfat.model.training: configuration validation, the table, determinism, the identity and the sign of the drift."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mfat.model import attacks
from mfat.data import gaussian_inputs
from mfat.model.networks import ReLULikeNet
from mfat.model.training import OBJECTIVES, TrainConfig, batch_objective, train

D, K = 12, 3


def _data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = gaussian_inputs(n, D, generator=g, dtype=torch.float64)
    y = torch.randint(0, K, (n,), generator=g)
    return X, y


def _net(L=3, N=16, residual=False, sigma_w2=2.0, sigma_b2=0.0, v=0.0, seed=1):
    return ReLULikeNet(D, N, K, L, sigma_w2, sigma_b2, 1.0, v, residual, seed=seed, dtype=torch.float64)


def _cfg(**kw):
    base = dict(objective="adv_only", lr=0.05, steps=6, batch_size=8, eps=0.2, p="inf", q="inf", attack_steps=4,
                record_every=2, eval_size=16)
    base.update(kw)
    return TrainConfig(**base)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("kwargs, name", [
    (dict(objective="trades"), "objective"), (dict(lr=0.0), "lr"), (dict(steps=-1), "steps"),
    (dict(batch_size=0), "batch_size"), (dict(eps=-0.1), "eps"), (dict(p=3), "p"), (dict(q="two"), "q"),
    (dict(attack_steps=0), "attack_steps"), (dict(attack_step_size=0.0), "attack_step_size"),
    (dict(attack_restarts=0), "attack_restarts"), (dict(lam=-1.0), "lam"), (dict(weight_decay=-1.0), "weight_decay"),
    (dict(optimizer="lbfgs"), "optimizer"), (dict(momentum=1.0), "momentum"), (dict(record_every=0), "record_every"),
    (dict(eval_size=0), "eval_size"), (dict(robust_eval="yes"), "robust_eval"),
    (dict(objective="l2", weight_decay=0.0), "weight_decay"), (dict(objective="madry", eps=0.0), "eps"),
])
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        TrainConfig(**kwargs)


def test_config_normalises_norms_and_is_frozen():
    cfg = TrainConfig(p="inf", q=2)
    assert cfg.p == math.inf and cfg.q == 2.0
    with pytest.raises(Exception):
        cfg.lr = 1.0  # frozen dataclass


def test_config_builds_its_attack_once():
    cfg = TrainConfig(eps=0.2, p="2", q=1, attack_steps=7, attack_restarts=3)
    assert cfg.attack == attacks.Attack(0.2, 2.0, 1.0, 7, restarts=3) and cfg.attack is cfg.attack
    assert cfg.attack.step_length == 2.5 * 0.2 / 7
    assert TrainConfig(attack_step_size=0.01).attack.step_length == 0.01
    assert "attack" not in cfg.as_dict()  # the flat fields stay the settings
    assert TrainConfig(**{**cfg.as_dict(), "eps": 0.4}).attack.eps == 0.4


def test_bad_train_arguments():
    X, y = _data()
    net = _net()
    with pytest.raises(ValueError, match="'X'"):
        train(net, X[:, :5], y, _cfg(), generator=_gen())
    with pytest.raises(ValueError, match="'y'"):
        train(net, X, y + K, _cfg(), generator=_gen())
    with pytest.raises(ValueError, match="'batch_size'"):
        train(net, X, y, _cfg(batch_size=100), generator=_gen())
    with pytest.raises(ValueError, match="'generator'"):
        train(net, X, y, _cfg(), generator=0)
    with pytest.raises(ValueError, match="'metrics'"):
        train(net, X, y, _cfg(), generator=_gen(), metrics={"loss": lambda *a: 0.0})
    with pytest.raises(ValueError, match="X_eval"):
        train(net, X, y, _cfg(), generator=_gen(), X_eval=X)


# --------------------------------------------------------------------------- the table
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_table_rows_and_columns(objective):
    X, y = _data()
    L = 3
    cfg = _cfg(objective=objective, steps=5, record_every=2, weight_decay=0.1 if objective == "l2" else 0.0,
               robust_eval=objective == "madry")
    df = train(_net(L=L), X, y, cfg, generator=_gen(), progress=False)
    assert list(df["step"]) == [0, 2, 4, 5]
    assert np.allclose(df["t"], cfg.lr * df["step"])
    expected = ["step", "t", "loss", "ce", "L_adv", "clean_acc"] + (["robust_acc"] if cfg.robust_eval else []) + \
        ["sigma_w2"] + [f"sigma_w2_{i}" for i in range(1, L + 1)] + ["grad_norm"]
    assert list(df.columns) == expected
    assert df["L_adv"].isna().all() == (objective not in ("adversarial", "adv_only"))
    assert np.allclose(df["sigma_w2"], df[[f"sigma_w2_{i}" for i in range(1, L + 1)]].mean(axis=1))
    assert df[["loss", "ce", "clean_acc", "sigma_w2", "grad_norm"]].notna().all().all()
    assert ((df["clean_acc"] >= 0) & (df["clean_acc"] <= 1)).all()


def test_record_first_adds_a_fine_early_window():
    X, y = _data()
    df = train(_net(), X, y, _cfg(steps=7, record_every=5, record_first=3), generator=_gen(), progress=False)
    assert list(df["step"]) == [0, 1, 2, 3, 5, 7]


def test_loss_decomposes_as_documented():
    X, y = _data()
    lam, wd = 0.7, 0.3
    row = lambda obj, **kw: train(_net(), X, y, _cfg(objective=obj, steps=0, **kw), generator=_gen(),
                                  progress=False).iloc[0]
    adv = row("adversarial", lam=lam)
    assert adv["loss"] == pytest.approx(adv["ce"] + lam * adv["L_adv"], rel=1e-12)
    only = row("adv_only")
    assert only["loss"] == pytest.approx(only["L_adv"], rel=1e-12)
    net = _net()
    l2 = row("l2", weight_decay=wd)
    penalty = 0.5 * wd * sum(float(w.detach().pow(2).sum()) for w in net.W)
    assert l2["loss"] == pytest.approx(l2["ce"] + penalty, rel=1e-12)
    std = row("standard")
    assert std["loss"] == std["ce"] and std["ce"] == l2["ce"]


def test_step_zero_is_the_initial_network():
    X, y = _data()
    net = _net()
    s0 = net.sigma_w2_per_layer().numpy()
    df = train(net, X, y, _cfg(steps=3), generator=_gen(), progress=False)
    assert np.allclose(df.loc[0, ["sigma_w2_1", "sigma_w2_2", "sigma_w2_3"]].to_numpy(float), s0, rtol=0, atol=0)
    assert not np.allclose(net.sigma_w2_per_layer().numpy(), s0)  # trained in place


# --------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("objective", ["adversarial", "madry"])
def test_same_seed_same_numbers(objective):
    X, y = _data()
    a = train(_net(), X, y, _cfg(objective=objective), generator=_gen(5), progress=False)
    b = train(_net(), X, y, _cfg(objective=objective), generator=_gen(5), progress=False)
    c = train(_net(), X, y, _cfg(objective=objective), generator=_gen(6), progress=False)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not np.array_equal(a["sigma_w2"].to_numpy(), c["sigma_w2"].to_numpy())


def test_recording_does_not_change_the_trajectory():
    """robust_eval's PGD draws and a metric's own backward pass leave the training path untouched."""
    X, y = _data()
    calls = []

    def metric(net, xb, yb):
        net(xb).pow(2).sum().backward()  # would corrupt the update if the engine did not guard it
        calls.append(len(xb))
        return 1.5

    plain = train(_net(), X, y, _cfg(objective="adversarial"), generator=_gen(), progress=False)
    busy = train(_net(), X, y, _cfg(objective="adversarial", robust_eval=True), generator=_gen(),
                 metrics={"m": metric}, progress=False)
    cols = [c for c in plain.columns]
    pd.testing.assert_frame_equal(plain[cols], busy[cols], check_exact=True)
    assert (busy["m"] == 1.5).all() and calls == [8] * len(busy)
    assert ((busy["robust_acc"] >= 0) & (busy["robust_acc"] <= busy["clean_acc"] + 1e-12)).all()


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_other_optimizers_run_and_differ_from_sgd(optimizer):
    X, y = _data()
    sgd = train(_net(), X, y, _cfg(), generator=_gen(), progress=False)
    other = train(_net(), X, y, _cfg(optimizer=optimizer), generator=_gen(), progress=False)
    assert other["sigma_w2"].notna().all()
    assert not np.allclose(sgd["sigma_w2"].iloc[1:], other["sigma_w2"].iloc[1:])


def test_progress_bar_does_not_change_results():
    X, y = _data()
    a = train(_net(), X, y, _cfg(steps=2), generator=_gen(), progress=True)
    b = train(_net(), X, y, _cfg(steps=2), generator=_gen(), progress=False)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# --------------------------------------------------------------------------- the identity and the drift
@pytest.mark.parametrize("p, q", [("inf", "inf"), (2, 2), (1, 1), (2, "inf"), ("inf", 1)])
@pytest.mark.parametrize("v", [0.0, 0.3])
def test_homogeneity_identity_per_layer(p, q, v):
    """Vanilla, zero biases: <W^(l), grad_{W^(l)} L_adv> = L_adv for every layer at the PGD maximiser (exact)."""
    X, y = _data()
    net = _net(L=4, v=v)
    cfg = _cfg(p=p, q=q, eps=0.5)
    out = batch_objective(net, X[:16], y[:16], cfg, generator=_gen())
    out["loss"].backward()
    for w in net.W:
        assert float((w * w.grad).sum()) == pytest.approx(float(out["L_adv"]), rel=1e-10)


def test_one_sgd_step_moves_the_norm_as_the_identity_says():
    """N (sigma_w2(1) - sigma_w2(0)) summed over layers = -2 lr L L_adv + lr^2 ||grad_W||^2, exactly."""
    X, y = _data()
    L, N, lr = 3, 16, 0.05
    df = train(_net(L=L, N=N), X, y, _cfg(steps=1, record_every=1, lr=lr), generator=_gen(), progress=False)
    cols = [f"sigma_w2_{i}" for i in range(1, L + 1)]
    change = N * (df.loc[1, cols].to_numpy(float) - df.loc[0, cols].to_numpy(float)).sum()
    expected = -2 * lr * L * df.loc[0, "L_adv"] + lr**2 * df.loc[0, "grad_norm"] ** 2
    assert change == pytest.approx(expected, rel=1e-9)


def test_adversarial_training_shrinks_every_layer():
    """The sign of the drift (Theorem 5.4): sigma_w^2 of every layer decreases under adv_only SGD."""
    X, y = _data()
    L = 3
    df = train(_net(L=L, N=32), X, y, _cfg(steps=8, record_every=1, lr=0.02), generator=_gen(), progress=False)
    for i in range(1, L + 1):
        assert (np.diff(df[f"sigma_w2_{i}"].to_numpy()) < 0).all()


def test_weight_decay_shrinks_geometrically():
    """l2 with a dominant penalty: each layer's sigma_w^2 follows (1 - lr wd)^(2 k) up to the CE part."""
    X, y = _data()
    lr, wd, steps = 0.05, 2.0, 5
    df = train(_net(), X, y, _cfg(objective="l2", weight_decay=wd, steps=steps, lr=lr, record_every=1),
               generator=_gen(), progress=False)
    ratio = df["sigma_w2"].to_numpy() / df["sigma_w2"].iloc[0]
    assert np.allclose(ratio, (1 - lr * wd) ** (2 * np.arange(steps + 1)), rtol=0.02)


def test_eta_is_detached_and_attack_is_the_library_pgd():
    """L_adv in the objective equals the library's PGD value for the same generator stream."""
    X, y = _data()
    net = _net()
    cfg = _cfg(eps=0.3)
    out = batch_objective(net, X[:8], y[:8], cfg, generator=_gen(3))
    _, value = attacks.pgd(attacks.output_deviation(net, X[:8], cfg.q), X[:8], cfg.attack, generator=_gen(3))
    assert float(out["L_adv"]) == pytest.approx(float(value.mean()), rel=1e-12)
