"""Batched training of many small Definition 3.1 networks at once: the engine behind the Fig. 5 grids.

A grid point ("cell") is one network with its own depth, initialisation and random stream. All cells of one
width N are stacked and trained together: one ``bmm`` per layer for all of them, so a grid over depths and
seeds costs a handful of large matrix products per step instead of a Python loop of tiny ones.

Shapes (G cells, B examples per mini-batch, width N, input d, K logits, L_max the largest depth):

    P_in (G, N, d), P_out (G, K, N)               frozen
    W[l] (G_l, N, N), b[l] (G_l, N), l < L_max    trained; G_l = number of cells deeper than l
    P[l] (G_l, N, N)                              frozen residual shortcuts (residual only)

Cells are stored in order of decreasing depth, so that the cells still active at layer l are a prefix
``[:G_l]`` (no masking and no wasted products); inputs and outputs are in the caller's order.

:func:`train_grid` implements exactly the objective and attack of :func:`mfat.model.training.train` (same
:class:`mfat.model.training.TrainConfig`): cell g of the grid, with generator ``generators[g]``, follows the same
trajectory as ``train(nets[g], X, y, config, generator=generators[g])`` (same mini-batch permutations, same PGD
random starts, same updates; tested to float64 round-off in ``tests/model/test_grid.py``): the objective is the
same function (:mod:`mfat.model.objectives`), and the attack is :func:`mfat.model.attacks.pgd` with one generator
per cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from mfat.model.networks import ReLULikeNet, apply_layer
from mfat.model.objectives import StackOfNetworks, training_objective
from mfat.model.training import TrainConfig, mini_batches, update_loop

__all__ = ["NetStack", "stacked_objective", "train_grid"]


class NetStack:
    """G networks of one width N (depths may differ), stacked for batched forward and backward passes.

    ``NetStack(nets)`` copies the parameters of the given :class:`mfat.model.networks.ReLULikeNet` (same d, N, K,
    u, v, architecture, dtype and device); the stack's trainable tensors are :attr:`W` and :attr:`b` (lists
    over layers, leaf tensors with ``requires_grad``). :meth:`to_networks` copies the trained values back into
    new networks.
    """

    def __init__(self, nets: Sequence[ReLULikeNet]):
        nets = list(nets)
        if not nets or not all(isinstance(n, ReLULikeNet) for n in nets):
            raise ValueError("parameter 'nets' is out of range: allowed a non-empty sequence of ReLULikeNet")
        s0 = nets[0].spec
        ref = nets[0].P_out
        for i, n in enumerate(nets):
            s = n.spec
            if (s.d, s.N, s.K, s.u, s.v, s.residual) != (s0.d, s0.N, s0.K, s0.u, s0.v, s0.residual):
                raise ValueError(f"parameter 'nets' has entry {i} with (d, N, K, u, v, residual) = "
                                 f"{(s.d, s.N, s.K, s.u, s.v, s.residual)}: allowed the values of entry 0, "
                                 f"{(s0.d, s0.N, s0.K, s0.u, s0.v, s0.residual)}")
            if n.P_out.dtype != ref.dtype or n.P_out.device != ref.device:
                raise ValueError(f"parameter 'nets' has entry {i} on {n.P_out.device}/{n.P_out.dtype}: allowed "
                                 f"the device and dtype of entry 0 ({ref.device}/{ref.dtype})")
        self.d, self.N, self.K, self.u, self.v, self.residual = s0.d, s0.N, s0.K, s0.u, s0.v, s0.residual
        self.G = len(nets)
        self.depths = np.array([n.spec.L for n in nets])
        # stable sort by decreasing depth: stacked position j holds caller cell order[j]
        self.order = torch.as_tensor(np.argsort(-self.depths, kind="stable"), device=ref.device)
        self.inverse = torch.argsort(self.order)
        sorted_nets = [nets[i] for i in self.order.tolist()]
        self.L_max = int(self.depths.max())
        self.active = [int((self.depths > layer).sum()) for layer in range(self.L_max)]  # G_l
        with torch.no_grad():
            self.P_in = torch.stack([n.P_in for n in sorted_nets])
            self.P_out = torch.stack([n.P_out for n in sorted_nets])
            self.W = [torch.stack([n.W[layer] for n in sorted_nets[:g]]).clone().requires_grad_(True)
                      for layer, g in enumerate(self.active)]
            self.b = [torch.stack([n.b[layer] for n in sorted_nets[:g]]).clone().requires_grad_(True)
                      for layer, g in enumerate(self.active)]
            self.P = ([torch.stack([n.P[layer] for n in sorted_nets[:g]]) for layer, g in enumerate(self.active)]
                      if self.residual else None)
        self._specs = [n.spec for n in nets]

    @property
    def dtype(self) -> torch.dtype:
        return self.P_out.dtype

    @property
    def device(self) -> torch.device:
        return self.P_out.device

    def parameters(self) -> list[torch.Tensor]:
        """The trainable tensors, in the order ``[*W, *b]`` (as :func:`mfat.model.training.train` orders them)."""
        return [*self.W, *self.b]

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """f_g(x_g) for every cell: x (G, B, d) per-cell inputs, or (B, d) shared by all cells -> (G, B, K).

        Definition 3.1 layer by layer (:func:`mfat.model.networks.apply_layer`, one batched product per layer and
        phi's single ReLU kernel when u = 1); at layer l only the G_l cells deeper than l are updated.
        """
        if x.shape[-1] != self.d or x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[0] != self.G):
            raise ValueError(f"parameter 'x' has shape {tuple(x.shape)}: allowed (B, {self.d}) or "
                             f"({self.G}, B, {self.d})")
        if x.ndim == 2:
            h = torch.matmul(x, self.P_in.transpose(1, 2))  # (B, d) @ (G, d, N) -> (G, B, N)
        else:
            h = torch.bmm(x[self.order], self.P_in.transpose(1, 2))
        # the cells at positions g.. of h have no layer ``layer``: they are split off once, when they finish, and
        # read out at once (no copy of the whole stack per layer, forwards or backwards)
        logits = []  # (n, B, K) per finished group, the shallowest first
        for layer, g in enumerate(self.active):
            if g < h.shape[0]:
                h, done = h.split([g, h.shape[0] - g])
                logits.append(torch.bmm(done, self.P_out[g:g + done.shape[0]].transpose(1, 2)))
            _, h = apply_layer(h, self.W[layer], self.b[layer], self.u, self.v,
                               self.P[layer] if self.residual else None, fused=True)
        logits.append(torch.bmm(h, self.P_out[:h.shape[0]].transpose(1, 2)))
        out = logits[0] if len(logits) == 1 else torch.cat(logits[::-1], dim=0)
        return out[self.inverse]

    __call__ = forward

    # -- summaries -------------------------------------------------------------------------------
    def sigma_w2_per_layer(self) -> list[np.ndarray]:
        """||W_g^(l)||_F^2 / N per cell (caller order): a list of G float64 arrays of shape (L_g,)."""
        with torch.no_grad():
            per = [w.detach().double().pow(2).sum(dim=(1, 2)).cpu().numpy() / self.N for w in self.W]
        out = [[] for _ in range(self.G)]
        for layer, g in enumerate(self.active):
            for j in range(g):
                out[j].append(per[layer][j])
        inv = self.inverse.tolist()
        return [np.asarray(out[inv[i]]) for i in range(self.G)]

    def sigma_w2(self) -> np.ndarray:
        """Mean over each cell's layers of ||W^(l)||_F^2 / N: (G,) float64, caller order."""
        return np.array([s.mean() for s in self.sigma_w2_per_layer()])

    def grad_norms(self) -> np.ndarray:
        """Norm of the current ``.grad`` of each cell's W^(1..L) together: (G,) float64, caller order."""
        sq = torch.zeros(self.G, dtype=torch.float64, device=self.device)
        for layer, g in enumerate(self.active):
            if self.W[layer].grad is not None:
                sq[:g] += self.W[layer].grad.double().pow(2).sum(dim=(1, 2))
        return sq.sqrt()[self.inverse].cpu().numpy()

    def to_networks(self) -> list[ReLULikeNet]:
        """New networks (caller order) holding the stack's current values."""
        nets = []
        inv = self.inverse.tolist()
        for i, s in enumerate(self._specs):
            j = inv[i]
            net = ReLULikeNet(s.d, s.N, s.K, s.L, s.sigma_w2, s.sigma_b2, s.u, s.v, s.residual, seed=0,
                              dtype=self.dtype, device=self.device)
            with torch.no_grad():
                net.P_in.copy_(self.P_in[j])
                net.P_out.copy_(self.P_out[j])
                for layer in range(s.L):
                    net.W[layer].copy_(self.W[layer][j])
                    net.b[layer].copy_(self.b[layer][j])
                    if s.residual:
                        net.P[layer].copy_(self.P[layer][j])
            nets.append(net)
        return nets


# ---------------------------------------------------------------------------------------- objective
def stacked_objective(stack: NetStack, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, *,
                      generators: Sequence[torch.Generator]) -> dict[str, torch.Tensor]:
    """:func:`mfat.model.training.batch_objective` for every cell: x (G, B, d), y (G, B).

    Returns ``loss`` (G,) (differentiable; ``loss.sum()`` has the per-cell gradients, since cells share no
    parameters), ``ce`` (G,) and ``L_adv`` (G,) (detached; NaN when the objective does not compute it). Cell g's
    PGD starts are drawn from ``generators[g]`` (:func:`mfat.model.objectives.training_objective`).
    """
    return training_objective(StackOfNetworks(stack, generators), x, y, config)


# ------------------------------------------------------------------------------------------- the loop
def _accuracies(stack: NetStack, X: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> np.ndarray:
    correct = torch.zeros(stack.G, dtype=torch.int64, device=X.device)
    with torch.no_grad():
        for i in range(0, len(X), chunk):
            correct += (stack(X[i:i + chunk]).argmax(-1) == y[i:i + chunk]).sum(dim=1)
    return correct.cpu().numpy() / len(X)


def train_grid(nets: Sequence[ReLULikeNet] | NetStack, X: torch.Tensor, y: torch.Tensor, config: TrainConfig, *,
               generators: Sequence[torch.Generator], X_eval: torch.Tensor | None = None,
               y_eval: torch.Tensor | None = None, progress: bool | None = None) -> tuple[NetStack, pd.DataFrame]:
    """Train G networks of one width together; cell g behaves as ``mfat.model.training.train(nets[g], ...,
    generator=generators[g])``.

    X (n, d), y (n,): the training set shared by all cells (each cell draws its own mini-batch order from its
    generator). ``X_eval``/``y_eval``: the evaluation set (default: the training set), of which the first
    ``config.eval_size`` examples are used. The networks in ``nets`` are not modified (their values are copied
    into a :class:`NetStack`, which is returned trained).

    Returns ``(stack, table)``; the table has one row per cell and recorded step (``config.recorded_steps``: step
    0, every ``record_every``-th, the first ``record_first``, the last): ``cell`` (index into ``nets``), ``L``,
    ``step``, ``t`` (= lr * step), ``loss``, ``ce``, ``L_adv`` (batch means on the mini-batch the next update
    uses), ``clean_acc`` (on the evaluation set), ``sigma_w2`` (mean over layers of ||W^(l)||_F^2 / N) and
    ``grad_norm`` (norm of the gradient of the objective with respect to the cell's W^(1..L)) -- the columns of
    ``train`` with the same meaning.
    """
    if not isinstance(config, TrainConfig):
        raise ValueError(f"parameter 'config' = {type(config).__name__} is out of range: allowed a TrainConfig")
    stack = nets if isinstance(nets, NetStack) else NetStack(nets)
    generators = list(generators)
    if len(generators) != stack.G or not all(isinstance(g, torch.Generator) for g in generators):
        raise ValueError(f"parameter 'generators' has {len(generators)} entries: allowed one torch.Generator per "
                         f"network ({stack.G})")
    device = stack.device
    for g in generators:
        if g.device.type != device.type:
            raise ValueError(f"parameter 'generators' has a generator on {g.device}: allowed the networks' device "
                             f"({device})")
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != stack.d:
        raise ValueError(f"parameter 'X' has shape {tuple(getattr(X, 'shape', ()))}: allowed (n, {stack.d})")
    if not isinstance(y, torch.Tensor) or y.shape != (X.shape[0],):
        raise ValueError(f"parameter 'y' has shape {tuple(getattr(y, 'shape', ()))}: allowed ({X.shape[0]},)")
    if int(y.min()) < 0 or int(y.max()) >= stack.K:
        raise ValueError(f"parameter 'y' has labels in [{int(y.min())}, {int(y.max())}]: allowed [0, {stack.K - 1}]")
    if config.batch_size > X.shape[0]:
        raise ValueError(f"parameter 'batch_size' = {config.batch_size} is out of range: allowed at most the number "
                         f"of training examples ({X.shape[0]})")
    if (X_eval is None) != (y_eval is None):
        raise ValueError("parameters 'X_eval' and 'y_eval' must be given together")
    X = X.to(device=device, dtype=stack.dtype)
    y = y.to(device=device, dtype=torch.int64)
    if X_eval is None:
        X_eval, y_eval = X, y
    X_eval = X_eval[:config.eval_size].to(device=device, dtype=stack.dtype)
    y_eval = y_eval[:config.eval_size].to(device=device, dtype=torch.int64)
    if config.robust_eval:
        raise ValueError("parameter 'config.robust_eval' = True is out of range for train_grid: allowed False "
                         "(use mfat.model.training.train for robust accuracy)")
    # train() first seeds its evaluation generator from ``generator``: make the same draw so the streams agree
    for gen in generators:
        torch.randint(0, 2**62, (1,), generator=gen, device=gen.device)
    # every cell draws its mini-batches from its own generator, as train does
    batches = mini_batches(X.shape[0], config.batch_size, generators, device)
    cells, rows = np.arange(stack.G), []

    def objective() -> dict:
        idx = torch.stack(next(batches))
        return stacked_objective(stack, X[idx], y[idx], config, generators=generators)

    def record(step: int, out: dict) -> None:
        rows.append(pd.DataFrame({
            "cell": cells, "L": stack.depths, "step": step, "t": config.lr * step,
            "loss": out["loss"].detach().double().cpu().numpy(), "ce": out["ce"].double().cpu().numpy(),
            "L_adv": out["L_adv"].double().cpu().numpy(), "clean_acc": _accuracies(stack, X_eval, y_eval),
            "sigma_w2": stack.sigma_w2(), "grad_norm": stack.grad_norms()}))

    update_loop(stack.parameters(), config, objective, record, progress=progress,
                desc=f"grid of {stack.G} ({config.objective})")
    return stack, pd.concat(rows, ignore_index=True)

