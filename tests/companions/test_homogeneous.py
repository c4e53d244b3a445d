"""Tests for mfat.companions.homogeneous and mfat.experiments.implicit_bias: gradients against autograd, Gram matrices
against explicit Jacobians, the exact linear worst case against mfat.model.attacks, homogeneity and scale invariance,
the training step against autograd, conservation of D_l, and tiny training runs with known limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mfat.model import attacks
from mfat.companions import homogeneous as H
from mfat.companions import margins
from mfat.experiments import implicit_bias as E

DT = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def tiny_data(seed=0, n=12, d=3, margin=0.5):
    X, y = E.separable_data(n, d, margin, generator=gen(seed))
    return torch.tensor(X), torch.tensor(y)


# ------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("loss", H.LOSSES)
@pytest.mark.parametrize("schedule", H.SCHEDULES)
def test_loss_weights_match_autograd(loss, schedule):
    q = torch.randn(3, 7, generator=gen(1), dtype=DT).requires_grad_(True)
    obj = H.loss_value(q, loss)
    if schedule == "normalised":
        obj = torch.log(obj)
    (g,) = torch.autograd.grad(obj.sum(), q)
    torch.testing.assert_close(H.loss_weights(q.detach(), loss, schedule), g)
    torch.testing.assert_close(H.log_loss_value(q.detach(), loss), torch.log(H.loss_value(q.detach(), loss)))


@pytest.mark.parametrize("loss", H.LOSSES)
def test_normalised_weights_are_stable_at_huge_margins(loss):
    q = torch.tensor([[1e4, 1e4 + 1.0, 2e4]], dtype=DT)
    w = H.loss_weights(q, loss, "normalised")
    assert torch.isfinite(w).all()
    assert w.sum().item() == pytest.approx(-1.0, rel=1e-6)           # a softmax: the smallest margins dominate
    assert w[0, 0] / w[0, 1] == pytest.approx(math.e, rel=1e-6)
    assert torch.isfinite(H.log_loss_value(q, loss)).all()
    assert H.log_loss_value(q, loss).item() == pytest.approx(-1e4 - math.log(3) + math.log1p(math.exp(-1)), rel=1e-9)


# ------------------------------------------------------------------------------------------- deep linear networks
def test_deep_linear_forward_grads_and_gram_match_autograd():
    net = H.DeepLinear(4, (5, 3), runs=2, init_std=0.5, generator=gen(2))
    X = torch.randn(6, 4, generator=gen(3), dtype=DT)
    v = torch.randn(2, 4, generator=gen(4), dtype=DT)
    Ws = [W.clone().requires_grad_(True) for W in net.weights]
    M = Ws[-1]
    for W in reversed(Ws[:-1]):
        M = M @ W
    w = M[:, 0, :]
    torch.testing.assert_close(net.end_to_end(), w.detach())
    torch.testing.assert_close(net.forward(X), w.detach() @ X.T)
    torch.testing.assert_close(net.forward(X.expand(2, 6, 4)), w.detach() @ X.T)
    grads = torch.autograd.grad((w * v).sum(), Ws, retain_graph=True)
    for g_auto, g in zip(grads, net.grads(v)):
        torch.testing.assert_close(g, g_auto)
    # Gram of d(w.z_i)/dtheta, run 0, against the explicit Jacobian
    Z = torch.randn(5, 4, generator=gen(5), dtype=DT)
    rows = []
    for i in range(5):
        gi = torch.autograd.grad((w[0] * Z[i]).sum(), Ws, retain_graph=True)
        rows.append(torch.cat([g[0].flatten() for g in gi]))
    J = torch.stack(rows)
    torch.testing.assert_close(net.margin_gram(Z)[0], J @ J.T)
    with pytest.raises(ValueError, match="'x'"):
        net.forward(torch.zeros(3, 5, dtype=DT))


def test_deep_linear_is_homogeneous_and_validates():
    net = H.DeepLinear(3, (4,), runs=1, generator=gen(6))
    w = net.end_to_end()
    net.weights = [2.0 * W for W in net.weights]
    torch.testing.assert_close(net.end_to_end(), 4.0 * w)             # degree L = 2
    assert net.degree == 2
    with pytest.raises(ValueError, match="'widths'"):
        H.DeepLinear(3, (0,), generator=gen(0))
    with pytest.raises(ValueError, match="'init_std'"):
        H.DeepLinear(3, (2,), init_std=0.0, generator=gen(0))
    with pytest.raises(ValueError, match="'dtype'"):
        H.DeepLinear(3, (2,), dtype=torch.int64, generator=gen(0))


@pytest.mark.parametrize("p", [2, "inf"])
def test_linear_worst_case_equals_fgm_and_pgd(p):
    """For a linear model FGM (l2), FGSM (l_inf) and PGD all return the exact worst case."""
    X, y = tiny_data(7)
    w = torch.randn(1, X.shape[1], generator=gen(8), dtype=DT)
    eps = 0.3
    exact = H.linear_perturbation(w, y, eps, p)[0]

    def objective(xp):
        return -y * (xp @ w[0])

    pinf = math.inf if p == "inf" else 2
    eta_fgm, _ = attacks.fgm(objective, X, attacks.Attack(eps, pinf, pinf, 1), generator=gen(9))
    eta_pgd, val_pgd = attacks.pgd(objective, X, attacks.Attack(eps, pinf, pinf, 100, random_start=False),
                                   generator=gen(10))
    torch.testing.assert_close(eta_fgm, exact, atol=1e-12, rtol=0)
    # PGD converges to the same point: exactly for l_inf (clamped sign steps), up to its iteration error for l2
    best = objective(X + exact)
    assert torch.all(val_pgd <= best + 1e-12)
    torch.testing.assert_close(val_pgd, best, atol=1e-6, rtol=0)
    if p == "inf":
        torch.testing.assert_close(eta_pgd, exact, atol=1e-12, rtol=0)
    # the adversarial margin is y w.x - eps ||w||_{p*}
    q = y * ((X + exact) @ w[0])
    dual = w.abs().sum() if p == "inf" else w.norm()
    torch.testing.assert_close(q, y * (X @ w[0]) - eps * dual)


@pytest.mark.parametrize("schedule", H.SCHEDULES)
def test_deep_linear_step_matches_autograd(schedule):
    """One training step = -eta grad of the (log-)loss of the adversarial margins at fixed delta."""
    X, y = tiny_data(11)
    net = H.DeepLinear(3, (4, 2), runs=2, init_std=0.5, generator=gen(12))
    W0 = [W.clone() for W in net.weights]
    eps = torch.tensor([0.2, 0.1], dtype=DT)
    linf = torch.tensor([False, True])
    lr = 0.1
    H.train_deep_linear(net, X, y, eps, linf, steps=1, lr=lr, schedule=schedule, n_log=2)
    Ws = [W.clone().requires_grad_(True) for W in W0]
    M = Ws[-1]
    for W in reversed(Ws[:-1]):
        M = M @ W
    w = M[:, 0, :]
    delta = H.linear_perturbation(w.detach(), y, eps, linf)          # fixed delta
    q = y * ((X[None] + delta) @ w[:, :, None])[..., 0]
    obj = H.loss_value(q, "exp")
    if schedule == "normalised":
        obj = torch.log(obj)
    grads = torch.autograd.grad(obj.sum(), Ws)
    rho = torch.sqrt(sum(W.pow(2).sum(dim=(1, 2)) for W in W0))
    eta = lr / rho**2 if schedule == "normalised" else torch.full((2,), lr, dtype=DT)
    for W_new, W_old, g in zip(net.weights, W0, grads):
        torch.testing.assert_close(W_new, W_old - eta[:, None, None] * g)


def test_balance_drift_is_bounded_and_layers_align():
    X, y = tiny_data(13, n=20, d=4)
    net = H.DeepLinear(4, (6, 6), runs=2, init_std=0.1, generator=gen(14))
    out = H.train_deep_linear(net, X, y, [0.0, 0.1], [False, False], steps=1500, lr=0.05, schedule="normalised",
                              n_log=10)
    drift = np.abs(out["balance"] - out["balance"][0])
    assert np.all(drift <= out["drift_bound"] + 1e-12)
    ratio = out["sigma2"][-1, :, :-1] / out["sigma1"][-1, :, :-1]
    assert np.all(ratio < ratio.max() + 1) and np.all(ratio < out["sigma2"][0, :, :-1] / out["sigma1"][0, :, :-1])
    assert np.all(out["alignment"][-1] > 0.999)
    assert np.all(np.diff(out["rho"], axis=0)[-3:] > 0)             # the norm keeps growing


def test_l2_training_converges_to_svm_and_linf_to_robust():
    X, y = E.discriminating_data(6, generator=gen(15))
    svm, rob = margins.max_margin(X, y), margins.max_margin(X, y, 0.8, "inf")
    net = H.DeepLinear(2, (4,), runs=3, init_std=0.1, generator=gen(16))
    out = H.train_deep_linear(net, torch.tensor(X), torch.tensor(y), [0.0, 0.8, 0.8], [False, False, True],
                              steps=2000, lr=0.05, schedule="normalised", n_log=5,
                              targets={"svm": svm.direction, "rob": rob.direction})
    assert out["cos_svm"][-1, 1] > 0.999
    assert out["cos_rob"][-1, 2] > out["cos_svm"][-1, 2]
    assert out["normalized_margin"][-1, 1] > 0


def test_deep_linear_validation():
    X, y = tiny_data(17)
    net = H.DeepLinear(3, (2,), generator=gen(0))
    with pytest.raises(ValueError, match="'eps'"):
        H.train_deep_linear(net, X, y, -0.1, False, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="'schedule'"):
        H.train_deep_linear(net, X, y, 0.1, False, steps=1, lr=0.1, schedule="adam")
    with pytest.raises(ValueError, match="'lr'"):
        H.train_deep_linear(net, X, y, 0.1, False, steps=1, lr=0.0)
    with pytest.raises(ValueError, match="'X'"):
        H.train_deep_linear(net, X[:, :2], y, 0.1, False, steps=1, lr=0.1)
    with pytest.raises(ValueError, match="'p'"):
        H.linear_perturbation(net.end_to_end(), y, 0.1, 1)


# ------------------------------------------------------------------------------------------- two-layer ReLU
def test_two_layer_grads_gram_and_homogeneity():
    model = H.TwoLayerReLU(5, 7, generator=gen(18))
    X = torch.randn(6, 5, generator=gen(19), dtype=DT)
    y = torch.tensor([1.0, -1, 1, -1, 1, 1], dtype=DT)
    c = torch.randn(6, generator=gen(20), dtype=DT)
    W, a = model.W.clone().requires_grad_(True), model.a.clone().requires_grad_(True)
    f = torch.relu(X @ W.T) @ a
    dW, da = torch.autograd.grad((c * f).sum(), (W, a), retain_graph=True)
    gW, ga = model.grads(X, c)
    torch.testing.assert_close(gW, dW)
    torch.testing.assert_close(ga, da)
    rows = []
    for i in range(6):
        gi = torch.autograd.grad(y[i] * f[i], (W, a), retain_graph=True)
        rows.append(torch.cat([g.flatten() for g in gi]))
    J = torch.stack(rows)
    torch.testing.assert_close(model.margin_gram(X, y), J @ J.T)
    # Euler: grad q_i . theta = 2 q_i
    theta = torch.cat([model.W.flatten(), model.a])
    torch.testing.assert_close(J @ theta, 2 * y * model(X))
    big = model.clone()
    big.W, big.a = 3.0 * big.W, 3.0 * big.a
    torch.testing.assert_close(big(X), 9.0 * model(X))
    assert big.param_norm() == pytest.approx(3.0 * model.param_norm())


@pytest.mark.parametrize("attack", ["fgm", "fgsm", "pgd"])
def test_relu_perturbation_is_scale_invariant_and_in_the_ball(attack):
    model = H.TwoLayerReLU(5, 16, generator=gen(21))
    X = torch.randn(10, 5, generator=gen(22), dtype=DT)
    y = torch.where(X[:, 0] > 0, 1.0, -1.0).to(DT)
    eps = 0.3
    d1 = H.relu_perturbation(model, X, y, attack, eps, pgd_steps=4)
    big = model.clone()
    big.W, big.a = 5.0 * big.W, 5.0 * big.a
    d2 = H.relu_perturbation(big, X, y, attack, eps, pgd_steps=4)
    torch.testing.assert_close(d1, d2, atol=1e-10, rtol=1e-8)
    p = math.inf if attack == "fgsm" else 2
    assert torch.all(torch.linalg.vector_norm(d1, ord=p, dim=1) <= eps * (1 + 1e-9))
    # the attack lowers the margin
    assert torch.all(y * model(X + d1) <= y * model(X) + 1e-12)
    # deterministic in theta (fixed attack seed)
    torch.testing.assert_close(d1, H.relu_perturbation(model, X, y, attack, eps, pgd_steps=4))
    assert torch.equal(H.relu_perturbation(model, X, y, "none", eps), torch.zeros_like(X))
    with pytest.raises(ValueError, match="'attack'"):
        H.relu_perturbation(model, X, y, "cw", eps)


def test_fgm_matches_closed_form_for_relu():
    """FGM's step is eps times the normalised input gradient of -y f (closed form W^T (a 1[Wx > 0]))."""
    model = H.TwoLayerReLU(4, 8, generator=gen(23))
    X = torch.randn(5, 4, generator=gen(24), dtype=DT)
    y = torch.ones(5, dtype=DT)
    d = H.relu_perturbation(model, X, y, "fgm", 1e-6)
    act = (X @ model.W.T > 0).to(DT)
    g = -(y[:, None] * ((act * model.a) @ model.W))
    torch.testing.assert_close(d, 1e-6 * g / g.norm(dim=1, keepdim=True), atol=1e-11, rtol=1e-4)


def test_two_layer_training_run():
    X, y = E.sign_product_data(40, 4, 0.05, generator=gen(25))
    model = H.TwoLayerReLU(4, 16, generator=gen(26))
    out = H.train_two_layer(model, torch.tensor(X), torch.tensor(y), attack="fgm", eps=0.1, steps=400, lr=2.0,
                            lr_fit=5.0, norm_power=2.0, n_log=10)
    assert out["t0"] >= 0
    a = out["step"] >= out["t0"]
    assert np.all(np.isnan(out["kkt"][out["q_min"] <= 0]))
    assert np.all(np.isfinite(out["kkt"][a]))
    assert out["normalized_margin"][-1] > out["normalized_margin"][a][0]
    assert out["kkt"][-1] < out["kkt"][a][0]
    assert out["adv_acc"][-1] == 1.0
    with pytest.raises(ValueError, match="'lr_fit'"):
        H.train_two_layer(model, torch.tensor(X), torch.tensor(y), attack="fgm", eps=0.1, steps=1, lr=1.0, lr_fit=-1)


# ------------------------------------------------------------------------------------------- data sets
def test_data_generators():
    X, y = E.separable_data(50, 3, 0.4, generator=gen(27))
    assert X.shape == (50, 3) and set(np.unique(y)) <= {-1.0, 1.0}
    assert margins.max_margin(X, y).margin >= 0.4 - 1e-9
    X, y = E.discriminating_data(5, (2.0, 1.0), 0.1, generator=gen(28))
    assert X.shape == (10, 2) and y.sum() == 0
    X, y = E.sign_product_data(30, 6, 0.1, generator=gen(29))
    assert X.shape == (30, 6)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), math.sqrt(6))
    assert np.all(np.abs(X[:, 0] * X[:, 1]) / 6 >= 0.1)
    np.testing.assert_array_equal(y, np.sign(X[:, 0] * X[:, 1]))
    with pytest.raises(ValueError, match="'min_margin'"):
        E.sign_product_data(3, 4, 0.6, generator=gen(0))
