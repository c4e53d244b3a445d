"""mfat.laws.jacobian: the Gram-chain sampler of the whole Jacobian J(x) has the law of J of explicit networks.

Tolerances: two-sample KS at level 1e-4 (mfat.stats.two_sample_ks_tolerance), and z = 4 standard errors
(mfat.stats.Z_DEFAULT) for moments, the standard errors estimated from the samples themselves.
"""

import math
import time

import numpy as np
import pytest
import torch
from scipy import stats as sst

from mfat import theory
from mfat.laws.jacobian import _bartlett, _input_side, _output_side, _two_slope_factor, sample_jacobians
from mfat.model.linearize import decompose
from mfat.model.networks import NetworkSpec, ReLULikeNet
from mfat.laws.linear_map import sample_chain, wishart
from mfat.stats import Z_DEFAULT, two_sample_ks_tolerance, variance_ratio_tolerance


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: intra-op threads cost far more than they save, above all on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def explicit_jacobians(spec: NetworkSpec, n: int, seed: int, x: torch.Tensor) -> np.ndarray:
    """J(x) of n explicitly built float64 networks, read off mfat.model.linearize.decompose: (n, K, d)."""
    g = gen(seed)
    out = [decompose(ReLULikeNet(**spec.as_dict(), generator=g, dtype=torch.float64), x[None])[0][0]
           for _ in range(n)]
    return torch.stack(out).numpy()


def gaussian_input(d: int, seed: int) -> torch.Tensor:
    x = torch.randn(d, generator=gen(seed), dtype=torch.float64)
    return x * math.sqrt(d) / x.norm()


def statistics(J: np.ndarray) -> dict[str, np.ndarray]:
    """Scalar summaries of (n, K, d) Jacobians whose laws are compared."""
    return {
        "fro2": (J**2).sum((1, 2)),
        "spectral": np.linalg.norm(J, ord=2, axis=(1, 2)),
        "J00": J[:, 0, 0],
        "J00*J01": J[:, 0, 0] * J[:, 0, 1],  # same row, two columns
        "J00*J10": J[:, 0, 0] * J[:, 1, 0],  # same column, two rows
    }


def assert_same_mean(a: np.ndarray, b: np.ndarray, what: str) -> None:
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    assert abs(a.mean() - b.mean()) <= Z_DEFAULT * se, what


def assert_mean_is(a: np.ndarray, value: float, what: str) -> None:
    assert abs(a.mean() - value) <= Z_DEFAULT * a.std(ddof=1) / math.sqrt(len(a)), (what, a.mean(), value)


# ----------------------------------------------------------------------------- oracle: explicit networks
ORACLE_CASES = {  # L = 2 layers; biases on (they must not change J's law)
    # K = 3 < min(N, d) = 6: the output-side form
    "vanilla ReLU": NetworkSpec(6, 40, 3, 2, 2.0, 0.1),
    "leaky": NetworkSpec(6, 40, 3, 2, 1.6, 0.1, 1.0, 0.2),
    "residual ReLU": NetworkSpec(6, 40, 3, 2, 0.5, 0.1, residual=True),
    # the input-side form: K > d, and N < d (factors of rank r = N)
    "leaky, K > d": NetworkSpec(3, 40, 5, 2, 1.6, 0.1, 1.0, 0.2),
    "narrow leaky residual, N < d": NetworkSpec(6, 3, 4, 2, 1.0, 0.1, 1.0, 0.2, True),
}


@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_law_matches_explicit_networks(case):
    spec = ORACLE_CASES[case]
    n_exp, n_samp = 2000, 20_000
    exp = explicit_jacobians(spec, n_exp, seed=1, x=gaussian_input(spec.d, seed=2))
    samp = sample_jacobians(spec, n_samp, generator=gen(3)).numpy()
    tol = two_sample_ks_tolerance(n_exp, n_samp)
    s_exp, s_samp = statistics(exp), statistics(samp)
    for key in s_exp:
        assert sst.ks_2samp(s_exp[key], s_samp[key]).statistic <= tol, key
    gram_exp, gram_samp = np.einsum("nij,nij->ni", exp, exp), np.einsum("nij,nij->ni", samp, samp)
    for i in range(spec.K):
        assert_same_mean(gram_exp[:, i], gram_samp[:, i], f"(J J^T)_{i}{i}")
    assert_same_mean(np.sqrt(s_exp["fro2"]), np.sqrt(s_samp["fro2"]), "||J||_F")


def test_zero_input_without_bias_uses_slope_u_everywhere():
    """x = 0, sigma_b^2 = 0: every slope is phi'(0) = u, so E||J||_F^2 = K (u^2 sigma_w^2)^L, not K omega^L."""
    spec = NetworkSpec(5, 8, 2, 3, 2.0, 0.0, 1.0, 0.3)
    x0 = torch.zeros(spec.d, dtype=torch.float64)
    n_exp, n_samp = 1000, 20_000
    exp = explicit_jacobians(spec, n_exp, seed=4, x=x0)
    samp = sample_jacobians(spec, n_samp, generator=gen(5), x=x0).numpy()
    tol = two_sample_ks_tolerance(n_exp, n_samp)
    for key, val in statistics(exp).items():
        assert sst.ks_2samp(val, statistics(samp)[key]).statistic <= tol, key
    assert_mean_is((samp**2).sum((1, 2)), spec.K * (spec.u**2 * spec.sigma_w2) ** spec.L, "E||J||_F^2 at x = 0")
    generic = sample_jacobians(spec, n_samp, generator=gen(6), x=x0 + 1.0).numpy()
    assert_mean_is((generic**2).sum((1, 2)), spec.K * spec.omega**spec.L, "E||J||_F^2 at x != 0")


def test_input_and_output_side_forms_have_the_same_law():
    """J = Z A_L ... A_1 F_0 and J^T = G_0^T S_0^T A'_1 ... A'_L (module doc) for one spec with K < min(N, d)."""
    spec = NetworkSpec(8, 12, 3, 3, 1.2, 0.0, 1.0, 0.3, True)
    n = 20_000
    a = statistics(_input_side(spec, n, gen(20), False).numpy())
    b = statistics(_output_side(spec, n, gen(21), False).numpy())
    for key in a:
        assert sst.ks_2samp(a[key], b[key]).statistic <= two_sample_ks_tolerance(n, n), key


@pytest.mark.parametrize("n, rows, cols", [(7, 4, 4), (2, 4, 4), (3, 6, 3)])
def test_bartlett_factor_has_the_wishart_law(n, rows, cols):
    """T T^T ~ Wishart_rows(n, I) when the dropped columns vanish (cols >= min(n, rows)); zeros where they belong."""
    reps = 20_000
    T = _bartlett(torch.full((reps,), float(n), dtype=torch.float64), rows, cols, gen(24))
    assert torch.equal(T, T.tril()) and bool((T[..., min(n, cols):] == 0).all())
    W = (T @ T.mT).numpy()
    ref = wishart(torch.full((reps,), float(n), dtype=torch.float64),
                  torch.eye(rows, dtype=torch.float64).expand(reps, rows, rows), gen(25)).numpy()
    for i, j in ((0, 0), (rows - 1, rows - 1), (rows - 1, 0), (2, 1)):
        assert sst.ks_2samp(W[:, i, j], ref[:, i, j]).statistic <= two_sample_ks_tolerance(reps, reps), (i, j)


def test_two_slope_factor_is_exact_for_singular_and_regular_sums():
    """A^T A = k_u T_u T_u^T + k_v T_v T_v^T, by Cholesky where the sum is numerically definite, else by QR."""
    n_u = torch.tensor([6.0, 2.0, 0.0, 9.0], dtype=torch.float64)
    n_v = torch.tensor([6.0, 0.0, 1.0, 3.0], dtype=torch.float64)
    Tu, Tv = _bartlett(n_u, 5, 5, gen(22)), _bartlett(n_v, 5, 5, gen(23))
    for ku, kv in ((0.3, 0.1), (1.0, 1e-40), (2.0, 0.0)):  # definite; singular to rounding; exactly singular
        A = _two_slope_factor(Tu, Tv, ku, kv)
        target = ku * Tu @ Tu.mT + kv * Tv @ Tv.mT
        scale = target.diagonal(dim1=-2, dim2=-1).amax(-1)[:, None, None]
        assert bool(((A.mT @ A - target).abs() <= 1e-12 * scale).all())


def test_vanilla_network_without_weights_has_zero_jacobian():
    J = sample_jacobians(NetworkSpec(4, 6, 2, 2, 0.0, 0.3, 1.0, 0.5), 10, generator=gen(7))
    assert torch.equal(J, torch.zeros_like(J))


# ----------------------------------------------------------------------------- consistency with sample_chain
@pytest.mark.parametrize("spec", [NetworkSpec(6, 40, 3, 3, 2.0, 0.1),
                                  NetworkSpec(3, 12, 4, 4, 1.2, 0.2, 1.0, 0.3, True)],
                         ids=["vanilla ReLU, output side", "leaky residual, input side"])
def test_first_column_matches_the_column_chain(spec):
    n = 20_000
    J1 = sample_jacobians(spec, n, generator=gen(8))[:, :, 0].numpy()  # (n, K)
    ch = sample_chain(spec, n, generator=gen(9))["J"].numpy()  # (n, K)
    tol = two_sample_ks_tolerance(n, n)
    assert sst.ks_2samp(J1[:, 0], ch[:, 0]).statistic <= tol
    assert sst.ks_2samp((J1**2).sum(1), (ch**2).sum(1)).statistic <= tol


# ----------------------------------------------------------------------------- closed-form moments
MOMENT_CASES = [
    NetworkSpec(6, 40, 3, 2, 2.0),
    NetworkSpec(5, 12, 6, 4, 1.2, 0.0, 1.0, 0.3, True),  # K > d: input side
    NetworkSpec(8, 3, 2, 3, 2.5, 0.0, 0.5, -0.8),  # N < d, negative slope
]


@pytest.mark.parametrize("spec", MOMENT_CASES, ids=["vanilla ReLU", "leaky residual", "narrow leaky"])
def test_closed_form_moments(spec):
    """E||J||_F^2 = K d Var J_ij = K omega^L (Theorem 4.1); Var J_11 and its kurtosis at width N (exact chain
    moments, mfat.theory.finite_width_moments); and, by the rotation and sign symmetries of the law,
    E[J_11^2 J_12^2] = E[J_11^2 J_21^2] = E[J_11^4] / 3 = Var^2 (kappa + 3) / 3."""
    n = 40_000
    J = sample_jacobians(spec, n, generator=gen(10)).numpy()
    var = theory.var_J(spec.d, spec.L, spec.sigma_w2, spec.u, spec.v, spec.residual)
    assert_mean_is((J**2).sum((1, 2)), spec.K * spec.d * var, "E||J||_F^2")
    mom = theory.finite_width_moments(spec.d, spec.N, spec.L, spec.sigma_w2, 0.0, spec.u, spec.v, spec.residual)
    var_N, kurt_N = mom["var_J"][-1], mom["kurt_J"][-1]
    assert var_N == pytest.approx(var, rel=1e-12)
    ratio = float((J[:, 0, 0] ** 2).mean()) / var_N
    assert abs(ratio - 1.0) <= variance_ratio_tolerance(n, excess_kurtosis=kurt_N)
    fourth = var_N**2 * (kurt_N + 3.0)
    assert_mean_is(J[:, 0, 0] ** 4, fourth, "E J_11^4")
    assert_mean_is(J[:, 0, 0] ** 2 * J[:, 0, 1] ** 2, fourth / 3.0, "E J_11^2 J_12^2")
    assert_mean_is(J[:, 0, 0] ** 2 * J[:, 1, 0] ** 2, fourth / 3.0, "E J_11^2 J_21^2")


def test_law_is_invariant_under_rotations_of_the_input_space():
    """Gamma^(0) ~ Wishart(N, I/d) is rotation invariant and the chain is equivariant, so J O =_d J."""
    spec = NetworkSpec(4, 10, 2, 3, 1.5, 0.0, 1.0, 0.4, True)
    n = 20_000
    J = sample_jacobians(spec, n, generator=gen(11)).numpy()
    O = np.linalg.qr(np.random.default_rng(12).normal(size=(4, 4)))[0]
    tol = two_sample_ks_tolerance(n, n)
    J2 = sample_jacobians(spec, n, generator=gen(13)).numpy() @ O
    for key, val in statistics(J).items():
        assert sst.ks_2samp(val, statistics(J2)[key]).statistic <= tol, key


# ----------------------------------------------------------------------------- cost independent of N
@pytest.mark.parametrize("d, K", [(64, 100), (256, 10)], ids=["input side", "output side"])
def test_cost_is_independent_of_width(d, K):
    spec = NetworkSpec(d, 40_000, K, 3)
    n = 50
    start = time.perf_counter()
    J = sample_jacobians(spec, n, generator=gen(14))
    elapsed = time.perf_counter() - start
    assert J.shape == (n, K, d) and elapsed < 20.0
    assert_mean_is((J**2).sum((1, 2)).numpy(), spec.K * spec.omega**spec.L, "E||J||_F^2 at N = 40000")


# ----------------------------------------------------------------------------- shapes, seeds, validation
def test_shapes_dtype_seeds_and_chunks():
    spec = NetworkSpec(5, 7, 3, 2, 2.0, 0.0, 1.0, 0.1)
    a = sample_jacobians(spec, 11, generator=gen(15), chunk_size=4)
    b = sample_jacobians(spec, 11, generator=gen(15), chunk_size=4)
    assert a.shape == (11, 3, 5) and a.dtype == torch.float64 and a.device == torch.device("cpu")
    assert torch.equal(a, b) and bool(torch.isfinite(a).all())
    assert sample_jacobians(NetworkSpec(3, 2, 9, 1), 1, generator=gen(16)).shape == (1, 9, 3)  # K > r = N
    assert sample_jacobians(NetworkSpec(9, 20, 2, 1), 3, generator=gen(17)).shape == (3, 2, 9)  # output side


def test_bad_arguments_raise_value_errors_naming_the_parameter():
    spec = NetworkSpec(5, 4, 2, 2)
    for bad in (0, -1, 2.5, "3", None):
        with pytest.raises(ValueError, match="n_samples"):
            sample_jacobians(spec, bad, generator=gen())
    for bad in ({"d": 5}, None, (5, 4, 2, 2)):
        with pytest.raises(ValueError, match="spec"):
            sample_jacobians(bad, 3, generator=gen())
    for bad in (None, 0, np.random.default_rng(0)):
        with pytest.raises(ValueError, match="generator"):
            sample_jacobians(spec, 3, generator=bad)
    with pytest.raises(ValueError, match="chunk_size"):
        sample_jacobians(spec, 3, generator=gen(), chunk_size=0)
    with pytest.raises(ValueError, match="'x'"):
        sample_jacobians(spec, 3, generator=gen(), x=torch.zeros(2, 5))
