"""Argument validation at the package boundary.

Every public function that takes user-facing numbers checks them here, so that a bad value fails
early with a ``ValueError`` naming the parameter, its value and the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

__all__ = ["check_int", "check_real", "check_choice", "check_probability", "normalise_p"]

#: The exponents of the l_p norms the book uses (p, q in {1, 2, inf}).
P_VALUES = (1.0, 2.0, math.inf)


def _fail(name: str, value, allowed: str) -> ValueError:
    return ValueError(f"parameter '{name}' = {value!r} is out of range: allowed {allowed}")


def check_int(name: str, value, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """Return ``value`` as ``int`` if it is an integer in ``[min_value, max_value]``, else raise ``ValueError``."""
    lo = "-inf" if min_value is None else str(min_value)
    hi = "inf" if max_value is None else str(max_value)
    allowed = f"an integer in [{lo}, {hi}]"
    if isinstance(value, bool) or not isinstance(value, Integral):
        if isinstance(value, Real) and not isinstance(value, bool) and float(value).is_integer():
            value = int(value)
        else:
            raise _fail(name, value, allowed)
    value = int(value)
    if (min_value is not None and value < min_value) or (max_value is not None and value > max_value):
        raise _fail(name, value, allowed)
    return value


def check_real(
    name: str,
    value,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Return ``value`` as ``float`` if it is a finite real in the given interval, else raise ``ValueError``."""
    lb = "(-inf" if min_value is None else ("[" if min_inclusive else "(") + repr(min_value)
    ub = "inf)" if max_value is None else repr(max_value) + ("]" if max_inclusive else ")")
    allowed = f"a finite real number in {lb}, {ub}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise _fail(name, value, allowed)
    value = float(value)
    if not math.isfinite(value):
        raise _fail(name, value, allowed)
    if min_value is not None and (value < min_value or (not min_inclusive and value == min_value)):
        raise _fail(name, value, allowed)
    if max_value is not None and (value > max_value or (not max_inclusive and value == max_value)):
        raise _fail(name, value, allowed)
    return value


def check_probability(name: str, value) -> float:
    """A real number in [0, 1]."""
    return check_real(name, value, min_value=0.0, max_value=1.0)


def check_choice(name: str, value, choices: Iterable):
    """Return ``value`` if it is one of ``choices`` (compared with ``==``), else raise ``ValueError``."""
    choices = tuple(choices)
    for c in choices:
        if value == c and isinstance(value, bool) == isinstance(c, bool):
            return c
    raise _fail(name, value, "one of " + ", ".join(repr(c) for c in choices))


def normalise_p(name: str, value) -> float:
    """Return ``value`` as one of ``1.0, 2.0, math.inf``, else raise ``ValueError`` naming ``name``.

    Accepts ints, floats (``float('inf')``, ``math.inf``, ``numpy.inf``) and the strings ``"1"``, ``"2"``,
    ``"inf"`` (case-insensitive; also ``"infinity"``).
    """
    v = None
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("inf", "+inf", "infinity"):
            v = math.inf
        elif s in ("1", "2", "1.0", "2.0"):
            v = float(s)
    elif isinstance(value, Real) and not isinstance(value, bool):
        v = float(value)
    if v not in P_VALUES:
        raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed one of 1, 2, inf")
    return v
