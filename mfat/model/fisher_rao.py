"""Fisher-Rao norm of the trainable weights of a Definition 3.1 network (Theorem 5.8; sources appendix).

The layerwise Fisher-Rao norm (the form of Liang et al., AISTATS 2019, built from <theta, grad_theta f>,
taken one weight matrix at a time) is

    ||w||_FR^2 = sum_{l=1}^{L} E_x || v_l(x) ||_2^2,     v_l(x) = <W^(l), grad_{W^(l)} f(x)>  in R^K,

where the inner product contracts the parameter indices, so v_l(x) = d/ds f(x; W^(l) -> (1 + s) W^(l)) at
s = 0: a directional derivative along the direction W^(l) itself. The expectation over x is estimated by the
mean over a batch.

Three ways to compute v_l, all exact except the last:

- :func:`directional_derivatives` (forward mode, the default). phi is piecewise linear, so with the
  activation slopes D^(k) = diag(phi'(z^(k))) held fixed the tangent of the hidden state obeys
  dz^(k) = W^(k) dh^(k-1) (+ W^(l) h^(l-1) at k = l), dh^(k) = D^(k) dz^(k) (+ P^(k) dh^(k-1), residual).
  All L tangents are carried through one forward pass as a stack of shape (L, B, N): cost
  ~ L(L+1)/2 matmuls of (B, N) x (N, N), no autograd graph.
- :func:`directional_derivatives_jvp`: the same numbers with ``torch.func.jvp``, one forward-mode JVP per
  layer (a reference implementation, ~4x slower).
- :func:`probe_directional_derivatives` (reverse mode). v_l = (df/dz^(l)) (z^(l) - b^(l)), so for a
  cotangent xi in R^K a single backward pass gives xi^T v_l for *every* layer. With the K basis vectors as
  cotangents this is exact (cost K backward passes); with Rademacher probes it gives the cheaper unbiased
  estimator E_xi (xi^T v_l)^2 = ||v_l||^2 (cost 2 L matmuls per probe, exact when K = 1).
"""

from __future__ import annotations

import torch

from mfat.model.networks import ReLULikeNet, layer_cotangent, phi, phi_prime, shortcut
from mfat.validation import check_choice, check_int

__all__ = [
    "directional_derivatives",
    "directional_derivatives_jvp",
    "probe_directional_derivatives",
    "fisher_rao_per_sample",
    "fisher_rao_layers",
    "fisher_rao_norm",
    "fisher_rao_metric",
    "METHODS",
]

METHODS = ("forward", "reverse", "probe")


def _check(net, x: torch.Tensor) -> None:
    if not isinstance(net, ReLULikeNet):
        raise ValueError(f"parameter 'net' = {type(net).__name__} is out of range: allowed a mfat.model.networks.ReLULikeNet")
    net._check_input(x)


def directional_derivatives(net: ReLULikeNet, x: torch.Tensor, *, differentiable: bool = False) -> torch.Tensor:
    """v_l(x) = <W^(l), grad_{W^(l)} f(x)> for every layer and input, exactly (forward mode).

    x: (B, d). Returns (B, L, K) in x's dtype. Spec section 8; the tangent rule is that of the linear
    decomposition of Definition 3.1 (activation patterns fixed). With ``differentiable=True`` the result
    carries an autograd graph to the parameters (the slopes D^(l) are piecewise constant, so this is the
    exact gradient of v_l almost everywhere); otherwise it is computed under ``torch.no_grad``.
    """
    _check(net, x)
    with torch.set_grad_enabled(differentiable and torch.is_grad_enabled()):
        return _forward_tangents(net, x)


def _forward_tangents(net: ReLULikeNet, x: torch.Tensor) -> torch.Tensor:
    s = net.spec
    h = x @ net.P_in.T                                        # h^(0), (B, N)
    T = h.new_zeros(0, *h.shape)                              # tangents of h^(l-1) along layers 1..l-1
    for layer in range(s.L):
        P = net.P[layer] if s.residual else None
        Z = torch.cat([T, h[None]], 0) @ net.W[layer].T      # (l, B, N): W T and, last, W h
        z = Z[-1] + net.b[layer]
        T_new = phi_prime(z, s.u, s.v) * Z                    # dh = D dz; the new direction starts at D W h
        T = torch.cat([shortcut(T, T_new[:-1], P), T_new[-1:]], 0)
        h = shortcut(h, phi(z, s.u, s.v), P)
    return (T @ net.P_out.T).permute(1, 0, 2).contiguous()


def directional_derivatives_jvp(net: ReLULikeNet, x: torch.Tensor) -> torch.Tensor:
    """Reference for :func:`directional_derivatives`: one ``torch.func.jvp`` per layer along W^(l).

    x: (B, d). Returns (B, L, K).
    """
    _check(net, x)
    params = {name: p.detach() for name, p in net.named_parameters()}
    buffers = dict(net.named_buffers())
    out = []
    for layer in range(net.spec.L):
        key = f"W.{layer}"

        def f(w, key=key):
            return torch.func.functional_call(net, ({**params, key: w}, buffers), (x,))

        _, tangent = torch.func.jvp(f, (params[key],), (params[key],))
        out.append(tangent)
    return torch.stack(out, 1).detach()


@torch.no_grad()
def probe_directional_derivatives(net: ReLULikeNet, x: torch.Tensor, probes: torch.Tensor) -> torch.Tensor:
    """xi^T v_l(x) for cotangents xi, by one reverse pass per probe (batched over probes).

    x: (B, d); probes: (P, K) (the same probe for every input) or (P, B, K). Returns (P, B, L).
    Uses v_l = (df/dz^(l)) (z^(l) - b^(l)) = (df/dz^(l)) W^(l) h^(l-1), with the activation slopes fixed.
    """
    _check(net, x)
    s = net.spec
    if probes.ndim == 2:
        probes = probes[:, None, :].expand(-1, x.shape[0], -1)
    if probes.ndim != 3 or probes.shape[1:] != (x.shape[0], s.K):
        raise ValueError(f"parameter 'probes' has shape {tuple(probes.shape)}: allowed (P, K) or (P, B, K) "
                         f"with B = {x.shape[0]}, K = {s.K}")
    probes = probes.to(dtype=x.dtype, device=x.device)
    h = x @ net.P_in.T
    pre, slopes = [], []
    for layer in range(s.L):
        Wh = h @ net.W[layer].T
        z = Wh + net.b[layer]
        pre.append(Wh)
        slopes.append(phi_prime(z, s.u, s.v))
        h = shortcut(h, phi(z, s.u, s.v), net.P[layer] if s.residual else None)
    g = probes @ net.P_out                                    # d(xi^T f)/dh^(L), (P, B, N)
    out = []
    for layer in reversed(range(s.L)):
        # delta = d(xi^T f)/dz^(l), g = d(xi^T f)/dh^(l-1)
        delta, g = layer_cotangent(g, net.W[layer], slopes[layer], net.P[layer] if s.residual else None)
        out.append((delta * pre[layer]).sum(-1))              # xi^T v_l, (P, B)
    return torch.stack(out[::-1], -1)


def fisher_rao_per_sample(net: ReLULikeNet, x: torch.Tensor, *, method: str = "forward", n_probes: int = 1,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """||v_l(x)||_2^2 per input and layer: (B, L).

    ``method``: "forward" (exact, :func:`directional_derivatives`), "reverse" (exact, K basis cotangents in
    :func:`probe_directional_derivatives`), or "probe" (unbiased: mean over ``n_probes`` Rademacher
    cotangents of (xi^T v_l)^2, drawn with ``generator``, independently per input).
    """
    method = check_choice("method", method, METHODS)
    _check(net, x)
    K = net.spec.K
    if method == "forward":
        return directional_derivatives(net, x).pow(2).sum(-1)
    if method == "reverse":
        eye = torch.eye(K, dtype=x.dtype, device=x.device)
        return probe_directional_derivatives(net, x, eye).pow(2).sum(0)
    n_probes = check_int("n_probes", n_probes, min_value=1)
    if generator is None:
        raise ValueError("parameter 'generator' = None is out of range: method 'probe' needs a torch.Generator")
    signs = torch.randint(0, 2, (n_probes, x.shape[0], K), generator=generator, device=generator.device)
    probes = (2.0 * signs - 1.0).to(dtype=x.dtype, device=x.device)
    return probe_directional_derivatives(net, x, probes).pow(2).mean(0)


def fisher_rao_layers(net: ReLULikeNet, x: torch.Tensor, **kwargs) -> torch.Tensor:
    """Per-layer terms E_x ||v_l(x)||^2 estimated by the batch mean: (L,).

    ``kwargs`` as :func:`fisher_rao_per_sample`.
    """
    return fisher_rao_per_sample(net, x, **kwargs).mean(0)


def fisher_rao_norm(net: ReLULikeNet, x: torch.Tensor, y=None, **kwargs) -> float:
    """||w||_FR^2 = sum_l E_x ||v_l(x)||^2, the batch estimate (a float). ``y`` is ignored (metric signature)."""
    return float(fisher_rao_layers(net, x, **kwargs).sum())


def fisher_rao_metric(*, X: torch.Tensor | None = None, max_batch: int | None = None, **kwargs):
    """A ``callable(net, X_batch, y_batch) -> float`` for ``mfat.model.training.train(metrics=...)``.

    It returns ||w||_FR^2 (:func:`fisher_rao_norm`, ``kwargs`` passed on) on the fixed inputs ``X`` (n, d) when
    given, so that successive rows of a training table differ only through the weights; otherwise on the
    step's mini-batch, truncated to its first ``max_batch`` rows.
    """
    if max_batch is not None:
        max_batch = check_int("max_batch", max_batch, min_value=1)
    if X is not None and (not isinstance(X, torch.Tensor) or X.ndim != 2):
        raise ValueError(f"parameter 'X' = {type(X).__name__} is out of range: allowed a tensor (n, d)")

    def metric(net, X_batch, y_batch=None):
        inputs = X_batch if X is None else X.to(device=net.P_out.device, dtype=net.P_out.dtype)
        return fisher_rao_norm(net, inputs if max_batch is None else inputs[:max_batch], **kwargs)

    return metric
