"""The training objectives of sources appendix: the adversarial loss and Theorem 5.4, written once for one network and for a stack of G networks.

Per mini-batch x (B, d), y (B,), means over the examples:

- ``"standard"``:    CE(f(x), y)
- ``"adversarial"``: CE(f(x), y) + lam L_adv(x), L_adv(x) = ||f(x + eta) - f(x)||_q at the PGD maximiser eta of that
  same quantity over ||eta||_p <= eps (detached: the gradient flows through f only, Danskin's theorem)
- ``"adv_only"``:    L_adv(x) alone (Theorem 5.4)
- ``"madry"``:       CE(f(x + eta), y), eta the PGD maximiser of the cross-entropy (Madry et al.)
- ``"l2"``:          CE(f(x), y); with every objective, (weight_decay / 2) sum_l ||W^(l)||_F^2 is added when
  weight_decay > 0

:func:`training_objective` states them once. What differs between one network and a stack is only how a batch
mean, the cross-entropy and the weight norms are taken, and where the attack draws its random starts:
:class:`OneNetwork` (logits (B, K), scalars, one generator) and :class:`StackOfNetworks` (logits (G, B, K), one
value per network, one generator per network, as :func:`mfat.model.attacks.pgd` takes them). Each keeps the exact
operations of its engine, so that a stacked cell reproduces single-network training to float64 round-off.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from mfat.model.attacks import Attack, pgd
from mfat.model.networks import ReLULikeNet

__all__ = ["OneNetwork", "StackOfNetworks", "L_adv_per_example", "adversarial_deviation", "ce_maximiser",
           "training_objective"]


class OneNetwork:
    """One :class:`mfat.model.networks.ReLULikeNet`: logits (B, K), batch means are scalars; attacks draw from
    ``generator``."""

    def __init__(self, net: ReLULikeNet, generator: torch.Generator | None):
        self.net = net
        self.randomness = {"generator": generator}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def ce(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y)

    def ce_per_example(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, y, reduction="none")

    def mean(self, per_example: torch.Tensor) -> torch.Tensor:
        return per_example.mean()

    def squared_weights(self) -> torch.Tensor:
        """sum_l ||W^(l)||_F^2 (differentiable)."""
        return sum(w.pow(2).sum() for w in self.net.W)

    def nan(self, like: torch.Tensor) -> torch.Tensor:
        return torch.tensor(float("nan"), dtype=like.dtype, device=like.device)


class StackOfNetworks:
    """G stacked networks (:class:`mfat.model.grid.NetStack`): x (G, B, d), logits (G, B, K), one value per
    network (G,); network g's attack draws from ``generators[g]``."""

    def __init__(self, stack, generators: Sequence[torch.Generator]):
        self.stack = stack
        self.randomness = {"generators": generators}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.stack(x)

    def ce(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.mean(self.ce_per_example(logits, y))

    def ce_per_example(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.transpose(1, 2), y, reduction="none")

    def mean(self, per_example: torch.Tensor) -> torch.Tensor:
        return per_example.mean(dim=1)

    def squared_weights(self) -> torch.Tensor:
        """sum_l ||W_g^(l)||_F^2 per network, (G,) in the caller's order (differentiable)."""
        stack = self.stack
        total = torch.zeros(stack.G, dtype=stack.dtype, device=stack.device)
        for layer, g in enumerate(stack.active):
            total = total + F.pad(stack.W[layer].pow(2).sum(dim=(1, 2)), (0, stack.G - g))
        return total[stack.inverse]

    def nan(self, like: torch.Tensor) -> torch.Tensor:
        return torch.full((self.stack.G,), float("nan"), dtype=like.dtype, device=like.device)


Model = OneNetwork | StackOfNetworks


def _deviation(difference: torch.Tensor, q: float) -> torch.Tensor:
    """||f(x') - f(x)||_q over the logits axis."""
    return torch.linalg.vector_norm(difference, ord=q, dim=-1)


def adversarial_deviation(model: Model, x: torch.Tensor, attack: Attack, *,
                          fx: torch.Tensor | None = None) -> torch.Tensor:
    """Per-example L_adv(x) = ||f(x + eta) - f(x)||_q at the PGD maximiser eta of the same quantity (detached).

    Gradients of the result flow through both forward passes of f and not through eta (Danskin). ``fx``: f(x)
    with its graph, if already computed. Returns (B,) or, for a stack, (G, B).
    """
    with torch.no_grad():
        f0 = model(x)
    eta, _ = pgd(lambda x_adv: _deviation(model(x_adv) - f0, attack.q), x, attack, **model.randomness)
    fx = model(x) if fx is None else fx
    return _deviation(model(x + eta) - fx, attack.q)


def ce_maximiser(model: Model, x: torch.Tensor, y: torch.Tensor, attack: Attack) -> torch.Tensor:
    """The PGD maximiser eta of the cross-entropy (Madry), detached, x's shape."""
    eta, _ = pgd(lambda x_adv: model.ce_per_example(model(x_adv), y), x, attack, **model.randomness)
    return eta


def L_adv_per_example(net: ReLULikeNet, x: torch.Tensor, attack: Attack, *, generator: torch.Generator | None,
                      fx: torch.Tensor | None = None) -> torch.Tensor:
    """L_adv(x) of one network at the PGD maximiser (:func:`adversarial_deviation`): x (B, d) -> (B,).

    The attack is :func:`mfat.model.attacks.pgd` with ``attack`` on the output deviation, drawing from
    ``generator``; this is the quantity whose gradient Theorem 5.4's identity is about.
    """
    return adversarial_deviation(OneNetwork(net, generator), x, attack, fx=fx)


def training_objective(model: Model, x: torch.Tensor, y: torch.Tensor, config) -> dict[str, torch.Tensor]:
    """The objective of ``config`` (a :class:`mfat.model.training.TrainConfig`) on one mini-batch (module doc).

    Returns ``loss`` (differentiable, what the update descends), ``ce`` (clean cross-entropy, detached) and
    ``L_adv`` (batch mean, detached; NaN when the objective does not compute it): scalars for one network, (G,)
    for a stack (``loss.sum()`` then has every network's gradient, since they share no parameters).
    """
    objective = config.objective
    if objective == "madry":
        eta = ce_maximiser(model, x, y, config.attack)
        loss = model.ce(model(x + eta), y)
        with torch.no_grad():
            ce = model.ce(model(x), y)
        L_adv = model.nan(x)
    elif objective in ("adversarial", "adv_only"):
        fx = model(x)
        L_adv = model.mean(adversarial_deviation(model, x, config.attack, fx=fx))
        ce = model.ce(fx, y)
        loss = L_adv if objective == "adv_only" else ce + config.lam * L_adv
        ce, L_adv = ce.detach(), L_adv.detach()
    else:  # standard, l2
        ce = model.ce(model(x), y)
        loss = ce
        ce = ce.detach()
        L_adv = model.nan(x)
    if config.weight_decay > 0:
        loss = loss + 0.5 * config.weight_decay * model.squared_weights()
    return {"loss": loss, "ce": ce, "L_adv": L_adv}
