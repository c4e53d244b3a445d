"""Closed forms of mfat.theory.meanfield: values, identities and argument validation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mfat import theory

slopes = st.floats(0.05, 2.0)
gains = st.floats(0.01, 4.0)


def test_relu_values():
    assert theory.alpha() == 0.5
    assert theory.omega(2.0) == 1.0
    assert theory.omega(2.0, residual=True) == 2.0
    assert theory.var_J(1000, 10, 2.0) == pytest.approx(1e-3)
    assert theory.var_a(10, 2.0, 0.01) == pytest.approx(0.5 * 0.01 * 10)
    assert theory.critical_sigma_w2(1.0, 0.5) == pytest.approx(1.6)


@settings(max_examples=50, deadline=None)
@given(u=slopes, v=st.floats(-1, 1), sw2=gains, sb2=st.floats(0, 1), L=st.integers(1, 30), res=st.booleans())
def test_var_a_is_a_geometric_sum(u, v, sw2, sb2, L, res):
    w = theory.omega(sw2, u, v, res)
    expected = theory.alpha(u, v) * sb2 * sum(w**k for k in range(L))
    assert theory.var_a(L, sw2, sb2, u, v, res) == pytest.approx(expected, rel=1e-10, abs=1e-300)


@settings(max_examples=50, deadline=None)
@given(u=slopes, v=st.floats(-1, 1), sw2=gains, L=st.integers(1, 30), res=st.booleans(), q0=st.floats(0.1, 5))
def test_signal_recursion_without_bias_is_geometric(u, v, sw2, L, res, q0):
    q = theory.signal_recursion(q0, L, sw2, 0.0, u, v, res)
    w = theory.omega(sw2, u, v, res)
    assert q.shape == (L + 1,) and q.dtype == np.float64
    assert np.allclose(q, q0 * w ** np.arange(L + 1), rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(sw2=gains, sb2=st.floats(0, 1), L=st.integers(1, 20), res=st.booleans())
def test_output_moment_splits_into_jacobian_and_bias_parts(sw2, sb2, L, res):
    """E f^2 = d Var J * q0 + Var a (Theorem 4.1 with ||x||^2 = d q0)."""
    q0 = 1.3
    lhs = theory.output_second_moment(q0, L, sw2, sb2, residual=res)
    rhs = 7 * theory.var_J(7, L, sw2, residual=res) * q0 + theory.var_a(L, sw2, sb2, residual=res)
    assert lhs == pytest.approx(rhs, rel=1e-10)


@pytest.mark.parametrize("call, name", [
    (lambda: theory.alpha(0, 0), "'u'"), (lambda: theory.omega(-1), "sigma_w2"), (lambda: theory.var_J(0, 2, 2), "'d'"),
    (lambda: theory.var_J(5, 0, 2), "'L'"), (lambda: theory.var_a(3, 2, -0.1), "sigma_b2"),
    (lambda: theory.signal_recursion(-1, 3, 2, 0), "q0"), (lambda: theory.alpha(math.inf), "'u'"),
])
def test_validation(call, name):
    with pytest.raises(ValueError, match=name):
        call()
