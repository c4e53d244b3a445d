"""The decomposition f(x) = J(x) x + a(x): autograd oracle and reconstruction to float64 round-off."""

import pytest
import torch

from mfat.model.linearize import activation_slopes, decompose
from mfat.model.networks import ReLULikeNet

CASES = [(False, 1.0, 0.0), (False, 1.0, 0.3), (True, 1.0, 0.0), (True, 0.7, -0.2)]


@pytest.mark.parametrize("residual, u, v", CASES)
def test_J_equals_jacrev_and_reconstructs_f(residual, u, v):
    net = ReLULikeNet(9, 24, 3, 4, 1.7, 0.2, u, v, residual, seed=2, dtype=torch.float64)
    x = torch.randn(6, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    J, a = decompose(net, x)
    assert J.shape == (6, 3, 9) and a.shape == (6, 3)
    oracle = torch.func.vmap(torch.func.jacrev(lambda xx: net(xx[None])[0]))(x)
    assert torch.allclose(J, oracle, atol=1e-12, rtol=1e-12)
    f = net(x)
    assert torch.allclose(torch.einsum("bkd,bd->bk", J, x) + a, f, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("residual", [False, True])
def test_bias_part_is_f_at_zero_when_patterns_agree(residual):
    """a(x) does not depend on the scale of x along a ray where the pattern is fixed: f(0) with x's slopes."""
    net = ReLULikeNet(5, 16, 2, 3, 2.0, 0.0, residual=residual, seed=5, dtype=torch.float64)
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    J, a = decompose(net, x)
    assert torch.allclose(a, torch.zeros_like(a))  # no biases: f is positively homogeneous, f = J x
    J2, _ = decompose(net, 3.0 * x)  # same activation region along the ray
    assert torch.allclose(J, J2)


def test_slopes_take_values_u_or_v():
    net = ReLULikeNet(5, 16, 2, 3, 2.0, 0.1, u=0.9, v=0.1, seed=0, dtype=torch.float64)
    for D in activation_slopes(net, torch.randn(3, 5, dtype=torch.float64)):
        assert set(D.unique().tolist()) <= {0.9, 0.1}
