"""mfat.model.grid: the stacked networks agree with the single ones (forward, gradients, PGD) and a grid cell of the
batched trainer follows mfat.model.training.train exactly (same network, data order and seed)."""

import math

import numpy as np
import pytest
import torch

from mfat.model import attacks
from mfat.experiments.trainability import cell_seed, depth_width_grid, jacobian_gain
from mfat.model.grid import NetStack, train_grid
from mfat.model.networks import ReLULikeNet
from mfat.runtime import make_generator
from mfat.model.training import TrainConfig, train

D, K = 20, 4
F64 = torch.float64


def _nets(N=12, depths=(2, 5, 3, 1), residual=False, v=0.0, sigma_b2=0.05):
    return [ReLULikeNet(D, N, K, L, 0.5 if residual else 2.0, sigma_b2, 1.0, v, residual, seed=7 + i, dtype=F64)
            for i, L in enumerate(depths)]


def _data(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, D, generator=g, dtype=F64)
    y = torch.randint(0, K, (n,), generator=g)
    return X, y


@pytest.mark.parametrize("residual,v", [(False, 0.0), (True, 0.0), (False, 0.3)])
def test_forward_matches_single_networks(residual, v):
    nets = _nets(residual=residual, v=v)
    stack = NetStack(nets)
    X, _ = _data(10)
    shared = stack(X)
    per_cell = stack(torch.stack([X + i for i in range(len(nets))]))
    for i, net in enumerate(nets):
        torch.testing.assert_close(shared[i], net(X), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(per_cell[i], net(X + i), rtol=1e-12, atol=1e-12)


def test_gradients_match_autograd_of_single_networks():
    nets = _nets(residual=True)
    stack = NetStack(nets)
    X, y = _data(16)
    loss = torch.nn.functional.cross_entropy(stack(X).transpose(1, 2), y.expand(len(nets), -1), reduction="none")
    loss.mean(dim=1).sum().backward()
    order = stack.inverse.tolist()
    for i, net in enumerate(nets):
        torch.nn.functional.cross_entropy(net(X), y).backward()
        for layer in range(net.spec.L):
            torch.testing.assert_close(stack.W[layer].grad[order[i]], net.W[layer].grad, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(stack.b[layer].grad[order[i]], net.b[layer].grad, rtol=1e-10, atol=1e-12)
    assert np.allclose(stack.grad_norms(),
                       [math.sqrt(sum(float(w.grad.pow(2).sum()) for w in n.W)) for n in nets], rtol=1e-10)


def test_summaries_and_round_trip():
    nets = _nets()
    stack = NetStack(nets)
    for net, s in zip(nets, stack.sigma_w2_per_layer()):
        assert np.allclose(s, net.sigma_w2_per_layer().numpy(), rtol=1e-12)
    back = stack.to_networks()
    X, _ = _data(5)
    for a, b in zip(nets, back):
        assert b.spec == a.spec
        torch.testing.assert_close(a(X), b(X), rtol=0, atol=0)


@pytest.mark.parametrize("p", [math.inf, 2.0, 1.0])
def test_stacked_attack_matches_pgd_per_cell(p):
    """The grid's attack: pgd on the stack with one generator per cell = pgd on each network with its generator."""
    nets = _nets()
    stack = NetStack(nets)
    X, _ = _data(8)
    Xg = torch.stack([X] * len(nets))
    with torch.no_grad():
        f0 = stack(Xg)
    attack = attacks.Attack(0.3, p, math.inf, 4, restarts=2)
    eta, _ = attacks.pgd(lambda xa: torch.linalg.vector_norm(stack(xa) - f0, ord=math.inf, dim=-1), Xg, attack,
                         generators=[torch.Generator().manual_seed(i) for i in range(len(nets))])
    for i, net in enumerate(nets):
        ref, _ = attacks.pgd(attacks.output_deviation(net, X, math.inf), X, attack,
                             generator=torch.Generator().manual_seed(i))
        torch.testing.assert_close(eta[i], ref, rtol=1e-10, atol=1e-12)


CONFIGS = [
    TrainConfig(objective="adversarial", lr=0.05, steps=9, batch_size=32, attack_steps=3, record_every=3, eval_size=50),
    TrainConfig(objective="standard", lr=0.1, steps=7, batch_size=40, record_every=2, eval_size=50),
    TrainConfig(objective="adv_only", lr=0.05, steps=5, batch_size=16, attack_steps=2, p=2.0, q=2.0, eps=0.5,
                weight_decay=0.01, optimizer="momentum", record_every=1, eval_size=50),
    TrainConfig(objective="madry", lr=0.05, steps=5, batch_size=24, attack_steps=2, optimizer="adam",
                record_every=4, record_first=2, eval_size=50),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.objective for c in CONFIGS])
@pytest.mark.parametrize("residual", [False, True])
def test_grid_cell_matches_training_train(config, residual):
    """Each cell = mfat.model.training.train on the same network, data and generator seed (float64 round-off)."""
    nets = _nets(residual=residual)
    X, y = _data()
    stack, table = train_grid(nets, X, y, config, generators=[torch.Generator().manual_seed(40 + i)
                                                               for i in range(len(nets))], progress=False)
    trained = stack.to_networks()
    cols = ["step", "t", "loss", "ce", "L_adv", "clean_acc", "sigma_w2", "grad_norm"]
    for i, net in enumerate(nets):
        ref = train(net, X, y, config, generator=torch.Generator().manual_seed(40 + i), progress=False)
        mine = table[table.cell == i].reset_index(drop=True)
        assert (mine.L == net.spec.L).all() and list(mine.step) == sorted(config.recorded_steps)
        for c in cols:
            np.testing.assert_allclose(mine[c].to_numpy(), ref[c].to_numpy(), rtol=1e-9, atol=1e-11, err_msg=c)
        for a, b in zip(trained[i].W, net.W):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-9, atol=1e-11)


def test_validation():
    nets = _nets()
    X, y = _data()
    cfg = CONFIGS[1]
    with pytest.raises(ValueError, match="'nets'"):
        NetStack([])
    with pytest.raises(ValueError, match="'nets'"):
        NetStack([nets[0], ReLULikeNet(D, 13, K, 2, dtype=F64)])
    with pytest.raises(ValueError, match="'generators'"):
        train_grid(nets, X, y, cfg, generators=[torch.Generator()], progress=False)
    with pytest.raises(ValueError, match="robust_eval"):
        train_grid(nets, X, y, TrainConfig(robust_eval=True, batch_size=8),
                   generators=[torch.Generator() for _ in nets], progress=False)
    with pytest.raises(ValueError, match="'x'"):
        NetStack(nets)(torch.zeros(3, D + 1, dtype=F64))
    with pytest.raises(ValueError, match="'batch_size'"):
        train_grid(nets, X[:4], y[:4], cfg, generators=[torch.Generator() for _ in nets], progress=False)


def test_depth_width_grid_cells_are_single_runs():
    """The Fig. 5 driver: each cell (N, L, rep) is train() on the network seeded cell_seed(...)."""
    X, y = _data()
    cfg = TrainConfig(objective="adversarial", lr=0.05, steps=4, batch_size=16, attack_steps=2, record_every=4,
                      eval_size=40)
    out = depth_width_grid(X, y, [1, 3], [6, 10], cfg, sigma_w2=2.0, n_seeds=2, seed=5, dtype=F64, max_cells=3)
    assert out["acc"].shape == (2, 2, 2) and np.isfinite(out["acc"]).all()
    N, L, r = 10, 3, 1
    net = ReLULikeNet(D, N, K, L, 2.0, 0.0, generator=make_generator(cell_seed(5, N, L, r)), dtype=F64)
    ref = train(net, X, y, cfg, generator=make_generator(cell_seed(5, N, L, r) + 1), progress=False)
    assert out["acc"][1, 1, 1] == pytest.approx(ref.clean_acc.iloc[-1], abs=1e-12)
    assert out["sigma_w2"][1, 1, 1] == pytest.approx(ref.sigma_w2.iloc[-1], rel=1e-10)
    assert out["L_adv_0"][1, 1, 1] == pytest.approx(ref.L_adv.iloc[0], rel=1e-10)
    assert out["gain"][1, 1, 1] == pytest.approx(jacobian_gain(net, X[:64]), rel=1e-8)  # net was trained in place
    assert (out["gain"] > 0).all()
