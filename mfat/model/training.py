"""Training Definition 3.1 networks: standard, adversarial and l2-regularised (sources appendix: the adversarial loss and Theorem 5.4).

    config = TrainConfig(objective="adversarial", lr=0.01, steps=500, eps=0.3, p="inf", q="inf")
    table = train(net, X, y, config, generator=torch.Generator().manual_seed(0))

Only the trainable parameters of a :class:`mfat.model.networks.ReLULikeNet` move (W^(l) and b^(l)); the random
projections P_in, P_out, P^(l) are buffers and stay frozen. Objectives (per mini-batch, means over examples;
written once, for one network and for a stack, in :mod:`mfat.model.objectives`):

- ``"standard"``:    CE(f(x), y)
- ``"adversarial"``: CE(f(x), y) + lam * L_adv(x), the book's main line (sources appendix: the adversarial loss), with
  L_adv(x) = ||f(x + eta) - f(x)||_q at the PGD maximiser eta of that same quantity over ||eta||_p <= eps;
  eta is detached, so the gradient flows through f only (Danskin's theorem)
- ``"adv_only"``:    L_adv(x) alone: the setting of Theorem 5.4
- ``"madry"``:       CE(f(x + eta), y) with eta the PGD maximiser of the cross-entropy (Madry et al.)
- ``"l2"``:          CE(f(x), y) + (weight_decay / 2) sum_l ||W^(l)||_F^2

A penalty (weight_decay / 2) sum_l ||W^(l)||_F^2 is added to every objective when ``weight_decay > 0``
(for ``"l2"`` it must be > 0). The time convention is the gradient-flow one, t = lr * step.

The returned table has one row per recorded step (step 0 = before any update, then every ``record_every`` steps,
every one of the first ``record_first`` steps, and the last): ``step``, ``t``, ``loss``, ``ce``, ``L_adv`` (batch
means at the parameters of that row, on the mini-batch the next update uses; L_adv is NaN where the objective does
not compute it), ``clean_acc`` and, with ``robust_eval``, ``robust_acc`` (PGD on the cross-entropy, the same
attack) on the evaluation set, ``sigma_w2`` (mean over layers of ||W^(l)||_F^2 / N), ``sigma_w2_1`` ..
``sigma_w2_L``, ``grad_norm`` (norm of the objective's gradient with respect to all W^(l) together), and one column
per entry of ``metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from mfat.model.attacks import Attack
from mfat.model.networks import ReLULikeNet
from mfat.model.objectives import OneNetwork, ce_maximiser, training_objective
from mfat.validation import check_choice, check_int, check_real, normalise_p

__all__ = ["OBJECTIVES", "OPTIMIZERS", "TrainConfig", "train", "batch_objective", "make_optimizer", "mini_batches",
           "update_loop"]

OBJECTIVES = ("standard", "adversarial", "adv_only", "madry", "l2")
OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`train`, validated on construction (``ValueError`` naming the field).

    objective: one of :data:`OBJECTIVES`; lr: learning rate (> 0); steps: number of updates (>= 0);
    batch_size: examples per update; eps, p, q: the threat model ||eta||_p <= eps and the output norm of
    L_adv (p, q in {1, 2, inf}; strings "inf" accepted); attack_steps, attack_step_size (None: the attack's
    default), attack_restarts: PGD settings; lam: weight of L_adv in "adversarial"; weight_decay: l2
    coefficient; optimizer: "sgd" (plain, the theory's setting), "momentum" (SGD with ``momentum``) or
    "adam"; record_every: steps between recorded rows; record_first: also record each of the first
    ``record_first`` steps (a fine early window for slopes, a coarse grid later); eval_size: examples of the
    evaluation set used for accuracies; robust_eval: also record robust accuracy (costs one PGD per recorded row).
    The attack settings are also built once into :attr:`attack` (a :class:`mfat.model.attacks.Attack`), which
    every objective uses.
    """

    objective: str = "adversarial"
    lr: float = 0.01
    steps: int = 100
    batch_size: int = 128
    eps: float = 0.3
    p: float = math.inf
    q: float = math.inf
    attack_steps: int = 10
    attack_step_size: float | None = None
    attack_restarts: int = 1
    lam: float = 1.0
    weight_decay: float = 0.0
    optimizer: str = "sgd"
    momentum: float = 0.9
    record_every: int = 10
    record_first: int = 0
    eval_size: int = 1000
    robust_eval: bool = False

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        put("objective", check_choice("objective", self.objective, OBJECTIVES))
        put("lr", check_real("lr", self.lr, min_value=0.0, min_inclusive=False))
        put("steps", check_int("steps", self.steps, min_value=0))
        put("batch_size", check_int("batch_size", self.batch_size, min_value=1))
        put("eps", check_real("eps", self.eps, min_value=0.0))
        put("p", normalise_p("p", self.p))
        put("q", normalise_p("q", self.q))
        put("attack_steps", check_int("attack_steps", self.attack_steps, min_value=1))
        if self.attack_step_size is not None:
            put("attack_step_size", check_real("attack_step_size", self.attack_step_size, min_value=0.0,
                                               min_inclusive=False))
        put("attack_restarts", check_int("attack_restarts", self.attack_restarts, min_value=1))
        put("lam", check_real("lam", self.lam, min_value=0.0))
        put("weight_decay", check_real("weight_decay", self.weight_decay, min_value=0.0))
        put("optimizer", check_choice("optimizer", self.optimizer, OPTIMIZERS))
        put("momentum", check_real("momentum", self.momentum, min_value=0.0, max_value=1.0, max_inclusive=False))
        put("record_every", check_int("record_every", self.record_every, min_value=1))
        put("record_first", check_int("record_first", self.record_first, min_value=0))
        put("eval_size", check_int("eval_size", self.eval_size, min_value=1))
        put("robust_eval", check_choice("robust_eval", self.robust_eval, (True, False)))
        if self.objective == "l2" and self.weight_decay <= 0.0:
            raise ValueError(f"parameter 'weight_decay' = {self.weight_decay!r} is out of range for objective 'l2': "
                             "allowed a finite real number in (0, inf)")
        if self.objective in ("adversarial", "adv_only", "madry") and self.eps <= 0.0:
            raise ValueError(f"parameter 'eps' = {self.eps!r} is out of range for objective {self.objective!r}: "
                             "allowed a finite real number in (0, inf)")
        put("_attack", Attack(self.eps, self.p, self.q, self.attack_steps, step_size=self.attack_step_size,
                              restarts=self.attack_restarts))

    @property
    def attack(self) -> Attack:
        """The attack of the objectives, built once from eps, p, q, attack_steps, attack_step_size, attack_restarts."""
        return self._attack

    @property
    def recorded_steps(self) -> set[int]:
        """The steps that get a row: 0, every ``record_every``-th, each of the first ``record_first``, the last."""
        return (set(range(0, self.steps + 1, self.record_every)) | {self.steps}
                | set(range(min(self.record_first, self.steps) + 1)))

    @property
    def uses_L_adv(self) -> bool:
        """Whether the objective computes L_adv (``"adversarial"`` and ``"adv_only"``)."""
        return self.objective in ("adversarial", "adv_only")

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- the objective
def batch_objective(net: ReLULikeNet, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, *,
                    generator: torch.Generator | None) -> dict[str, torch.Tensor]:
    """The objective of ``config`` on one mini-batch x (B, d), y (B,): a dict of scalars.

    ``loss`` (differentiable, what the update descends), ``ce`` (clean cross-entropy, detached) and
    ``L_adv`` (batch mean, detached; NaN when the objective does not compute it); see
    :func:`mfat.model.objectives.training_objective`. PGD starts are drawn from ``generator``.
    """
    return training_objective(OneNetwork(net, generator), x, y, config)


# --------------------------------------------------------------------------- evaluation
def _accuracy(net: ReLULikeNet, x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> float:
    with torch.no_grad():
        correct = sum(int((net(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum()) for i in range(0, len(x), chunk))
    return correct / len(x)


def _robust_accuracy(net: ReLULikeNet, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
                     generator: torch.Generator | None, chunk: int = 1024) -> float:
    correct = 0
    for i in range(0, len(x), chunk):
        xb, yb = x[i:i + chunk], y[i:i + chunk]
        eta = ce_maximiser(OneNetwork(net, generator), xb, yb, config.attack)
        with torch.no_grad():
            correct += int((net(xb + eta).argmax(1) == yb).sum())
    return correct / len(x)


# --------------------------------------------------------------------------- the loop
def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over ``params``: plain SGD, SGD with momentum, or Adam, at ``config.lr``.

    All three act elementwise, so one optimiser over a stack of networks' tensors (:mod:`mfat.model.grid`) updates
    each network exactly as its own optimiser would.
    """
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.0)
    if config.optimizer == "momentum":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    return torch.optim.Adam(params, lr=config.lr)


def _check_data(net: ReLULikeNet, X, y, name_x: str, name_y: str) -> tuple[torch.Tensor, torch.Tensor]:
    s = net.spec
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != s.d or X.shape[0] < 1:
        shape = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"parameter '{name_x}' has shape {shape}: allowed a tensor (n, d) with n >= 1, d = {s.d}")
    if not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],) or y.dtype not in (torch.int64, torch.int32):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"parameter '{name_y}' has shape {shape}: allowed an integer tensor ({X.shape[0]},)")
    if int(y.min()) < 0 or int(y.max()) >= s.K:
        raise ValueError(f"parameter '{name_y}' has labels in [{int(y.min())}, {int(y.max())}]: "
                         f"allowed labels in [0, {s.K - 1}] (K = {s.K})")
    ref = net.P_out
    return X.to(device=ref.device, dtype=ref.dtype), y.to(device=ref.device, dtype=torch.int64)


def mini_batches(n: int, batch_size: int, generators: Sequence[torch.Generator],
                 device) -> Iterator[list[torch.Tensor]]:
    """Endless mini-batch indices, one (batch_size,) tensor per generator: each epoch draws a fresh random
    permutation of range(n) from every generator and cuts it into whole batches (a remainder is skipped)."""
    while True:
        perms = [torch.randperm(n, generator=g, device=g.device).to(device) for g in generators]
        for i in range(0, n - batch_size + 1, batch_size):
            yield [perm[i:i + batch_size] for perm in perms]


def update_loop(params: Sequence[torch.Tensor], config: TrainConfig, objective: Callable[[], dict],
                record: Callable[[int, dict], None], *, progress: bool | None, desc: str) -> None:
    """The loop of :func:`train` and :func:`mfat.model.grid.train_grid`, for step = 0 .. config.steps.

    ``objective()`` evaluates the next mini-batch: a dict whose ``loss`` is a scalar, or one value per network of
    a stack (their sum has every network's gradient). Its gradient is taken; at the steps of
    :attr:`TrainConfig.recorded_steps`, ``record(step, out)`` sees it in ``.grad``; then one update of the
    optimiser of :func:`make_optimizer` over ``params`` (none after the last step). ``progress``: a tqdm bar
    labelled ``desc`` (default: :func:`mfat.runtime.interactive`).
    """
    if progress is None:
        from mfat.runtime import interactive

        progress = interactive()
    opt = make_optimizer(params, config)
    recorded = config.recorded_steps
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=config.steps, desc=desc, leave=False)
    for step in range(config.steps + 1):
        out = objective()
        opt.zero_grad(set_to_none=True)
        out["loss"].sum().backward()
        if step in recorded:
            record(step, out)
        if step < config.steps:
            opt.step()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    opt.zero_grad(set_to_none=True)


def train(net: ReLULikeNet, X: torch.Tensor, y: torch.Tensor, config: TrainConfig, *,
          generator: torch.Generator, X_eval: torch.Tensor | None = None, y_eval: torch.Tensor | None = None,
          metrics: Mapping[str, Callable] | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Train ``net`` in place on (X (n, d), y (n,)) with ``config``; return the per-step table (module doc).

    ``generator``: the only source of randomness (mini-batch permutations and PGD random starts); the run is
    deterministic for a given seed on the CPU. It must live on the network's device. ``X_eval``/``y_eval``:
    the evaluation set (default: the first ``eval_size`` training examples), of which the first
    ``eval_size`` examples are used. ``metrics``: name -> callable(net, X_batch, y_batch) -> float, evaluated
    at recorded steps on that step's mini-batch. ``progress``: show a tqdm bar (default:
    :func:`mfat.chapter.interactive`).
    """
    if not isinstance(net, ReLULikeNet):
        raise ValueError(f"parameter 'net' = {type(net).__name__} is out of range: allowed a mfat.model.networks.ReLULikeNet")
    if not isinstance(config, TrainConfig):
        raise ValueError(f"parameter 'config' = {type(config).__name__} is out of range: allowed a TrainConfig")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"parameter 'generator' = {generator!r} is out of range: allowed a torch.Generator")
    device = net.P_out.device
    if generator.device.type != device.type:
        raise ValueError(f"parameter 'generator' is on {generator.device}: allowed a generator on the network's "
                         f"device ({device})")
    X, y = _check_data(net, X, y, "X", "y")
    if config.batch_size > X.shape[0]:
        raise ValueError(f"parameter 'batch_size' = {config.batch_size} is out of range: allowed at most the number "
                         f"of training examples ({X.shape[0]})")
    if (X_eval is None) != (y_eval is None):
        raise ValueError("parameters 'X_eval' and 'y_eval' must be given together")
    if X_eval is None:
        X_eval, y_eval = X, y
    else:
        X_eval, y_eval = _check_data(net, X_eval, y_eval, "X_eval", "y_eval")
    X_eval, y_eval = X_eval[:config.eval_size], y_eval[:config.eval_size]
    metrics = dict(metrics or {})
    reserved = {"step", "t", "loss", "ce", "L_adv", "clean_acc", "robust_acc", "sigma_w2", "grad_norm"}
    for name, fn in metrics.items():
        if not isinstance(name, str) or not callable(fn) or name in reserved or name.startswith("sigma_w2_"):
            raise ValueError(f"parameter 'metrics' has entry {name!r}: allowed a new column name mapped to a "
                             "callable(net, X_batch, y_batch) -> float")
    # evaluation draws (robust accuracy's PGD starts) come from their own generator, seeded from ``generator``,
    # so that recording does not change the training trajectory
    eval_generator = torch.Generator(device=generator.device)
    eval_generator.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)))
    batches = mini_batches(X.shape[0], config.batch_size, [generator], device)
    batch, rows = {}, []

    def objective() -> dict:
        (idx,) = next(batches)
        batch["x"], batch["y"] = X[idx], y[idx]
        return batch_objective(net, batch["x"], batch["y"], config, generator=generator)

    def record(step: int, out: dict) -> None:
        rows.append(_row(net, step, config, out, batch["x"], batch["y"], X_eval, y_eval, metrics, eval_generator))

    update_loop([*net.W, *net.b], config, objective, record, progress=progress, desc=f"{config.objective} training")
    return pd.DataFrame(rows)


def _row(net, step, config, out, xb, yb, X_eval, y_eval, metrics, generator) -> dict:
    sw = net.sigma_w2_per_layer().double().cpu().numpy()
    grads = [w.grad for w in net.W if w.grad is not None]
    grad_norm = float(torch.sqrt(sum(g.double().pow(2).sum() for g in grads))) if grads else 0.0
    row = {"step": step, "t": config.lr * step, "loss": float(out["loss"].detach()), "ce": float(out["ce"]),
           "L_adv": float(out["L_adv"]), "clean_acc": _accuracy(net, X_eval, y_eval)}
    if config.robust_eval:
        row["robust_acc"] = _robust_accuracy(net, X_eval, y_eval, config, generator)
    row["sigma_w2"] = float(np.mean(sw))
    row.update({f"sigma_w2_{layer + 1}": float(v) for layer, v in enumerate(sw)})
    row["grad_norm"] = grad_norm
    # a metric may run its own backward passes: keep the update's gradients out of its reach
    params = [*net.W, *net.b]
    saved = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        for name, fn in metrics.items():
            row[name] = float(fn(net, xb, yb))
    finally:
        for p, g in zip(params, saved):
            p.grad = g
    return row
