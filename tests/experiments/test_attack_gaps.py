"""Chapter 8 measurements (mfat.experiments.attack_gaps): attack configurations, PGD on linear maps against exact
operator norms (never above, attained from the linearised maximiser), the count of local maxima, the training-attack
gap and the analyses behind the chapter's claims."""

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mfat.experiments import attack_gaps as ag
from mfat.model.attacks import Attack, fgm, pgd
from mfat.model.networks import ReLULikeNet
from mfat.model.norms import PAIRS, operator_norm

INF = math.inf
DT = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def matrices(B=4, K=3, d=6, seed=0):
    return torch.randn(B, K, d, generator=gen(seed), dtype=DT)


def small_net(d=6, N=16, K=3, L=2, seed=0):
    return ReLULikeNet(d, N, K, L, 2.0, 0.0, seed=seed, dtype=DT)


# ---------------------------------------------------------------------------------------- configurations


def test_variants_are_attack_configurations():
    eps = 0.3
    fgsm, madry, full = ag.Variant("fgsm", 1, "zero"), ag.Variant("madry", 10), ag.Variant("full", 3)
    assert fgsm.name == "FGSM" and madry.name == "10 steps, madry" and full.name == "3 steps, full"
    a = fgsm.attack(eps, INF, 2)
    assert (a.steps, a.step_length, a.random_start, a.restarts) == (1, eps, False, 1)
    assert madry.attack(eps, 1, 1).step_length == pytest.approx(2.5 * eps / 10)
    assert full.attack(eps, 2, 2).step_length == ag.FULL_STEP * eps
    assert ag.Variant("madry", 0, "linearised").name == "linearised maximiser"
    names = [v.name for v in ag.variants((1, 10), ("madry",), 5)]
    assert names == ["FGSM", "1 step, madry", "10 steps, madry", "linearised maximiser",
                     "linearised maximiser + 5 steps"]
    with pytest.raises(ValueError, match="'rule'"):
        ag.Variant("adam", 3)
    with pytest.raises(ValueError, match="'start'"):
        ag.Variant("madry", 3, "far")


def test_linear_objective_with_copies():
    J = matrices()
    z = torch.randn(3 * 4, 6, generator=gen(1), dtype=DT)
    value = ag.LinearMaps(J).objective(1, copies=3)(z)
    expected = torch.linalg.vector_norm(torch.einsum("bkd,bd->bk", J.repeat(3, 1, 1), z), ord=1, dim=1)
    torch.testing.assert_close(value, expected)


def test_fgsm_variant_is_fgm():
    assert ag.fgsm_agreement(ag.LinearMaps(matrices(seed=2)), 0.1) == 0.0
    net = small_net()
    X = torch.randn(5, 6, generator=gen(3), dtype=DT)
    problem = ag.NetworkAt(net, X)
    ours = ag.attack_values(problem, 0.2, INF, INF, [ag.Variant("fgsm", 1, "zero")], 1, generator=gen(4))
    theirs = fgm(problem.objective(INF), X, Attack(0.2, INF, INF, 1), generator=gen(4))[1]
    np.testing.assert_array_equal(ours[0, 0], theirs.numpy())


# ------------------------------------------------------------------------------ linear maps: the oracles


@pytest.mark.parametrize("p,q", PAIRS)
def test_pgd_on_a_linear_map_never_exceeds_the_norm_and_the_maximiser_start_attains_it(p, q):
    """Oracle (K = 3, d = 6: every norm exact, by closed form or enumeration): no variant beats eps ||J||_{p,q};
    the jump to argmax_direction reaches it, at a small budget."""
    J, eps = matrices(seed=5), 1e-3
    result = ag.gap_measurement(ag.LinearMaps(J), [eps], ag.variants((1, 5), ("madry", "full"), 3), 3, [(p, q)],
                                generator=gen(6))
    norm = operator_norm(J, p, q)
    assert norm.exact and bool(result["exact"][0])
    values = result["values"][0, 0]  # (V, R, B)
    assert np.nanmax(values / (eps * norm.value.numpy())) <= 1.0 + 1e-12
    jump = values[list(result["variants"]).index("linearised maximiser"), 0]
    np.testing.assert_allclose(jump, eps * norm.value.numpy(), rtol=1e-12)
    margins = ag.small_eps_margins(result)
    assert margins["excess"] <= 1e-12 and margins["jump_error"] <= 1e-12


@pytest.mark.parametrize("q", [1.0, 2.0, INF])
def test_full_steps_on_the_cube_end_at_vertices_that_brute_force_bounds(q):
    """Oracle, d = 8: after full steps every end point is a vertex of the cube; the best of many starts equals the
    brute-force maximum over all 2^8 vertices, and none exceeds it."""
    J = matrices(B=2, K=3, d=8, seed=7)
    vertices = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=8)), dtype=DT)
    brute = torch.linalg.vector_norm(torch.einsum("bkd,vd->bvk", J, vertices), ord=q, dim=-1).amax(dim=1)
    problem = ag.LinearMaps(J)
    eta, value = pgd(problem.objective(q, 64), problem.x.repeat(64, 1), ag.Variant("full", 6).attack(1.0, INF, q),
                     generator=gen(8))
    assert (eta.abs() == 1.0).all()
    best = value.reshape(64, 2).amax(dim=0)
    assert (best <= brute * (1 + 1e-12)).all()
    torch.testing.assert_close(best, brute, rtol=1e-12, atol=0)


def test_distinct_maxima_counts_points_up_to_sign():
    u = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=DT)  # two examples
    eta = torch.stack([u, -u, 2 * u, torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1e-9]], dtype=DT)])  # (R=4, B=2, d)
    np.testing.assert_array_equal(ag.distinct_maxima(eta).numpy(), [2, 1])
    np.testing.assert_array_equal(ag.distinct_maxima(eta, symmetric=False).numpy(), [3, 2])


def test_local_maxima_of_the_spectral_norm_is_one_point():
    """(2,2): the full-step iteration is the power method, so every start ends at the top singular vector."""
    J = matrices(B=3, K=4, d=6, seed=9)
    norm = operator_norm(J, 2, 2).value
    out = ag.local_maxima(J, 2, 2, 8, 200, generator=gen(10), norm=norm)
    np.testing.assert_array_equal(out["count"], [1, 1, 1])
    np.testing.assert_array_equal(out["global"], [1.0, 1.0, 1.0])


def test_local_maxima_of_the_row_norm_are_rows():
    """(inf,inf): end points are sign vectors of rows, at most K of them (up to sign)."""
    J = matrices(B=5, K=3, d=10, seed=11)
    out = ag.local_maxima(J, INF, INF, 16, 5, generator=gen(12), norm=operator_norm(J, INF, INF).value)
    assert (out["count"] <= 3).all() and (out["count"] >= 1).all()
    assert ((out["global"] >= 0) & (out["global"] <= 1)).all()


def test_reference_lifts_only_linear_problems():
    result = {"lower": np.array([[1.0, 2.0]]), "eps": np.array([0.5]), "linear": True,
              "values": np.array([[[[[0.6, 0.5]]]]])}  # (E, P, V, R, B)
    np.testing.assert_array_equal(ag.reference(result), [[1.2, 2.0]])
    np.testing.assert_array_equal(ag.reference({**result, "linear": False}), [[1.0, 2.0]])


def test_tables_and_curves():
    result = ag.gap_measurement(ag.LinearMaps(matrices(seed=13)), [1.0], ag.variants((1, 3), ("madry",), 2), 3,
                                generator=gen(14))
    table = ag.gap_table(result)
    assert table.shape == (len(result["variants"]) + 1, 9)
    np.testing.assert_allclose(table.loc["best of all"], 1.0, rtol=1e-12)
    matrix = ag.gap_matrix(result)
    np.testing.assert_allclose(matrix.loc["3 steps, madry x 3"], ag.gap_table(result, restarts=3).loc["3 steps, madry"])
    assert (matrix.loc["3 steps, madry x 3"] >= matrix.loc["3 steps, madry"] - 1e-12).all()
    curves = ag.steps_curves(result, "madry")
    np.testing.assert_array_equal(curves["steps"], [1, 3])
    assert curves["mean"].shape == (9, 2, 3) and (np.diff(curves["mean"], axis=2) >= 0).all()
    gaps = ag.shortfall(result, "3 steps, madry")
    assert list(gaps.columns) == ["shortfall", "s.e.", "lower end"] and (gaps["shortfall"] >= -1e-12).all()
    with pytest.raises(ValueError, match="'name'"):
        ag.variant_ratio(result, "100 steps, adam")


# ----------------------------------------------------------------------------------------- the network


def test_network_problem_and_the_training_attack_gap():
    net = small_net(seed=1)
    X = torch.randn(6, 6, generator=gen(15), dtype=DT)
    attack = Attack(0.5, INF, INF, 2)
    out = ag.training_attack_gap(net, X, attack, [Attack(0.5, INF, INF, 20, restarts=4)], generator=gen(16))
    assert (out["best"] >= out["found"]).all() and 0.0 < out["vs_best"] <= 1.0
    lin = 0.5 * operator_norm(ag.NetworkAt(net, X).jacobian(), INF, INF).value.numpy()
    np.testing.assert_allclose(out["linear"], lin, rtol=1e-12)
    with pytest.raises(ValueError, match="'reference_attacks'"):
        ag.training_attack_gap(net, X, attack, [Attack(0.1, INF, INF, 5)])
    with pytest.raises(ValueError, match="'attack'"):
        ag.training_attack_gap(net, X, "pgd")


def test_training_configs_merge_identical_networks():
    ch3 = SimpleNamespace(N=128, L=4, sigma_w2=2.0, eps=0.3, attack_steps=3)
    ch5 = SimpleNamespace(N=128, L=4, vanilla_sigma_w2=2.0, eps=0.3, attack_steps=3)
    ch4 = SimpleNamespace(run_N=64, run_L=6, sigma_w2=2.0, eps=0.3, attack_steps=3)
    configs = ag.training_configs({("weight_variance", "quick"): ch3, ("capacity", "quick"): ch5,
                                   ("trainability", "quick"): ch4})
    assert len(configs) == 2
    assert configs[0]["used_by"] == "weight_variance (quick), capacity (quick)"


def test_sweep_units_have_their_own_seeds():
    s = SimpleNamespace(seed=0, d_values=(16, 64), K_values=(2,), depths=(1, 3), widths=(16,))
    units = ag.sweep_units(s)
    assert len(units) == 6 and len({u["seed"] for u in units}) == 6
    assert ag.sweep_point(units, "L", 3)["value"] == 3
    with pytest.raises(ValueError, match="'key'"):
        ag.sweep_point(units, "N", 5)


def test_format_count_and_rounding():
    assert ag.format_count(784.0) == "784" and ag.format_count(2.0 ** 783) == "2^783"
    assert ag.rounding_allowance(784) == pytest.approx(10 * 784 * 2.0 ** -52)


def test_chapter_attack_gap_before_and_after_training():
    from mfat.chapter import settings as cs

    S = cs.get("weight_variance", "quick", N=16, L=2, n_train=64, batch_size=8, candidate_attack_steps=4,
               candidate_attack_restarts=2)
    gap = cs.get("attack_gaps", "quick", train_inputs=5, reference_steps=8, reference_restarts=2)
    X = torch.rand(64, 784, generator=gen(20))
    y = torch.randint(0, 10, (64,), generator=gen(21))
    res = ag.chapter_attack_gap(S, "weight_variance", X, y, gap, objective="adv_only", train_steps=3, seed=7)
    assert set(res) == {"before", "after"}
    for when in res:
        g = res[when]
        assert set(g["found"]) == {"training", "candidate"}
        for found in g["found"].values():
            assert found.shape == (5,) and (g["best"] >= found).all()
    # the oracle: eps ||J(x)||_(inf,inf) of a fresh network drawn from the same seed, by autograd
    net = ReLULikeNet(784, 16, 10, 2, 2.0, 0.0, generator=gen(7), dtype=DT)
    J = torch.stack([torch.autograd.functional.jacobian(lambda v: net(v[None])[0], x) for x in X[:5].to(DT)])
    np.testing.assert_allclose(res["before"]["linear"], S.eps * J.abs().sum(-1).amax(-1).numpy(), rtol=1e-10)
    assert not np.allclose(res["before"]["linear"], res["after"]["linear"])
    table = ag.attack_comparison_table(res, {"training": "3 steps", "candidate": "4 x 2"})
    assert table.shape == (6, 4)
    share, se = ag.attack_share(res, "after")
    assert table.loc[("after training", "3 steps"), "found / best"] == round(share, 3) and se >= 0.0
    assert table.loc[("before training", "best found"), "found / best"] == 1.0
    res0 = ag.chapter_attack_gap(S, "weight_variance", X, y, gap, objective="adv_only", train_steps=0, seed=7)
    assert set(res0) == {"before"}
    summary = ag.gap_summary(res, S, gap)
    assert summary["share"] == share_before(res) and summary["attack_part"] == 1 / summary["share"]
    assert summary["reference"] == "8 steps x 2" and ag.attack_labels(S)["candidate"] == "4 steps x 2"
    assert math.isnan(ag.gap_summary(res0, S, gap)["share_after"])


def share_before(res):
    return float(np.mean(res["before"]["found"]["training"] / res["before"]["best"]))
