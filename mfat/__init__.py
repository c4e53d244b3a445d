"""mfat: the engine behind the book "Adversarial training from a mean-field perspective".

Small modules with one job each (see ``design.md``):

- :mod:`mfat.model.networks`   Definition 3.1 networks (vanilla / residual, ReLU-like)
- :mod:`mfat.theory`     closed forms (float64, pure functions)
- :mod:`mfat.model.linearize`  the exact decomposition f(x) = J(x) x + a(x)
- :mod:`mfat.data`       MNIST / Fashion-MNIST fetch, verify, read; synthetic inputs
- :mod:`mfat.chapter.settings`   typed quick / full settings of every chapter
- :mod:`mfat.chapter.claims`     claims (prediction, measurement, tolerance) for the scorecard
- :mod:`mfat.stats`      tolerances derived from sample sizes
- :mod:`mfat.chapter.results`    result cache keyed on settings and the mfat version
- :mod:`mfat.chapter.plotting`   one theme: theory as lines, experiment as markers or bands
"""

__version__ = "0.1.0"
