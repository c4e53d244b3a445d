"""Tests for mfat.companions.perturbation and the chapter-6 experiments (mfat.experiments.perturbation_learning)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import mfat.chapter.settings
from mfat import stats, theory
from mfat.experiments import perturbation_learning as pl
from mfat.companions.perturbation import (abs_cosine, f_hat, g_hat, lazy_change, perturbations,
                               predicted_direction, random_targets, scale_directions, training_inputs, unit_gradients)
from mfat.companions.two_layer import TwoLayerNets


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def shifted(n=40, d=6, seed=0):
    g = gen(seed)
    y = torch.cat([torch.ones(n // 2), -torch.ones(n - n // 2)]).double()
    return torch.randn(n, d, generator=g, dtype=torch.float64) + 0.5 * y[:, None], y


def test_random_targets():
    t = random_targets(4, 5000, generator=gen())
    assert t.shape == (4, 5000) and set(t.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(t.mean())) <= stats.mean_tolerance(1.0, t.numel())
    assert torch.equal(t, random_targets(4, 5000, generator=gen()))


def test_perturbation_is_a_normalised_gradient_step_toward_the_target():
    X, _ = shifted()
    net = TwoLayerNets(6, 20, 0.1, batch=2, generator=gen())
    t = random_targets(2, 40, generator=gen(1))
    eta = perturbations(net, X, t, 0.3)
    assert eta.shape == (2, 40, 6)
    assert torch.allclose(eta.norm(dim=-1), torch.full((2, 40), 0.3, dtype=torch.float64))
    Xg = X.clone().requires_grad_()
    for b in range(2):
        grad = torch.autograd.grad(net(Xg)[b].sum(), Xg)[0]
        expected = 0.3 * t[b][:, None] * grad / grad.norm(dim=-1, keepdim=True)
        assert torch.allclose(eta[b], expected, atol=1e-12)
        # the step moves f toward the target: y_adv (f(x + eta) - f(x)) > 0 for a small step
        small = perturbations(net, X, t, 1e-4)[b]
        assert bool(((net(X + small)[b] - net(X)[b]) * t[b] > 0).all())
    # the same step for any loss with ell' > 0: the logistic gradient has the same direction
    Xg = X.clone().requires_grad_()
    ell = torch.nn.functional.softplus(-t[0] * net(Xg)[0]).sum()
    gl = torch.autograd.grad(ell, Xg)[0]
    assert torch.allclose(-0.3 * gl / gl.norm(dim=-1, keepdim=True), eta[0], atol=1e-12)


def test_per_network_eps_and_scenarios():
    X, _ = shifted()
    net = TwoLayerNets(6, 20, generator=gen(), batch=2)
    t = random_targets(2, 40, generator=gen(1))
    eta = perturbations(net, X, t, torch.tensor([0.0, 2.0]))
    assert torch.all(eta[0] == 0) and torch.allclose(eta[1].norm(dim=-1), torch.full((40,), 2.0, dtype=torch.float64))
    assert torch.equal(training_inputs(X, eta, "a"), eta)
    assert torch.allclose(training_inputs(X, eta, "b"), X + eta)
    assert torch.allclose(scale_directions(unit_gradients(net, X), t, 2.0)[1], eta[1])
    with pytest.raises(ValueError, match="scenario"):
        training_inputs(X, eta, "c")
    with pytest.raises(ValueError, match="eps"):
        perturbations(net, X, t, -1.0)
    with pytest.raises(ValueError, match="targets"):
        perturbations(net, X, torch.zeros(2, 40), 1.0)


def test_predicted_direction_f_hat_g_hat_lazy_change_against_explicit_sums():
    X, y = shifted(n=10, d=4)
    R = X + 0.1 * torch.randn(10, 4, generator=gen(3), dtype=torch.float64)
    Z = torch.randn(5, 4, generator=gen(4), dtype=torch.float64)
    lab = random_targets(1, 10, generator=gen(5))[0]
    gamma = 0.3
    K = theory.phi_kernel(X.numpy(), X.numpy(), gamma)
    V = np.stack([sum(y[k].item() * K[n, k] * X[k].numpy() for k in range(10)) for n in range(10)])
    assert np.allclose(predicted_direction(X, y, gamma, chunk=3).numpy(), V)
    Kz = theory.phi_kernel(Z.numpy(), X.numpy(), gamma)
    fh = np.array([sum(y[n].item() * Kz[i, n] * (X[n] @ Z[i]).item() for n in range(10)) / 10 for i in range(5)])
    assert np.allclose(f_hat(Z, X, y, gamma, chunk=2).numpy(), fh)
    Kr = theory.phi_kernel(Z.numpy(), R.numpy(), gamma)
    Vn = V / np.linalg.norm(V, axis=1, keepdims=True)
    gh = np.array([sum(Kr[i, n] * Z[i].numpy() @ Vn[n] for n in range(10)) / 10 for i in range(5)])
    assert np.allclose(g_hat(Z, X, y, R, gamma, chunk=2).numpy(), gh)
    gh_code = np.array([sum(Kr[i, n] * Z[i].numpy() @ V[n] / 10 for n in range(10)) / 10 for i in range(5)])
    assert np.allclose(g_hat(Z, X, y, R, gamma, normalise=False).numpy(), gh_code)
    assert np.allclose(lazy_change(Z, R, lab, gamma, chunk=2).numpy(),
                       theory.lazy_output_change(Z.numpy(), R.numpy(), lab.numpy(), 1.0, gamma))
    A = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    assert torch.allclose(abs_cosine(A, torch.tensor([[-3.0, -4.0], [0.0, 1.0]])), torch.tensor([1.0, 0.0]))


def test_target_labels_cancel_in_the_perturbation_term():
    """y_adv_n eta_n = eps grad f / ||grad f|| whatever the targets: the label-free part of g's training signal."""
    X, _ = shifted()
    net = TwoLayerNets(6, 20, generator=gen())
    t1, t2 = random_targets(1, 40, generator=gen(1)), random_targets(1, 40, generator=gen(2))
    e1, e2 = perturbations(net, X, t1, 0.5), perturbations(net, X, t2, 0.5)
    assert torch.allclose(t1[:, :, None] * e1, t2[:, :, None] * e2)


def test_cosine_with_predicted_sum_at_large_width():
    """Theorem A (the issue's check): mean |cos(eta, sum_k y_k Phi(x_n, x_k) x_k)| >= 0.95 at large width, T = 10."""
    g = gen(0)
    data = pl.make_data("shifted_gauss", N=100, d=50, n_eval=2, n_seeds=2, generator=g, dtype=torch.float64)
    out = pl.alignment(data, m=10_000, T_values=(1.0, 10.0), lr=1.0, n_seeds=2, generator=g)
    assert out["T"].tolist() == [1.0, 10.0]
    assert out["cosine"][:, 1].mean() >= 0.95
    assert out["cosine_full"][:, 0].mean() > out["cosine"][:, 0].mean()  # the init residual explains T = 1
    assert np.all(out["standard_acc"][:, 1] > 0.9)


def test_lazy_dynamics_converge_with_width():
    g = gen(1)
    data = pl.make_data("shifted_gauss", N=50, d=20, n_eval=30, n_seeds=2, generator=g, dtype=torch.float64)
    out = pl.lazy_dynamics(data, widths=(100, 10_000), T=1.0, steps=2, n_seeds=2, generator=g)
    assert out["rel_error"].shape == (2, 2) and out["flipped"].shape == (2, 2)
    assert out["rel_error"][1].mean() < out["rel_error"][0].mean()
    assert out["flipped"][1].mean() < out["flipped"][0].mean()
    assert out["scatter_predicted"].shape == (30,)


def test_make_data():
    g = gen()
    sg = pl.make_data("shifted_gauss", N=1000, d=50, n_eval=10, n_seeds=2, generator=g, dtype=torch.float64)
    assert sg.X.shape == (2, 1000, 50) and sg.Z.shape == (2, 10, 50) and float(sg.y.sum()) == 0.0
    shift = (sg.X[0][sg.y[0] > 0].mean() - sg.X[0][sg.y[0] < 0].mean()) / 2
    assert abs(float(shift) - 0.3) <= stats.mean_tolerance(1.0, 500 * 50)
    ga = pl.make_data("gauss", N=2000, d=3, n_eval=10, generator=g)
    assert abs(float(ga.y.mean())) <= stats.mean_tolerance(1.0, 2000)  # random labels
    mn = pl.make_data("mnist", N=30, n_eval=20, generator=g)
    assert mn.X.shape == (30, 784) and mn.Z.shape == (20, 784) and mn.d == 784
    assert set(mn.y.unique().tolist()) <= {-1.0, 1.0}
    assert float(mn.X.min()) == pytest.approx(-0.1307, abs=1e-6)
    fm = pl.make_data("fmnist", N=30, n_eval=20, generator=g)
    assert float(fm.X.min()) == pytest.approx(-0.2860, abs=1e-6)
    with pytest.raises(ValueError, match="name"):
        pl.make_data("cifar", N=3, generator=g)
    with pytest.raises(ValueError, match="'N'"):
        pl.make_data("gauss", N=1, generator=g)


def test_pipeline_learns_from_perturbations_and_fails_at_eps_zero():
    g = gen(2)
    data = pl.make_data("shifted_gauss", N=200, d=30, n_eval=200, n_seeds=2, generator=g)
    variants = [pl.Variant("a", 0.3, 100.0), pl.Variant("a", 0.0, 100.0), pl.Variant("b", 1.0, 100.0),
                pl.Variant("a", 0.3, 10.0)]
    out = pl.perturbation_learning(data, m=100, variants=variants, T_g=100.0, steps=20, T_g_values=(10.0,),
                                   n_seeds=2, with_cosine=True, generator=g)
    n = len(out["seed"])
    assert n == 2 * len(variants) * 2 and all(len(v) == n for v in out.values())
    assert set(out) >= set(pl.METRICS)
    done = (out["T_g"] == 100.0) & (out["T_f"] == 100.0)
    a = done & (out["scenario"] == "a") & (out["eps"] == 0.3)
    assert out["standard_acc"][a].min() > 0.95 and out["perturbation_acc"][a].min() > 0.9
    zero = done & (out["eps"] == 0.0)
    assert np.all(np.abs(out["perturbation_acc"][zero] - 0.5) <= stats.mean_tolerance(0.5, 200))
    again = pl.perturbation_learning(data, m=100, variants=variants, T_g=100.0, steps=20, T_g_values=(10.0,),
                                     n_seeds=2, with_cosine=True, generator=gen(2))
    rerun = pl.perturbation_learning(data, m=100, variants=variants, T_g=100.0, steps=20, T_g_values=(10.0,),
                                     n_seeds=2, with_cosine=True, generator=gen(2))
    assert np.array_equal(again["perturbation_acc"], rerun["perturbation_acc"])  # deterministic
    with pytest.raises(ValueError, match="variants"):
        pl.perturbation_learning(data, m=10, variants=[], T_g=1.0, steps=1, n_seeds=2, generator=g)
    with pytest.raises(ValueError, match="n_seeds"):
        pl.perturbation_learning(data, m=10, variants=variants, T_g=1.0, steps=1, n_seeds=3, generator=g)


def test_sweep_block_and_curves():
    out = pl.sweep_block("shifted_gauss", d=10, N=40, m=20, gamma=0.0, eps={"a": 0.1, "b": 0.5}, T=50.0, steps=5,
                         n_seeds=2, n_eval=20, eps_factors=(0.0, 1.0), time_fractions=(0.2, 1.0),
                         factors={"m": (5, 20), "N": (20, 40)})
    c = pl.curve(out, "eps", "a")
    assert list(c.index) == [0.0, 0.1] and (c[("perturbation_acc", "n")] == 2).all()
    assert list(pl.curve(out, "T_g", "b").index) == [10.0, 50.0]
    assert list(pl.curve(out, "m", "a").index) == [5, 20]
    assert list(pl.curve(out, "N", "b").index) == [20, 40]
    assert list(pl.curve(out, "gamma", "a").index) == [0.0]  # not swept: the default point only
    with pytest.raises(ValueError, match="factor"):
        pl.curve(out, "depth", "a")
    with pytest.raises(ValueError, match="factors"):
        pl.sweep_block("gauss", d=5, N=5, m=2, gamma=0.0, eps={"a": 0.1}, T=1.0, steps=1, n_seeds=1, n_eval=2,
                       factors={"depth": (1,)})


def test_decision_map():
    g = gen(3)
    data = pl.make_data("shifted_gauss", N=60, d=8, n_eval=2, n_seeds=1, generator=g, dtype=torch.float64)
    mp = pl.decision_map(data, m=50, eps={"a": 0.2, "b": 1.0}, T=50.0, steps=10, grid=12, generator=g)
    assert mp["f"].shape == (12, 12) and mp["ghat_b"].shape == (12, 12) and mp["P"].shape == (60, 2)
    assert 0.0 <= mp["hat_agreement_a"] <= 1.0 and mp["agreement_b"] > 0.5
    # the plane's coordinates are orthonormal projections
    X = data.X[0]
    mp_, mn_ = data.class_means(0)
    e1 = mp_ / mp_.norm()
    assert np.allclose(mp["P"][:, 0], (X @ e1).numpy())


def test_profile_validation():
    with pytest.raises(ValueError, match="eps_factors"):
        mfat.chapter.settings.get("06_perturbation_learning", "quick", {"eps_factors": (0.5, 1.0)})
    with pytest.raises(ValueError, match="time_fractions"):
        mfat.chapter.settings.get("06_perturbation_learning", "quick", {"time_fractions": (0.001, 1.0)})
    with pytest.raises(ValueError, match="gamma"):
        mfat.chapter.settings.get("06_perturbation_learning", "quick", {"gamma": 1.0})
    with pytest.raises(ValueError, match="kernel_draws"):
        mfat.chapter.settings.get("06_perturbation_learning", "quick", {"kernel_draws": 1000})
    s = mfat.chapter.settings.get("06_perturbation_learning", "full")
    assert s.defaults("mnist")["d"] == 784 and s.defaults("shifted_gauss")["eps"]["a"] == s.sg_eps_a
    assert math.isclose(s.defaults("gauss")["T"], s.gauss_T)
