"""Settings of chapter 4, "Trainability" (Lemma 5.5, Theorems 5.6 and 5.7, the paper's Fig. 5; sources appendix: Theorems 5.6-5.7 and the experiments)."""

from __future__ import annotations

from dataclasses import dataclass

from mfat.chapter.settings import TrainingSettings, param, register


@dataclass(frozen=True)
class TrainabilitySettings(TrainingSettings):
    # Definition 5.5 and Lemma 5.5
    m: float = param(1e-4, gt=0.0, le=1.0, doc="lower trainability threshold m on omega^L (Fig. 5: 1e-4)")
    M: float = param(1e4, ge=1.0, doc="upper trainability threshold M on omega^L")
    gain_d: int = param(64, ge=1, doc="input dimension of the random networks whose gains are measured")
    gain_N: int = param(128, ge=8, doc="width of the random networks whose gains are measured")
    gain_L_max: int = param(20, ge=2, le=60, doc="deepest network of the gain measurement")
    gain_networks: int = param(16, ge=4, doc="random networks per setting of the gain measurement")
    gain_vanilla_sigma_w2: tuple[float, ...] = param((1.0, 2.0, 3.6), gt=0.0, doc="vanilla sigma_w^2 of the gains")
    gain_residual_sigma_w2: tuple[float, ...] = param((0.5, 2.0), gt=0.0, doc="residual sigma_w^2 of the gains")
    # the training runs (Fig. 5)
    dataset: str = param("mnist", choices=("mnist", "fashion-mnist"), doc="data set of the main heat maps")
    n_train: int = param(2000, ge=64, le=60000, doc="training examples (the first n of the training split)")
    eval_size: int = param(500, ge=50, doc="training examples on which the final accuracy is measured")
    eps: float = param(0.3, gt=0.0, doc="l_inf budget in pixel units [0, 1] (p = q = inf)")
    lam: float = param(1.0, ge=0.0, doc="weight of L_adv in the objective CE + lam L_adv")
    lr: float = param(0.1, gt=0.0, le=1.0, doc="SGD learning rate (t = lr * steps)")
    steps: int = param(150, ge=1, doc="SGD steps of every grid cell (the fixed budget)")
    batch_size: int = param(32, ge=1, doc="mini-batch size")
    attack_steps: int = param(3, ge=1, doc="PGD steps per update (step size 2.5 eps / steps)")
    attack_restarts: int = param(1, ge=1, doc="PGD restarts per training update (the best one is used); the cpu tier trains with "
                                                 "10 steps x 4 restarts: at initialisation 3 steps x 1 find 0.58 of the "
                                                 "L_adv of a 50 x 8 reference, 10 x 4 find 0.85")
    candidate_attack_steps: int = param(10, ge=1, doc="PGD steps of the stronger attack measured against the "
                                                      "training attack (the cpu tier's training attack)")
    candidate_attack_restarts: int = param(4, ge=1, doc="PGD restarts of that stronger attack")
    depths: tuple[int, ...] = param((2, 4, 6, 8), ge=1, le=60, doc="depths L of the heat maps")
    widths: tuple[int, ...] = param((64, 128, 256), ge=4, doc="widths N of the heat maps")
    narrow_N: int = param(32, ge=4, doc="a narrow width (N ~ 3K) at which the residual grid row is also trained")
    n_seeds: int = param(1, ge=1, doc="independent networks per cell (accuracies are averaged)")
    sigma_w2: float = param(2.0, gt=0.0, doc="vanilla initial sigma_w^2 (2: omega_v = 1 for ReLU)")
    residual_sigma_w2: float = param(0.1, gt=0.0, doc="residual initial sigma_w^2")
    collapse_acc: float = param(0.2, gt=0.0, lt=1.0, doc="training accuracy below which a cell has collapsed "
                                                        "(0.2 = twice chance for 10 classes)")
    c: float = param(2.0, gt=0.0, doc="constant of Theorem 5.4 (2: gradient-flow convention)")
    fashion: bool = param(True, doc="also train the vanilla adversarial grid on Fashion-MNIST")
    balance_networks: int = param(4, ge=2, doc="random networks per grid cell whose CE and L_adv gradients are "
                                                "compared across the data sets at initialisation")
    balance_batch: int = param(256, ge=2, doc="rows of each data set on which the initial gradients are taken")
    max_cells: int = param(64, ge=1, doc="most networks trained at once (memory bound)")
    # the collapsing run followed in time
    run_N: int = param(64, ge=4, doc="width of the collapsing run")
    run_L: int = param(6, ge=1, le=60, doc="depth of the collapsing run")
    run_record_every: int = param(5, ge=1, doc="steps between recorded rows of the collapsing run")
    run_gain_examples: int = param(16, ge=1, doc="inputs on which the collapsing run's Jacobian gain is measured")
    # the benchmark-in-the-chapter (batched grid vs a loop of single runs)
    bench_steps: int = param(10, ge=1, doc="steps of the in-chapter speed comparison (batched grid vs a loop of single runs)")

    def check(self) -> None:
        if self.batch_size > self.n_train:
            raise ValueError(f"parameter 'batch_size' = {self.batch_size} is out of range: allowed at most "
                             f"n_train = {self.n_train}")
        if len(self.widths) < 2 or len(self.depths) < 2:
            raise ValueError(f"parameters 'widths' = {self.widths} and 'depths' = {self.depths} are out of range: "
                             "allowed at least two values each")
        if self.m > 1.0 or self.M < 1.0:
            raise ValueError(f"parameters 'm' = {self.m}, 'M' = {self.M} are out of range: allowed m <= 1 <= M")


register("trainability",
         quick=TrainabilitySettings(),
         # the stronger training attack (10 x 4); Fig. 5's grid to depth 12 on 5x the data, at the full tier's
         # learning rate 0.05 over 300 steps (t = 15, the quick tier's budget): at lr 0.1 and 300 steps the
         # residual cells of depth 10-12 diverged (weights to NaN)
         cpu=TrainabilitySettings(attack_steps=10, attack_restarts=4, n_train=10000, eval_size=1000, lr=0.05,
                                  steps=300, depths=(2, 4, 6, 8, 10, 12), gain_networks=32, gain_N=256),
         full=TrainabilitySettings(n_train=60000, eval_size=10000, lr=0.05, steps=1000, batch_size=128,
                                   attack_steps=10, depths=(2, 4, 6, 8, 10, 12, 14, 16, 18, 20),
                                   widths=(64, 128, 256, 512, 1024, 2048, 4096), n_seeds=1, fashion=True,
                                   max_cells=10, gain_N=512, gain_d=256, gain_networks=100, run_N=256,
                                   run_L=10, run_record_every=20, run_gain_examples=64, bench_steps=20))
