"""Settings of chapter 8, "Why some (p, q) attacks are harder" (the attack problem of Theorem 5.1, step 1)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mfat.chapter.settings import Settings, param, register


@dataclass(frozen=True)
class AttackGapsSettings(Settings):
    # the network and its inputs (the vanilla ReLU setting of chapters 3 and 5, MNIST pixels in [0, 1])
    N: int = param(128, ge=4, doc="width of the network (and of the exact law of the small-eps limit)")
    L: int = param(4, ge=1, le=50, doc="depth of the network")
    K: int = param(10, ge=2, le=16, doc="outputs (at most 16: (2,1) and (inf,1) are then enumerated exactly)")
    sigma_w2: float = param(2.0, gt=0.0, doc="sigma_w^2 (2 = critical for ReLU)")
    n_inputs: int = param(8, ge=2, doc="MNIST test images attacked on the network")
    eps_values: tuple[float, ...] = param((0.01, 0.3), gt=0.0, doc="budgets of the network, in pixel units")
    # the attacks
    steps: tuple[int, ...] = param((1, 3, 10), ge=1, doc="PGD steps of the random-start variants")
    rules: tuple[str, ...] = param(("madry", "full"), choices=("madry", "full"),
                                   doc="step-size rules on linear maps: 2.5 eps / steps, or full steps")
    network_rules: tuple[str, ...] = param(("madry",), choices=("madry", "full"), doc="step-size rules on the network")
    restarts: int = param(4, ge=2, doc="random restarts of every random-start variant")
    refine_steps: int = param(10, ge=1, doc="madry steps after the jump to the linearised maximiser")
    norm_restarts: int = param(4, ge=0, doc="random starts of the sign search that brackets (inf,2)")
    # the small-eps limit on the exact law
    law_samples: int = param(32, ge=2, doc="exact-law draws of J at the network's setting")
    geometry_samples: int = param(8, ge=1, doc="matrices whose local maxima are counted (law and MNIST each)")
    geometry_starts: int = param(16, ge=2, doc="random starts of the full-step iteration per matrix")
    geometry_steps: int = param(100, ge=1, doc="full steps per start (enough to reach a fixed point)")
    # sweeps on the exact law, around (d = 784, K, sweep_L, sweep_N)
    sweep_samples: int = param(16, ge=2, doc="exact-law draws per sweep point")
    sweep_steps: int = param(10, ge=1, doc="steps of the swept attacks")
    sweep_N: int = param(1000, ge=4, doc="width at the centre of the sweeps")
    sweep_L: int = param(10, ge=1, le=100, doc="depth at the centre of the sweeps")
    d_values: tuple[int, ...] = param((16, 64, 784), ge=2, doc="input dimensions of the d sweep")
    K_values: tuple[int, ...] = param((2, 10, 30), ge=2, doc="outputs of the K sweep")
    depths: tuple[int, ...] = param((1, 10), ge=1, le=100, doc="depths of the depth sweep")
    widths: tuple[int, ...] = param((16, 1000), ge=4, doc="widths of the width sweep")
    # the training attacks of chapters 3 to 5
    training_tiers: tuple[str, ...] = param(("quick",), choices=("quick", "full"),
                                            doc="tiers of chapters 3 to 5 whose training attacks are measured")
    train_inputs: int = param(16, ge=2, doc="MNIST training images the training attacks are measured on")
    reference_steps: int = param(50, ge=1, doc="steps of the reference attack")
    reference_restarts: int = param(8, ge=1, doc="restarts of the reference attack")
    trained_steps: int = param(150, ge=0, doc="SGD steps of the short adversarial training (0: skip it)")

    def check(self) -> None:
        if len(self.eps_values) < 2 or max(self.eps_values) < 0.3:
            raise ValueError(f"parameter 'eps_values' = {self.eps_values} is out of range: allowed at least two "
                             "budgets, one of them >= 0.3 (the training budget of chapters 3 to 5)")


_CPU = AttackGapsSettings(N=512, L=10, n_inputs=32, steps=(1, 3, 10, 50), restarts=8, law_samples=64,
                          geometry_samples=16, geometry_starts=64, geometry_steps=200, sweep_samples=32,
                          d_values=(16, 64, 256, 784), K_values=(2, 5, 10, 30, 100), depths=(1, 3, 10, 30),
                          widths=(16, 64, 256, 1000, 4000), training_tiers=("quick", "full"), train_inputs=32)

register("attack_gaps",
         quick=AttackGapsSettings(),
         cpu=_CPU,
         # the chapter 3 and 5 network of the paper's scale, and more of everything (for a GPU)
         full=dataclasses.replace(_CPU, N=1000, n_inputs=64, law_samples=256, sweep_samples=64, restarts=16,
                                  train_inputs=64))
