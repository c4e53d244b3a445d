"""Closed forms of the book, one submodule per topic, re-exported here.

All functions are pure and evaluated in float64.

- :mod:`.meanfield`  alpha, omega, Theorem 4.1 variances, the signal recursion q^(l)
"""

from .meanfield import *  # noqa: F401,F403
from .meanfield import __all__ as _meanfield_all

__all__ = list(_meanfield_all)
