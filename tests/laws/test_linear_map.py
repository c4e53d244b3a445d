"""mfat.laws.linear_map: the Gram-chain, unit-level and explicit-network samplers give the same (exact) law.

Tolerances: two-sample KS at level 1e-4 (mfat.stats.two_sample_ks_tolerance) and
z = 4 standard errors for moments, with the exact finite-width kurtosis in the variance-ratio tolerance.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from mfat import theory
from mfat.experiments.random_linear_map import law_summary
from mfat.model.networks import NetworkSpec
from mfat.laws.linear_map import _wishart2, psd_factor, sample_chain, sample_explicit, sample_units, wishart
from mfat.stats import (Z_DEFAULT, batch_standard_error, fisher_correlation_tolerance, two_sample_ks_tolerance,
                        variance_ratio_tolerance)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- building blocks
@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 6), rank=st.integers(0, 6), seed=st.integers(0, 10_000), scale=st.floats(1e-6, 1e6))
def test_psd_factor_reconstructs_singular_and_badly_scaled_matrices(k, rank, seed, scale):
    rank = min(rank, k)
    A = torch.randn(3, k, max(rank, 1), generator=gen(seed), dtype=torch.float64) * (rank > 0)
    A = A * torch.logspace(-3, 3, k, dtype=torch.float64)[:, None] * scale  # rows of very different sizes
    S = A @ A.transpose(-1, -2)
    R = psd_factor(S)
    assert torch.equal(R, torch.triu(R))
    err = (R.transpose(-1, -2) @ R - S).abs()
    bound = 1e-10 * torch.sqrt(S.diagonal(dim1=-2, dim2=-1)[..., :, None] * S.diagonal(dim1=-2, dim2=-1)[..., None, :])
    assert bool((err <= bound + 1e-300).all())


def test_psd_factor_handles_repeated_and_zero_columns():
    v = torch.randn(50, 2, generator=gen(1), dtype=torch.float64)
    V = torch.stack([v[:, 0], v[:, 1], v[:, 0], torch.zeros(50, dtype=torch.float64)], 1)
    S = V.T @ V
    R = psd_factor(S)
    assert torch.allclose(R.T @ R, S, atol=1e-12 * float(S.abs().max()))
    assert torch.all(R[:, 3] == 0) and torch.all(R[2, 2] == 0)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 40])
def test_wishart_first_and_second_moments(n):
    """E W = n S and E[W_ij W_kl] = n^2 S_ij S_kl + n (S_ik S_jl + S_il S_jk), including n < k (singular)."""
    S = torch.tensor([[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 0.5]], dtype=torch.float64)
    reps = 40_000
    W = wishart(torch.full((reps,), float(n), dtype=torch.float64), S.expand(reps, 3, 3), gen(n)).numpy()
    if n == 0:
        assert np.all(W == 0)
        return
    Sn = S.numpy()
    mean, se = W.mean(0), W.std(0, ddof=1) / math.sqrt(reps)
    assert np.all(np.abs(mean - n * Sn) <= Z_DEFAULT * se + 1e-12)
    for (i, j, k, l) in [(0, 0, 0, 0), (0, 1, 0, 1), (0, 0, 1, 1), (1, 2, 0, 2), (2, 2, 2, 2)]:
        prod = W[:, i, j] * W[:, k, l]
        pred = n * n * Sn[i, j] * Sn[k, l] + n * (Sn[i, k] * Sn[j, l] + Sn[i, l] * Sn[j, k])
        assert abs(prod.mean() - pred) <= Z_DEFAULT * prod.std(ddof=1) / math.sqrt(reps)
    if n < 3:
        assert np.allclose(np.linalg.det(W), 0.0, atol=1e-9 * np.abs(W).max() ** 3)


def test_closed_form_2x2_wishart_matches_the_general_one():
    reps, n = 100_000, 6.0
    a, b, c = 1.5, -0.7, 0.9
    cnt = torch.full((reps,), n, dtype=torch.float64)
    w00, w01, w11 = (t.numpy() for t in _wishart2(cnt, cnt * 0 + a, cnt * 0 + b, cnt * 0 + c, gen(3)))
    W = wishart(cnt, torch.tensor([[a, b], [b, c]], dtype=torch.float64).expand(reps, 2, 2), gen(4)).numpy()
    for mine, ref in ((w00, W[:, 0, 0]), (w01, W[:, 0, 1]), (w11, W[:, 1, 1])):
        assert sst.ks_2samp(mine, ref).statistic <= two_sample_ks_tolerance(reps, reps)


# ----------------------------------------------------------------------------- validation and shapes
def test_bad_arguments_raise_value_errors_naming_the_parameter():
    spec = NetworkSpec(5, 4, 1, 2)
    with pytest.raises(ValueError, match="n_samples"):
        sample_chain(spec, 0, generator=gen())
    with pytest.raises(ValueError, match="generator"):
        sample_chain(spec, 3, generator=None)
    with pytest.raises(ValueError, match="spec"):
        sample_chain({"d": 5}, 3, generator=gen())
    with pytest.raises(ValueError, match="'x'"):
        sample_units(spec, torch.zeros(2, 6), 3, generator=gen())
    with pytest.raises(ValueError, match="exactly one"):
        sample_explicit(spec, 2, generator=gen())
    with pytest.raises(ValueError, match="chunk_size"):
        sample_units(spec, torch.ones(1, 5), 3, generator=gen(), chunk_size=0)
    with pytest.raises(ValueError, match="'n'"):
        wishart(torch.tensor([2.5]), torch.eye(2, dtype=torch.float64)[None], gen())
    with pytest.raises(ValueError, match="'S'"):
        psd_factor(torch.ones(2, 3, dtype=torch.float64))


def test_shapes_seeds_and_chunks():
    spec = NetworkSpec(6, 5, 3, 4, 2.0, 0.1)
    a = sample_chain(spec, 7, generator=gen(5), chunk_size=3)
    b = sample_chain(spec, 7, generator=gen(5), chunk_size=3)
    assert a["J"].shape == (7, 3) and a["a"].shape == (7, 3) and a["gram"].shape == (7, 2, 2)
    assert torch.equal(a["J"], b["J"]) and a["J"].dtype == torch.float64
    deep = sample_chain(spec, 7, generator=gen(5), all_depths=True)
    assert deep["J"].shape == (7, 4, 3)
    u = sample_units(spec, torch.ones(2, 6, dtype=torch.float64), 5, generator=gen(1), chunk_size=2)
    assert u["J"].shape == u["a"].shape == u["f"].shape == (5, 2, 3)
    e = sample_explicit(spec, 2, generator=gen(1), x=torch.ones(6, dtype=torch.float64))
    assert e["J"].shape == (2, 1, 3) and e["x"].shape == (2, 1, 6)


def test_units_sampler_reconstructs_f_from_J_and_a_structure():
    """f = J x + a holds inside the unit sampler only in law; but with one input along e_1, f = x_1 J + a exactly."""
    d = 4
    x = torch.zeros(1, d, dtype=torch.float64)
    x[0, 0] = 2.0  # h = G x + c = 2 g + c
    out = sample_units(NetworkSpec(d, 6, 2, 3, 2.0, 0.3, 1.0, 0.2), x, 50, generator=gen(2))
    assert torch.allclose(out["f"], 2.0 * out["J"] + out["a"], atol=1e-10)


# ----------------------------------------------------------------------------- equality in law
CASES = [  # (residual, u, v, sigma_w2, sigma_b2)
    (False, 1.0, 0.0, 2.0, 0.1),
    (True, 1.0, 0.0, 0.5, 0.2),
    (False, 1.0, 0.5, 1.6, 0.3),
]


@pytest.mark.slow
@pytest.mark.parametrize("residual, u, v, sw2, sb2", CASES)
def test_chain_and_explicit_networks_have_the_same_law(residual, u, v, sw2, sb2):
    d, N, L = 10, 12, 3
    spec = NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual)
    x = torch.randn(1, d, generator=gen(7), dtype=torch.float64)
    n_exp, n_chain = 1000, 40_000
    exp = sample_explicit(spec, n_exp, generator=gen(8), x=x)
    ch = sample_chain(spec, n_chain, generator=gen(9))
    tol = two_sample_ks_tolerance(n_exp, n_chain)
    for key in ("J", "a"):
        e, c = exp[key][:, 0, 0].numpy(), ch[key][:, 0].numpy()
        assert sst.ks_2samp(e, c).statistic <= tol, key
    mom = theory.finite_width_moments(d, N, L, sw2, sb2, u, v, residual)
    for key, var, kurt in (("J", mom["var_J"][-1], mom["kurt_J"][-1]), ("a", mom["var_a"][-1], mom["kurt_a"][-1])):
        ratio = float((exp[key][:, 0, 0] ** 2).mean()) / var
        assert abs(ratio - 1.0) <= variance_ratio_tolerance(n_exp, excess_kurtosis=kurt), key


@pytest.mark.slow
@pytest.mark.parametrize("residual, u, v, sw2, sb2", CASES[1:2])
def test_units_and_explicit_agree_jointly_over_two_inputs(residual, u, v, sw2, sb2):
    d, N, L = 8, 10, 3
    spec = NetworkSpec(d, N, 1, L, sw2, sb2, u, v, residual)
    x = torch.randn(2, d, generator=gen(11), dtype=torch.float64)
    n_exp, n_units = 1000, 10_000
    exp = sample_explicit(spec, n_exp, generator=gen(12), x=x)
    un = sample_units(spec, x, n_units, generator=gen(13))
    tol = two_sample_ks_tolerance(n_exp, n_units)
    for j in range(2):
        for key in ("J", "a"):
            assert sst.ks_2samp(exp[key][:, j, 0].numpy(), un[key][:, j, 0].numpy()).statistic <= tol
    # the dependence between the two inputs of one network is the same too
    r_exp = float(np.corrcoef(exp["J"][:, :, 0].numpy().T)[0, 1])
    r_un = float(np.corrcoef(un["J"][:, :, 0].numpy().T)[0, 1])
    se = batch_standard_error(exp["J"][:, :, 0].numpy(), lambda s: float(np.corrcoef(s.T)[0, 1]))
    assert abs(r_exp - r_un) <= Z_DEFAULT * se * math.sqrt(1 + n_exp / n_units)


@pytest.mark.slow
def test_chain_and_units_agree_at_moderate_width():
    spec = NetworkSpec(30, 100, 1, 5, 2.0, 0.05, 1.0, 0.3, True)
    x = torch.randn(1, 30, generator=gen(21), dtype=torch.float64)
    un = sample_units(spec, x, 3000, generator=gen(22))
    ch = sample_chain(spec, 100_000, generator=gen(23))
    tol = two_sample_ks_tolerance(3000, 100_000)
    for key in ("J", "a"):
        assert sst.ks_2samp(un[key][:, 0, 0].numpy(), ch[key][:, 0].numpy()).statistic <= tol


def test_zero_input_without_bias_uses_slope_u_everywhere():
    """x = 0, sigma_b = 0: z = 0 at every layer, phi'(0) = u, so each layer multiplies E|g|^2 by rho + u^2 sigma_w^2."""
    d, N, L, sw2 = 5, 8, 3, 2.0
    spec = NetworkSpec(d, N, 1, L, sw2, 0.0)
    x0 = torch.zeros(d, dtype=torch.float64)
    ch = sample_chain(spec, 40_000, generator=gen(31), x=x0)["J"][:, 0].numpy()
    exp = sample_explicit(spec, 500, generator=gen(32), x=x0)["J"][:, 0, 0].numpy()
    var = sw2**L / d  # u = 1: every unit passes
    assert abs((ch**2).mean() / var - 1) <= variance_ratio_tolerance(40_000, excess_kurtosis=sst.kurtosis(ch))
    assert sst.ks_2samp(ch, exp).statistic <= two_sample_ks_tolerance(500, 40_000)
    generic = sample_chain(spec, 40_000, generator=gen(33), x=x0 + 1.0)["J"][:, 0].numpy()
    assert abs((generic**2).mean() * d - 1.0) <= variance_ratio_tolerance(40_000, excess_kurtosis=sst.kurtosis(generic))


def test_all_depths_give_the_law_of_each_depth():
    spec = NetworkSpec(20, 50, 1, 5, 2.4, 0.05)
    out = sample_chain(spec, 50_000, generator=gen(41), all_depths=True)
    mom = theory.finite_width_moments(20, 50, 5, 2.4, 0.05)
    for l in range(5):
        for key, var, kurt in (("J", mom["var_J"][l], mom["kurt_J"][l]), ("a", mom["var_a"][l], mom["kurt_a"][l])):
            ratio = float((out[key][:, l, 0] ** 2).mean()) / var
            assert abs(ratio - 1) <= variance_ratio_tolerance(50_000, excess_kurtosis=kurt), (key, l)


# ----------------------------------------------------------------------------- statistics helpers
def test_law_summary_on_gaussian_samples():
    x = np.random.default_rng(0).normal(0, 2.0, 20_000)
    s = law_summary(x, 4.0)
    assert abs(s["ratio"] - 1) <= s["ratio_tol"] and s["ks"] <= s["ks_tol"] and abs(s["mean"]) <= s["mean_tol"]
    assert abs(s["kurt"]) <= Z_DEFAULT * s["kurt_se"]


def test_fisher_tolerance_and_two_sample_ks():
    assert fisher_correlation_tolerance(0.0, 10_003) == pytest.approx(math.tanh(0.04), rel=1e-9)
    assert fisher_correlation_tolerance(0.9, 1000) < fisher_correlation_tolerance(0.0, 1000)
    assert two_sample_ks_tolerance(100, 100) == pytest.approx(math.sqrt(math.log(2e4) / 100), rel=1e-12)
    with pytest.raises(ValueError, match="'n'"):
        fisher_correlation_tolerance(0.1, 3)


def test_batch_standard_error_of_a_mean():
    x = np.random.default_rng(1).normal(size=40_000)
    se = batch_standard_error(x, np.mean, n_batches=40)
    assert se == pytest.approx(1 / math.sqrt(40_000), rel=0.5)


# ----------------------------------------------------------------------------- the chapter's experiments
def test_experiment_functions_shapes_and_invariants():
    from mfat.experiments import random_linear_map as rlm

    spec = NetworkSpec(12, 16, 1, 3, 2.0, 0.05)
    ws = rlm.width_sweep(spec, (4, 32), 2000, generator=gen(51))
    assert ws["widths"].tolist() == [4.0, 32.0] and ws["pred_kurt_J"][0] > ws["pred_kurt_J"][1] > 0
    dp = rlm.depth_sweep(spec, (1.6, 2.4), 500, generator=gen(52))
    assert dp["var_J"].shape == (2, 3) and np.allclose(dp["pred_var_J"][1], 1.2 ** np.arange(1, 4) / 12)
    x = torch.randn(3, 12, generator=gen(53), dtype=torch.float64)
    inp = rlm.input_independence(spec, x, 200, generator=gen(54))
    assert inp["J"].shape == (200, 3) and inp["pred_corr_J"].shape == (3, 3)
    assert np.allclose(np.diag(inp["pred_corr_J"]), 1.0)
    adv = rlm.adversarial_inputs(spec, x[0], 4, eps=1.5, steps=3, generator=gen(55))
    assert adv["J"].shape == (4, 2) and adv["row_ms"].shape == (4, 2)
    assert np.all(adv["eta_norm"] <= 1.5 + 1e-9) and np.all((adv["flipped"] >= 0) & (adv["flipped"] <= 1))
    with pytest.raises(ValueError, match="eps"):
        rlm.adversarial_inputs(spec, x[0], 2, eps=0.0, generator=gen(56))
