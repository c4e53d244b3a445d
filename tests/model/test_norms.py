"""Tests of mfat.model.norms: the nine (p, q) operator norms against brute force and known cases."""

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat.model.norms import EXACT_PAIRS, NP_HARD_PAIRS, PAIRS, argmax_direction, dual_exponent, operator_norm
from mfat.validation import normalise_p

INF = math.inf
DT = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def vnorm(x, p, dim=-1):
    return torch.linalg.vector_norm(x, ord=p, dim=dim)


def sampled_ratios(A, p, q, n=4000, seed=0):
    """max over random directions eta of ||A eta||_q / ||eta||_p: a lower bound on ||A||_{p,q}. A (K, d)."""
    g = gen(seed)
    d = A.shape[-1]
    etas = [
        torch.randn(n, d, generator=g, dtype=DT),
        torch.randint(0, 2, (n, d), generator=g).to(DT) * 2 - 1,  # vertices of the cube
        torch.eye(d, dtype=DT),  # vertices of the l1 ball
        torch.randn(n, d, generator=g, dtype=DT) ** 3,  # heavy-tailed, near-sparse directions
    ]
    eta = torch.cat(etas)
    return (vnorm(eta @ A.T, q) / vnorm(eta, p)).max()


def brute_sign_max(A, p, q):
    """Independent reference for the NP-hard pairs by itertools enumeration. A (K, d)."""
    if (p, q) == (2.0, 1.0):
        S = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=A.shape[0])), dtype=DT)
        return vnorm(S @ A, 2).max()
    X = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=A.shape[1])), dtype=DT)
    return vnorm(X @ A.T, q).max()


# --------------------------------------------------------------------------------------------- exact formulas


@pytest.mark.parametrize("p,q", PAIRS)
def test_value_dominates_samples_and_argmax_attains_it(p, q):
    for seed, (K, d) in enumerate([(1, 1), (1, 5), (4, 1), (3, 5), (6, 4), (5, 7)]):
        A = torch.randn(K, d, generator=gen(seed), dtype=DT)
        res = operator_norm(A, p, q, return_argmax=True)
        assert res.exact
        assert res.value >= sampled_ratios(A, p, q, seed=seed) * (1 - 1e-12)
        eta = res.argmax
        assert eta.shape == (d,)
        assert vnorm(eta, p) == pytest.approx(1.0, rel=1e-12)
        assert vnorm(A @ eta, q) == pytest.approx(res.value.item(), rel=1e-10)
        assert torch.equal(res.lower, res.value) and torch.equal(res.upper, res.value)


@pytest.mark.parametrize("p,q", NP_HARD_PAIRS)
def test_enumeration_matches_itertools_brute_force(p, q):
    A = torch.randn(20, 5, 7, generator=gen(1), dtype=DT)
    res = operator_norm(A, p, q)
    assert res.method == "enumeration" and res.exact
    ref = torch.stack([brute_sign_max(a, p, q) for a in A])
    torch.testing.assert_close(res.value, ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("p,q", NP_HARD_PAIRS)
def test_local_search_within_two_percent_of_enumeration(p, q):
    # sign dimension 12 to 16 (d for (inf, q), K for (2, 1)); enumeration disabled for the search
    shapes = [(4, 14), (8, 16), (16, 16)] if p == INF else [(14, 4), (16, 8), (12, 12)]
    for i, (K, d) in enumerate(shapes):
        A = torch.randn(15, K, d, generator=gen(10 + i), dtype=DT)
        exact = operator_norm(A, p, q)
        search = operator_norm(A, p, q, max_enumeration=0, restarts=32, generator=gen(i), return_argmax=True)
        assert exact.method == "enumeration" and search.method == "sign iteration" and not search.exact
        assert (search.lower <= exact.value * (1 + 1e-12)).all()  # a certified lower bound
        assert (search.upper >= exact.value * (1 - 1e-12)).all()  # a certified upper bound
        assert (search.value >= 0.98 * exact.value).all()
        # the returned maximiser is feasible and attains the lower bound
        assert torch.allclose(vnorm(search.argmax, p), torch.ones(15, dtype=DT))
        attained = vnorm((A @ search.argmax.unsqueeze(-1)).squeeze(-1), q)
        torch.testing.assert_close(attained, search.lower, rtol=1e-10, atol=0)


@pytest.mark.parametrize("p,q", NP_HARD_PAIRS)
def test_search_upper_bounds_are_valid_and_not_silly(p, q):
    A = torch.randn(6, 30, 40, generator=gen(3), dtype=DT)
    res = operator_norm(A, p, q, restarts=4)
    assert res.method == "sign iteration"
    assert (res.lower <= res.upper).all()
    spectral = torch.linalg.matrix_norm(A, ord=2)
    crude = {(2.0, 1.0): math.sqrt(30) * spectral, (INF, 1.0): A.abs().sum((-2, -1)),
             (INF, 2.0): math.sqrt(40) * spectral}
    assert (res.upper <= crude[(p, q)] * (1 + 1e-9)).all()
    # the sign iteration starts from the sign of the largest-l1 row, so it beats the max row l1 norm
    rows = A.abs().sum(-1).amax(-1) if p == INF else A.abs().sum(-2).amax(-1) / math.sqrt(30)
    assert (res.lower >= rows * (1 - 1e-12)).all()


def test_batched_leading_dims_match_single_calls():
    A = torch.randn(2, 3, 4, 5, generator=gen(4), dtype=DT)
    for p, q in PAIRS:
        res = operator_norm(A, p, q, return_argmax=True)
        assert res.value.shape == (2, 3) and res.argmax.shape == (2, 3, 5)
        single = torch.stack([operator_norm(a, p, q).value for a in A.reshape(-1, 4, 5)]).reshape(2, 3)
        torch.testing.assert_close(res.value, single)


def test_float32_input_and_argmax_direction():
    A = torch.randn(3, 4, generator=gen(5))
    for p, q in PAIRS:
        eta = argmax_direction(A, p, q)
        assert eta.dtype == torch.float32 and eta.shape == (4,)
        val = operator_norm(A, p, q).value
        assert val.dtype == torch.float32
        assert vnorm(A @ eta, q).item() == pytest.approx(val.item(), rel=1e-5)


def test_search_is_reproducible_with_seed():
    A = torch.randn(3, 20, 30, generator=gen(6), dtype=DT)
    a = operator_norm(A, INF, 2, seed=3, restarts=3).value
    b = operator_norm(A, INF, 2, seed=3, restarts=3).value
    assert torch.equal(a, b)


# ----------------------------------------------------------------------------------------------- hypothesis

dims = st.integers(min_value=1, max_value=7)
pairs = st.sampled_from(PAIRS)


@settings(max_examples=40, deadline=None)
@given(pq=pairs, K=dims, d=dims, seed=st.integers(0, 10**6), c=st.floats(-8, 8).filter(lambda c: abs(c) > 1e-3))
def test_homogeneity(pq, K, d, seed, c):
    A = torch.randn(K, d, generator=gen(seed), dtype=DT)
    base = operator_norm(A, *pq).value
    scaled = operator_norm(c * A, *pq).value
    assert scaled.item() == pytest.approx(abs(c) * base.item(), rel=1e-10, abs=1e-300)


@settings(max_examples=25, deadline=None)
@given(pq=st.sampled_from(NP_HARD_PAIRS), K=st.integers(17, 24), d=st.integers(17, 24), seed=st.integers(0, 10**6),
       k=st.integers(-3, 3), sign=st.sampled_from([-1.0, 1.0]))
def test_homogeneity_and_bounds_of_local_search(pq, K, d, seed, k, sign):
    A = torch.randn(K, d, generator=gen(seed), dtype=DT)
    c = sign * 2.0**k  # exact in floating point, so the search takes the same path
    base = operator_norm(A, *pq, restarts=2)
    scaled = operator_norm(c * A, *pq, restarts=2)
    assert not base.exact and base.lower <= base.upper
    assert scaled.value.item() == pytest.approx(abs(c) * base.value.item(), rel=1e-10)
    assert scaled.upper.item() == pytest.approx(abs(c) * base.upper.item(), rel=1e-10)


@settings(max_examples=40, deadline=None)
@given(pq=pairs, n=st.integers(1, 24))
def test_identity(pq, n):
    p, q = pq
    expected = n ** max(0.0, 1.0 / q - 1.0 / p)  # ||I||_{p,q} = max_{||x||_p <= 1} ||x||_q
    res = operator_norm(torch.eye(n, dtype=DT), p, q, restarts=2)
    assert res.value.item() == pytest.approx(expected, rel=1e-12)
    assert res.lower <= res.upper * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(pq=pairs, K=st.integers(1, 30), d=st.integers(1, 30), seed=st.integers(0, 10**6))
def test_rank_one(pq, K, d, seed):
    p, q = pq
    g = gen(seed)
    u, v = torch.randn(K, generator=g, dtype=DT), torch.randn(d, generator=g, dtype=DT)
    res = operator_norm(torch.outer(u, v), p, q, restarts=1)
    expected = (vnorm(u, q) * vnorm(v, dual_exponent(p))).item()  # ||u v^T||_{p,q} = ||u||_q ||v||_{p*}
    assert res.value.item() == pytest.approx(expected, rel=1e-10)
    assert res.lower.item() <= res.upper.item()
    assert res.upper.item() >= expected * (1 - 1e-10)


# ------------------------------------------------------------------------------------------------ arguments


@pytest.mark.parametrize(
    "value,expected",
    [(1, 1.0), (2, 2.0), (2.0, 2.0), (INF, INF), (float("inf"), INF), ("inf", INF), ("Inf", INF), ("2", 2.0)],
)
def test_normalise_p_accepts(value, expected):
    assert normalise_p("p", value) == expected


@pytest.mark.parametrize("value", [3, 0, -1, 1.5, "two", None, True, float("nan")])
def test_normalise_p_rejects_naming_parameter(value):
    with pytest.raises(ValueError, match="'q'"):
        normalise_p("q", value)


def test_operator_norm_validates():
    A = torch.ones(2, 3)
    with pytest.raises(ValueError, match="'p' = 3"):
        operator_norm(A, 3, 2)
    with pytest.raises(ValueError, match="'q'"):
        operator_norm(A, 2, 0.5)
    with pytest.raises(ValueError, match="'A'"):
        operator_norm(torch.ones(3), 2, 2)
    with pytest.raises(ValueError, match="'restarts'"):
        operator_norm(A, 2, 1, restarts=-1)


def test_dual_exponent():
    assert dual_exponent(1) == INF and dual_exponent(2) == 2.0 and dual_exponent("inf") == 1.0
    assert set(EXACT_PAIRS) | set(NP_HARD_PAIRS) == set(PAIRS) and len(PAIRS) == 9


# ------------------------------------------------------------------------- the maximiser against brute force


@pytest.mark.parametrize("p,q", [(1.0, 1.0), (1.0, 2.0), (1.0, INF), (INF, 1.0), (INF, 2.0), (INF, INF)])
def test_argmax_direction_is_a_brute_force_maximiser(p, q):
    """Oracle: over every extreme point of the unit l_p ball (the 2d signed basis vectors for p = 1, the 2^d
    vertices for p = inf) the largest ||A u||_q equals the norm, and argmax_direction is such a point."""
    d = 7
    A = torch.randn(5, 4, d, generator=gen(8), dtype=DT)
    points = (torch.cat([torch.eye(d, dtype=DT), -torch.eye(d, dtype=DT)]) if p == 1.0 else
              torch.tensor(list(itertools.product([-1.0, 1.0], repeat=d)), dtype=DT))
    brute = vnorm(torch.einsum("bkd,vd->bvk", A, points), q).amax(dim=1)
    u = argmax_direction(A, p, q)
    assert torch.isin(u.abs(), torch.tensor([0.0, 1.0], dtype=DT)).all() and (vnorm(u, p) == 1).all()
    torch.testing.assert_close(vnorm((A @ u.unsqueeze(-1)).squeeze(-1), q), brute, rtol=1e-12, atol=0)
    torch.testing.assert_close(operator_norm(A, p, q).value, brute, rtol=1e-12, atol=0)


@pytest.mark.parametrize("q", [2.0, INF])
def test_argmax_direction_for_p2_is_the_singular_or_row_direction(q):
    """Oracle: for (2,2) the top right singular vector (up to sign), for (2,inf) the unit row of largest norm."""
    A = torch.randn(6, 5, 9, generator=gen(9), dtype=DT)
    u = argmax_direction(A, 2, q)
    if q == 2.0:
        v = torch.linalg.svd(A).Vh[:, 0, :]
        torch.testing.assert_close((u * v).sum(-1).abs(), torch.ones(6, dtype=DT), rtol=1e-10, atol=0)
    else:
        rows = A[torch.arange(6), vnorm(A, 2).argmax(-1)]
        torch.testing.assert_close(u, rows / vnorm(rows, 2).unsqueeze(-1), rtol=1e-12, atol=0)
