"""Definition 3.1 networks: argument validation, shapes, initialisation statistics, determinism."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat.model.linearize import decompose
from mfat.model.networks import (ReLULikeNet, apply_layer, layer_cotangent, layer_tangent, phi, phi_prime,
                                 shortcut)
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


# ------------------------------------------------------------------------------------------ the layer rule
RULES = [(False, 1.0, 0.0), (False, 1.0, 0.4), (True, 1.0, 0.0), (False, 0.7, -0.3), (True, 0.6, 0.2)]


@pytest.mark.parametrize("residual, u, v", RULES)
def test_forward_is_the_linearisation_at_its_own_slopes(residual, u, v):
    """Oracle: f(x) = J(x) x + a(x), with J, a from the decomposition (the rule's cotangent walk)."""
    net = ReLULikeNet(7, 20, 3, 4, 1.5, 0.3, u, v, residual, seed=4, dtype=torch.float64)
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    J, a = decompose(net, x)
    torch.testing.assert_close(torch.einsum("bkd,bd->bk", J, x) + a, net(x), rtol=1e-12, atol=1e-12)
    h = x @ net.P_in.T
    for layer, (z, h_next) in enumerate(net.hidden(x)):  # phi(z) = phi'(z) z, exactly
        assert torch.equal(phi(z, u, v), phi_prime(z, u, v) * z)
        assert torch.equal(h_next, shortcut(h, phi(z, u, v), net.P[layer] if residual else None))
        h = h_next


@pytest.mark.parametrize("residual, u, v", RULES)
def test_tangent_and_cotangent_are_the_layer_jacobian_and_its_transpose(residual, u, v):
    g = torch.Generator().manual_seed(5)
    N, B = 9, 4
    W, b = torch.randn(N, N, generator=g, dtype=torch.float64), torch.randn(N, generator=g, dtype=torch.float64)
    P = torch.randn(N, N, generator=g, dtype=torch.float64) if residual else None
    h = torch.randn(B, N, generator=g, dtype=torch.float64)
    z, _ = apply_layer(h, W, b, u, v, P)
    D = phi_prime(z, u, v)
    jac = torch.stack([torch.autograd.functional.jacobian(lambda r: apply_layer(r, W, b, u, v, P)[1], h[i:i + 1])
                       [0, :, 0] for i in range(B)])  # (B, N, N): d h' / d h
    torch.testing.assert_close(layer_tangent(torch.eye(N, dtype=torch.float64).expand(B, N, N), W, D, P), jac)
    R = torch.randn(B, N, generator=g, dtype=torch.float64)
    RD, R_prev = layer_cotangent(R, W, D, P)
    torch.testing.assert_close(R_prev, torch.einsum("bi,bij->bj", R, jac))
    torch.testing.assert_close(RD, R * D)


@pytest.mark.parametrize("u, v", [(1.0, 0.0), (1.0, 0.3), (0.5, -0.2)])
def test_stacked_layer_equals_the_layer_of_each_network(u, v):
    """The batched path (baddbmm / bmm, fused ReLU kernel) computes each network's layer, and the fused kernel
    agrees with phi value for value."""
    g = torch.Generator().manual_seed(6)
    G, B, N = 3, 5, 8
    h = torch.randn(G, B, N, generator=g, dtype=torch.float64)
    W = torch.randn(G, N, N, generator=g, dtype=torch.float64)
    b = torch.randn(G, N, generator=g, dtype=torch.float64)
    P = torch.randn(G, N, N, generator=g, dtype=torch.float64)
    z, out = apply_layer(h, W, b, u, v, P, fused=True)
    for i in range(G):
        zi, oi = apply_layer(h[i], W[i], b[i], u, v, P[i])
        torch.testing.assert_close(z[i], zi, rtol=1e-13, atol=1e-13)
        torch.testing.assert_close(out[i], oi, rtol=1e-13, atol=1e-13)
    assert torch.equal(phi(z, u, v, fused=True), phi(z, u, v))
