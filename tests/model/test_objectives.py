"""mfat.model.objectives: one objective for one network and for a stack; L_adv at the library PGD's maximiser."""

import math

import pytest
import torch

from mfat.model import attacks
from mfat.model.grid import NetStack
from mfat.model.networks import ReLULikeNet
from mfat.model.objectives import L_adv_per_example, OneNetwork, StackOfNetworks, training_objective
from mfat.model.training import OBJECTIVES, TrainConfig

D, K, F64 = 10, 3, torch.float64


def _nets():
    return [ReLULikeNet(D, 12, K, L, 2.0, 0.1, seed=3 + L, dtype=F64) for L in (2, 4, 1)]


def _batch(G, B=6):
    g = torch.Generator().manual_seed(1)
    return torch.randn(G, B, D, generator=g, dtype=F64), torch.randint(0, K, (G, B), generator=g)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_stack_objective_is_the_objective_of_each_network(objective):
    """Cell g of the stacked objective (generator g) = the single-network objective with that generator."""
    config = TrainConfig(objective=objective, eps=0.3, p=2, q=math.inf, attack_steps=3, attack_restarts=2,
                         weight_decay=0.02 if objective != "standard" else 0.0)
    nets = _nets()
    x, y = _batch(len(nets))
    out = training_objective(StackOfNetworks(NetStack(nets), [torch.Generator().manual_seed(i) for i in range(3)]),
                             x, y, config)
    for i, net in enumerate(nets):
        ref = training_objective(OneNetwork(net, torch.Generator().manual_seed(i)), x[i], y[i], config)
        for key in ("loss", "ce", "L_adv"):
            torch.testing.assert_close(out[key][i], ref[key], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_L_adv_per_example_is_the_deviation_at_the_library_pgd_maximiser():
    net = _nets()[0]
    x = _batch(1)[0][0]
    attack = attacks.Attack(0.2, math.inf, 1, 5)
    eta, value = attacks.pgd(attacks.output_deviation(net, x, 1), x, attack, generator=torch.Generator().manual_seed(4))
    L_adv = L_adv_per_example(net, x, attack, generator=torch.Generator().manual_seed(4))
    assert torch.equal(L_adv.detach(), value)
    L_adv.sum().backward()  # the gradient flows through f only: eta is a constant
    assert all(w.grad is not None for w in net.W)
