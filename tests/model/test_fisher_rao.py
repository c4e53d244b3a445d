"""The Fisher-Rao estimators (mfat.model.fisher_rao): autograd oracles, agreement of the three methods, validation."""

import math

import pytest
import torch

from mfat.model import fisher_rao as fr
from mfat import stats
from mfat.model.networks import ReLULikeNet

CASES = [(False, 1.0, 0.0, 0.0), (False, 1.0, 0.3, 0.2), (True, 1.0, 0.0, 0.0), (True, 0.7, -0.2, 0.1)]


def _net(residual, u, v, sigma_b2, K=3, L=4, seed=1):
    return ReLULikeNet(7, 20, K, L, 1.5, sigma_b2, u, v, residual, seed=seed, dtype=torch.float64)


def _x(B=5, d=7, seed=0):
    return torch.randn(B, d, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _per_sample_oracle(net, x):
    """v_l(x) = <W^(l), grad_{W^(l)} f_k(x)> from explicit per-sample, per-output autograd gradients."""
    s = net.spec
    out = torch.zeros(x.shape[0], s.L, s.K, dtype=x.dtype)
    for i in range(x.shape[0]):
        for k in range(s.K):
            grads = torch.autograd.grad(net(x[i:i + 1])[0, k], list(net.W))
            for layer in range(s.L):
                out[i, layer, k] = (grads[layer] * net.W[layer]).sum().detach()
    return out


@pytest.mark.parametrize("residual, u, v, sigma_b2", CASES)
def test_forward_mode_equals_per_sample_gradients(residual, u, v, sigma_b2):
    net, x = _net(residual, u, v, sigma_b2), _x()
    got = fr.directional_derivatives(net, x)
    assert got.shape == (5, 4, 3) and not got.requires_grad
    torch.testing.assert_close(got, _per_sample_oracle(net, x), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("residual, u, v, sigma_b2", CASES)
def test_forward_reverse_and_jvp_agree(residual, u, v, sigma_b2):
    net, x = _net(residual, u, v, sigma_b2), _x()
    fwd = fr.directional_derivatives(net, x)
    torch.testing.assert_close(fr.directional_derivatives_jvp(net, x), fwd, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(fr.fisher_rao_per_sample(net, x, method="reverse"), fwd.pow(2).sum(-1),
                               atol=1e-12, rtol=1e-10)
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(fr.probe_directional_derivatives(net, x, eye).permute(1, 2, 0), fwd,
                               atol=1e-12, rtol=1e-10)


def test_vanilla_bias_free_directional_derivative_is_f():
    """1-homogeneity of f in each W^(l) (no biases): v_l(x) = f(x) for every layer, so FR = L E||f||^2."""
    net, x = ReLULikeNet(6, 30, 4, 5, 2.0, 0.0, seed=3, dtype=torch.float64), _x(8, 6)
    v = fr.directional_derivatives(net, x)
    f = net(x).detach()
    torch.testing.assert_close(v, f[:, None, :].expand_as(v), atol=1e-12, rtol=1e-10)
    assert math.isclose(fr.fisher_rao_norm(net, x), 5 * float(f.pow(2).sum(1).mean()), rel_tol=1e-12)


def test_probe_estimator_exact_for_one_output():
    """K = 1 and Rademacher probes: (xi v)^2 = v^2 for xi = +-1, so the cheap estimator is exact."""
    net, x = _net(True, 1.0, 0.1, 0.1, K=1), _x()
    got = fr.fisher_rao_per_sample(net, x, method="probe", n_probes=1, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, fr.fisher_rao_per_sample(net, x), atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("residual", [False, True])
def test_probe_estimator_is_unbiased(residual):
    """Mean over n Rademacher probes of (xi^T v_l)^2 matches ||v_l||^2 within 4 standard errors (per entry)."""
    net, x = _net(residual, 1.0, 0.2, 0.1, K=4), _x(3)
    n = 4000
    signs = torch.randint(0, 2, (n, 3, 4), generator=torch.Generator().manual_seed(5)).double() * 2 - 1
    samples = fr.probe_directional_derivatives(net, x, signs).pow(2)          # (n, B, L)
    exact = fr.fisher_rao_per_sample(net, x)
    mean, std = samples.mean(0), samples.std(0)
    tol = torch.tensor([[stats.mean_tolerance(float(s), n) for s in row] for row in std], dtype=torch.float64)
    assert torch.all((mean - exact).abs() <= tol + 1e-12)
    # and the method entry point draws its own probes with the generator, reproducibly
    g1 = fr.fisher_rao_norm(net, x, method="probe", n_probes=50, generator=torch.Generator().manual_seed(1))
    g2 = fr.fisher_rao_norm(net, x, method="probe", n_probes=50, generator=torch.Generator().manual_seed(1))
    assert g1 == g2


@pytest.mark.parametrize("residual", [False, True])
def test_differentiable_gradient_matches_finite_differences(residual):
    """grad_W FR through ``differentiable=True`` vs a central difference along a random direction (float64;
    the activation patterns do not change for a 1e-6 step)."""
    net, x = _net(residual, 1.0, 0.1, 0.1), _x(6)
    value = fr.directional_derivatives(net, x, differentiable=True).pow(2).sum(-1).mean(0).sum()
    grads = torch.autograd.grad(value, [*net.W, *net.b], allow_unused=True)
    gen = torch.Generator().manual_seed(2)
    dirs = [torch.randn(p.shape, dtype=torch.float64, generator=gen) for p in [*net.W, *net.b]]
    analytic = sum(float((g * dvec).sum()) for g, dvec in zip(grads, dirs) if g is not None)
    h = 1e-6
    with torch.no_grad():
        for p, dvec in zip([*net.W, *net.b], dirs):
            p.add_(h * dvec)
        plus = fr.fisher_rao_norm(net, x)
        for p, dvec in zip([*net.W, *net.b], dirs):
            p.sub_(2 * h * dvec)
        minus = fr.fisher_rao_norm(net, x)
    assert analytic == pytest.approx((plus - minus) / (2 * h), rel=1e-6, abs=1e-9)


def test_metric_callable_and_layers():
    net, x = _net(False, 1.0, 0.0, 0.0), _x(9)
    layers = fr.fisher_rao_layers(net, x)
    assert layers.shape == (4,)
    assert fr.fisher_rao_norm(net, x) == pytest.approx(float(layers.sum()), rel=1e-12)
    assert fr.fisher_rao_metric()(net, x, None) == pytest.approx(float(layers.sum()), rel=1e-12)
    assert fr.fisher_rao_metric(max_batch=3)(net, x, None) == pytest.approx(fr.fisher_rao_norm(net, x[:3]), rel=1e-12)
    fixed = fr.fisher_rao_metric(X=x[:2])
    assert fixed(net, x, None) == pytest.approx(fr.fisher_rao_norm(net, x[:2]), rel=1e-12)


def test_bad_arguments_raise_value_error():
    net, x = _net(False, 1.0, 0.0, 0.0), _x()
    with pytest.raises(ValueError, match="method"):
        fr.fisher_rao_per_sample(net, x, method="diagonal")
    with pytest.raises(ValueError, match="n_probes"):
        fr.fisher_rao_per_sample(net, x, method="probe", n_probes=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="generator"):
        fr.fisher_rao_per_sample(net, x, method="probe")
    with pytest.raises(ValueError, match="probes"):
        fr.probe_directional_derivatives(net, x, torch.ones(2, 5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="'x'"):
        fr.directional_derivatives(net, torch.ones(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="net"):
        fr.fisher_rao_norm(torch.nn.Linear(7, 3), x)
    with pytest.raises(ValueError, match="max_batch"):
        fr.fisher_rao_metric(max_batch=0)
    with pytest.raises(ValueError, match="'X'"):
        fr.fisher_rao_metric(X=[[1.0, 2.0]])
