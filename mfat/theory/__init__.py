"""Closed forms of the book, one submodule per topic, re-exported here.

All functions are pure and evaluated in float64.

- :mod:`.meanfield`          alpha, omega, Theorem 4.1 variances, the signal recursion q^(l)
- :mod:`.random_linear_map`  exact finite-width moments of J and a, input correlations (chapter 1)
- :mod:`.bounds`             beta_{p,q} and the adversarial-loss bound of Theorem 5.1 (chapter 2)
- :mod:`.variance`           weight variance under adversarial training, Theorem 5.4 (chapter 3)
- :mod:`.trainability`       (M, m)-trainability, Lemma 5.5, Theorems 5.6 and 5.7 (chapter 4)
- :mod:`.capacity`           the Fisher-Rao norm, Theorem 5.8 (chapter 5)
- :mod:`.kernel`             the kernel Phi of wide two-layer networks (chapter 6)
- :mod:`.margin`             margins of adversarial training (chapter 7)
"""

from importlib import import_module

_SUBMODULES = ("meanfield", "random_linear_map", "bounds", "variance", "trainability", "capacity", "kernel",
               "margin")

__all__: list[str] = []
for _name in _SUBMODULES:
    _module = import_module(f"{__name__}.{_name}")
    for _symbol in _module.__all__:
        globals()[_symbol] = getattr(_module, _symbol)
    __all__ += list(_module.__all__)
del _name, _module, _symbol
