"""A batch of two-layer networks with a frozen readout, and their full-batch training
(chapter 6; Kumano, Kera, Yamasaki, NeurIPS 2024; sources appendix: the setting).

Each of the B networks in a batch computes

    f_b(x) = sum_{k=1}^m a_bk phi(w_bk^T x + c_bk),      phi(z) = max(z, gamma z),  0 <= gamma < 1,

with w_bk ~ N(0, I_d / d), c_bk ~ N(0, 1) (trained) and a_bk ~ N(0, 1/m) (frozen). Tensors:
``W`` (B, m, d), ``bias`` (B, m), ``a`` (B, m). The B networks are independent (different seeds, or
different training sets in a sweep) and are trained together, which vectorises a sweep over seeds.

Inputs ``X`` are either shared by all networks, shape (n, d), or one set per network, shape (B, n, d);
labels ``y`` are (n,) or (B, n) in {-1, +1}. Gradients are written out by hand (tested against autograd):
for the objective L = (1/n) sum_i ell(-y_i f(x_i)) with lambda_i = ell'(-y_i f(x_i)),

    dL/dw_k = -(a_k / n) sum_i lambda_i y_i phi'(w_k.x_i + c_k) x_i,    dL/dc_k = -(a_k / n) sum_i lambda_i y_i phi'_ki.

Training (:func:`train`) is full-batch: plain gradient descent (the Euler discretisation of the paper's
gradient flow; for the identity loss and frozen activation patterns it is exact at t = lr * steps), or the
authors' schedule, SGD with momentum 0.9 and ``ReduceLROnPlateau`` (PyTorch defaults) stepped on the loss
after every step, reproduced here per network (tested against ``torch.optim``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from mfat.runtime import resolve_device
from mfat.validation import check_choice, check_int, check_real

__all__ = ["TwoLayerNets", "TrainLog", "LOSSES", "OPTIMIZERS", "train", "kernel_monte_carlo", "steps_for_time",
           "MOMENTUM", "PLATEAU"]

LOSSES = ("identity", "logistic")
OPTIMIZERS = ("gd", "momentum")
MOMENTUM = 0.9
#: torch.optim.lr_scheduler.ReduceLROnPlateau defaults (mode "min", threshold_mode "rel").
PLATEAU = {"factor": 0.1, "patience": 10, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0, "eps": 1e-8}


def _gamma(gamma) -> float:
    return check_real("gamma", gamma, min_value=0.0, max_value=1.0, max_inclusive=False)


def _dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"parameter 'dtype' = {dtype!r} is out of range: allowed torch.float32 or torch.float64")
    return dtype


class TwoLayerNets:
    """B independent two-layer networks of width m on R^d with leaky slope gamma (frozen readout a).

    Build with ``TwoLayerNets(d, m, gamma, batch=B, generator=g)`` (the init law; sources appendix: the setting), or
    from explicit tensors with :meth:`from_tensors`.
    """

    def __init__(self, d: int, m: int, gamma: float = 0.0, *, batch: int = 1, generator: torch.Generator,
                 dtype: torch.dtype = torch.float64, device="cpu"):
        d, m = check_int("d", d, min_value=1), check_int("m", m, min_value=1)
        batch = check_int("batch", batch, min_value=1)
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"parameter 'generator' = {generator!r} is out of range: allowed a torch.Generator")
        dtype, device = _dtype(dtype), resolve_device(device)

        def randn(*shape, std):
            z = torch.randn(*shape, generator=generator, dtype=torch.float64, device=generator.device) * std
            return z.to(device=device, dtype=dtype)

        W = randn(batch, m, d, std=1.0 / math.sqrt(d))
        bias = randn(batch, m, std=1.0)
        a = randn(batch, m, std=1.0 / math.sqrt(m))
        self._set(W, bias, a, gamma)

    @classmethod
    def from_tensors(cls, W: torch.Tensor, bias: torch.Tensor, a: torch.Tensor, gamma: float = 0.0) -> "TwoLayerNets":
        """Networks with the given W (B, m, d), bias (B, m) and readout a (B, m) (copied)."""
        net = cls.__new__(cls)
        if W.ndim != 3 or bias.shape != W.shape[:2] or a.shape != W.shape[:2]:
            raise ValueError(f"parameters 'W', 'bias', 'a' have shapes {tuple(W.shape)}, {tuple(bias.shape)}, "
                             f"{tuple(a.shape)}: allowed (B, m, d), (B, m), (B, m)")
        _dtype(W.dtype)
        net._set(W.clone(), bias.clone().to(W), a.clone().to(W), gamma)
        return net

    def _set(self, W, bias, a, gamma):
        self.W, self.bias, self.a = W, bias, a
        self.gamma = _gamma(gamma)

    # -- shapes ----------------------------------------------------------------------------------
    @property
    def batch(self) -> int:
        return self.W.shape[0]

    @property
    def m(self) -> int:
        return self.W.shape[1]

    @property
    def d(self) -> int:
        return self.W.shape[2]

    def clone(self) -> "TwoLayerNets":
        return TwoLayerNets.from_tensors(self.W, self.bias, self.a, self.gamma)

    def select(self, index) -> "TwoLayerNets":
        """The sub-batch ``index`` (an int, slice or index tensor over B), copied."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return TwoLayerNets.from_tensors(self.W[index], self.bias[index], self.a[index], self.gamma)

    def repeat(self, times: int) -> "TwoLayerNets":
        """Each network repeated ``times`` times in a row (network b becomes b*times .. b*times+times-1)."""
        times = check_int("times", times, min_value=1)
        rep = lambda t: t.repeat_interleave(times, dim=0)  # noqa: E731
        return TwoLayerNets.from_tensors(rep(self.W), rep(self.bias), rep(self.a), self.gamma)

    def _inputs(self, X: torch.Tensor) -> torch.Tensor:
        if X.ndim == 2:
            X = X.unsqueeze(0)
        if X.ndim != 3 or X.shape[-1] != self.d or X.shape[0] not in (1, self.batch):
            raise ValueError(f"parameter 'X' has shape {tuple(X.shape)}: allowed (n, {self.d}) or "
                             f"({self.batch}, n, {self.d})")
        return X.to(self.W)

    # -- forward ---------------------------------------------------------------------------------
    def preactivations(self, X: torch.Tensor) -> torch.Tensor:
        """w_k.x + c_k for every network: X (n, d) or (B, n, d) -> (B, n, m)."""
        X = self._inputs(X)
        return torch.matmul(X, self.W.transpose(1, 2)) + self.bias[:, None, :]

    def slopes(self, X: torch.Tensor) -> torch.Tensor:
        """phi'(w_k.x + c_k) in {1, gamma} (phi'(0) := 1): (B, n, m)."""
        z = self.preactivations(X)
        return torch.where(z >= 0, torch.ones_like(z), torch.full_like(z, self.gamma))

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """f_b(x) for every network and input: (B, n)."""
        z = self.preactivations(X)
        return (torch.maximum(z, self.gamma * z) * self.a[:, None, :]).sum(-1)

    def input_gradient(self, X: torch.Tensor) -> torch.Tensor:
        """grad_x f_b(x) = sum_k a_k phi'(w_k.x + c_k) w_k: (B, n, d)."""
        return torch.matmul(self.slopes(X) * self.a[:, None, :], self.W)

    def empirical_kernel(self, Z1: torch.Tensor, Z2: torch.Tensor) -> torch.Tensor:
        """sum_k a_k^2 phi'_k(z1) phi'_k(z2) (-> Phi(z1, z2) as m grows): (B, n1, n2)."""
        return torch.matmul(self.slopes(Z1) * self.a[:, None, :] ** 2, self.slopes(Z2).transpose(1, 2))

    # -- training objective ----------------------------------------------------------------------
    def loss_and_gradients(self, X: torch.Tensor, y: torch.Tensor, loss: str = "identity"):
        """Per-network loss (B,) and its gradients w.r.t. W (B, m, d) and bias (B, m).

        L_b = (1/n) sum_i ell(-y_i f_b(x_i)); ell(s) = s ("identity") or log(1 + e^s) ("logistic").
        """
        loss = check_choice("loss", loss, LOSSES)
        X = self._inputs(X)
        y = _labels(y, X.shape[1], self.batch).to(self.W)
        z = torch.matmul(X, self.W.transpose(1, 2)) + self.bias[:, None, :]
        slope = torch.where(z >= 0, torch.ones_like(z), torch.full_like(z, self.gamma))
        out = (z * slope * self.a[:, None, :]).sum(-1)  # phi(z) = phi'(z) z
        s = -y * out
        if loss == "identity":
            value, lam = s.mean(-1), torch.ones_like(s)
        else:
            value, lam = torch.nn.functional.softplus(s).mean(-1), torch.sigmoid(s)
        n = X.shape[1]
        coef = -(lam * y)[:, :, None] * slope * self.a[:, None, :] / n  # (B, n, m)
        grad_W = torch.matmul(coef.transpose(1, 2), X)
        return value, grad_W, coef.sum(1)


def _labels(y: torch.Tensor, n: int, batch: int) -> torch.Tensor:
    if y.ndim == 1:
        y = y.unsqueeze(0)
    if y.ndim != 2 or y.shape[1] != n or y.shape[0] not in (1, batch):
        raise ValueError(f"parameter 'y' has shape {tuple(y.shape)}: allowed ({n},) or ({batch}, {n})")
    if not bool(((y == 1) | (y == -1)).all()):
        raise ValueError("parameter 'y' is out of range: allowed labels in {-1, +1}")
    return y


def steps_for_time(T: float, lr: float, optimizer: str = "gd") -> int:
    """Number of full-batch steps that make gradient-flow time T: T / lr (gd) or T (1 - 0.9) / lr (momentum).

    The momentum convention is the heavy-ball effective rate lr / (1 - 0.9), valid until the plateau
    scheduler cuts the rate (sources appendix: the setting). At least one step is taken when T > 0.
    """
    T = check_real("T", T, min_value=0.0)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    scale = 1.0 if optimizer == "gd" else 1.0 - MOMENTUM
    if T == 0:
        return 0
    return max(1, int(round(T * scale / lr)))


@dataclass
class TrainLog:
    """Per-step record of :func:`train`: ``loss`` (steps, B) before each step, ``lr`` (steps, B) used."""

    loss: torch.Tensor
    lr: torch.Tensor


def train(net: TwoLayerNets, X: torch.Tensor, y: torch.Tensor, *, steps: int, lr, loss: str = "identity",
          optimizer: str = "gd", record_at: Iterable[int] = (), on_record: Callable[[int, TwoLayerNets], None] | None = None
          ) -> TrainLog:
    """Full-batch training of every network in ``net`` (in place) for ``steps`` steps.

    ``lr`` is a float or a (B,) tensor (one rate per network). ``optimizer`` "gd": W <- W - lr grad;
    "momentum": the authors' SGD (momentum 0.9, no dampening) with ReduceLROnPlateau (PyTorch defaults,
    one scheduler per network, stepped on the loss after every step). ``on_record(step, net)`` is called
    before the first step if 0 is in ``record_at`` and after step s for every s in ``record_at``.
    """
    steps = check_int("steps", steps, min_value=0)
    loss = check_choice("loss", loss, LOSSES)
    optimizer = check_choice("optimizer", optimizer, OPTIMIZERS)
    record = sorted({check_int("record_at", s, min_value=0, max_value=steps) for s in record_at})
    B = net.batch
    if isinstance(lr, torch.Tensor):
        rate = lr.detach().to(net.W).reshape(-1).clone()
        if rate.shape != (B,) or not bool((rate > 0).all()) or not bool(torch.isfinite(rate).all()):
            raise ValueError(f"parameter 'lr' must be positive, a float or a ({B},) tensor: got shape {tuple(lr.shape)}")
    else:
        rate = torch.full((B,), check_real("lr", lr, min_value=0.0, min_inclusive=False)).to(net.W)
    losses = torch.empty(steps, B, dtype=net.W.dtype, device=net.W.device)
    rates = torch.empty_like(losses)
    buf_W = buf_b = None
    best = torch.full((B,), math.inf).to(net.W)
    bad = torch.zeros(B, dtype=torch.long, device=net.W.device)
    if on_record is not None and record and record[0] == 0:
        on_record(0, net)
    for step in range(1, steps + 1):
        value, gW, gb = net.loss_and_gradients(X, y, loss)
        losses[step - 1], rates[step - 1] = value, rate
        if optimizer == "momentum":
            buf_W = gW if buf_W is None else MOMENTUM * buf_W + gW
            buf_b = gb if buf_b is None else MOMENTUM * buf_b + gb
            gW, gb = buf_W, buf_b
        net.W -= rate[:, None, None] * gW
        net.bias -= rate[:, None] * gb
        if optimizer == "momentum":
            rate, best, bad = _plateau(value, rate, best, bad)
        if on_record is not None and step in record:
            on_record(step, net)
    return TrainLog(losses, rates)


def _plateau(value, rate, best, bad):
    """One ReduceLROnPlateau step per network (mode min, rel threshold; cooldown 0)."""
    p = PLATEAU
    better = value < best * (1.0 - p["threshold"])
    best = torch.where(better, value, best)
    bad = torch.where(better, torch.zeros_like(bad), bad + 1)
    cut = bad > p["patience"]
    new = torch.clamp(rate * p["factor"], min=p["min_lr"])
    reduce = cut & (rate - new > p["eps"])
    rate = torch.where(reduce, new, rate)
    bad = torch.where(cut, torch.zeros_like(bad), bad)
    return rate, best, bad


@torch.no_grad()
def kernel_monte_carlo(Z1: torch.Tensor, Z2: torch.Tensor, gamma: float = 0.0, *, n_draws: int,
                       generator: torch.Generator, chunk: int = 20000) -> torch.Tensor:
    """Monte Carlo estimate of Phi(z1, z2) = E[phi'(w.z1 + c) phi'(w.z2 + c)] over the init law
    w ~ N(0, I_d/d), c ~ N(0, 1) (sources appendix: the setting): Z1 (n1, d), Z2 (n2, d) -> (n1, n2), float64.

    Each draw is one hidden unit; ``n_draws`` units are averaged (in chunks of ``chunk``).
    """
    gamma = _gamma(gamma)
    n_draws = check_int("n_draws", n_draws, min_value=1)
    chunk = check_int("chunk", chunk, min_value=1)
    if Z1.ndim != 2 or Z2.ndim != 2 or Z1.shape[1] != Z2.shape[1]:
        raise ValueError(f"parameters 'Z1', 'Z2' have shapes {tuple(Z1.shape)}, {tuple(Z2.shape)}: allowed (n1, d), (n2, d)")
    d = Z1.shape[1]
    dev = generator.device
    Z1, Z2 = Z1.to(dev, torch.float64), Z2.to(dev, torch.float64)
    total = torch.zeros(Z1.shape[0], Z2.shape[0], dtype=torch.float64, device=dev)
    done = 0
    while done < n_draws:
        k = min(chunk, n_draws - done)
        W = torch.randn(k, d, generator=generator, dtype=torch.float64, device=dev) / math.sqrt(d)
        c = torch.randn(k, generator=generator, dtype=torch.float64, device=dev)
        one, low = torch.ones((), dtype=torch.float64, device=dev), torch.full((), gamma, dtype=torch.float64, device=dev)
        s1 = torch.where(Z1 @ W.T + c >= 0, one, low)
        s2 = torch.where(Z2 @ W.T + c >= 0, one, low)
        total += s1 @ s2.T
        done += k
    return total / n_draws
