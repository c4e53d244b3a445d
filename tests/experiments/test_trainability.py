"""mfat.experiments.trainability.initial_balance: the two forces of CE + lam L_adv at initialisation.

Oracles: a direct autograd computation on the same network and rows, the positive homogeneity of a
bias-free ReLU network (scaling the inputs by c is scaling epsilon by 1/c), and the x-free law of J(x) that
chapter 4 uses to explain why the pull, not the drive, depends on the data.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mfat.experiments.trainability import cell_seed, initial_balance
from mfat.model.networks import ReLULikeNet
from mfat.runtime import make_generator
from mfat.model.objectives import L_adv_per_example
from mfat.model.training import TrainConfig

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
