"""Settings of chapter 3, "Weight variance under adversarial training" (Theorem 5.4, the paper's Fig. 4)."""

from __future__ import annotations

from dataclasses import dataclass

from mfat.chapter.settings import TrainingSettings, param, register


@dataclass(frozen=True)
class WeightVarianceSettings(TrainingSettings):
    # the network and the data of Fig. 4
    n_train: int = param(10000, ge=64, le=60000, doc="training examples (the first n of the training split)")
    N: int = param(128, ge=8, doc="width of the Fig. 4 networks")
    L: int = param(4, ge=1, le=50, doc="depth of the Fig. 4 networks")
    sigma_w2: float = param(2.0, gt=0.0, doc="vanilla initial sigma_w^2 (2 = critical for ReLU)")
    residual_sigma_w2: float = param(0.5, gt=0.0, doc="residual initial sigma_w^2")
    # the threat model and the optimiser
    eps: float = param(0.3, gt=0.0, doc="l_inf attack budget in pixel units [0, 1]")
    lr: float = param(0.01, gt=0.0, le=1.0, doc="SGD learning rate (t = lr * steps)")
    batch_size: int = param(32, ge=1, doc="mini-batch size")
    attack_steps: int = param(3, ge=1, doc="PGD steps per training update (default step size 2.5 eps / steps)")
    attack_restarts: int = param(1, ge=1, doc="PGD restarts per training update (the best one is used); the cpu tier trains with "
                                                 "10 steps x 4 restarts: at initialisation 3 steps x 1 find 0.57 of the "
                                                 "L_adv of a 50 x 8 reference, 10 x 4 find 0.90")
    candidate_attack_steps: int = param(10, ge=1, doc="PGD steps of the stronger attack measured against the "
                                                      "training attack (the cpu tier's training attack)")
    candidate_attack_restarts: int = param(4, ge=1, doc="PGD restarts of that stronger attack")
    weight_decay: float = param(0.02, gt=0.0, doc="l2 coefficient of the weight-decay curve")
    steps: int = param(150, ge=10, doc="SGD steps of the Fig. 4 curves")
    record_every: int = param(5, ge=1, doc="steps between recorded rows after the initial window")
    slope_steps: int = param(5, ge=1, doc="the initial window (steps) of the measured slope")
    # sweeps (adv_only, the setting of Theorem 5.4)
    widths: tuple[int, ...] = param((64, 128, 256, 512), ge=8, doc="widths of the slope-versus-N sweep")
    n_seeds: int = param(4, ge=2, doc="independent networks per width")
    sweep_steps: int = param(30, ge=2, doc="SGD steps per width-sweep run (departure times need them)")
    depths: tuple[int, ...] = param((2, 4, 6, 8), ge=1, le=50, doc="depths of the slope-versus-L sweep")
    eps_values: tuple[float, ...] = param((0.03, 0.1, 0.2, 0.3), gt=0.0, doc="budgets of the slope-versus-eps sweep")
    n_sweep_seeds: int = param(2, ge=1, doc="networks per depth and per eps")
    departure_tol: float = param(0.1, gt=0.0, lt=1.0, doc="relative gap at which a curve leaves the prediction")
    # the identity
    identity_examples: int = param(64, ge=2, doc="inputs of the identity measurement")
    identity_attack_steps: int = param(20, ge=1, doc="PGD steps of the identity measurement")
    n_residual_networks: int = param(8, ge=2, doc="networks of the residual identity average")
    small_eps: float = param(0.01, gt=0.0, doc="a budget small enough for one activation region (mostly)")
    fashion_steps: int = param(150, ge=0, doc="SGD steps of the Fashion-MNIST curves (0: skip them)")

    def check(self) -> None:
        if self.slope_steps > min(self.steps, self.sweep_steps):
            raise ValueError(f"parameter 'slope_steps' = {self.slope_steps} is out of range: allowed at most "
                             f"min(steps, sweep_steps) = {min(self.steps, self.sweep_steps)}")
        if self.batch_size > self.n_train:
            raise ValueError(f"parameter 'batch_size' = {self.batch_size} is out of range: allowed at most "
                             f"n_train = {self.n_train}")
        if len(self.widths) < 2:
            raise ValueError(f"parameter 'widths' = {self.widths} is out of range: allowed at least two widths")


register("weight_variance",
         quick=WeightVarianceSettings(),
         # the stronger training attack (10 x 4), twice the training of the quick tier, more networks per point
         cpu=WeightVarianceSettings(attack_steps=10, attack_restarts=4, steps=300, fashion_steps=300, n_seeds=6,
                                    n_sweep_seeds=3, identity_examples=128, n_residual_networks=16),
         full=WeightVarianceSettings(n_train=60000, N=1000, L=10, batch_size=128, attack_steps=10, steps=2000,
                                     record_every=20, slope_steps=10, widths=(500, 1000, 2000, 4000), n_seeds=3,
                                     sweep_steps=200, depths=(2, 5, 10, 15), n_sweep_seeds=2,
                                     identity_examples=128, n_residual_networks=20, fashion_steps=2000,
                                     weight_decay=0.0025))
