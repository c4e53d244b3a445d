# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 0. The model: ReLU-like networks and signal propagation
#
# Every result in this book is about one family of fully connected networks, *Definition 3.1* of
# Kumano, Kera and Yamasaki (NeurIPS 2023). This chapter fixes the notation, builds both
# architectures with `mfat.model.networks`, and checks the first mean-field prediction: how the squared
# length of a signal changes from layer to layer.
#
# ## Definition 3.1 (ReLU-like networks)
#
# :::{prf:definition} ReLU-like networks {cite:p}`kumano2023meanfield`
# :label: def-relu-like
#
# An input $x\in\mathbb R^d$ is mapped to $K$ logits through $L$ hidden layers of width $N$:
#
# $$
# h^{(0)} = P_{in}\,x,\qquad z^{(l)} = W^{(l)}h^{(l-1)} + b^{(l)},\qquad
# f(x) = P_{out}\,h^{(L)},
# $$ (eq-forward)
#
# with, for $l = 1,\dots,L$,
#
# $$
# \begin{aligned}
# \text{vanilla:}\quad & h^{(l)} = \phi\big(z^{(l)}\big),\\
# \text{residual:}\quad & h^{(l)} = P^{(l)}h^{(l-1)} + \phi\big(z^{(l)}\big).
# \end{aligned}
# $$ (eq-layers)
# :::
#
# The activation is ReLU-like, $\phi(z) = u z$ for $z\ge 0$ and $v z$ for $z<0$ (ReLU: $u=1, v=0$;
# leaky ReLU: $v\ne 0$). Its one constant that matters is
#
# $$\alpha = \frac{u^2+v^2}{2} = \mathbb E[\phi'(z)^2]\quad\text{for symmetric } z.$$
#
# | symbol | shape | initialisation | trained? |
# |---|---|---|---|
# | $P_{in}$ | $N\times d$ | iid $\mathcal N(0, 1/d)$ | frozen |
# | $W^{(l)}$ | $N\times N$ | iid $\mathcal N(0, \sigma_w^2/N)$ | yes |
# | $b^{(l)}$ | $N$ | iid $\mathcal N(0, \sigma_b^2)$ | yes |
# | $P^{(l)}$ (residual only) | $N\times N$ | iid $\mathcal N(0, 1/N)$ | frozen |
# | $P_{out}$ | $K\times N$ | iid $\mathcal N(0, 1/N)$ | frozen |
#
# Only $W$ and $b$ are trained, so every training effect in later chapters shows up in the weight
# variance $\sigma_w^2(t) = \lVert W^{(l)}(t)\rVert_F^2/N$. The shortcut is a *random* matrix rather
# than the identity: being independent of $W^{(l)}$, it makes the cross term between the two paths
# vanish on average, which is what gives the residual gain below. (That the paper uses random
# shortcuts is inferred from its formulas, not read in its text; the preface says how the book was rebuilt.)
#
# The per-layer gain of the network is
#
# $$\omega_v = \alpha\sigma_w^2\quad\text{(vanilla)},\qquad \omega_r = 1+\alpha\sigma_w^2\quad\text{(residual)}.$$

# %% tags=["parameters"]
# Defaults; `python -m mfat run` injects its own (see the banner at the end).
profile = "quick"
seed = 0
device = "auto"
replay = False
overrides = {}

# %%
import numpy as np
import mfat
import mfat.chapter
from mfat import stats, theory
from mfat.chapter import plotting
from mfat.experiments.model import signal_propagation
from mfat.model.networks import ReLULikeNet

ctx = mfat.chapter.start("00_model", profile, overrides, seed=seed, device=device, replay=replay,
                         theorem="Definition 3.1 / signal recursion")
S = ctx.settings
mfat.chapter.settings.describe("00_model")

# %% [markdown]
# Building a network is one call; its `spec` carries $\alpha$ and $\omega$, and every argument is
# validated (a negative width, say, stops with a message naming `N` and the allowed range).

# %%
net = ReLULikeNet(d=S.d, N=S.N, K=10, L=S.L, sigma_w2=2.0, sigma_b2=S.sigma_b2, seed=S.seed)
print(net)
try:
    ReLULikeNet(d=S.d, N=-5, K=10, L=S.L)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Signal propagation: the length map
#
# Write $q^{(l)} = \lVert h^{(l)}\rVert^2/N$. Given $h^{(l-1)}$, each pre-activation
# $z_i^{(l)} = \sum_j W_{ij}h_j + b_i$ is *exactly* Gaussian with variance
# $\sigma_w^2 q^{(l-1)} + \sigma_b^2$, because the row $W_{i,:}$ is Gaussian and independent of
# $h^{(l-1)}$. A ReLU-like $\phi$ keeps the fraction $\alpha$ of the second moment of a symmetric
# Gaussian, so
#
# $$
# \begin{aligned}
# \mathbb E\big[q^{(l)}\,\big|\,h^{(l-1)}\big] &= \alpha\big(\sigma_w^2 q^{(l-1)} + \sigma_b^2\big)
# &&\text{(vanilla)},\\
# \mathbb E\big[q^{(l)}\,\big|\,h^{(l-1)}\big] &= q^{(l-1)} + \alpha\big(\sigma_w^2 q^{(l-1)} + \sigma_b^2\big)
# &&\text{(residual)}.
# \end{aligned}
# $$ (eq-signal-recursion)
#
# In the residual case the cross term $2\,\mathbb E\,(P^{(l)}h)^\top\phi(z)/N$ is zero because
# $P^{(l)}$ has mean zero and is independent of everything else. The maps are affine, so taking
# expectations gives the **signal recursion** {eq}`eq-signal-recursion` for $\mathbb E q^{(l)}$
# *exactly, at any width*; the
# mean-field limit only removes the fluctuations around it. With $q^{(0)} = \lVert x\rVert^2/d = 1$
# and $\sigma_b^2$ small, $q^{(L)}\approx\omega^L$: signals shrink for $\omega<1$ (ordered), keep
# their size at $\omega=1$ (critical, $\sigma_w^2 = 2$ for ReLU) and blow up for $\omega>1$
# (chaotic), the classic picture of {cite:t}`poole2016exponential` and {cite:t}`schoenholz2017deep`;
# {cite:t}`yang2017meanfieldresnet` treat residual networks. A residual network of
# {prf:ref}`def-relu-like` always has $\omega_r>1$. The same factor $\omega$ per layer drives the
# Jacobian in the next chapter.

# %%
configs = [("vanilla", w, False) for w in S.vanilla_sigma_w2] + [("residual", w, True) for w in S.residual_sigma_w2]


def measure_all():
    out = {}
    for i, (kind, w, res) in enumerate(configs):
        out[(kind, w)] = signal_propagation(S.d, S.N, S.L, w, S.sigma_b2, u=S.u, v=S.v, residual=res,
                                            n_networks=S.n_networks, generator=ctx.generator(i), device=ctx.device)
    return out


measured = ctx.cached("signal", measure_all)
predicted = {(kind, w): theory.signal_recursion(1.0, S.L, w, S.sigma_b2, S.u, S.v, res) for kind, w, res in configs}

# %%
fig, axes = plotting.figure(2, height=3.4)
depth = np.arange(S.L + 1)
for ax, kind in zip(axes[0], ("vanilla", "residual")):
    for (k, w, res), color in zip(configs, plotting.colors()):
        if k != kind:
            continue
        q = measured[(k, w)]["q"]
        om = theory.omega(w, S.u, S.v, res)
        plotting.theory_line(ax, depth, predicted[(k, w)], label=None)
        plotting.measured(ax, depth, q.mean(0), yerr=2 * q.std(0, ddof=1) / np.sqrt(len(q)), color=color,
                          label=f"$\\sigma_w^2$={w:g} ($\\omega$={om:.2f})")
    ax.set_yscale("log")
    ax.set(xlabel="layer $l$", ylabel="$q^{(l)} = \\|h^{(l)}\\|^2/N$", title=f"{kind} networks")
    ax.legend(loc="best")
fig.suptitle(f"Signal propagation, N={S.N}, {S.n_networks} networks per curve (dashed: recursion)");

# %% [markdown]
# The same data, one setting at a time (move the slider; the static figure above is the fallback for
# readers without JavaScript):

# %%
from mfat.chapter.interactive import Series, show, slider_figure

frames = {f"{kind} σ²_w={w:g}": [Series("recursion", depth, predicted[(kind, w)], "theory"),
                                 Series("measured mean", depth, measured[(kind, w)]["q"].mean(0))]
          for kind, w, _ in configs}
show(slider_figure(frames, xlabel="layer l", ylabel="q^(l)", log_y=True, slider_label="setting: ",
                   title="Signal propagation: recursion vs simulation"), "ch0-signal")

# %% [markdown]
# The dashed lines are the recursion, the markers the mean over independent networks with two
# standard errors. The three vanilla curves fan out geometrically with ratio $\omega_v$; the residual
# curves always grow.
#
# ## The pre-activations are Gaussian
#
# The argument above rests on $z^{(l)}$ being Gaussian given the previous layer. Across random
# networks, the last layer's pre-activations at the critical point follow
# $\mathcal N(0, \sigma_w^2 q^{(L-1)} + \sigma_b^2)$:

# %%
w_crit = S.vanilla_sigma_w2[len(S.vanilla_sigma_w2) // 2]  # the middle (critical) vanilla setting
crit = ("vanilla", w_crit)
z_var = w_crit * predicted[crit][-2] + S.sigma_b2
z = measured[crit]["z_last"]
fig, axes = plotting.figure(1, height=3.0)
plotting.density_histogram(axes[0, 0], z, z_var, label=f"$z^{{(L)}}$, {len(z)} values")
axes[0, 0].set(xlabel="$z^{(L)}_i$", ylabel="density", title=f"vanilla, $\\sigma_w^2$={w_crit:g}, L={S.L}")
axes[0, 0].legend()

# %% [markdown]
# ## Claims
#
# For each setting and every layer, the measured mean of $q^{(l)}$ must match the recursion within
# four standard errors of the mean over the $n$ networks (a tolerance that shrinks as
# $1/\sqrt n$); the variance of the pre-activations must match within the sampling tolerance of a
# variance ratio. Because the recursion holds for the mean at every width, there is no finite-width
# allowance.

# %%
worst = {}
for kind, w, res in configs:
    q = measured[(kind, w)]["q"]
    mean, se = q.mean(0), q.std(0, ddof=1) / np.sqrt(len(q))
    z_scores = np.abs(mean - predicted[(kind, w)]) / np.maximum(se, 1e-300)
    l_worst = int(np.argmax(z_scores[1:])) + 1
    worst[(kind, w)] = z_scores[l_worst]
    ctx.card.close(f"{kind} sigma_w^2={w:g}: E q^(l) follows the recursion (worst layer l={l_worst})",
                   predicted[(kind, w)][l_worst], mean[l_worst], atol=stats.Z_DEFAULT * se[l_worst])

# The N units of one network share that network's q^(L-1), so the independent samples are the
# networks: compare the mean over networks of the per-network variance, within 4 standard errors.
per_network = z.reshape(S.n_networks, -1).var(axis=1) / z_var
z_ratio = per_network.mean()
ctx.card.close("pre-activation variance at the last layer = sigma_w^2 q^(L-1) + sigma_b^2 (ratio)", 1.0,
               z_ratio, atol=stats.mean_tolerance(per_network.std(ddof=1), S.n_networks))
mfat.chapter.glue("ch0_worst_z", float(max(worst.values())))
mfat.chapter.glue("ch0_z_ratio", float(z_ratio))

# %% [markdown]
# The largest deviation of any measured mean from the recursion was {glue:text}`ch0_worst_z:.2f`
# standard errors, and the variance ratio of the last pre-activations was {glue:text}`ch0_z_ratio:.3f`.
# The variance-ratio tolerance counts $n$ networks, not $nN$ values, because the $N$ units of one
# network share that network's $q^{(L-1)}$.
#
# ## Try it yourself
#
# Rerun this chapter with other settings, for example a leaky ReLU or a deeper network:
#
# ```
# python -m mfat run --only 00 --set v=0.5 --set L=40
# ```
#
# With $v=0.5$ the critical point moves to $\sigma_w^2 = 1/\alpha = 1.6$.
#
# ## Exercises
#
# :::{admonition} Exercise 0.1
# For a leaky ReLU with slopes $(u, v)$, show that $\mathbb E[\phi(z)^2] = \alpha\,\mathbb E[z^2]$ for
# every symmetric $z$, and find the critical $\sigma_w^2$ of a vanilla network.
# :::
#
# :::{admonition} Solution
# :class: dropdown
# $\phi(z)^2 = u^2z^2$ on $z\ge0$ and $v^2z^2$ on $z<0$; by symmetry each half carries half of
# $\mathbb E z^2$, so $\mathbb E\phi(z)^2 = \tfrac{u^2+v^2}{2}\mathbb E z^2$. Critical means $\omega_v =
# \alpha\sigma_w^2 = 1$, i.e. $\sigma_w^2 = 2/(u^2+v^2)$.
# :::
#
# :::{admonition} Exercise 0.2
# Why does the residual recursion have no cross term $2\,\mathbb E[(P^{(l)}h)^\top\phi(z^{(l)})]/N$,
# and what would change with an identity shortcut $h^{(l)} = h^{(l-1)} + \phi(z^{(l)})$?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# $P^{(l)}$ has mean zero and is independent of $h^{(l-1)}$, $W^{(l)}$ and $b^{(l)}$, so the cross term
# has zero mean. With the identity the cross term is $2\sum_i h_i\,\mathbb E[\phi(z_i)]/N$, and for
# $z_i\sim\mathcal N(0,s)$, $\mathbb E\phi(z_i) = (u-v)\sqrt{s/2\pi}\ne0$ unless $u=v$. With ReLU the
# hidden states are non-negative, so the term is positive: the gain exceeds $1+\alpha\sigma_w^2$ and
# depends on the mean of $h$, not only on its second moment. That is why the book (and the paper's
# formulas) use a random shortcut.
# :::

# %%
ctx.finish()
