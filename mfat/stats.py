"""Tolerances derived from sample sizes, and the few statistics the chapters share.

Every tolerance is ``z`` standard errors (default ``z = 4``: a correct claim fails with probability
about 6e-5), so that a chapter's assertions loosen with fewer samples by formula, never by hand.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _st

from .validation import check_int, check_real

__all__ = [
    "Z_DEFAULT",
    "variance_ratio_tolerance",
    "mean_tolerance",
    "correlation_tolerance",
    "ks_tolerance",
    "ks_distance_normal",
    "excess_kurtosis",
    "loglog_slope",
]

Z_DEFAULT = 4.0


def variance_ratio_tolerance(n: int, z: float = Z_DEFAULT, excess_kurtosis: float = 0.0) -> float:
    """Tolerance on Var_hat / Var: z sqrt((2 + kappa) / (n - 1)) for n samples (kappa = excess kurtosis)."""
    n = check_int("n", n, min_value=2)
    return z * math.sqrt((2.0 + excess_kurtosis) / (n - 1))


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
