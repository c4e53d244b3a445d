"""Settings of chapter 7, "The implicit bias of adversarial training" (Lyu & Zhu, ICLR 2022, reconstructed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mfat.chapter.settings import Settings, param, register


@dataclass(frozen=True)
class ImplicitBiasSettings(Settings):
    # -- deep linear networks on random separable data (E1)
    n: int = param(30, ge=2, doc="E1: training examples of the random separable data set")
    d: int = param(5, ge=2, doc="E1: input dimension")
    data_margin: float = param(0.5, gt=0.0, doc="E1: the data are shifted by this much along a random direction")
    widths: tuple[int, ...] = param((8, 8), ge=1, doc="hidden widths of the deep linear network (L = len + 1)")
    init_std: float = param(0.1, gt=0.0, doc="std of every entry of the deep linear network at initialisation")
    eps_below: tuple[float, ...] = param((0.3, 0.6), gt=0.0, lt=1.0,
                                         doc="E1: l2 budgets below the margin, in units of gamma*")
    eps_beyond: tuple[float, ...] = param((1.0, 1.2), ge=1.0,
                                          doc="E1: l2 budgets at / beyond the margin, in units of gamma*")
    eps_linf_e1: float = param(0.3, gt=0.0, lt=1.0, doc="E1: l_inf (FGSM) budget, in units of gamma*")
    seeds: int = param(3, ge=1, doc="independent initialisations per configuration (trained in one batch)")
    steps_normalised: int = param(4000, ge=10, doc="deep linear: steps of normalised GD (lr / ||theta||^(L-1))")
    lr_normalised: float = param(0.05, gt=0.0, doc="deep linear: learning rate of normalised GD")
    steps_constant: int = param(20000, ge=10, doc="deep linear: steps of plain GD (constant learning rate)")
    lr_constant: float = param(0.05, gt=0.0, doc="deep linear: constant learning rate")
    # -- deep linear networks on a data set where the l2 and l_inf targets differ (E2)
    n_per_class: int = param(10, ge=1, doc="E2: points per class")
    center: tuple[float, ...] = param((2.0, 1.0),
                                      doc="E2: centre of the positive cluster (the negative one at -centre)")
    spread: float = param(0.2, ge=0.0, doc="E2: std of the clusters")
    eps_linf_e2: float = param(0.8, gt=0.0, doc="E2: l_inf (FGSM) budget (absolute)")
    # -- bias-free two-layer ReLU networks (E3)
    relu_m: int = param(32, ge=1, doc="E3: hidden width")
    relu_init_scale: float = param(1.0, gt=0.0, doc="E3: W ~ N(0, s^2/d), a ~ N(0, s^2/m)")
    relu_steps: int = param(1000, ge=10, doc="E3: training steps")
    relu_norm_power: float = param(2.0, ge=0.0, doc="E3: normalised step lr / ||theta||^power")
    pgd_steps: int = param(3, ge=1, doc="E3: PGD iterations per training step")
    relu_n_log: int = param(40, ge=4, doc="E3: recorded steps (log-spaced plus evenly spaced)")
    syn_n: int = param(100, ge=4, doc="E3 synthetic: examples (sign(x1 x2) on the sphere of radius sqrt(d))")
    syn_d: int = param(10, ge=2, doc="E3 synthetic: input dimension")
    syn_min_margin: float = param(0.05, ge=0.0, lt=0.5, doc="E3 synthetic: keep |x1 x2| / ||x||^2 >= this")
    syn_lr: float = param(2.0, gt=0.0, doc="E3 synthetic: learning rate after t0")
    syn_lr_fit: float = param(5.0, gt=0.0, doc="E3 synthetic: learning rate until t0")
    syn_eps_l2: float = param(0.3, gt=0.0, doc="E3 synthetic: l2 budget (FGM, PGD)")
    syn_eps_linf: float = param(0.1, gt=0.0, doc="E3 synthetic: l_inf budget (FGSM)")
    mnist_n: int = param(100, ge=4, le=12665, doc="E3 MNIST 0 vs 1: training examples")
    mnist_lr: float = param(0.05, gt=0.0, doc="E3 MNIST: learning rate after t0")
    mnist_lr_fit: float = param(0.5, gt=0.0, doc="E3 MNIST: learning rate until t0")
    mnist_eps_l2: float = param(1.0, gt=0.0, doc="E3 MNIST: l2 budget (pixels in [0, 1]; FGM, PGD)")
    mnist_eps_linf: float = param(0.1, gt=0.0, doc="E3 MNIST: l_inf budget (FGSM)")
    relu_float64: bool = param(False, doc="E3: train in float64 (else float32; margins and KKT in float64)")

    def check(self) -> None:
        if len(self.center) < 2:
            raise ValueError(f"parameter 'center' = {self.center!r} is out of range: allowed at least 2 coordinates")


_FULL = ImplicitBiasSettings(seeds=10, steps_normalised=20000, steps_constant=200000, relu_m=100, relu_steps=10000,
                             pgd_steps=10, syn_n=300, mnist_n=1000, relu_float64=True)

register("implicit_bias",
         quick=ImplicitBiasSettings(),
         # half the constant-step budget, smaller ReLU networks in float32, 300 MNIST images
         cpu=dataclasses.replace(_FULL, steps_constant=100000, relu_m=64, relu_steps=2000, pgd_steps=5, mnist_n=300,
                                 relu_float64=False),
         full=_FULL)
