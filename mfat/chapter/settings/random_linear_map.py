"""Settings of chapter 1, "The network as a random linear map" (Theorem 4.1, the paper's Fig. 1)."""

from __future__ import annotations

from dataclasses import dataclass

from mfat.chapter.settings import Settings, param, register


@dataclass(frozen=True)
class RandomLinearMapSettings(Settings):
    # -- Fig. 1 (the paper's setting), drawn with the exact Gram-chain sampler
    d: int = param(1000, ge=1, doc="input dimension of Fig. 1")
    N: int = param(5000, ge=1, doc="width of Fig. 1 (the Gram-chain sampler costs nothing extra per unit of N)")
    K: int = param(1, ge=1, le=1000, doc="outputs (rows of J)")
    L: int = param(10, ge=1, le=200, doc="depth")
    sigma_w2: float = param(2.0, gt=0.0, doc="vanilla sigma_w^2 (2 = ReLU critical point, omega = 1)")
    sigma_b2: float = param(0.01, gt=0.0, doc="bias variance sigma_b^2")
    n_samples: int = param(10_000, ge=100, doc="networks per histogram (Fig. 1: 10,000)")
    residual_sigma_w2: float = param(2.0, gt=0.0, doc="residual panel: sigma_w^2 (omega_r = 1 + alpha sigma_w^2)")
    leaky_v: float = param(0.5, ge=-1.0, le=1.0, doc="leaky panel: negative slope v (u = 1)")
    leaky_sigma_w2: float = param(1.6, gt=0.0, doc="leaky panel: sigma_w^2 (1.6 = critical for v = 0.5)")
    # -- the explicit-network path (mfat.model.linearize), smaller: one N x N matrix per layer per sample
    explicit_N: int = param(64, ge=1, doc="width of the explicit networks")
    explicit_n: int = param(300, ge=50, doc="explicit networks per architecture")
    # -- input independence (d = 784: MNIST), unit-level sampler with several inputs per network
    inputs_N: int = param(1000, ge=1, doc="width for the input-independence experiment")
    inputs_n: int = param(1000, ge=50, doc="networks for the input-independence experiment")
    # -- adversarial inputs (explicit networks + PGD on ||f(x + eta) - f(x)||_2)
    adv_widths: tuple[int, ...] = param((128,), ge=1, doc="widths of the attacked explicit networks")
    adv_n: int = param(150, ge=50, doc="attacked networks per width")
    adv_eps: float = param(0.5, gt=0.0, le=2.0, doc="l2 attack radius as a fraction of ||x|| = sqrt(d)")
    adv_steps: int = param(5, ge=1, le=200, doc="PGD steps")
    # -- finite width and depth
    widths: tuple[int, ...] = param((2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 5000), ge=1,
                                    doc="widths of the finite-width sweep")
    width_n: int = param(20_000, ge=100, doc="networks per width")
    depth_L: int = param(30, ge=2, le=200, doc="largest depth of the depth sweep")
    depth_sigma_w2: tuple[float, ...] = param((1.6, 2.0, 2.4), gt=0.0,
                                              doc="vanilla sigma_w^2 of the depth sweep (omega < 1, = 1, > 1)")
    depth_n: int = param(20_000, ge=100, doc="networks per depth curve")

    def check(self) -> None:
        if self.leaky_v == 0.0:
            raise ValueError("parameter 'leaky_v' = 0.0 is out of range: allowed a non-zero slope in [-1, 1] "
                             "(v = 0 is the ReLU panel)")


_FULL = RandomLinearMapSettings(explicit_N=256, explicit_n=1500, inputs_N=2000, inputs_n=4000, adv_widths=(128, 512),
                                adv_n=300, adv_steps=10, width_n=200_000, depth_n=100_000)

register("random_linear_map",
         quick=RandomLinearMapSettings(),
         cpu=_FULL,  # the paper's scale fits a 2-core CPU (the exact samplers cost nothing in the width)
         full=_FULL)
