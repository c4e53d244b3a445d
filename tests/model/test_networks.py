"""Definition 3.1 networks: argument validation, shapes, initialisation statistics, determinism."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat.model.networks import ReLULikeNet, phi
from mfat.runtime import resolve_device


@pytest.mark.parametrize("kwargs, name", [
    (dict(d=0), "d"), (dict(N=-5), "N"), (dict(K=0), "K"), (dict(L=0), "L"), (dict(N=2.5), "N"),
    (dict(sigma_w2=-1.0), "sigma_w2"), (dict(sigma_b2=float("nan")), "sigma_b2"), (dict(u=0.0, v=0.0), "u"),
    (dict(residual="yes"), "residual"), (dict(seed=-1), "seed"),
])
def test_bad_arguments_name_the_parameter(kwargs, name):
    args = dict(d=4, N=8, K=2, L=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"'{name}'"):
        ReLULikeNet(**args)


def test_bad_device_and_dtype():
    with pytest.raises(ValueError, match="'device'"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="'dtype'"):
        ReLULikeNet(4, 8, 2, 2, dtype=torch.int64)


def test_bad_input_shape():
    net = ReLULikeNet(4, 8, 2, 2)
    with pytest.raises(ValueError, match="'x'"):
        net(torch.zeros(3, 5))


@pytest.mark.parametrize("residual", [False, True])
def test_shapes_and_parameter_split(residual):
    net = ReLULikeNet(5, 7, 3, 4, residual=residual, seed=1)
    assert net(torch.randn(6, 5)).shape == (6, 3)
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    assert trainable == {f"W.{i}" for i in range(4)} | {f"b.{i}" for i in range(4)}
    buffers = {n for n, _ in net.named_buffers()}
    assert buffers == ({"P_in", "P_out", "P"} if residual else {"P_in", "P_out"})


def test_same_seed_same_network_and_generator_is_used():
    a = ReLULikeNet(5, 7, 3, 2, seed=3, dtype=torch.float64)
    b = ReLULikeNet(5, 7, 3, 2, seed=3, dtype=torch.float64)
    c = ReLULikeNet(5, 7, 3, 2, seed=4, dtype=torch.float64)
    x = torch.randn(2, 5, dtype=torch.float64)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), c(x))
    g = torch.Generator().manual_seed(3)
    assert torch.equal(ReLULikeNet(5, 7, 3, 2, generator=g, dtype=torch.float64)(x), a(x))


@settings(max_examples=25, deadline=None)
@given(z=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20), u=st.floats(0.1, 2), v=st.floats(-1, 1))
def test_phi_is_positively_homogeneous_piecewise_linear(z, u, v):
    t = torch.tensor(z, dtype=torch.float64)
    out = phi(t, u, v)
    expected = torch.where(t >= 0, u * t, v * t)
    assert torch.equal(out, expected)
    assert torch.allclose(phi(2.5 * t, u, v), 2.5 * out)


@pytest.mark.parametrize("residual", [False, True])
def test_initial_variances_match_definition(residual):
    """Entry variances of P_in (1/d), W (sigma_w^2/N), b (sigma_b^2), P and P_out (1/N), within 5 standard errors."""
    d, N, K, L, sw2, sb2 = 50, 400, 30, 3, 1.7, 0.3
    net = ReLULikeNet(d, N, K, L, sw2, sb2, residual=residual, seed=0, dtype=torch.float64)
    checks = [(net.P_in, 1 / d), (net.P_out, 1 / N), (torch.stack(list(net.W)), sw2 / N), (torch.stack(list(net.b)), sb2)]
    if residual:
        checks.append((net.P, 1 / N))
    for tensor, var in checks:
        x = tensor.detach().flatten()
        ratio = float(x.pow(2).mean() / var)  # mean is zero by construction
        assert abs(ratio - 1) <= 5 * math.sqrt(2 / x.numel()), (tensor.shape, ratio)
        assert abs(float(x.mean())) <= 5 * math.sqrt(var / x.numel())


def test_sigma_w2_per_layer():
    net = ReLULikeNet(5, 300, 2, 3, sigma_w2=2.0, seed=0, dtype=torch.float64)
    s = net.sigma_w2_per_layer()
    assert s.shape == (3,)
    assert torch.allclose(s, torch.tensor([float(w.detach().pow(2).sum() / 300) for w in net.W], dtype=torch.float64))
    assert torch.all((s - 2.0).abs() < 5 * 2.0 * math.sqrt(2 / 300**2))
