"""mfat.theory.attack_gaps: the bounds on the local maxima of u -> ||J u||_q on the l_p ball, against brute force
over the extreme points of small balls."""

import itertools
import math

import numpy as np
import pytest

from mfat.theory import attack_gaps as th

INF = math.inf
PAIRS = [(p, q) for p in (1.0, 2.0, INF) for q in (1.0, 2.0, INF)]


def test_bounds_by_pair():
    d, K = 784, 10
    expected = {(1.0, 1.0): 2 ** (K - 1), (1.0, 2.0): d, (1.0, INF): K, (2.0, 2.0): 1, (2.0, INF): K, (INF, INF): K,
                (2.0, 1.0): 2 ** (K - 1), (INF, 1.0): 2 ** (K - 1), (INF, 2.0): 2.0 ** (d - 1)}
    for pq, value in expected.items():
        assert th.local_maxima_bound(*pq, d, K) == value
    assert th.local_maxima_bound(INF, 1, 3, 10) == 4  # min(K, d) - 1 free signs
    assert th.local_maxima_bound(1, 1, 20, 10) == 20  # fewer vertices than sign vectors
    assert th.local_maxima_bound(INF, 2, 2000, 10) == INF  # beyond the float range
    assert th.local_maxima_bound("inf", "2", 4, 3) == 8


def test_closed_forms_name_the_np_hard_pairs():
    hard = {pq for pq in PAIRS if th.closed_form(*pq).startswith("NP-hard")}
    assert hard == set(th.NP_HARD)


def test_validation_names_the_parameter():
    with pytest.raises(ValueError, match="'p'"):
        th.local_maxima_bound(3, 1, 4, 2)
    with pytest.raises(ValueError, match="'d'"):
        th.local_maxima_bound(1, 1, 0, 2)


def _grad(J, u, q):
    """A (sub)gradient of u -> ||J u||_q, J (K, d), u (d,)."""
    y = J @ u
    if q == 1.0:
        return J.T @ np.sign(y)
    if q == 2.0:
        return J.T @ y / np.linalg.norm(y)
    i = np.argmax(np.abs(y))
    return np.sign(y[i]) * J[i]


@pytest.mark.parametrize("q", [1.0, 2.0, INF])
@pytest.mark.parametrize("seed", range(6))
def test_cube_fixed_points_within_the_bound(q, seed):
    """Oracle: every vertex u of the cube with u = sign(grad ||J u||_q) (a fixed point of the full step, the
    candidates for local maxima), counted up to sign, is at most the bound; d = 8, K = 3."""
    J = np.random.default_rng(seed).standard_normal((3, 8))
    fixed = 0
    for u in itertools.product((-1.0, 1.0), repeat=8):
        u = np.asarray(u)
        if u[0] > 0 and np.array_equal(np.sign(_grad(J, u, q)), u):
            fixed += 1
    assert 1 <= fixed <= th.local_maxima_bound(INF, q, 8, 3)


@pytest.mark.parametrize("q", [1.0, 2.0, INF])
@pytest.mark.parametrize("seed", range(6))
def test_l1_vertices_fixed_points_within_the_bound(q, seed):
    """Oracle: the vertices e_j whose gradient's largest entry is entry j (the candidates for local maxima) are
    at most the bound; K = 2 makes it bind for q = 1 and q = inf (2 and 2 of d = 12)."""
    J = np.random.default_rng(seed).standard_normal((2, 12))
    fixed = sum(int(np.argmax(np.abs(_grad(J, np.eye(12)[j], q))) == j) for j in range(12))
    assert 1 <= fixed <= th.local_maxima_bound(1, q, 12, 2)
