"""mfat.model.flops: hand counts on tiny shapes, and torch's own FLOP counter as the oracle (it counts the same
matrix products; the one product it does not see, the matrix-vector a(x) update of decompose, is named)."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from mfat.model import flops
from mfat.model.fisher_rao import directional_derivatives
from mfat.model.grid import train_grid
from mfat.model.linearize import decompose
from mfat.model.networks import NetworkSpec, ReLULikeNet
from mfat.model.training import TrainConfig, batch_objective, train

D, N, K = 7, 12, 3
OBJECTIVES = ("standard", "adversarial", "adv_only", "madry", "l2")


def _counted(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def _data(n=40):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, D, generator=g, dtype=torch.float64), torch.randint(0, K, (n,), generator=g)


def _config(objective, **kw):
    base = {"steps": 2, "batch_size": 5, "attack_steps": 3, "attack_restarts": 2, "record_every": 2, "eval_size": 9,
            **({"weight_decay": 0.1} if objective == "l2" else {})}
    return TrainConfig(objective=objective, **{**base, **kw})


def test_hand_counts_of_a_tiny_network():
    s = NetworkSpec(d=3, N=2, K=1, L=1)
    # forward: P_in 2*2*3, W 2*2*2, P_out 2*1*2; the input backward mirrors it; the weight backward skips P_in
    assert (flops.forward(s), flops.input_backward(s), flops.weight_backward(s)) == (24, 24, 12)
    assert flops.objective(s, _config("standard", batch_size=2)) == 2 * (24 + 12)
    # f(x) for the attack, one PGD step (forward + input backward) and its last forward, f(x) and f(x + eta), both
    # backward
    adv = TrainConfig(objective="adversarial", batch_size=2, attack_steps=1)
    assert flops.objective(s, adv) == 2 * (24 + (24 + 24 + 24) + 2 * 24 + 2 * 12)
    r = NetworkSpec(d=3, N=2, K=1, L=2, residual=True)
    assert flops.forward(r) == 12 + 2 * (8 + 8) + 4
    assert flops.weight_backward(r) == 4 + 2 * 8 + 1 * 16


def test_pgd_evaluations_count_restarts_and_the_last_forward():
    assert flops.pgd_evaluations(10) == (11, 10)
    assert flops.pgd_evaluations(3, restarts=2) == (8, 6)


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_objective_matches_torch_flop_counter(objective, residual):
    net = ReLULikeNet(D, N, K, 4, residual=residual, seed=0, dtype=torch.float64)
    X, y = _data()
    cfg = _config(objective)

    def step():
        out = batch_objective(net, X[:5], y[:5], cfg, generator=torch.Generator().manual_seed(0))
        out["loss"].backward()

    assert _counted(step) == flops.objective(net.spec, cfg)


@pytest.mark.parametrize("robust_eval", [False, True])
def test_training_run_matches_torch_flop_counter(robust_eval):
    net = ReLULikeNet(D, N, K, 3, seed=1, dtype=torch.float64)
    X, y = _data()
    cfg = _config("adversarial", robust_eval=robust_eval)
    counted = _counted(lambda: train(net, X, y, cfg, generator=torch.Generator().manual_seed(0), progress=False))
    assert counted == flops.training(net.spec, cfg)["total"]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("objective", ["standard", "adversarial", "madry"])
def test_grid_is_the_sum_of_its_cells(objective, residual):
    nets = [ReLULikeNet(D, N, K, L, residual=residual, seed=L, dtype=torch.float64) for L in (2, 5, 3)]
    X, y = _data()
    cfg = _config(objective)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    counted = _counted(lambda: train_grid(nets, X, y, cfg, generators=gens, progress=False))
    assert counted == flops.grid_training([n.spec for n in nets], cfg)["total"]


@pytest.mark.parametrize("residual", [False, True])
def test_jacobian_and_fisher_rao_match_torch_flop_counter(residual):
    net = ReLULikeNet(D, N, K, 4, residual=residual, seed=2, dtype=torch.float64)
    x, _ = _data(5)
    s = net.spec
    # torch's counter does not count the matrix-vector product RD @ b of the a(x) update: 2 K N per layer and input
    assert _counted(lambda: decompose(net, x)) == 5 * flops.jacobian(s) - 5 * s.L * 2 * K * N
    assert _counted(lambda: directional_derivatives(net, x)) == 5 * flops.fisher_rao(s)


def test_law_sampler_counts_its_products():
    from mfat.laws.jacobian import sample_jacobians

    for spec in (NetworkSpec(d=16, N=4000, K=3, L=3), NetworkSpec(d=5, N=4000, K=8, L=3)):
        counted = _counted(lambda: sample_jacobians(spec, 4, generator=torch.Generator().manual_seed(0)))
        assert counted == 4 * flops.law_jacobian(spec)


def test_layer_passes_and_draws():
    cfg = TrainConfig(objective="standard", steps=3, batch_size=4, record_every=3, eval_size=10)
    assert flops.layer_passes(5, cfg) == (4 * 2 + 2 * 1) * 7  # 4 evaluations of 2 traversals, 2 recorded
    assert flops.network_draws(NetworkSpec(d=3, N=2, K=1, L=2)) == 6 + 2 * (4 + 2) + 2
    with pytest.raises(ValueError, match="spec"):
        flops.forward((3, 2, 1, 1))
