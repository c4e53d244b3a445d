"""Settings of chapter 0, "The model": signal propagation through random networks."""

from __future__ import annotations

from dataclasses import dataclass

from mfat.chapter.settings import Settings, param, register


@dataclass(frozen=True)
class ModelSettings(Settings):
    d: int = param(100, ge=1, doc="input dimension")
    N: int = param(256, ge=2, doc="width of every hidden layer")
    L: int = param(16, ge=1, le=200, doc="depth (number of trainable layers)")
    n_networks: int = param(40, ge=2, doc="independent random networks per setting")
    sigma_b2: float = param(0.01, ge=0.0, doc="bias variance sigma_b^2")
    vanilla_sigma_w2: tuple[float, ...] = param((1.6, 2.0, 2.4), gt=0.0,
                                                doc="vanilla sigma_w^2: ordered, critical (2 for ReLU), chaotic")
    residual_sigma_w2: tuple[float, ...] = param((0.1, 0.5), gt=0.0, doc="residual sigma_w^2")
    u: float = param(1.0, doc="activation slope for z >= 0")
    v: float = param(0.0, doc="activation slope for z < 0 (0: ReLU)")


_FULL = ModelSettings(N=1000, L=30, n_networks=100)

register("model",
         quick=ModelSettings(),
         cpu=_FULL,  # the paper's scale fits a 2-core CPU
         full=_FULL)
