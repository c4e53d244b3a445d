"""Settings of chapter 5, "Capacity: the Fisher-Rao norm under adversarial training" (Theorem 5.8)."""

from __future__ import annotations

from dataclasses import dataclass

from mfat.chapter.settings import TrainingSettings, param, register


@dataclass(frozen=True)
class CapacitySettings(TrainingSettings):
    # Monte Carlo at initialisation (Gaussian inputs with ||x|| = sqrt(d))
    init_d: int = param(100, ge=1, doc="input dimension of the Monte Carlo at initialisation")
    init_N: int = param(128, ge=2, doc="width of the Monte Carlo networks")
    init_depths: tuple[int, ...] = param((2, 4, 8), ge=1, le=100, doc="depths of the Monte Carlo at initialisation")
    init_networks: int = param(100, ge=2, doc="independent random networks per Monte Carlo setting")
    init_inputs: int = param(8, ge=1, doc="fresh inputs per network (the FR batch)")
    vanilla_sigma_w2: float = param(2.0, gt=0.0, doc="vanilla sigma_w^2 (2 = critical for ReLU)")
    residual_sigma_w2: float = param(0.5, gt=0.0, doc="residual sigma_w^2")
    bias_sigma_b2: float = param(0.05, gt=0.0, doc="sigma_b^2 of the with-bias check")
    # the paper-scale check of the initial value (asserted within 10% at the full profile)
    scale_N: int = param(256, ge=2, doc="width of the data-set check of the initial FR")
    scale_L: int = param(4, ge=1, le=100, doc="depth of the data-set check of the initial FR")
    scale_networks: int = param(40, ge=2, doc="networks of the data-set check of the initial FR")
    # data and training (the Fig. 4 set-up of chapter 3: vanilla ReLU, l_inf, eps = 0.3, plain SGD)
    dataset: str = param("mnist", choices=("mnist", "fashion-mnist"), doc="data set of the main training runs")
    n_train: int = param(2000, ge=64, le=60000, doc="training examples (the first n of the training split)")
    fr_batch: int = param(256, ge=8, le=10000, doc="fixed test-split inputs on which FR is measured")
    eps: float = param(0.3, gt=0.0, doc="l_inf attack budget in pixel units [0, 1]")
    lr: float = param(0.01, gt=0.0, le=1.0, doc="SGD learning rate (t = lr * steps)")
    batch_size: int = param(32, ge=1, doc="mini-batch size")
    attack_steps: int = param(3, ge=1, doc="PGD steps per update (default step size 2.5 eps / steps)")
    attack_restarts: int = param(1, ge=1, doc="PGD restarts per training update (the best one is used); the cpu tier trains with "
                                                 "10 steps x 4 restarts: at initialisation 3 steps x 1 find 0.49 of the "
                                                 "L_adv of a 50 x 8 reference, 10 x 4 find 0.86")
    candidate_attack_steps: int = param(10, ge=1, doc="PGD steps of the stronger attack measured against the "
                                                      "training attack (the cpu tier's training attack)")
    candidate_attack_restarts: int = param(4, ge=1, doc="PGD restarts of that stronger attack")
    # first-order slopes at initialisation (float64, adv_only) and the short training curves
    widths: tuple[int, ...] = param((128, 256, 512), ge=8, doc="widths of the width sweep (at depth L)")
    L: int = param(4, ge=1, le=50, doc="depth of the width sweep")
    depths: tuple[int, ...] = param((2, 4, 8), ge=1, le=50, doc="depths of the depth sweep (at width N)")
    N: int = param(256, ge=8, doc="width of the depth sweep")
    slope_seeds: int = param(2, ge=1, doc="networks per setting of the first-order slopes")
    slope_batch: int = param(256, ge=8, doc="training examples in the gradient of the first-order slopes")
    curve_steps: int = param(20, ge=2, doc="SGD steps of the adv_only curves (recorded at every step)")
    slope_steps: int = param(5, ge=1, doc="the initial window (steps) of the measured mean-field slope")
    # what capacity buys: clean and robust accuracy over a longer run
    acc_widths: tuple[int, ...] = param((128, 512), ge=8, doc="widths of the accuracy-versus-capacity runs")
    acc_steps: int = param(150, ge=1, doc="SGD steps of the accuracy-versus-capacity runs")
    acc_lr: float = param(0.05, gt=0.0, le=1.0, doc="SGD learning rate of those runs")
    acc_eps: float = param(0.1, gt=0.0, doc="l_inf budget of those runs (training and robust evaluation)")
    acc_record_every: int = param(25, ge=1, doc="steps between recorded rows of those runs")
    eval_size: int = param(200, ge=10, doc="test examples for clean and robust accuracy")
    # the Fashion-MNIST version
    fashion: bool = param(True, doc="repeat the first-order slopes and a training curve on Fashion-MNIST")

    def check(self) -> None:
        if self.slope_steps >= self.curve_steps:
            raise ValueError(f"parameter 'slope_steps' = {self.slope_steps} is out of range: allowed at most "
                             f"curve_steps - 1 = {self.curve_steps - 1}")
        if max(self.batch_size, self.slope_batch) > self.n_train:
            raise ValueError(f"parameters 'batch_size' = {self.batch_size} and 'slope_batch' = {self.slope_batch} "
                             f"are out of range: allowed at most n_train = {self.n_train}")
        for name in ("widths", "depths"):
            if len(set(getattr(self, name))) < 2:
                raise ValueError(f"parameter '{name}' = {getattr(self, name)} is out of range: allowed at least "
                                 "two distinct values")


register("capacity",
         quick=CapacitySettings(),
         # the stronger training attack (10 x 4), the paper's Monte Carlo sizes, wider sweeps, longer curves
         cpu=CapacitySettings(attack_steps=10, attack_restarts=4, init_networks=300, scale_networks=100,
                              n_train=10000, widths=(128, 256, 512, 1024), slope_seeds=3, curve_steps=40,
                              acc_widths=(128, 512, 1024), acc_steps=300, eval_size=500),
         full=CapacitySettings(init_N=500, init_depths=(2, 5, 10), init_networks=300, init_inputs=16,
                               scale_N=1000, scale_L=10, scale_networks=300,
                               n_train=60000, fr_batch=1000, batch_size=128, attack_steps=10,
                               widths=(250, 500, 1000, 2000), L=10, depths=(2, 5, 10, 15), N=1000, slope_seeds=3,
                               slope_batch=1000, curve_steps=100, slope_steps=10,
                               acc_widths=(250, 1000, 4000), acc_steps=2000, acc_record_every=100, eval_size=1000))
