"""Definition 3.1 networks and what is done to them: the layer rule, the decomposition f(x) = J(x) x + a(x),
operator norms, attacks, training objectives, single-network and batched training, the Fisher-Rao norm, and the
FLOP counts of these kernels."""

from mfat.model import attacks, fisher_rao, flops, grid, linearize, networks, norms, objectives, training  # noqa: F401
