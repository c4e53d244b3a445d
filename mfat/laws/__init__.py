"""Exact finite-width laws of the random linear map f(x) = J(x) x + a(x) (Theorem 4.1 and beyond):
samplers that draw J and a in law, at a cost independent of the width."""

from mfat.laws import jacobian, linear_map  # noqa: F401
