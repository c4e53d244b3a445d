"""Chapter 2 measurements (mfat.experiments.adversarial_loss): region radius, attacks, the small-eps identity,
the bound on average, Monte Carlo beta, and the statistics behind the chapter's claims."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat import theory
from mfat.chapter import settings as profiles
from mfat.data import gaussian_inputs
from mfat.experiments import adversarial_loss as al
from mfat.model.linearize import activation_slopes
from mfat.model.networks import ReLULikeNet
from mfat.model.norms import EXACT_PAIRS, PAIRS
from mfat.stats import Z_DEFAULT
from mfat.theory import adversarial_loss as bounds

INF = math.inf


def small_net(d=6, N=24, K=3, L=2, residual=False, sigma_b2=0.05, seed=0, sigma_w2=None):
    w = (0.5 if residual else 2.0) if sigma_w2 is None else sigma_w2
    return ReLULikeNet(d, N, K, L, w, sigma_b2, residual=residual, seed=seed, dtype=torch.float64)


# ----------------------------------------------------------------------------- region radius
@pytest.mark.parametrize("p", [1, 2, INF])
@pytest.mark.parametrize("residual", [False, True])
def test_region_radius_is_the_distance_to_the_first_flip_brute_force(p, residual):
    """Oracle in d = 2: bisect the first activation flip along 4000 rays; its minimum l_p length is r_p(x)."""
    net = small_net(d=2, N=12, K=2, L=2, residual=residual, seed=3)
    x = torch.tensor([[0.7, -1.1]], dtype=torch.float64)
    r = float(al.region_radius(net, x, p)[0])
    theta = torch.linspace(0, 2 * math.pi, 4001, dtype=torch.float64)[:-1]
    u = torch.stack([theta.cos(), theta.sin()], dim=1)
    u = u / torch.linalg.vector_norm(u, ord=p, dim=1, keepdim=True)  # unit l_p directions
    base = activation_slopes(net, x)

    def flipped(t):  # (R,) bool: any unit changed at x + t u
        pts = x + t[:, None] * u
        return torch.stack([(s != b).any(dim=1) for s, b in zip(activation_slopes(net, pts), base)]).any(dim=0)

    hi = torch.full((len(u),), 1e3 * r, dtype=torch.float64)
    crossing = flipped(hi)  # rays that never leave the region (it may be unbounded) are dropped
    assert crossing.sum() > len(u) // 2
    u, hi = u[crossing], hi[crossing]
    lo = torch.zeros_like(hi)
    for _ in range(80):
        mid = (lo + hi) / 2
        f = flipped(mid)
        hi, lo = torch.where(f, mid, hi), torch.where(f, lo, mid)
    first = float(hi.min())
    assert first >= r * (1 - 1e-9)  # no flip inside the certified ball (exact)
    assert first <= r * 1.01  # and the certificate is tight up to the angular grid


@settings(max_examples=15, deadline=None)
@given(c=st.floats(0.1, 10.0), p=st.sampled_from([1.0, 2.0, INF]))
def test_region_radius_scales_with_the_input_without_biases(c, p):
    """phi is positively homogeneous: with b = 0 the region of c x is c times the region of x."""
    net = small_net(d=5, N=16, K=2, L=3, sigma_b2=0.0, seed=1)
    x = gaussian_inputs(3, 5, seed=2)
    assert torch.allclose(al.region_radius(net, c * x, p), c * al.region_radius(net, x, p), rtol=1e-9)


def test_region_radius_validates_p():
    net = small_net()
    with pytest.raises(ValueError, match="'p'"):
        al.region_radius(net, gaussian_inputs(2, 6, seed=0), 3)


# ----------------------------------------------------------------------------- linearisation and attacks
@pytest.mark.parametrize("residual", [False, True])
def test_linearise_maximisers_attain_the_norm(residual):
    net = small_net(residual=residual, seed=4)
    x = gaussian_inputs(5, 6, seed=5)
    lin = al.linearise(net, x, PAIRS)
    J = torch.func.vmap(torch.func.jacrev(lambda v: net(v[None])[0]))(x)
    assert torch.allclose(lin["J"], J, atol=1e-12)
    for p, q in PAIRS:
        res = lin[(p, q)]
        assert res.exact  # d = 6, K = 3: every pair is exact (closed form or enumeration)
        u = res.argmax
        assert torch.allclose(torch.linalg.vector_norm(u, ord=p, dim=1), torch.ones(5, dtype=torch.float64))
        value = torch.linalg.vector_norm((J @ u[..., None])[..., 0], ord=q, dim=1)
        assert torch.allclose(value, res.value, rtol=1e-10)


@pytest.mark.parametrize("p,q", [(1, 2), (2, 2), (INF, INF), (INF, 1)])
def test_attack_is_feasible_monotone_and_reports_the_true_loss(p, q):
    net = small_net(d=8, N=32, K=3, L=2, seed=6)
    x = gaussian_inputs(6, 8, seed=7)
    eps = 0.3  # large enough for activations to flip
    lin = al.linearise(net, x, [(p, q)])
    g = torch.Generator().manual_seed(0)
    start = al.attack(net, x, eps, p, q, direction=lin[(p, q)].argmax, refine_steps=0)
    both = al.attack(net, x, eps, p, q, direction=lin[(p, q)].argmax, refine_steps=4, random_steps=5, generator=g)
    assert torch.all(torch.linalg.vector_norm(both["eta"], ord=p, dim=1) <= eps * (1 + 1e-12))
    true = torch.linalg.vector_norm(net(x + both["eta"]) - net(x), ord=q, dim=1)
    assert torch.allclose(true, both["value"], rtol=1e-12)
    assert torch.all(both["value"] >= start["value"])  # refinement keeps the best iterate
    assert torch.all(both["value"] >= both["random"])


def test_attack_needs_a_start():
    net = small_net()
    with pytest.raises(ValueError, match="random_steps"):
        al.attack(net, gaussian_inputs(2, 6, seed=0), 0.1, 2, 2)
    with pytest.raises(ValueError, match="'eps'"):
        al.attack(net, gaussian_inputs(2, 6, seed=0), 0.0, 2, 2, random_steps=1)
    with pytest.raises(ValueError, match="'q'"):
        al.attack(net, gaussian_inputs(2, 6, seed=0), 0.1, 2, 3, random_steps=1)


def test_flip_fraction_is_zero_at_the_input_and_counts_units():
    net = small_net(d=4, N=10, K=2, L=2, seed=8)
    x = gaussian_inputs(3, 4, seed=9)
    assert torch.equal(al.flip_fraction(net, x, x), torch.zeros(3, dtype=torch.float64))
    far = al.flip_fraction(net, x, -x * 5)
    assert torch.all((far > 0) & (far <= 1)) and torch.allclose(far * 20, far.mul(20).round())


# ----------------------------------------------------------------------------- the small-eps identity (check 3)
@pytest.mark.parametrize("residual", [False, True])
def test_small_eps_identity_within_one_percent(residual):
    """Inside one region the attack equals eps ||J(x)||_{p,q} (spec check 3 asks for 1%; it is exact)."""
    net = small_net(d=10, N=48, K=3, L=3, residual=residual, seed=10)
    x = gaussian_inputs(8, 10, seed=11)
    out = al.small_eps_identity(net, x, PAIRS, pgd_steps=20, pgd_restarts=1, generator=torch.Generator().manual_seed(1))
    assert out["exact"].all()  # 10 free signs at most: every pair enumerated
    assert np.abs(out["attack"] / out["norm"] - 1).max() < 0.01
    assert np.abs(out["attack"] / out["norm"] - 1).max() < 1e-8  # in fact up to rounding
    assert (out["pgd"] <= out["upper"] * (1 + 1e-8)).all()  # no attack can beat the identity inside the region
    assert out["flips"].max() == 0
    for j, (p, _) in enumerate(PAIRS):
        r = out["radius"][{1.0: 0, 2.0: 1, INF: 2}[p]]
        assert out["eps"][j] == pytest.approx(0.5 * r.min())


def test_measure_is_linear_below_the_radius_and_not_far_above():
    net = small_net(d=10, N=48, K=3, L=3, seed=12)
    x = gaussian_inputs(6, 10, seed=13)
    r_min = float(al.region_radius(net, x, INF).min())
    out = al.measure(net, x, [r_min / 4, r_min / 2, 50.0], [(INF, INF), (2.0, 1.0)], refine_steps=2)
    ratio = out["L_adv"] / (np.array([r_min / 4, r_min / 2, 50.0])[:, None, None] * out["norm"][None])
    assert np.allclose(ratio[:2, 0], 1.0, rtol=1e-8)  # p = inf below its radius
    assert out["flips"][:2, 0].max() == 0
    assert out["flips"][2].min() > 0  # a budget of 50 crosses regions
    assert out["f_norm"].shape == (2, 6) and out["exact"].all()


# ----------------------------------------------------------------------------- the bound on average (check 4)
def test_bound_holds_on_average_at_large_width():
    """Mean of L_adv / (eps beta omega^(L/2)) over random networks and inputs is at most 1.05 + 4 s.e."""
    pairs = [(1.0, 2.0), (2.0, 2.0), (INF, INF), (INF, 1.0)]
    d, K, N, L, eps = 8, 2, 1024, 2, 0.01
    res = al.sweep([dict(d=d, N=N, K=K, L=L, sigma_w2=2.0, sigma_b2=0.01)], [eps], pairs, n_networks=12,
                   n_inputs=4, generator=torch.Generator().manual_seed(14), dtype=torch.float64, refine_steps=2)
    gain = theory.omega(2.0) ** (L / 2)
    for j, pq in enumerate(pairs):
        v = res["L_adv"][0, 0, j]
        beta = al.beta_monte_carlo(*pq, d, K, n_samples=4000)[0]
        r = v.mean() / (eps * beta * gain)
        se = al.clustered_se(v, res["network"]) / (eps * beta * gain)
        assert r <= 1.05 + Z_DEFAULT * se, pq
        assert r >= 0.8, pq  # and it is nearly attained


def test_sweep_shapes_and_validation():
    g = torch.Generator().manual_seed(15)
    res = al.sweep([dict(d=4, N=16, K=2, L=1), dict(d=5, N=16, K=2, L=1)], [0.1, 0.2], [(2, 2), (INF, 1)],
                   n_networks=2, n_inputs=3, generator=g)
    assert res["L_adv"].shape == (2, 2, 2, 6) and res["norm"].shape == (2, 2, 6)
    assert res["network"].tolist() == [0, 0, 0, 1, 1, 1]
    empty = al.sweep([dict(d=4, N=16, K=2, L=1)], [], [(2, 2)], n_networks=1, n_inputs=2, generator=g)
    assert empty["L_adv"].shape == (1, 0, 1, 2) and empty["norm"].shape == (1, 1, 2)
    with pytest.raises(ValueError, match="configs"):
        al.sweep([dict(d=4, N=16, K=2, L=1, width=3)], [0.1], [(2, 2)], n_networks=1, n_inputs=2, generator=g)
    with pytest.raises(ValueError, match="'p'"):
        al.check_pairs([(3, 2)])
    with pytest.raises(ValueError, match="pairs"):
        al.check_pairs([])


# ----------------------------------------------------------------------------- Monte Carlo beta
def test_gaussian_norms_match_the_exact_K1_values():
    """K = 1: ||z^T||_{inf->q} = ||z||_1 with mean c d, ||z^T||_{2->q} = ||z||_2 with mean chi_mean(d)."""
    g = torch.Generator().manual_seed(16)
    d, n = 12, 4000  # (inf, 2): 12 free signs, enumerated exactly
    for (p, q), exact in [((INF, 2.0), bounds.C_ABS * math.sqrt(d)), ((2.0, 1.0), bounds.chi_mean(d) / math.sqrt(d)),
                          ((INF, INF), bounds.C_ABS * math.sqrt(d))]:
        v, is_exact = al.gaussian_norms(p, q, d, 1, n, generator=g)
        assert is_exact and v.shape == (n,)
        assert abs(v.mean() - exact) <= Z_DEFAULT * v.std(ddof=1) / math.sqrt(n)


def test_gaussian_norms_agree_with_the_engine_and_stay_below_the_bound():
    g = torch.Generator().manual_seed(17)
    for pq in EXACT_PAIRS:
        v, _ = al.gaussian_norms(*pq, 30, 5, 800, generator=g)
        mc, se, _ = al.beta_monte_carlo(*pq, 30, 5, n_samples=800, seed=3)
        assert abs(v.mean() - mc) <= Z_DEFAULT * math.hypot(se, v.std(ddof=1) / math.sqrt(v.size))
        assert v.mean() <= bounds.beta(*pq, 30, 5, "bound") + Z_DEFAULT * v.std(ddof=1) / math.sqrt(v.size)
    v, exact = al.gaussian_norms(INF, 2.0, 40, 3, 5, generator=g)
    assert not exact  # 40 free signs: local-search lower bounds


def test_chain_norms_tend_to_the_gaussian_law_and_match_explicit_networks():
    """Exact-law norms: at an enormous width J -> omega^(L/2) Z / sqrt(d) (Theorem 4.1); at a small width they
    agree with the norms of explicit networks (the same operator_norm on J read off the network)."""
    g = torch.Generator().manual_seed(18)
    d, K, n = 6, 4, 3000
    wide = al.chain_norms([dict(d=d, N=10**8, K=K, L=2)], n, EXACT_PAIRS, generator=g)
    assert wide["norm"].shape == (1, len(EXACT_PAIRS), n) and wide["exact"].all()
    for j, pq in enumerate(EXACT_PAIRS):
        v = wide["norm"][0, j]
        z, _ = al.gaussian_norms(*pq, d, K, n, generator=g)
        assert abs(v.mean() - z.mean()) <= Z_DEFAULT * math.hypot(v.std(ddof=1), z.std(ddof=1)) / math.sqrt(n)
    narrow = al.chain_norms([dict(d=d, N=12, K=K, L=2)], n, [(2.0, 2.0)], generator=g)["norm"][0, 0]
    explicit = al.sweep([dict(d=d, N=12, K=K, L=2)], [], [(2.0, 2.0)], n_networks=600, n_inputs=1,
                        generator=g)["norm"][0, 0]
    se = math.hypot(narrow.std(ddof=1) / math.sqrt(narrow.size), explicit.std(ddof=1) / math.sqrt(explicit.size))
    assert abs(narrow.mean() - explicit.mean()) <= Z_DEFAULT * se
    assert narrow.mean() > wide["norm"][0, EXACT_PAIRS.index((2.0, 2.0))].mean()  # finite width inflates the norm
    with pytest.raises(ValueError, match="configs"):
        al.chain_norms([dict(d=4, N=16, K=2, L=1, width=3)], 2, generator=g)


# ----------------------------------------------------------------------------- statistics
def test_clustered_se_takes_the_network_level_spread():
    v = np.repeat([1.0, 2.0, 3.0, 4.0], 5)  # no spread inside a network
    groups = np.repeat(np.arange(4), 5)
    assert al.clustered_se(v, groups) == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)
    iid = np.random.default_rng(0).normal(size=40)
    assert al.clustered_se(iid, np.zeros(40)) == pytest.approx(iid.std(ddof=1) / math.sqrt(40))
    with pytest.raises(ValueError, match="values"):
        al.clustered_se([1.0], [0])


@settings(max_examples=20, deadline=None)
@given(a=st.floats(0.1, 10.0), b=st.floats(-1.0, 1.0), scale=st.floats(0.1, 10.0))
def test_log_slope_recovers_power_laws(a, b, scale):
    x = np.array([2.0, 8.0, 32.0, 128.0])
    m = a * x**b
    slope, se = al.log_slope(x, m, 0.01 * m)
    assert slope == pytest.approx(b, abs=1e-9)
    # two points: the delta-method s.e. is sqrt((s1/m1)^2 + (s2/m2)^2) / |log x2 - log x1|
    s2, se2 = al.log_slope(x[:2], m[:2], np.array([0.01, 0.02]) * m[:2] * scale)
    assert se2 == pytest.approx(scale * math.hypot(0.01, 0.02) / math.log(4.0))
    lin, _ = al.log_slope(x, a * np.exp(b * x / 100), m, log_x=False)
    assert lin == pytest.approx(b / 100, abs=1e-9)


# ----------------------------------------------------------------------------- the chapter's settings
def test_chapter_settings_reject_p_3_with_a_clear_message():
    with pytest.raises(ValueError, match=r"parameter 'ps' = 3.0 is out of range: allowed one of 1.0, 2.0, inf"):
        profiles.get("02_adversarial_loss", "quick", {"ps": "3"})
    with pytest.raises(ValueError, match="'qs'"):
        profiles.get("02_adversarial_loss", "quick", {"qs": (2.0, 0.5)})
    s = profiles.get("02_adversarial_loss", "quick", {"ps": "inf", "qs": "1, inf"})
    assert s.ps == (INF,) and s.qs == (1.0, INF)
    with pytest.raises(ValueError, match="'d_values'"):
        profiles.get("02_adversarial_loss", "quick", {"d_values": "8"})
    with pytest.raises(ValueError, match="'table_d'"):
        profiles.get("02_adversarial_loss", "quick", {"table_d": "784"})
