"""Homogeneous networks and adversarial gradient descent on them (chapter 7; Lyu & Zhu, ICLR 2022, reconstructed).

Two models, both positively homogeneous in their parameters theta, f(c theta; x) = c^L f(theta; x) for c > 0:

- :class:`DeepLinear`: ``f(x) = W_L ... W_1 x`` with ``W_1`` (d_1, d), ..., ``W_L`` (1, d_{L-1}); degree L. It is
  batched over ``R`` independent runs: ``weights[l]`` has shape (R, d_{l+1}, d_l), the end-to-end predictor
  ``w = (W_L ... W_1)^T`` has shape (R, d).
- :class:`TwoLayerReLU`: ``f(x) = a . relu(W x)`` without biases, ``W`` (m, d), ``a`` (m,); degree 2.

Adversarial training (sources appendix: the perturbations): at every step the perturbation ``delta_i(theta)`` is computed first, then
the loss ``(1/n) sum_i ell(q_i)`` of the adversarial margins ``q_i = y_i f(theta; x_i + delta_i)`` is differentiated
with respect to theta **at fixed delta** (the usual practice; by Danskin's theorem this is the gradient of the
worst-case margin when delta is the exact maximiser). Perturbations:

- linear models: the exact worst case, ``delta_i = -eps y_i w/||w||_2`` (l2; what FGM and PGD return) or
  ``-eps y_i sign(w)`` (l_inf; what FGSM returns), so ``q_i = y_i w.x_i - eps ||w||_{p*}``;
- ReLU networks: FGM (l2), FGSM (l_inf) or PGD from :mod:`mfat.model.attacks`, maximising ``-y f(x')``, i.e. the loss
  (any decreasing loss of the margin gives the same normalised or sign step).

Both are scale invariant, ``delta(c theta) = delta(theta)``, so ``q_i`` is L-homogeneous.

Step-size schedules (``schedule``):

- ``"constant"``: ``theta <- theta - lr grad L(theta)``: plain gradient descent, gradient-flow time t = lr * step;
- ``"normalised"``: ``theta <- theta - lr grad log L(theta) / ||theta||^(L-1)``. A positive scalar factor on the
  gradient only reparametrises time along the gradient flow (the path of the flow, hence its limit direction,
  is unchanged), while here ||theta|| grows about linearly in the step count instead of logarithmically. The
  loss is never formed: grad log L uses the softmax weights of the margins (no underflow at any scale).

Losses: ``"exp"`` (e^{-q}) and ``"logistic"`` (log(1 + e^{-q})).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from mfat.model import attacks
from mfat.runtime import make_generator, resolve_device
from mfat.validation import check_choice, check_int, check_real

__all__ = [
    "LOSSES", "SCHEDULES", "ATTACKS",
    "loss_value", "log_loss_value", "loss_weights", "linear_perturbation",
    "DeepLinear", "train_deep_linear",
    "TwoLayerReLU", "relu_perturbation", "train_two_layer",
]

LOSSES = ("exp", "logistic")
#: ell(0): the theory's starting condition is L(theta) < ell(0) / n (every adversarial margin positive)
LOSS_AT_ZERO = {"exp": 1.0, "logistic": math.log(2.0)}
SCHEDULES = ("constant", "normalised")
ATTACKS = ("none", "fgm", "fgsm", "pgd")


def _dtype(dtype) -> torch.dtype:
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"parameter 'dtype' = {dtype!r} is out of range: allowed torch.float32 or torch.float64")
    return dtype


def _p(p) -> float:
    if p in ("inf", math.inf):
        return math.inf
    if p in (2, 2.0, "2"):
        return 2.0
    raise ValueError(f"parameter 'p' = {p!r} is out of range: allowed 2 or inf")


# --------------------------------------------------------------------------------------- losses
def loss_value(q: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss over the last axis: (1/n) sum_i ell(q_i); q (..., n) -> (...)."""
    loss = check_choice("loss", loss, LOSSES)
    ell = torch.exp(-q) if loss == "exp" else torch.nn.functional.softplus(-q)
    return ell.mean(-1)


def _log_ell(q: torch.Tensor, loss: str) -> torch.Tensor:
    """log ell(q), elementwise, exact for large q (no underflow)."""
    if loss == "exp":
        return -q
    sp = torch.nn.functional.softplus(-q)
    return torch.where(q > 20.0, -q - 0.5 * torch.exp(-q.clamp_min(20.0)), torch.log(sp.clamp_min(1e-300)))


def log_loss_value(q: torch.Tensor, loss: str) -> torch.Tensor:
    """log of the mean loss, log((1/n) sum_i ell(q_i)), over the last axis, without underflow: (..., n) -> (...)."""
    loss = check_choice("loss", loss, LOSSES)
    return torch.logsumexp(_log_ell(q, loss), dim=-1) - math.log(q.shape[-1])


def loss_weights(q: torch.Tensor, loss: str, schedule: str) -> torch.Tensor:
    """dObj/dq_i (<= 0) for the objective of ``schedule``: (1/n) sum ell(q_i) ("constant") or its log ("normalised").

    q: (..., n) -> (..., n). The normalised weights are computed in log space (softmax), exact at any scale.
    """
    loss = check_choice("loss", loss, LOSSES)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    n = q.shape[-1]
    if schedule == "constant":
        return -(torch.exp(-q) if loss == "exp" else torch.sigmoid(-q)) / n
    if loss == "exp":
        return -torch.softmax(-q, dim=-1)
    # logistic: ell'(q) / sum_j ell(q_j) = -sigmoid(-q) / sum_j ell(q_j), in log space
    log_deriv = torch.nn.functional.logsigmoid(-q)
    return -torch.exp(log_deriv - torch.logsumexp(_log_ell(q, loss), dim=-1, keepdim=True))


# --------------------------------------------------------------------------------------- deep linear networks
def linear_perturbation(w: torch.Tensor, y: torch.Tensor, eps, p) -> torch.Tensor:
    """Exact worst-case perturbation of linear classifiers: delta_ri = -eps_r y_i u_r, shape (R, n, d).

    w: (R, d); y: (n,) in {-1, +1}; eps: float or (R,); p: 2, inf, or a bool tensor (R,) that is True where the
    run uses l_inf. u = w/||w||_2 (l2: minimises y w.(x + delta) over the l2 ball) or sign(w) (l_inf).
    """
    R, d = w.shape
    eps = torch.as_tensor(eps, dtype=w.dtype, device=w.device).expand(R)
    if isinstance(p, torch.Tensor):
        linf = p.to(torch.bool).expand(R)
    else:
        linf = torch.full((R,), _p(p) == math.inf, dtype=torch.bool, device=w.device)
    u = torch.where(linf[:, None], torch.sign(w), w / w.norm(dim=1, keepdim=True).clamp_min(1e-300))
    return -(eps[:, None, None] * y.to(w.dtype)[None, :, None]) * u[:, None, :]


class DeepLinear:
    """R independent deep linear networks f_r(x) = W_L^r ... W_1^r x (batched), degree of homogeneity L.

    Args: d (input dimension), widths (hidden widths d_1..d_{L-1}; empty = a linear model), runs (R), init_std
    (entries of every W_l drawn iid N(0, init_std^2)), generator, dtype, device.
    Attributes: ``weights`` list of L tensors (R, d_{l+1}, d_l) with d_0 = d and d_L = 1.
    """

    def __init__(self, d: int, widths=(8, 8), runs: int = 1, init_std: float = 0.1, *,
                 generator: torch.Generator | None = None, seed: int | None = None,
                 dtype: torch.dtype = torch.float64, device="cpu"):
        d = check_int("d", d, min_value=1)
        widths = tuple(check_int("widths", w, min_value=1) for w in widths)
        runs = check_int("runs", runs, min_value=1)
        init_std = check_real("init_std", init_std, min_value=0.0, min_inclusive=False)
        dtype, device = _dtype(dtype), resolve_device(device)
        gen = make_generator(seed, generator, device=device)
        dims = (d, *widths, 1)
        self.dims = dims
        self.weights = [torch.randn(runs, dims[i + 1], dims[i], generator=gen, dtype=dtype, device=device) * init_std
                        for i in range(len(dims) - 1)]

    @property
    def degree(self) -> int:
        return len(self.weights)

    @property
    def runs(self) -> int:
        return self.weights[0].shape[0]

    def _prefix(self) -> list[torch.Tensor]:
        """P_l = W_l ... W_1 for l = 0..L-1 (P_0 = I): list of (R, d_l, d)."""
        R, d = self.runs, self.dims[0]
        w0 = self.weights[0]
        out = [torch.eye(d, dtype=w0.dtype, device=w0.device).expand(R, d, d)]
        for W in self.weights[:-1]:
            out.append(W @ out[-1])
        return out

    def _suffix(self) -> list[torch.Tensor]:
        """Q_l = W_L ... W_{l+1} for l = 1..L (Q_L = 1): list indexed by layer l-1, each (R, 1, d_l)."""
        w0 = self.weights[0]
        out = [torch.ones(self.runs, 1, 1, dtype=w0.dtype, device=w0.device)]
        for W in reversed(self.weights[1:]):
            out.append(out[-1] @ W)
        return out[::-1]

    def end_to_end(self) -> torch.Tensor:
        """w = (W_L ... W_1)^T, shape (R, d)."""
        M = self.weights[-1]
        for W in reversed(self.weights[:-1]):
            M = M @ W
        return M[:, 0, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f_r(x_i) for x (n, d) or (R, n, d): shape (R, n)."""
        w = self.end_to_end()
        if x.ndim == 2 and x.shape[1] == w.shape[1]:
            return w @ x.T
        if x.ndim == 3 and x.shape[0] == w.shape[0] and x.shape[2] == w.shape[1]:
            return (x @ w[:, :, None])[..., 0]
        raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (n, d) or (R, n, d) with d = {w.shape[1]}")

    def param_norm(self) -> torch.Tensor:
        """||theta||_2 over all layers, shape (R,)."""
        return torch.sqrt(sum(W.pow(2).sum(dim=(1, 2)) for W in self.weights))

    def grads(self, v: torch.Tensor, suffix: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Gradients of <w_r, v_r> with respect to each W_l: list of (R, d_{l+1}, d_l); v (R, d).

        d<w, v>/dW_l = Q_l^T (P_{l-1} v)^T with Q_l = W_L ... W_{l+1} and P_{l-1} = W_{l-1} ... W_1 (rank one):
        one matrix-vector chain and one outer product per layer. ``suffix``: :meth:`_suffix`, if already computed.
        """
        post = self._suffix() if suffix is None else suffix
        out, pv = [], v
        for l, W in enumerate(self.weights):
            out.append(post[l][:, 0, :, None] * pv[:, None, :])
            if l + 1 < self.degree:
                pv = (W @ pv[:, :, None])[..., 0]
        return out

    def margin_gram(self, Z: torch.Tensor) -> torch.Tensor:
        """Gram matrix of the parameter gradients of q_i = w.z_i: (R, n, n) for Z (R, n, d) or (n, d).

        grad_{W_l} q_i = Q_l^T (P_{l-1} z_i)^T, so <grad q_i, grad q_j> = sum_l ||Q_l||^2 (P_{l-1} z_i).(P_{l-1} z_j).
        """
        pre, post = self._prefix(), self._suffix()
        Z = Z.expand(self.runs, *Z.shape[-2:]) if Z.ndim == 2 else Z
        G = 0.0
        for l in range(self.degree):
            PZ = Z @ pre[l].transpose(1, 2)                     # (R, n, d_l)
            G = G + post[l].pow(2).sum(dim=(1, 2))[:, None, None] * (PZ @ PZ.transpose(1, 2))
        return G

    def step(self, v: torch.Tensor, eta: torch.Tensor, suffix: list[torch.Tensor] | None = None) -> None:
        """theta <- theta - eta_r grad <w_r, v_r> for every run (v (R, d), eta (R,))."""
        gs = self.grads(v, suffix)
        for l, g in enumerate(gs):
            self.weights[l] = self.weights[l] - eta[:, None, None] * g

    def balance(self) -> torch.Tensor:
        """||W_{l+1}^T W_{l+1} - W_l W_l^T||_2 for l = 1..L-1: (R, L-1); conserved by gradient flow."""
        out = [torch.linalg.matrix_norm(W1.transpose(1, 2) @ W1 - W0 @ W0.transpose(1, 2), ord=2)
               for W0, W1 in zip(self.weights[:-1], self.weights[1:])]
        w0 = self.weights[0]
        return torch.stack(out, dim=1) if out else torch.zeros(self.runs, 0, dtype=w0.dtype, device=w0.device)

    def spectra(self) -> dict[str, torch.Tensor]:
        """Per layer: sigma_1, sigma_2 (0 for a single row or column), (R, L); and the alignment
        |<u_1(W_l), v_1(W_{l+1})>| of the top left singular vector of W_l with the top right one of W_{l+1}, (R, L-1).
        """
        s1, s2, U, V = [], [], [], []
        for W in self.weights:
            u, s, vh = torch.linalg.svd(W, full_matrices=False)
            s1.append(s[:, 0])
            s2.append(s[:, 1] if s.shape[1] > 1 else torch.zeros_like(s[:, 0]))
            U.append(u[:, :, 0])
            V.append(vh[:, 0, :])
        align = [(U[l] * V[l + 1]).sum(1).abs() for l in range(self.degree - 1)]
        return {"sigma1": torch.stack(s1, 1), "sigma2": torch.stack(s2, 1),
                "alignment": torch.stack(align, 1) if align else s1[0].new_zeros(self.runs, 0)}


def _log_steps(steps: int, n_log: int) -> np.ndarray:
    """Recorded steps: 0, ``steps``, ``n_log`` geometrically spaced steps (for log axes) and ``n_log`` evenly
    spaced ones (so that late training is sampled densely too); unique and sorted."""
    if steps == 0:
        return np.array([0])
    n_log = max(int(n_log), 2)
    geo = np.round(np.geomspace(1, steps, n_log)).astype(int)
    lin = np.round(np.linspace(0, steps, n_log)).astype(int)
    return np.unique(np.concatenate([[0, steps], geo, lin]))


def train_deep_linear(net: DeepLinear, X: torch.Tensor, y: torch.Tensor, eps, linf, *, steps: int, lr: float,
                      schedule: str = "normalised", loss: str = "exp", norm_power: float | None = None,
                      n_log: int = 60, targets: dict | None = None) -> dict:
    """Adversarial gradient descent on R deep linear networks at once, with the exact worst-case perturbation.

    X (n, d), y (n,) in {-1, +1}; eps (R,) perturbation budgets (0 = standard training); linf (R,) bool: l_inf
    (FGSM) where True, l2 (FGM / PGD) where False. ``norm_power`` (normalised schedule): the step is
    lr / ||theta||^norm_power times grad log L (default L - 1). ``targets``: name -> unit vector (d,) whose cosines
    with w(t) are recorded. Recorded steps: see :func:`_log_steps`. Returns float64 numpy arrays:
    ``step`` (T,), ``w`` (T, R, d), ``log_loss`` (T, R) (log of the mean adversarial loss), ``q_min`` (T, R) (min
    adversarial margin), ``rho`` (T, R), ``normalized_margin`` (T, R) = q_min / rho^L, ``sigma1``, ``sigma2``
    (T, R, L), ``alignment`` (T, R, L-1), ``balance`` (T, R, L-1) = ||D_l|| with D_l = W_{l+1}^T W_{l+1} - W_l W_l^T,
    and ``drift_bound`` (T, R, L-1) = sum over past steps of eta^2 max(||G_{l+1}||^2, ||G_l||^2), which bounds
    ||D_l(t) - D_l(0)||: the first-order terms of a gradient step cancel in D_l (gradient flow conserves it) and
    the second-order term is eta^2 (G_{l+1}^T G_{l+1} - G_l G_l^T); ``cos_<name>`` (T, R).
    """
    steps = check_int("steps", steps, min_value=0)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    loss = check_choice("loss", loss, LOSSES)
    dt, dev = net.weights[0].dtype, net.weights[0].device
    X = X.to(dtype=dt, device=dev)
    y = y.to(dtype=dt, device=dev)
    if X.ndim != 2 or X.shape[1] != net.dims[0] or y.shape != (X.shape[0],):
        raise ValueError(f"parameters 'X', 'y' have shapes {tuple(X.shape)}, {tuple(y.shape)}: allowed (n, d), (n,)")
    R, L = net.runs, net.degree
    power = L - 1 if norm_power is None else check_real("norm_power", norm_power, min_value=0.0)
    eps = torch.as_tensor(eps, dtype=dt, device=dev).expand(R).clone()
    if torch.any(eps < 0):
        raise ValueError("parameter 'eps' has negative entries: allowed eps >= 0")
    linf = torch.as_tensor(linf, dtype=torch.bool, device=dev).expand(R)
    targets = {k: torch.as_tensor(np.asarray(v), dtype=dt, device=dev) for k, v in (targets or {}).items()}
    record = set(_log_steps(steps, n_log).tolist())
    Z = y[:, None] * X                                       # (n, d)
    drift = torch.zeros(R, L - 1, dtype=dt, device=dev)
    log = {k: [] for k in ("step", "w", "log_loss", "q_min", "rho", "normalized_margin", "sigma1", "sigma2",
                           "alignment", "balance", "drift_bound", *[f"cos_{k}" for k in targets])}
    for t in range(steps + 1):
        suffix = net._suffix()
        w = (suffix[0] @ net.weights[0])[:, 0, :]            # (R, d) = (W_L ... W_1)^T
        wn = w.norm(dim=1)
        dual = torch.where(linf, w.abs().sum(1), wn)
        q = w @ Z.T - (eps * dual)[:, None]                  # (R, n) adversarial margins
        if t in record:
            rho = net.param_norm()
            sp = net.spectra()
            qmin = q.min(1).values
            log["step"].append(t)
            log["w"].append(w)
            log["log_loss"].append(log_loss_value(q, loss))
            log["q_min"].append(qmin)
            log["rho"].append(rho)
            log["normalized_margin"].append(qmin / rho**L)
            log["sigma1"].append(sp["sigma1"])
            log["sigma2"].append(sp["sigma2"])
            log["alignment"].append(sp["alignment"])
            log["balance"].append(net.balance())
            log["drift_bound"].append(drift.clone())
            for k, u in targets.items():
                log[f"cos_{k}"].append(w @ u / wn / u.norm())
        if t == steps:
            break
        c = loss_weights(q, loss, schedule)                  # (R, n) dObj/dq_i
        # fixed-delta gradient: dq_i/dw = z_i + y_i delta_i = z_i - eps u  (u = w/||w|| or sign w)
        u = torch.where(linf[:, None], torch.sign(w), w / wn[:, None].clamp_min(1e-300))
        v = c @ Z - (c.sum(1) * eps)[:, None] * u            # (R, d) = dObj/dw
        eta = torch.full((R,), lr, dtype=dt, device=dev)
        if schedule == "normalised":
            eta = eta / net.param_norm() ** power
        gs = net.grads(v, suffix)
        g2 = torch.stack([g.pow(2).sum(dim=(1, 2)) for g in gs], dim=1)        # (R, L): ||G_l||^2 (rank one)
        drift = drift + eta[:, None] ** 2 * torch.maximum(g2[:, 1:], g2[:, :-1])
        for l, g in enumerate(gs):
            net.weights[l] = net.weights[l] - eta[:, None, None] * g
    out = {"step": np.asarray(log.pop("step"))}
    for k, vals in log.items():
        out[k] = torch.stack(vals).detach().cpu().numpy().astype(np.float64)
    return out


# --------------------------------------------------------------------------------------- two-layer ReLU networks
class TwoLayerReLU:
    """A bias-free two-layer ReLU network f(x) = sum_k a_k relu(w_k . x), 2-homogeneous in theta = (W, a).

    W (m, d) with entries N(0, init_scale^2 / d), a (m,) with entries N(0, init_scale^2 / m).
    """

    degree = 2

    def __init__(self, d: int, m: int, init_scale: float = 1.0, *, generator: torch.Generator | None = None,
                 seed: int | None = None, dtype: torch.dtype = torch.float64, device="cpu"):
        d = check_int("d", d, min_value=1)
        m = check_int("m", m, min_value=1)
        init_scale = check_real("init_scale", init_scale, min_value=0.0, min_inclusive=False)
        dtype, device = _dtype(dtype), resolve_device(device)
        gen = make_generator(seed, generator, device=device)
        self.W = torch.randn(m, d, generator=gen, dtype=dtype, device=device) * (init_scale / math.sqrt(d))
        self.a = torch.randn(m, generator=gen, dtype=dtype, device=device) * (init_scale / math.sqrt(m))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f(x) for x (B, d): shape (B,). Differentiable in x (and in W, a if they require grad)."""
        return torch.relu(x @ self.W.T) @ self.a

    __call__ = forward

    def param_norm(self) -> float:
        """||theta||_2 = sqrt(||W||_F^2 + ||a||^2)."""
        return float(torch.sqrt(self.W.pow(2).sum() + self.a.pow(2).sum()))

    def clone(self) -> "TwoLayerReLU":
        """An independent copy with the same parameters."""
        other = object.__new__(TwoLayerReLU)
        other.W, other.a = self.W.clone(), self.a.clone()
        return other

    def grads(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of sum_i c_i f(x_i) w.r.t. (W, a), x (B, d), c (B,):
        dW_k = a_k sum_i c_i 1[w_k.x_i > 0] x_i  (m, d),   da_k = sum_i c_i relu(w_k.x_i)  (m,)."""
        pre = x @ self.W.T                                   # (B, m)
        act = (pre > 0).to(x.dtype)
        dW = ((c[:, None] * act) * self.a[None, :]).T @ x    # (m, d)
        da = torch.relu(pre).T @ c                           # (m,)
        return dW, da

    def margin_gram(self, x_adv: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gram (n, n), float64, of the parameter gradients of q_i = y_i f(x_adv_i) (delta fixed):
        <grad q_i, grad q_j> = y_i y_j [relu_i . relu_j + (x_i . x_j) sum_k a_k^2 1_ik 1_jk]."""
        x64, W, a = x_adv.to(torch.float64), self.W.to(torch.float64), self.a.to(torch.float64)
        pre = x64 @ W.T
        r = torch.relu(pre)
        act = (pre > 0).to(torch.float64)
        G = r @ r.T + (x64 @ x64.T) * ((act * a.pow(2)) @ act.T)
        yy = y.to(torch.float64)
        return G * yy[:, None] * yy[None, :]

    def step(self, x: torch.Tensor, c: torch.Tensor, eta: float) -> None:
        dW, da = self.grads(x, c)
        self.W = self.W - eta * dW
        self.a = self.a - eta * da


def relu_perturbation(model: TwoLayerReLU, X: torch.Tensor, y: torch.Tensor, attack: str, eps: float, *,
                      pgd_steps: int = 10, attack_seed: int = 0) -> torch.Tensor:
    """delta (n, d) for ``attack`` in ("none", "fgm", "fgsm", "pgd") via :mod:`mfat.model.attacks`, maximising -y f(x').

    "fgm": one normalised l2 step of length eps; "fgsm": eps sign(gradient); "pgd": ``pgd_steps`` l2 steps
    (step 2.5 eps / steps, projected, best iterate kept). The objective -y f(x') is the argument of every
    decreasing margin loss, so the normalised and sign steps equal those on ell(y f). ``mfat.model.attacks`` starts
    from a tiny random point (radius 1e-3 eps); it is drawn from a generator re-seeded with ``attack_seed`` at
    every call, so that delta(theta) is a deterministic function of the parameters, as the theory assumes.
    """
    attack = check_choice("attack", attack, ATTACKS)
    eps = check_real("eps", eps, min_value=0.0)
    if attack == "none" or eps == 0.0:
        return torch.zeros_like(X)
    yy = y.to(X.dtype)

    def objective(xp):
        return -yy * model(xp)

    gen = make_generator(check_int("attack_seed", attack_seed, min_value=0), device=X.device)
    if attack == "pgd":
        steps = check_int("pgd_steps", pgd_steps, min_value=1)
        eta, _ = attacks.pgd(objective, X, attacks.Attack(eps, 2, 2, steps, random_start=False), generator=gen)
    else:
        p = 2 if attack == "fgm" else math.inf
        eta, _ = attacks.fgm(objective, X, attacks.Attack(eps, p, p, 1), generator=gen)
    return eta


def train_two_layer(model: TwoLayerReLU, X: torch.Tensor, y: torch.Tensor, *, attack: str, eps: float, steps: int,
                    lr: float, lr_fit: float | None = None, schedule: str = "normalised", loss: str = "exp",
                    norm_power: float | None = None, pgd_steps: int = 10, attack_seed: int = 0,
                    n_log: int = 40) -> dict:
    """Adversarial gradient descent on a bias-free two-layer ReLU network (full batch, fixed-delta gradient).

    X (n, d), y (n,) in {-1, +1}. Step: ``lr_fit`` (default ``lr``) until the adversarial training loss first
    falls below ell(0)/n (step ``t0``: every adversarial example is classified correctly, the theory's starting
    condition), ``lr`` afterwards; with the normalised schedule the step is that value / ||theta||^norm_power
    (default 1 = L - 1) times grad log L. Recorded steps: see :func:`_log_steps`. Returns float64 arrays
    ``step``, ``log_loss`` (log mean adversarial loss), ``q_min``, ``rho``, ``normalized_margin`` = q_min / rho^2,
    ``smoothed_margin`` (Lyu & Li's gamma~), ``kkt``, ``kkt_stat``, ``kkt_comp`` (the KKT residual of the
    adversarial margin problem, :func:`mfat.companions.margins.kkt_residual`; NaN while q_min <= 0), ``adv_acc`` (fraction
    of adversarial examples classified correctly), ``clean_acc``, and the int ``t0`` (-1 if never reached).
    """
    from mfat.companions.margins import kkt_residual, smoothed_margin

    steps = check_int("steps", steps, min_value=0)
    lr = check_real("lr", lr, min_value=0.0, min_inclusive=False)
    lr_fit = lr if lr_fit is None else check_real("lr_fit", lr_fit, min_value=0.0, min_inclusive=False)
    schedule = check_choice("schedule", schedule, SCHEDULES)
    loss = check_choice("loss", loss, LOSSES)
    attack = check_choice("attack", attack, ATTACKS)
    power = model.degree - 1 if norm_power is None else check_real("norm_power", norm_power, min_value=0.0)
    dt, dev = model.W.dtype, model.W.device
    X, y = X.to(dtype=dt, device=dev), y.to(dtype=dt, device=dev)
    if X.ndim != 2 or X.shape[1] != model.W.shape[1] or y.shape != (X.shape[0],):
        raise ValueError(f"parameters 'X', 'y' have shapes {tuple(X.shape)}, {tuple(y.shape)}: allowed (n, d), (n,)")
    n = X.shape[0]
    record = set(_log_steps(steps, n_log).tolist())
    threshold = math.log(LOSS_AT_ZERO[loss] / n)
    fitted, t0 = False, -1
    keys = ("step", "log_loss", "q_min", "rho", "normalized_margin", "smoothed_margin", "kkt", "kkt_stat",
            "kkt_comp", "adv_acc", "clean_acc")
    log = {k: [] for k in keys}
    for t in range(steps + 1):
        delta = relu_perturbation(model, X, y, attack, eps, pgd_steps=pgd_steps, attack_seed=attack_seed)
        Xa = X + delta
        q = y * model(Xa)
        log_l = float(log_loss_value(q, loss))
        if not fitted and log_l < threshold:
            fitted, t0 = True, t
        if t in record:
            rho = model.param_norm()
            qn = q.detach().cpu().numpy().astype(np.float64)
            log["step"].append(t)
            log["log_loss"].append(log_l)
            log["q_min"].append(float(qn.min()))
            log["rho"].append(rho)
            log["normalized_margin"].append(float(qn.min()) / rho**2)
            log["smoothed_margin"].append(smoothed_margin(qn, rho, 2, loss))
            if qn.min() > 0:
                K = kkt_residual(qn, model.margin_gram(Xa, y).cpu().numpy(), rho, 2)
                vals = (K.total, K.stationarity, K.complementarity)
            else:
                vals = (math.nan,) * 3
            for k, v in zip(("kkt", "kkt_stat", "kkt_comp"), vals):
                log[k].append(v)
            log["adv_acc"].append(float((qn > 0).mean()))
            log["clean_acc"].append(float((y * model(X) > 0).to(dt).mean()))
        if t == steps:
            break
        c = loss_weights(q, loss, schedule) * y              # dObj/df_i at fixed delta
        base = lr if fitted else lr_fit
        eta = base / model.param_norm() ** power if schedule == "normalised" else base
        model.step(Xa, c, eta)
    out = {k: np.asarray(v, dtype=np.float64) for k, v in log.items()}
    out["t0"] = t0
    return out
