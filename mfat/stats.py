"""Tolerances derived from sample sizes, and the few statistics the chapters share.

Every tolerance is ``z`` standard errors (default ``z = 4``: a correct claim fails with probability
about 6e-5), so that a chapter's assertions loosen with fewer samples by formula, never by hand.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _st

from mfat.validation import check_int, check_real

__all__ = [
    "Z_DEFAULT",
    "standard_error",
    "variance_ratio_tolerance",
    "mean_tolerance",
    "correlation_tolerance",
    "ks_tolerance",
    "ks_distance_normal",
    "excess_kurtosis",
    "loglog_slope",
    "batch_standard_error",
    "fisher_correlation_tolerance",
    "two_sample_ks_tolerance",
    "uncorrelated_tolerance",
]

Z_DEFAULT = 4.0


def variance_ratio_tolerance(n: int, z: float = Z_DEFAULT, excess_kurtosis: float = 0.0) -> float:
    """Tolerance on Var_hat / Var: z sqrt((2 + kappa) / (n - 1)) for n samples (kappa = excess kurtosis)."""
    n = check_int("n", n, min_value=2)
    return z * math.sqrt((2.0 + excess_kurtosis) / (n - 1))


def standard_error(samples, axis=None) -> float | np.ndarray:
    """Standard error of the mean, std(ddof=1) / sqrt(n), of ``samples`` (over ``axis``; all of them by default)."""
    a = np.asarray(samples, dtype=float)
    n = a.size if axis is None else a.shape[axis]
    return np.std(a, axis=axis, ddof=1) / math.sqrt(n)


def mean_tolerance(std: float, n: int, z: float = Z_DEFAULT) -> float:
    """Tolerance on a sample mean: z std / sqrt(n)."""
    n = check_int("n", n, min_value=1)
    std = check_real("std", std, min_value=0.0)
    return z * std / math.sqrt(n)


def correlation_tolerance(n: int, z: float = Z_DEFAULT) -> float:
    """Tolerance on a sample correlation whose true value is 0: z / sqrt(n)."""
    n = check_int("n", n, min_value=2)
    return z / math.sqrt(n)


def ks_tolerance(n: int, alpha: float = 1e-4) -> float:
    """Critical Kolmogorov-Smirnov distance at level alpha for n samples: sqrt(ln(2/alpha) / (2n))."""
    n = check_int("n", n, min_value=1)
    alpha = check_real("alpha", alpha, min_value=0.0, max_value=1.0, min_inclusive=False)
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


def ks_distance_normal(samples, variance: float) -> float:
    """KS distance between the empirical law of ``samples`` (1-D) and N(0, variance)."""
    variance = check_real("variance", variance, min_value=0.0, min_inclusive=False)
    x = np.asarray(samples, dtype=np.float64).ravel()
    return float(_st.kstest(x, "norm", args=(0.0, math.sqrt(variance))).statistic)


def excess_kurtosis(samples) -> float:
    """Sample excess kurtosis (0 for a Gaussian)."""
    return float(_st.kurtosis(np.asarray(samples, dtype=np.float64).ravel(), fisher=True))


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    x = np.log(np.asarray(x, dtype=np.float64))
    y = np.log(np.asarray(y, dtype=np.float64))
    return float(np.polyfit(x, y, 1)[0])


def batch_standard_error(samples, statistic, n_batches: int = 25) -> float:
    """Standard error of ``statistic(samples)`` from ``n_batches`` disjoint batches: sd(batch values)/sqrt(B).

    ``samples``: array (n, ...) of iid rows; ``statistic``: array -> float. Makes no distributional assumption,
    so it is used for statistics of heavy-tailed finite-width samples (kurtosis, correlation of squares).
    """
    samples = np.asarray(samples)
    n_batches = check_int("n_batches", n_batches, min_value=2, max_value=len(samples))
    values = [statistic(b) for b in np.array_split(samples, n_batches)]
    return float(standard_error(values))


def fisher_correlation_tolerance(r: float, n: int, z: float = Z_DEFAULT) -> float:
    """Half-width, in r, of the Fisher interval tanh(atanh r +- z/sqrt(n-3)) around a sample correlation r."""
    n = check_int("n", n, min_value=4)
    r = float(np.clip(check_real("r", r, min_value=-1.0, max_value=1.0), -0.999999, 0.999999))
    w = z / math.sqrt(n - 3)
    return float(max(math.tanh(math.atanh(r) + w) - r, r - math.tanh(math.atanh(r) - w)))


def two_sample_ks_tolerance(n1: int, n2: int, alpha: float = 1e-4) -> float:
    """Critical two-sample KS distance at level alpha: ks_tolerance at the effective size n1 n2 / (n1 + n2)."""
    n1, n2 = check_int("n1", n1, min_value=1), check_int("n2", n2, min_value=1)
    return ks_tolerance(1, alpha) * math.sqrt((n1 + n2) / (n1 * n2))


def uncorrelated_tolerance(n: int, kurt_J: float, kurt_a: float, corr_sq: float, z: float = Z_DEFAULT) -> float:
    """Tolerance on the sample correlation of J and a, whose true value is 0, when they are dependent.

    For uncorrelated X, Y the sample correlation has variance E[X^2 Y^2] / (E X^2 E Y^2) / n to leading order;
    with the exact finite-width moments (:func:`mfat.theory.finite_width_moments`) that ratio is
    1 + corr(J^2, a^2) sqrt((kappa_J + 2)(kappa_a + 2)). Reduces to :func:`correlation_tolerance` when
    J and a are independent.
    """
    n = check_int("n", n, min_value=2)
    factor = 1.0 + corr_sq * math.sqrt((kurt_J + 2.0) * (kurt_a + 2.0))
    return z * math.sqrt(max(factor, 0.0) / n)
