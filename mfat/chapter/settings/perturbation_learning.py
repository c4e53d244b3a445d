"""Settings of chapter 6, "Wide two-layer networks learn from adversarial perturbations" (NeurIPS 2024).

Times (T, T_f, T_g) are gradient-flow times: ``steps`` plain gradient-descent steps of rate T / steps.
Each data set has its own defaults (prefix gauss_, sg_ = shifted Gauss, mnist_, fmnist_); both scenarios
share one trained f per data set, so they share d and N. Sweeps change one factor at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from mfat.validation import check_choice
from mfat.chapter.settings import Settings, param, register

_DATASETS = ("gauss", "shifted_gauss", "mnist", "fmnist")
_FACTORS = ("d", "m", "gamma", "N")


@dataclass(frozen=True)
class PerturbationLearningSettings(Settings):
    # shared by every experiment
    n_seeds: int = param(3, ge=1, le=64, doc="independent seeds per setting (data, networks, target labels)")
    m: int = param(100, ge=1, doc="hidden width m of f and g in the accuracy experiments")
    gamma: float = param(0.0, ge=0.0, lt=1.0, doc="leaky-ReLU slope gamma (0: ReLU)")
    steps: int = param(50, ge=1, doc="gradient-descent steps per training run (rate = T / steps)")
    optimizer: str = param("gd", choices=("gd", "momentum"),
                           doc="gd: plain gradient descent; momentum: the authors' SGD(0.9) + ReduceLROnPlateau")
    dtype: str = param("float32", choices=("float32", "float64"), doc="precision of the accuracy experiments")
    n_eval: int = param(500, ge=0, doc="fresh synthetic inputs / first test images for the agreement (0: whole test split)")
    # data sets
    shift: float = param(0.3, ge=0.0, doc="shifted Gauss: class means +-shift * (1, ..., 1)")
    gauss_d: int = param(300, ge=2, doc="Gauss (random labels): input dimension d")
    gauss_N: int = param(300, ge=2, doc="Gauss: training set size N")
    gauss_eps_a: float = param(0.1, ge=0.0, doc="Gauss: perturbation size eps, scenario (a)")
    gauss_eps_b: float = param(5.0, ge=0.0, doc="Gauss: perturbation size eps, scenario (b)")
    gauss_T: float = param(1000.0, gt=0.0, doc="Gauss: training time T_f = T_g")
    sg_d: int = param(100, ge=2, doc="shifted Gauss: input dimension d")
    sg_N: int = param(500, ge=2, doc="shifted Gauss: training set size N")
    sg_eps_a: float = param(0.1, ge=0.0, doc="shifted Gauss: eps, scenario (a) (the authors use 0.01)")
    sg_eps_b: float = param(0.5, ge=0.0, doc="shifted Gauss: eps, scenario (b)")
    sg_T: float = param(1000.0, gt=0.0, doc="shifted Gauss: training time T_f = T_g")
    mnist_N: int = param(500, ge=0, doc="MNIST 1 vs 2: first N training images (0: all 12,700)")
    mnist_eps_a: float = param(0.14, ge=0.0, doc="MNIST: eps, scenario (a)")
    mnist_eps_b: float = param(1.4, ge=0.0, doc="MNIST: eps, scenario (b)")
    mnist_T: float = param(100.0, gt=0.0, doc="MNIST: training time T_f = T_g")
    fmnist_N: int = param(500, ge=0, doc="Fashion-MNIST T-shirt vs ankle boot: first N training images (0: all 12,000)")
    fmnist_eps_a: float = param(0.14, ge=0.0, doc="Fashion-MNIST: eps, scenario (a)")
    fmnist_eps_b: float = param(1.4, ge=0.0, doc="Fashion-MNIST: eps, scenario (b)")
    fmnist_T: float = param(100.0, gt=0.0, doc="Fashion-MNIST: training time T_f = T_g")
    # sweeps
    eps_factors: tuple[float, ...] = param((0.0, 0.1, 0.3, 1.0), ge=0.0, doc="eps sweep, multiples of the default eps")
    time_fractions: tuple[float, ...] = param((0.02, 0.1, 1.0), gt=0.0, le=1.0,
                                              doc="T_f and T_g sweeps, fractions of the default T")
    sweep_datasets: tuple[str, ...] = param(("shifted_gauss",), choices=_DATASETS,
                                            doc="data sets that also get the d, m, gamma, N sweeps")
    sweep_factors: tuple[str, ...] = param(("d", "m", "gamma", "N"), choices=_FACTORS, doc="factors swept by separate runs")
    d_factors: tuple[float, ...] = param((0.25, 1.0, 4.0), gt=0.0, doc="d sweep, multiples of the default d (synthetic)")
    m_values: tuple[int, ...] = param((5, 20, 100, 500), ge=1, doc="width sweep")
    gamma_values: tuple[float, ...] = param((0.0, 0.5, 0.9), ge=0.0, lt=1.0, doc="leaky-slope sweep")
    N_factors: tuple[float, ...] = param((0.04, 0.2, 1.0), gt=0.0, doc="N sweep, multiples of the default N")
    # kernel Phi
    kernel_d: int = param(30, ge=1, doc="dimension of the kernel's test inputs")
    kernel_pairs: int = param(60, ge=2, doc="input pairs at which Phi is compared with Monte Carlo")
    kernel_draws: int = param(400_000, ge=1, doc="Monte Carlo draws (hidden units) per estimate")
    kernel_gammas: tuple[float, ...] = param((0.0, 0.5), ge=0.0, lt=1.0, doc="slopes checked")
    # lazy regime and Theorem A (shifted Gauss, float64)
    lazy_d: int = param(100, ge=2, doc="lazy-regime experiments: input dimension")
    lazy_N: int = param(200, ge=2, doc="lazy-regime experiments: training set size")
    lazy_widths: tuple[int, ...] = param((100, 1000, 10000), ge=1, doc="widths of the lazy-dynamics check")
    lazy_T: float = param(1.0, gt=0.0, doc="time of the lazy-dynamics check")
    lazy_steps: int = param(5, ge=1, doc="gradient-descent steps of the lazy-dynamics check")
    lazy_fit_min_m: int = param(1000, ge=1, doc="the m^(-1/2) law of flipped patterns is fitted on widths >= this "
                                                "(it is the small-shift limit)")
    align_m: int = param(5000, ge=1, doc="width of the perturbation-direction check (Theorem A)")
    align_lr: float = param(1.0, gt=0.0, doc="gradient-descent rate of the Theorem A runs")
    align_T_values: tuple[float, ...] = param((1.0, 3.0, 10.0, 30.0), gt=0.0, doc="T_f at which the cosine is measured")
    align_d_values: tuple[int, ...] = param((10, 30, 100), ge=2, doc="d values of the cosine-vs-d panel")
    align_T_d: float = param(10.0, gt=0.0, doc="T_f of the cosine-vs-d panel")
    align_min_T: float = param(10.0, gt=0.0, doc="'enough training': the cosine claim uses T_f >= this")
    # decision maps
    map_m: int = param(200, ge=1, doc="width of f and g in the decision maps")
    map_grid: int = param(50, ge=10, doc="grid points per axis of the decision maps")

    def check(self) -> None:
        if 0.0 not in self.eps_factors or 1.0 not in self.eps_factors:
            raise ValueError(f"parameter 'eps_factors' = {self.eps_factors!r} is out of range: must contain 0 and 1")
        if min(self.time_fractions) * self.steps < 1.0:
            raise ValueError(f"parameter 'time_fractions' = {self.time_fractions!r} is out of range: each fraction "
                             f"times steps = {self.steps} must be >= 1 (one gradient step)")
        if 1.0 not in self.time_fractions:
            raise ValueError(f"parameter 'time_fractions' = {self.time_fractions!r} is out of range: must contain 1")
        if sum(w >= self.lazy_fit_min_m for w in self.lazy_widths) < 2:
            raise ValueError(f"parameter 'lazy_widths' = {self.lazy_widths!r} is out of range: needs two widths "
                             f">= lazy_fit_min_m = {self.lazy_fit_min_m}")
        if self.kernel_draws < 160_000:
            raise ValueError(f"parameter 'kernel_draws' = {self.kernel_draws} is out of range: allowed >= 160000, so that "
                             f"four Monte Carlo standard errors (at most 2 / sqrt(n)) stay within the 0.005 of the claim")
        if max(self.align_T_values) < self.align_min_T:
            raise ValueError(f"parameter 'align_T_values' = {self.align_T_values!r} is out of range: "
                             f"needs a value >= align_min_T = {self.align_min_T}")
        for name in ("sweep_datasets",):
            for v in getattr(self, name):
                check_choice(name, v, _DATASETS)

    def defaults(self, dataset: str) -> dict:
        """The defaults of one data set: d, N, eps (per scenario), T."""
        dataset = check_choice("dataset", dataset, _DATASETS)
        p = {"gauss": "gauss", "shifted_gauss": "sg", "mnist": "mnist", "fmnist": "fmnist"}[dataset]
        return {"d": getattr(self, f"{p}_d", 784), "N": getattr(self, f"{p}_N"), "T": getattr(self, f"{p}_T"),
                "eps": {"a": getattr(self, f"{p}_eps_a"), "b": getattr(self, f"{p}_eps_b")}}


register("perturbation_learning",
         quick=PerturbationLearningSettings(),
         # more seeds and steps, both synthetic data sets swept, wider networks, the paper's kernel Monte Carlo
         cpu=PerturbationLearningSettings(
             n_seeds=5, steps=200, n_eval=1000, sweep_datasets=("gauss", "shifted_gauss"),
             m_values=(5, 20, 100, 500, 1000), kernel_draws=1_000_000, kernel_pairs=100,
             align_m=20000, align_d_values=(10, 30, 100, 300), map_m=500, map_grid=100),
         full=PerturbationLearningSettings(
             n_seeds=5, steps=1000, dtype="float64", n_eval=1000, gauss_d=2000, gauss_N=2000, sg_N=1000,
             mnist_N=0, fmnist_N=0,
             eps_factors=(0.0, 0.03, 0.1, 0.3, 1.0, 3.0), time_fractions=(0.001, 0.01, 0.03, 0.1, 0.3, 1.0),
             sweep_datasets=_DATASETS, d_factors=(0.1, 0.3, 1.0, 3.0, 10.0),
             m_values=(1, 3, 10, 30, 100, 300, 1000), gamma_values=(0.0, 0.25, 0.5, 0.75, 0.99),
             N_factors=(0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
             kernel_draws=1_000_000, kernel_pairs=200, lazy_widths=(100, 1000, 10000, 100000), lazy_steps=100,
             align_m=20000, align_T_values=(1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
             align_d_values=(10, 30, 100, 300, 1000, 3000), map_m=1000, map_grid=200))
