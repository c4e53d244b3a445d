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

# %% [markdown] tags=["verdict"]
# :::{admonition} Verdict
# :class: verdict
# **Statement.** In a ReLU-like network of Definition 3.1 the mean squared length of the signal is multiplied
# by the gain $\omega$ at every layer (the signal recursion), and the pre-activations are Gaussian given the
# layer below.
#
# **Status: confirmed**, exactly at every width (derived on this page; the mean-field literature states it for
# wide networks). The largest deviation of a measured mean from the recursion was
# {glue:text}`ch0_worst_z:.2f` standard errors; the variance ratio of the last pre-activations was
# {glue:text}`ch0_z_ratio:.3f` (1 predicted).
#
# **Scale.** This build: the {glue:text}`profile` tier, {glue:text}`ch0_n_networks` networks of width
# $N=$ {glue:text}`ch0_N` and depth $L=$ {glue:text}`ch0_L` per setting. The paper states the model
# (Definition 3.1) and runs no experiment on this recursion; its later experiments use $N$ up to 40,000.
# :::

# %% [markdown]
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

# %% [markdown]
# The set-up: this run's settings, and the modules the page calls: `mfat.experiments.model` for the
# measurement, the prediction and their comparison, `mfat.chapter.figures.model` for the figures.

# %%
import mfat
import mfat.chapter
from mfat import stats
from mfat.chapter import plotting
from mfat.chapter.figures import model as figures
from mfat.chapter.interactive import show
from mfat.experiments import model as experiment
from mfat.model.networks import ReLULikeNet

ctx = mfat.chapter.start("00_model", profile, overrides, seed=seed,
                         device=device, replay=replay,
                         theorem="Definition 3.1 / signal recursion")
S = ctx.settings
mfat.chapter.settings.describe("00_model")

# %% [markdown]
# Building a network is one call; its `spec` carries $\alpha$ and $\omega$, and every argument is
# validated (a negative width, say, stops with a message naming `N` and the allowed range).

# %%
net = ReLULikeNet(d=S.d, N=S.N, K=10, L=S.L, sigma_w2=2.0,
                  sigma_b2=S.sigma_b2, seed=S.seed)
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
#
# **The measurement.** For every setting (three vanilla gains around the critical point, two residual
# ones) we draw {glue:text}`ch0_n_networks` independent networks of width $N=$ {glue:text}`ch0_N` and depth
# $L=$ {glue:text}`ch0_L`, push one fixed input with $q^{(0)} = 1$ through each, and record $q^{(l)}$ at every
# layer together with the last layer's pre-activations. Each setting draws from its own seeded generator.
# The prediction is the recursion {eq}`eq-signal-recursion` itself, run from $q^{(0)}=1$.

# %%
for name in ("n_networks", "N", "L"):
    mfat.chapter.glue(f"ch0_{name}", getattr(S, name))
predicted = experiment.signal_prediction(S)
measured = ctx.cached(
    "signal", lambda: experiment.signal_measurement(
        S, generators=ctx.generator, device=ctx.device))

# %% tags=["hide-input"]
show(
    figures.signal_slider(measured, predicted, S), "ch0_signal",
    static=figures.signal_propagation(measured, predicted, S), alt=
    "Two panels with a logarithmic vertical axis, the squared signal length q against the layer. Left, "
    "three vanilla networks: below the critical gain q falls, at it q stays near 1, above it q rises. "
    "Right, two residual networks: both rise. Markers lie on the dashed recursion lines."
)

# %% [markdown]
# ```{glue:figure} ch0_signal
# ---
# name: fig-ch0-signal
# ---
# **Signal propagation.** The squared length $q^{(l)} = \lVert h^{(l)}\rVert^2/N$ against the layer $l$ for three
# vanilla gains around the critical point and two residual ones: the mean over {glue:text}`ch0_n_networks` random
# networks (markers) and the recursion {eq}`eq-signal-recursion` (dashed). On screen one setting at a time (move the
# slider); in print all of them, vanilla and residual side by side, with two standard errors.
# ```

# %% [markdown]
# The dashed lines are the recursion, the markers the mean over independent networks with two
# standard errors. The three vanilla curves fan out geometrically with ratio $\omega_v$; the residual
# curves always grow.
#
# ## The pre-activations are Gaussian
#
# The argument above rests on $z^{(l)}$ being Gaussian given the previous layer. Across random
# networks, the last layer's pre-activations at the critical point follow
# $\mathcal N(0, \sigma_w^2 q^{(L-1)} + \sigma_b^2)$, with $q^{(L-1)}$ from the recursion:

# %%
crit = experiment.critical_setting(S)
z_var = crit[1] * predicted[crit][-2] + S.sigma_b2
z = measured[crit]["z_last"]
plotting.glue_figure(figures.preactivation_histogram(z, z_var, crit[1], S),
                     "ch0_preactivations")

# %% [markdown]
# ```{glue:figure} ch0_preactivations
# ---
# name: fig-ch0-preactivations
# alt: >-
#   A histogram of the last layer's pre-activations, bell-shaped and symmetric about zero, with the
#   dashed Gaussian density of the recursion's variance drawn over it and matching its shape.
# ---
# **The pre-activations are Gaussian.** Histogram of the last layer's pre-activations $z^{(L)}_i$ of all
# units of all networks at the critical point $\sigma_w^2 = 2$, and the density of
# $\mathcal N(0, \sigma_w^2 q^{(L-1)} + \sigma_b^2)$ with $q^{(L-1)}$ from the recursion (dashed).
# ```

# %% [markdown]
# ## Claims
#
# For each setting and every layer, the measured mean of $q^{(l)}$ must match the recursion within
# four standard errors of the mean over the $n$ networks (a tolerance that shrinks as
# $1/\sqrt n$). `experiment.recursion_fit` counts the deviation of every layer in standard errors, and
# the worst layer is asserted. The variance of the pre-activations must match within the sampling
# tolerance of a mean over networks: `experiment.preactivation_variance_ratio` gives one variance ratio
# per network. Because the recursion holds for the mean at every width, there is no finite-width
# allowance.

# %%
worst = {}
for kind, w, res in experiment.signal_configs(S):
    fit = experiment.recursion_fit(measured[(kind, w)]["q"],
                                   predicted[(kind, w)])
    worst[(kind, w)] = fit["z_worst"]
    ctx.card.close(
        f"{kind} sigma_w^2={w:g}: E q^(l) follows the recursion (worst layer l={fit['layer']})",
        fit["predicted"], fit["measured"],
        atol=stats.Z_DEFAULT * fit["se_worst"])
per_network = experiment.preactivation_variance_ratio(
    z, S.n_networks, z_var)
z_ratio = per_network.mean()
ctx.card.close(
    "pre-activation variance at the last layer = sigma_w^2 q^(L-1) + sigma_b^2 (ratio)",
    1.0, z_ratio, atol=stats.mean_tolerance(per_network.std(ddof=1),
                                            S.n_networks))
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
# ## Summary
#
# - A ReLU-like network (Definition 3.1) has one number per layer that matters: the gain
#   $\omega_v = \alpha\sigma_w^2$ (vanilla) or $\omega_r = 1 + \alpha\sigma_w^2$ (residual, with a random
#   shortcut).
# - The mean squared signal length follows the recursion {eq}`eq-signal-recursion` exactly, at every width:
#   it shrinks, stays or grows geometrically as $\omega$ is below, at or above 1, and a residual network always
#   grows. The measured means stayed within {glue:text}`ch0_worst_z:.2f` standard errors of it.
# - Given the layer below, the pre-activations are exactly Gaussian; across networks their variance matched
#   the recursion (ratio {glue:text}`ch0_z_ratio:.3f`). The same factor $\omega$ per layer drives the Jacobian of
#   the next chapter.
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
