"""Settings of chapter 2, "Upper bounds on the adversarial loss" (Theorem 5.1)."""

from __future__ import annotations

import math
import dataclasses
from dataclasses import dataclass

from mfat.chapter.settings import Settings, param, register

_PQ = (1.0, 2.0, math.inf)


@dataclass(frozen=True)
class AdversarialLossSettings(Settings):
    # the attacked pairs: the l_p threat model and the l_q output norm
    ps: tuple[float, ...] = param(_PQ, choices=_PQ, doc="attack norms p (each one of 1, 2, inf)")
    qs: tuple[float, ...] = param(_PQ, choices=_PQ, doc="output norms q (each one of 1, 2, inf)")
    # the network of Fig. 3 (vanilla ReLU at the critical point omega = 1)
    N: int = param(2000, ge=8, doc="width of the Fig. 3 networks")
    K: int = param(10, ge=1, doc="outputs of the Fig. 3 networks (the paper: 100; see the finite-width section)")
    L: int = param(3, ge=1, le=50, doc="depth of the Fig. 3 networks")
    sigma_w2: float = param(2.0, gt=0.0, doc="weight variance of the Fig. 3 networks (2: omega = 1 for ReLU)")
    sigma_b2: float = param(0.01, ge=0.0, doc="bias variance")
    eps: float = param(0.1, gt=0.0, doc="attack budget of Fig. 3 and of the K and depth sweeps")
    d_values: tuple[int, ...] = param((8, 32, 128), ge=1, doc="input dimensions of Fig. 3")
    n_networks: int = param(8, ge=1, doc="random networks per point (Fig. 3 and the sweeps)")
    n_inputs: int = param(8, ge=2, doc="Gaussian inputs (||x|| = sqrt(d)) per network of Fig. 3")
    refine_steps: int = param(2, ge=0, doc="steepest-ascent steps after the linearised start of the attack")
    norm_restarts: int = param(0, ge=0, doc="random restarts of the sign iteration for the NP-hard norms")
    # beta by Monte Carlo
    beta_samples: int = param(100, ge=2, doc="Gaussian matrices per beta Monte Carlo estimate")
    table_samples: int = param(20, ge=2, doc="Gaussian matrices per entry of the beta tables")
    table_K: tuple[int, ...] = param((10, 100), ge=1, doc="K of the beta tables (MNIST size, Fig. 3 size)")
    table_d: tuple[int, ...] = param((784, 1000), ge=1, doc="d of the beta tables (same length as table_K)")
    # the small-eps identity and the eps sweep (MNIST test images, ||x|| = sqrt(784))
    id_N: int = param(256, ge=8, doc="width of the identity / eps-sweep network")
    id_K: int = param(10, ge=1, doc="outputs of the identity / eps-sweep network")
    id_inputs: int = param(16, ge=2, doc="MNIST test images of the identity / eps sweep")
    eps_fraction: float = param(0.5, gt=0.0, lt=1.0, doc="identity budget as a fraction of the smallest region radius")
    pgd_steps: int = param(30, ge=1, doc="steps of the random-start PGD cross-check")
    pgd_restarts: int = param(1, ge=1, doc="restarts of the random-start PGD cross-check")
    eps_grid: tuple[float, ...] = param((1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0), gt=0.0,
                                        doc="budgets of the eps sweep")
    # the depth and K sweeps, in the small-eps limit L_adv / eps = ||J(x)||_{p,q}
    sweep_N: int = param(1000, ge=8, doc="width of the depth and K sweeps")
    sweep_inputs: int = param(16, ge=2, doc="Gaussian inputs per network of the depth, K and width sweeps")
    depths: tuple[int, ...] = param((1, 2, 4, 8), ge=1, le=50, doc="depths of the depth sweep")
    depth_sigma_w2: tuple[float, ...] = param((1.6, 2.0, 2.5), gt=0.0, doc="vanilla sigma_w^2 of the depth sweep")
    residual_sigma_w2: tuple[float, ...] = param((0.5,), gt=0.0, doc="residual sigma_w^2 of the depth sweep")
    depth_d: int = param(16, ge=1, doc="input dimension of the depth sweep")
    depth_K: int = param(4, ge=1, doc="outputs of the depth sweep")
    K_values: tuple[int, ...] = param((1, 3, 9, 27), ge=1, doc="outputs of the K sweep")
    K_d: int = param(16, ge=1, doc="input dimension of the K sweep")
    # finite width
    widths: tuple[int, ...] = param((250, 500, 1000), ge=8, doc="widths of the finite-width sweep")
    width_K: int = param(100, ge=1, doc="outputs of the finite-width sweep (the paper's K)")
    width_d: int = param(64, ge=1, doc="input dimension of the finite-width sweep")
    # the exact finite-width law of J(x) (mfat.laws.jacobian: cost independent of N)
    law_samples: int = param(200, ge=2, doc="draws of the exact law per setting (Fig. 3 and width sweep)")
    law_widths: tuple[int, ...] = param((4000, 16000, 40000, 160000), ge=8,
                                        doc="further widths of the exact law in the width sweep (40000: paper)")
    mf_N: int = param(40000, ge=8, doc="width of Fig. 3 from the exact law (the paper's N)")
    mf_K: int = param(100, ge=1, doc="outputs of Fig. 3 from the exact law (the paper's K)")
    mf_d_values: tuple[int, ...] = param((8, 32, 128), ge=1, doc="input dimensions of Fig. 3 from the exact law")
    mf_samples: int = param(100, ge=2, doc="draws of J per d of Fig. 3 from the exact law (the paper: 100)")

    def check(self) -> None:
        for name in ("ps", "qs", "d_values", "K_values", "depths", "widths", "table_K", "table_d", "mf_d_values"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"parameter '{name}' = {values} is out of range: allowed distinct values")
        for name in ("d_values", "K_values", "depths", "widths", "mf_d_values"):
            if len(getattr(self, name)) < 2:
                raise ValueError(f"parameter '{name}' = {getattr(self, name)} is out of range: allowed at least two "
                                 f"values (a slope is fitted)")
        if len(self.table_K) != len(self.table_d):
            raise ValueError(f"parameter 'table_d' = {self.table_d} is out of range: allowed as many values as "
                             f"table_K = {self.table_K}")
        if self.n_networks * self.n_inputs < 4:
            raise ValueError(f"parameter 'n_inputs' = {self.n_inputs} is out of range: allowed n_networks * n_inputs "
                             f">= 4 (a spread is estimated)")


_FULL = AdversarialLossSettings(N=40000, K=100, d_values=(4, 16, 64, 256, 1024), n_networks=10, n_inputs=10,
                                refine_steps=5, norm_restarts=4, beta_samples=400, table_samples=200,
                                id_N=1000, id_inputs=64, pgd_steps=200, pgd_restarts=4,
                                eps_grid=(1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0),
                                sweep_N=8000, sweep_inputs=32, depths=(1, 2, 4, 8, 16),
                                K_values=(1, 4, 16, 64, 256), widths=(500, 2000, 8000, 32000),
                                law_samples=400, mf_d_values=(4, 16, 64, 256, 1024), mf_samples=400)

register("adversarial_loss",
         quick=AdversarialLossSettings(),
         # the paper's K = 100; explicit networks at N = 4000 (the exact law of J covers N = 40000), d up to 256
         cpu=dataclasses.replace(_FULL, N=4000, d_values=(4, 16, 64, 256), n_networks=5, norm_restarts=2,
                                 table_samples=100, id_inputs=32, pgd_steps=100, pgd_restarts=2, sweep_N=2000,
                                 sweep_inputs=16, beta_samples=200, widths=(500, 2000, 8000)),
         full=_FULL)
