"""Tests for mfat.companions.two_layer: the batched two-layer network, its hand-written gradients and its training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mfat import stats, theory
from mfat.companions.two_layer import PLATEAU, TwoLayerNets, kernel_monte_carlo, steps_for_time, train


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def data(B=None, n=12, d=5, seed=1):
    g = gen(seed)
    shape = (n, d) if B is None else (B, n, d)
    X = torch.randn(*shape, generator=g, dtype=torch.float64)
    y = 2.0 * torch.randint(0, 2, shape[:-1], generator=g).double() - 1.0
    return X, y


def test_init_law_and_shapes():
    d, m, B = 40, 500, 4
    net = TwoLayerNets(d, m, 0.2, batch=B, generator=gen())
    assert net.W.shape == (B, m, d) and net.bias.shape == (B, m) and net.a.shape == (B, m)
    assert (net.batch, net.m, net.d, net.gamma) == (B, m, d, 0.2)
    for t, var in ((net.W, 1.0 / d), (net.bias, 1.0), (net.a, 1.0 / m)):
        ratio = float(t.var()) / var
        assert abs(ratio - 1.0) <= stats.variance_ratio_tolerance(t.numel())
    same = TwoLayerNets(d, m, 0.2, batch=B, generator=gen())
    assert torch.equal(net.W, same.W) and torch.equal(net.a, same.a)  # deterministic
    assert net.W.dtype == torch.float64
    assert TwoLayerNets(d, m, generator=gen(), dtype=torch.float32).W.dtype == torch.float32


def test_forward_matches_explicit_sum():
    net = TwoLayerNets(5, 7, 0.3, batch=2, generator=gen())
    X, _ = data()
    out = net(X)
    for b in range(2):
        z = X @ net.W[b].T + net.bias[b]
        assert torch.allclose(out[b], (torch.where(z >= 0, z, 0.3 * z) * net.a[b]).sum(-1))
    Xb, _ = data(B=2)
    assert torch.allclose(net(Xb)[1], net.select(1)(Xb[1])[0])


@pytest.mark.parametrize("loss", ["identity", "logistic"])
@pytest.mark.parametrize("batched", [False, True])
def test_loss_gradients_match_autograd(loss, batched):
    net = TwoLayerNets(5, 9, 0.25, batch=3, generator=gen())
    X, y = data(B=3 if batched else None)
    value, gW, gb = net.loss_and_gradients(X, y, loss)
    W, b = net.W.clone().requires_grad_(), net.bias.clone().requires_grad_()
    Xe = X if batched else X.expand(3, *X.shape)
    z = Xe @ W.transpose(1, 2) + b[:, None, :]
    f = (torch.maximum(z, 0.25 * z) * net.a[:, None, :]).sum(-1)
    s = -y * f
    ell = (s if loss == "identity" else torch.nn.functional.softplus(s)).mean(-1)
    ell.sum().backward()
    assert torch.allclose(value, ell.detach())
    assert torch.allclose(gW, W.grad, atol=1e-12)
    assert torch.allclose(gb, b.grad, atol=1e-12)


def test_input_gradient_matches_autograd():
    net = TwoLayerNets(5, 9, 0.1, batch=2, generator=gen())
    X, _ = data()
    Xg = X.clone().requires_grad_()  # each output depends on its own row only
    per_net = [torch.autograd.grad(net(Xg)[b].sum(), Xg)[0] for b in range(2)]
    G = net.input_gradient(X)
    for b in range(2):
        assert torch.allclose(G[b], per_net[b], atol=1e-12)


def test_empirical_kernel_tends_to_phi():
    """sum_k a_k^2 phi'_k(z1) phi'_k(z2) -> Phi(z1, z2); its sd is about sqrt(2 / m) for ReLU (a^2 has variance 2/m^2)."""
    m = 200_000
    net = TwoLayerNets(6, m, 0.0, batch=1, generator=gen(2))
    Z = torch.randn(4, 6, generator=gen(3), dtype=torch.float64)
    emp = net.empirical_kernel(Z, Z)[0].numpy()
    closed = theory.phi_kernel(Z.numpy(), Z.numpy(), 0.0)
    assert np.abs(emp - closed).max() <= stats.Z_DEFAULT * math.sqrt(3.0 / m)


def test_small_step_is_the_lazy_update_with_the_empirical_kernel():
    """For t -> 0, (f_t - f_0)/t = (1/N) sum_n y_n K_emp(z, x_n)(z.x_n + 1) exactly (first order)."""
    net = TwoLayerNets(5, 50, 0.3, batch=1, generator=gen())
    X, y = data(n=10)
    Z = torch.randn(6, 5, generator=gen(7), dtype=torch.float64)
    f0 = net(Z)[0]
    t = 1e-7
    train(net, X, y, steps=1, lr=t)
    K = TwoLayerNets.from_tensors(net.W, net.bias, net.a, 0.3).empirical_kernel(Z, X)[0]
    pred = (K * (Z @ X.T + 1.0)) @ y / 10
    assert torch.allclose((net(Z)[0] - f0) / t, pred, rtol=1e-5, atol=1e-8)


def test_gd_training_decreases_the_identity_loss_and_records():
    net = TwoLayerNets(5, 30, 0.0, batch=2, generator=gen())
    X, y = data(B=2)
    seen = []
    log = train(net, X, y, steps=20, lr=0.5, record_at=(0, 5, 20), on_record=lambda s, n: seen.append(s))
    assert seen == [0, 5, 20]
    assert log.loss.shape == (20, 2) and bool((log.loss[1:] < log.loss[:-1]).all())
    assert torch.all(log.lr == 0.5)


def test_per_network_learning_rates():
    X, y = data(B=2)
    a, b = TwoLayerNets(5, 8, generator=gen(), batch=2), TwoLayerNets(5, 8, generator=gen(), batch=2)
    train(a, X, y, steps=3, lr=torch.tensor([0.1, 0.2], dtype=torch.float64))
    one = b.select(1)
    train(one, X[1], y[1], steps=3, lr=0.2)
    assert torch.allclose(a.W[1], one.W[0])


def test_momentum_and_plateau_match_torch_optim():
    """The authors' schedule: SGD(momentum 0.9) + ReduceLROnPlateau(defaults), stepped on the loss each step."""
    d, m, n = 4, 3, 40
    X, y = data(n=n, d=d, seed=9)
    net = TwoLayerNets(d, m, 0.0, batch=1, generator=gen(4))
    W = torch.nn.Parameter(net.W[0].clone())
    b = torch.nn.Parameter(net.bias[0].clone())
    opt = torch.optim.SGD([W, b], lr=50.0, momentum=0.9)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **{k: PLATEAU[k] for k in ("factor", "patience",
                                                                                       "threshold", "cooldown",
                                                                                       "min_lr", "eps")})
    lrs = []
    for _ in range(80):
        opt.zero_grad()
        f = (torch.relu(X @ W.T + b) * net.a[0]).sum(-1)
        loss = torch.nn.functional.softplus(-y * f).mean()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(loss.item())
    log = train(net, X, y, steps=80, lr=50.0, loss="logistic", optimizer="momentum")
    assert min(lrs) < 50.0, "the oracle run must cut the rate at least once"
    assert np.allclose(log.lr[:, 0].numpy(), lrs)
    assert torch.allclose(net.W[0], W.detach(), atol=1e-9) and torch.allclose(net.bias[0], b.detach(), atol=1e-9)


def test_steps_for_time():
    assert steps_for_time(10.0, 0.5) == 20
    assert steps_for_time(10.0, 0.5, "momentum") == 2
    assert steps_for_time(0.0, 1.0) == 0
    assert steps_for_time(0.1, 1.0) == 1


def test_kernel_monte_carlo_is_deterministic_and_chunked():
    Z = torch.randn(3, 4, generator=gen(), dtype=torch.float64)
    a = kernel_monte_carlo(Z, Z, 0.2, n_draws=5000, generator=gen(1), chunk=5000)
    b = kernel_monte_carlo(Z, Z, 0.2, n_draws=5000, generator=gen(1), chunk=5000)
    assert torch.equal(a, b)
    c = kernel_monte_carlo(Z, Z, 0.2, n_draws=5000, generator=gen(1), chunk=700)
    # Phi(z, z) = (1 + gamma^2) / 2 = 0.52; phi'^2 is 1 or 0.04, so its sd is 0.48
    assert torch.allclose(torch.diagonal(c), torch.full((3,), 0.52, dtype=torch.float64),
                          atol=stats.mean_tolerance(0.48, 5000))


@pytest.mark.parametrize("call, name", [
    (lambda: TwoLayerNets(0, 5, generator=gen()), "'d'"),
    (lambda: TwoLayerNets(3, 0, generator=gen()), "'m'"),
    (lambda: TwoLayerNets(3, 5, 1.0, generator=gen()), "gamma"),
    (lambda: TwoLayerNets(3, 5, batch=0, generator=gen()), "batch"),
    (lambda: TwoLayerNets(3, 5, seed=1), None),
    (lambda: TwoLayerNets(3, 5, generator=None), "generator"),
    (lambda: TwoLayerNets(3, 5, generator=gen(), dtype=torch.int32), "dtype"),
    (lambda: TwoLayerNets(3, 5, generator=gen())(torch.ones(2, 4)), "'X'"),
    (lambda: TwoLayerNets(3, 5, generator=gen()).loss_and_gradients(torch.ones(2, 3), torch.tensor([1.0, 0.0])), "'y'"),
    (lambda: TwoLayerNets(3, 5, generator=gen()).loss_and_gradients(torch.ones(2, 3), torch.ones(2), "hinge"), "loss"),
    (lambda: train(TwoLayerNets(3, 5, generator=gen()), torch.ones(2, 3), torch.ones(2), steps=1, lr=0.0), "lr"),
    (lambda: train(TwoLayerNets(3, 5, generator=gen()), torch.ones(2, 3), torch.ones(2), steps=1, lr=1.0,
                   optimizer="adam"), "optimizer"),
    (lambda: train(TwoLayerNets(3, 5, generator=gen()), torch.ones(2, 3), torch.ones(2), steps=2, lr=1.0,
                   record_at=(3,)), "record_at"),
    (lambda: steps_for_time(-1.0, 1.0), "'T'"),
])
def test_bad_input_raises_value_or_type_error(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    if name is not None:
        assert isinstance(info.value, ValueError) and name in str(info.value)
