"""The models of the two companion papers: wide two-layer networks learning from adversarial perturbations
(chapter 6) and homogeneous networks with their robust max-margin solutions (chapter 7)."""

from mfat.companions import homogeneous, margins, perturbation, two_layer  # noqa: F401
