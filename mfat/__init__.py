"""mfat: the engine behind the book "Adversarial training from a mean-field perspective".

The pipeline theorem -> closed form -> experiment -> chapter, one folder per layer; each imports only the
layers listed before it (``tests/test_layers.py``):

- foundation (this folder): :mod:`mfat.validation` (errors that name the parameter), :mod:`mfat.paths`,
  :mod:`mfat.atomic` (atomic writes), :mod:`mfat.data` (checksummed MNIST / Fashion-MNIST),
  :mod:`mfat.stats` (tolerances from sample sizes), :mod:`mfat.runtime` (generators, devices, ``timed``)
- :mod:`mfat.theory`       closed forms, float64, no torch: ``meanfield`` and one module per chapter stem
- :mod:`mfat.model`        Definition 3.1 networks: the layer rule, f(x) = J(x) x + a(x), norms, attacks,
                           objectives, training, the batched grid, the Fisher-Rao norm
- :mod:`mfat.laws`         exact finite-width samplers of J(x) and a(x)
- :mod:`mfat.companions`   the two-layer (chapter 6) and homogeneous (chapter 7) models
- :mod:`mfat.experiments`  one module per chapter stem: measurements and analyses
- :mod:`mfat.chapter`      what a page calls: context, settings (tiers), claims, the result store, executors,
                           plotting, figures
- :mod:`mfat.site`         build time: the runner (``python -m mfat``), generated pages, Sphinx extension, assets

Chapter stems: model, random_linear_map, adversarial_loss, weight_variance, trainability, capacity,
perturbation_learning, implicit_bias, attack_gaps (pages ``book/00_...`` to ``book/08_...``).
"""

__version__ = "0.2.0"
