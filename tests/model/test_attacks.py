"""Tests of mfat.model.attacks: feasibility, exact projections, and PGD on linear maps against exact operator norms."""

import math
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat.model.attacks import (
    Attack,
    L1Step,
    L2Step,
    LinfStep,
    adversarial_loss,
    classification_loss,
    fgm,
    output_deviation,
    pgd,
    project_l1_ball,
    threat_model,
)
from mfat.model.norms import EXACT_PAIRS, operator_norm

INF = math.inf
DT = torch.float64
PS = [1.0, 2.0, INF]


def gen(seed):
    return torch.Generator().manual_seed(seed)


def norms(eta, p):
    return torch.linalg.vector_norm(eta.reshape(eta.shape[0], -1), ord=p, dim=1)


def linear(A, b):
    return lambda z: z @ A.T + b


# ------------------------------------------------------------------------------------------ balls and steps


@settings(max_examples=40, deadline=None)
@given(p=st.sampled_from(PS), B=st.integers(1, 5), d=st.integers(1, 12), eps=st.floats(1e-3, 10.0),
       scale=st.floats(1e-3, 100.0), seed=st.integers(0, 10**6))
def test_projection_feasible_idempotent_and_fixes_inner_points(p, B, d, eps, scale, seed):
    model = threat_model(p, eps)
    v = scale * torch.randn(B, d, generator=gen(seed), dtype=DT)
    w = model.project(v)
    assert (norms(w, p) <= eps * (1 + 1e-9)).all()
    torch.testing.assert_close(model.project(w), w, rtol=1e-12, atol=1e-13 * eps)
    inside = norms(v, p) <= eps
    torch.testing.assert_close(w[inside], v[inside], rtol=0, atol=0)
    start = model.random_start((B, d), dtype=DT, device="cpu", generator=gen(seed + 1))
    assert (norms(start, p) <= eps * (1 + 1e-9)).all()
    torch.testing.assert_close(model.project(start), start, rtol=0, atol=0)


def l1_projection_reference(v, eps, iters=200):
    """Projection onto the l1 ball by bisection on theta in sum_i max(|v_i| - theta, 0) = eps (v 1-D)."""
    if v.abs().sum() <= eps:
        return v.clone()
    lo, hi = 0.0, v.abs().max().item()
    for _ in range(iters):
        mid = (lo + hi) / 2
        if (v.abs() - mid).clamp_min(0).sum() > eps:
            lo = mid
        else:
            hi = mid
    return torch.sign(v) * (v.abs() - (lo + hi) / 2).clamp_min(0)


@settings(max_examples=60, deadline=None)
@given(d=st.integers(1, 10), eps=st.floats(1e-2, 5.0), seed=st.integers(0, 10**6))
def test_l1_projection_is_the_euclidean_projection(d, eps, seed):
    g = gen(seed)
    v = 3 * torch.randn(4, d, generator=g, dtype=DT)
    v[0, : d // 2] = v[0, 0]  # ties in |v|
    w = project_l1_ball(v, eps)
    for vi, wi in zip(v, w):
        torch.testing.assert_close(wi, l1_projection_reference(vi, eps), rtol=0, atol=1e-9)
    # variational inequality: <v - w, z - w> <= 0 for every z in the ball (z drawn uniformly from it)
    z = L1Step(eps).random_start((200, d), dtype=DT, device="cpu", generator=g)
    for vi, wi in zip(v, w):
        assert ((z - wi) @ (vi - wi) <= 1e-9).all()
        # and w is at least as close to v as any sampled point of the ball
        assert torch.linalg.vector_norm(vi - wi) <= torch.linalg.vector_norm(vi - z, dim=1).min() + 1e-12


def test_steepest_directions_are_unit_and_maximise_the_inner_product():
    g = torch.randn(6, 9, generator=gen(0), dtype=DT)
    for model in (LinfStep(1.0), L2Step(1.0), L1Step(1.0)):
        delta = model.direction(g)
        assert torch.allclose(norms(delta, model.p), torch.ones(6, dtype=DT))
        dual = {1.0: INF, 2.0: 2.0, INF: 1.0}[model.p]
        torch.testing.assert_close((g * delta).sum(1), norms(g, dual))  # <g, delta> = ||g||_{p*}
    top3 = L1Step(1.0, k=3).direction(g)  # the top-3 sparse step: 1/3 on each of the 3 largest |g_i|
    assert (top3 != 0).sum(1).eq(3).all() and torch.allclose(norms(top3, 1), torch.ones(6, dtype=DT))
    torch.testing.assert_close((g * top3).sum(1), g.abs().topk(3, dim=1).values.mean(1))


# --------------------------------------------------------------------------------------------------- PGD


def small_mlp(d, K, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, 8), torch.nn.Tanh(), torch.nn.Linear(8, K)).to(DT)


@settings(max_examples=30, deadline=None)
@given(p=st.sampled_from(PS), q=st.sampled_from(PS), B=st.integers(1, 4), d=st.integers(1, 10),
       eps=st.floats(1e-3, 5.0), random_start=st.booleans(), seed=st.integers(0, 10**6))
def test_pgd_is_always_feasible(p, q, B, d, eps, random_start, seed):
    f = small_mlp(d, 3, seed)
    x = torch.randn(B, d, generator=gen(seed), dtype=DT)
    eta, value = pgd(output_deviation(f, x, q), x, Attack(eps, p, q, 4, restarts=2, random_start=random_start),
                     generator=gen(seed))
    assert eta.shape == x.shape and value.shape == (B,)
    assert (norms(eta, p) <= eps * (1 + 1e-9)).all()
    with torch.no_grad():
        expected = torch.linalg.vector_norm(f(x + eta) - f(x), ord=q, dim=1)
    torch.testing.assert_close(value, expected)


@pytest.mark.parametrize("p,q", EXACT_PAIRS)
def test_pgd_reaches_eps_times_operator_norm_on_linear_maps(p, q):
    g = gen(7)
    K, d, eps = 4, 6, 0.3
    A, b = torch.randn(K, d, generator=g, dtype=DT), torch.randn(K, generator=g, dtype=DT)
    x = torch.randn(4, d, generator=g, dtype=DT).repeat(10, 1)  # 10 copies x 4 restarts = 40 starts per x
    step = 0.25 * eps if (p, q) == (2.0, 2.0) else None  # larger steps: power-iteration-like convergence
    value, eta = adversarial_loss(linear(A, b), x, Attack(eps, p, q, 100, step_size=step, restarts=4),
                                  generator=gen(1))
    assert (norms(eta, p) <= eps * (1 + 1e-9)).all()
    value = value.reshape(10, 4).amax(0)  # the best of the 40 starts (the attack is not concave)
    target = eps * operator_norm(A, p, q).value
    assert (value >= 0.99 * target).all()
    assert (value <= target * (1 + 1e-9)).all()  # no feasible eta can beat eps ||A||_{p,q}


@pytest.mark.parametrize("p", PS)
def test_more_restarts_never_decrease_the_value(p):
    f = small_mlp(5, 3, 0)
    x = torch.randn(6, 5, generator=gen(2), dtype=DT)
    obj = output_deviation(f, x, 2)
    one = pgd(obj, x, Attack(0.5, p, 2, 5, restarts=1), generator=gen(3))[1]
    five = pgd(obj, x, Attack(0.5, p, 2, 5, restarts=5), generator=gen(3))[1]
    assert (five >= one).all()


@pytest.mark.parametrize("p,dual", [(1.0, INF), (2.0, 2.0), (INF, 1.0)])
def test_fgm_is_one_full_step(p, dual):
    w = torch.randn(1, 7, generator=gen(4), dtype=DT)
    x = torch.randn(3, 7, generator=gen(5), dtype=DT)
    eta, value = fgm(output_deviation(linear(w, torch.zeros(1, dtype=DT)), x, 1), x, Attack(0.2, p, 1, 30),
                     generator=gen(0))
    # K = 1: ||w^T eta|| is maximised by one full step from 0, value eps ||w||_{p*}
    torch.testing.assert_close(value, 0.2 * torch.linalg.vector_norm(w, ord=dual).expand(3), rtol=1e-12, atol=0)
    assert (norms(eta, p) <= 0.2 * (1 + 1e-9)).all()


def test_attack_leaves_model_state_alone_and_keeps_dtype():
    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    f.eval()
    assert all(prm.grad is None for prm in f.parameters())
    x = torch.randn(4, 5)
    value, eta = adversarial_loss(f, x, Attack(0.1, INF, 2, 3), generator=gen(0))
    assert eta.dtype == torch.float32 and value.dtype == torch.float32
    assert all(prm.grad is None for prm in f.parameters()) and not f.training
    f.train()
    sentinel = [torch.full_like(prm, 7.0) for prm in f.parameters()]
    for prm, s in zip(f.parameters(), sentinel):
        prm.grad = s.clone()
    y = torch.tensor([0, 1, 2, 0])
    eta, loss = pgd(classification_loss(f, y), x, Attack(0.1, 2, 2, 3), generator=gen(0))
    assert f.training and all(torch.equal(prm.grad, s) for prm, s in zip(f.parameters(), sentinel))
    assert not eta.requires_grad and not loss.requires_grad


def test_classification_attack_increases_the_loss():
    f = small_mlp(5, 3, 1)
    x = torch.randn(16, 5, generator=gen(6), dtype=DT)
    with torch.no_grad():
        y = f(x).argmax(1)
    objective = classification_loss(f, y)
    clean = objective(x).detach()
    _, adv = pgd(objective, x, Attack(0.5, INF, INF, 10), generator=gen(0))
    assert (adv >= clean).all() and (adv > clean).any()


def test_zero_budget_and_higher_rank_inputs():
    f = lambda z: z.reshape(z.shape[0], -1)[:, :3] ** 2  # noqa: E731
    x = torch.randn(2, 2, 4, generator=gen(8), dtype=DT)
    eta, value = pgd(output_deviation(f, x, 2), x, Attack(0.0, 2, 2, 3), generator=gen(0))
    assert torch.equal(eta, torch.zeros_like(x)) and torch.equal(value, torch.zeros(2, dtype=DT))
    eta, value = pgd(output_deviation(f, x, 2), x, Attack(0.3, 1, 2, 3), generator=gen(0))
    assert eta.shape == x.shape and (norms(eta, 1) <= 0.3 * (1 + 1e-9)).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(p=3), "'p' = 3"),
    (dict(q="two"), "'q' = 'two'"),
    (dict(eps=-0.1), "'eps' = -0.1"),
    (dict(eps=float("nan")), "'eps' = nan"),
    (dict(steps=-1), "'steps' = -1"),
    (dict(steps=2.5), "'steps' = 2.5"),
    (dict(step_size=-1.0), "'step_size' = -1.0"),
    (dict(restarts=0), "'restarts' = 0"),
    (dict(random_start="yes"), "'random_start' = 'yes'"),
    (dict(l1_k=0), "'l1_k' = 0"),
])
def test_attack_validation_names_the_field(kwargs, message):
    args = dict(eps=0.1, p=2, q=2, steps=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Attack(**args)


def test_attack_is_normalised_once():
    attack = Attack(0.3, "inf", "2", 12.0)
    assert (attack.p, attack.q, attack.steps) == (INF, 2.0, 12) and isinstance(attack.steps, int)
    assert attack.step_length == 2.5 * 0.3 / 12 and attack.step_size is None
    assert isinstance(attack.ball, LinfStep) and attack.ball.eps == 0.3
    assert Attack(0.3, 2, 2, 12, step_size=0.01).step_length == 0.01
    assert isinstance(Attack(0.3, 1, 2, 1, l1_k=3).ball, L1Step) and Attack(0.3, 1, 2, 1, l1_k=3).ball.k == 3
    assert replace(attack, steps=3).step_length == 2.5 * 0.3 / 3  # replace() recomputes the default step length
    assert attack == Attack(0.3, INF, 2.0, 12) and hash(attack) == hash(Attack(0.3, INF, 2.0, 12))


def test_arguments_are_validated():
    x = torch.zeros(2, 3)
    obj = lambda z: z.sum(1)  # noqa: E731
    with pytest.raises(ValueError, match="'attack'"):
        pgd(obj, x, 0.1)
    with pytest.raises(ValueError, match="'attack'"):
        fgm(obj, x, {"eps": 0.1})
    with pytest.raises(ValueError, match="'q'"):
        output_deviation(lambda z: z, x, "two")
    with pytest.raises(ValueError, match="shape"):
        pgd(lambda z: z, x, Attack(0.1, 2, 2, 1))
    with pytest.raises(ValueError, match="'generators'"):
        pgd(obj, x, Attack(0.1, 2, 2, 1), generators=[gen(0)])
    with pytest.raises(ValueError, match="exclusive"):
        pgd(obj, x[None], Attack(0.1, 2, 2, 1), generator=gen(0), generators=[gen(0)])
    with pytest.raises(ValueError, match="'start'"):
        pgd(obj, x, Attack(0.1, 2, 2, 1, random_start=False), start=torch.zeros(3, 3))
    with pytest.raises(ValueError, match="restarts"):
        pgd(obj, x, Attack(0.1, 2, 2, 1, restarts=2), start=torch.zeros_like(x))


# ---------------------------------------------------------------------------------------- groups and starts


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("random_start", [True, False])
def test_groups_equal_one_call_per_group_bit_for_bit(p, random_start):
    """x (G, B, d) with one generator per group = G calls on x[g] with those generators, to the last bit."""
    G, B, d = 3, 5, 6
    fs = [small_mlp(d, 3, seed) for seed in range(G)]
    x = torch.randn(G, B, d, generator=gen(11), dtype=DT)
    with torch.no_grad():
        f0 = torch.stack([f(x[g]) for g, f in enumerate(fs)])

    def grouped(xa):  # (G, B, d) -> (G, B): group g sees only its own network
        return torch.stack([torch.linalg.vector_norm(f(xa[g]) - f0[g], ord=2, dim=-1) for g, f in enumerate(fs)])

    attack = Attack(0.4, p, 2, 4, restarts=2, random_start=random_start)
    eta, value = pgd(grouped, x, attack, generators=[gen(30 + g) for g in range(G)])
    assert eta.shape == x.shape and value.shape == (G, B)
    for g, f in enumerate(fs):
        ref_eta, ref_value = pgd(output_deviation(f, x[g], 2), x[g], attack, generator=gen(30 + g))
        assert torch.equal(eta[g], ref_eta) and torch.equal(value[g], ref_value)


@pytest.mark.parametrize("p", PS)
def test_start_is_used_without_random_draws_and_never_lost(p):
    f = small_mlp(6, 3, 2)
    x = torch.randn(7, 6, generator=gen(12), dtype=DT)
    obj = output_deviation(f, x, INF)
    attack = Attack(0.3, p, INF, 5, step_size=0.3, random_start=False)
    start = attack.ball.project(0.3 * torch.randn(7, 6, generator=gen(13), dtype=DT))
    with torch.no_grad():
        start_value = obj(x + start)
    g = gen(14)
    state = g.get_state()
    eta, value = pgd(obj, x, attack, generator=g, start=start)
    assert torch.equal(g.get_state(), state)  # no random draw
    assert (value >= start_value).all()  # the best iterate includes the start
    assert (norms(eta, p) <= 0.3 * (1 + 1e-9)).all()
    eta0, value0 = pgd(obj, x, replace(attack, steps=0), start=start)  # zero steps: the start itself
    assert torch.equal(eta0, start) and torch.equal(value0, start_value)
    # the start replaces the random one: the same result whatever random_start and the generator say
    eta1, value1 = pgd(obj, x, replace(attack, random_start=True), generator=gen(99), start=start)
    assert torch.equal(eta1, eta) and torch.equal(value1, value)
