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
# # 7. The implicit bias of adversarial training: towards the (adversarial) max margin

# %% [markdown] tags=["verdict"]
# :::{admonition} Verdict
# :class: verdict
# **Statement.** Adversarial training keeps the implicit bias of gradient descent: deep linear networks trained
# on separable data converge in direction to the max-margin solution of the *original* data, and homogeneous
# networks trained with FGSM, FGM or PGD converge in direction to a KKT point of a margin-maximisation problem
# on the *adversarial* examples (Lyu and Zhu, ICLR 2022).
#
# **Status: reconstructed; confirmed for $\ell_2$ perturbations, refined for $\ell_\infty$.** Below the margin,
# $\ell_2$ adversarial training reaches $\cos(w, u^*)\ge$ {glue:text}`ch7_cos_e1_min:.6f` with the SVM direction;
# $\ell_\infty$ (FGSM) training converges to the mixed-norm robust direction instead (cosine
# {glue:text}`ch7_e2_inf_rob:.5f` with it). For ReLU networks the adversarial margin is eventually
# non-decreasing and the KKT residual falls, slowly (to {glue:text}`ch7_kkt_end_min:.2f` to
# {glue:text}`ch7_kkt_end_max:.2f` here).
#
# **Scale.** This build: the {glue:text}`profile` tier, {glue:text}`ch7_L`-layer linear networks on
# {glue:text}`ch7_d`-dimensional data, {glue:text}`ch7_seeds` seeds, and two-layer ReLU networks of width
# {glue:text}`ch7_m` on a synthetic set and {glue:text}`ch7_mnist_n` MNIST images. Only the paper's abstract
# could be read; its experiments are not reproduced here.
# :::

# %% [markdown]
# Gradient descent on separable data does not stop at *some* separating classifier: with an
# exponentially tailed loss its direction converges to the maximum-margin one (Soudry et al. 2018;
# Ji & Telgarsky 2019; Lyu & Li 2020). Lyu and Zhu (ICLR 2022) ask what adversarial training does
# to this implicit bias. This chapter reproduces their two statements and the mechanisms behind them.
#
# **What is confirmed and what is reconstructed.** Only the paper's abstract could be read. It states
# (i) that for *deep linear networks* adversarially trained by gradient descent on linearly separable
# data, the direction of the product of the weight matrices converges to the max-margin solution of
# the *original* data, and (ii) that for *homogeneous* networks (for example bias-free ReLU networks)
# trained with $\ell_2$ or $\ell_\infty$ FGSM, FGM or PGD perturbations, the direction of the
# parameters converges to a KKT point of a margin-maximisation problem on the *adversarial* examples.
# Everything else below (which perturbations (i) covers, the conditions, the exact constrained problem
# of (ii), all experiments) is a careful reconstruction from the cited prior work, marked as such.
# The experiments are our own design; the paper's could not be read.
#
# ## Setting
#
# Data $(x_i, y_i)_{i=1}^n$, $y_i\in\{\pm 1\}$; a model $f(\theta; x)$ that is $L$-homogeneous,
# $f(c\theta; x) = c^L f(\theta; x)$ for $c>0$:
#
# - the deep linear network $f(x) = W_L\cdots W_1 x$ ($L$ layers, end-to-end vector
#   $w = (W_L\cdots W_1)^\top\in\mathbb R^d$), homogeneous of degree $L$;
# - the bias-free two-layer ReLU network $f(x) = \sum_k a_k\,\mathrm{relu}(w_k^\top x)$, degree 2.
#
# Adversarial training computes a perturbation $\delta_i(\theta)$ of size $\epsilon$ at every step and
# descends the loss $\mathcal L(\theta) = \frac1n\sum_i \ell(q_i(\theta))$ of the **adversarial margins**
# $q_i(\theta) = y_i f(\theta; x_i + \delta_i(\theta))$, with $\ell(z) = e^{-z}$, differentiating at
# fixed $\delta_i$ (the usual practice; whether the paper's analysis uses this or the total derivative
# is not confirmed). FGM takes one normalised $\ell_2$ step of length $\epsilon$ up the loss, FGSM
# the $\ell_\infty$ step $\epsilon\,\mathrm{sign}(\nabla_x\ell)$, PGD several projected steps. A normalised
# or sign step does not see the scale of $\theta$, so $\delta_i(c\theta) = \delta_i(\theta)$ and
# **$q_i$ is $L$-homogeneous too**: this is what lets the margin theory of homogeneous networks carry over.

# %% [markdown]
# ## The statements
#
# Two results on *standard* training frame the chapter. The first is for linear classifiers:
#
# :::{prf:theorem} Gradient descent on separable data {cite:p}`soudry2018implicit`
# :label: thm-soudry
#
# Let the data be linearly separable and $\ell(z)=e^{-z}$. Gradient descent with a small enough constant
# step on $\mathcal L(w)=\frac1n\sum_i\ell(y_iw^\top x_i)$ gives $\lVert w(t)\rVert\to\infty$ and
# $w(t)/\lVert w(t)\rVert\to u^*$, the direction of the hard-margin SVM
# $\min_w\frac12\lVert w\rVert^2$ s.t. $y_iw^\top x_i\ge1$; the angle closes only like $1/\log t$.
# :::
#
# For deep linear networks {cite:t}`ji2019gradient` show that the end-to-end vector
# $w = (W_L\cdots W_1)^\top$ converges in direction to the same $u^*$ and that the layers become
# rank one and aligned (section 4). For homogeneous networks the max-margin problem is only reached up to
# first-order optimality:
#
# :::{prf:theorem} Margin maximisation in homogeneous networks {cite:p}`lyu2020gradient`
# :label: thm-lyu-li
#
# Let $f(\theta;x)$ be $L$-homogeneous and locally Lipschitz, $\ell(z)=e^{-z}$, and suppose gradient flow
# reaches a time $t_0$ with $\mathcal L(\theta(t_0))<\ell(0)/n$. Then for $t\ge t_0$ the smoothed normalised
# margin $\tilde\gamma(\theta) = -\log(\sum_ie^{-y_if(\theta;x_i)})/\lVert\theta\rVert^L$ is non-decreasing,
# $\lVert\theta(t)\rVert\to\infty$, and every limit point of $\theta(t)/\lVert\theta(t)\rVert$ is the
# direction of a KKT point of $\min_\theta\frac12\lVert\theta\rVert^2$ s.t. $y_if(\theta;x_i)\ge1$.
# :::
#
# The paper's two statements, as this chapter reconstructs them (only the abstract was read; the
# precise conditions are ours):
#
# :::{prf:theorem} Implicit bias of adversarial training (reconstructed) {cite:p}`lyu2022implicit`
# :label: thm-adv-implicit-bias
#
# Let $\ell(z)=e^{-z}$ and let every $\delta_i(\theta)$ be an FGM, FGSM or PGD perturbation of size
# $\epsilon$, so that the adversarial margins $q_i(\theta)$ are $L$-homogeneous.
#
# 1. *Deep linear networks.* If the data are linearly separable with margin $\gamma^*>\epsilon$ and the
#    perturbation is $\ell_2$, the direction of $W_L\cdots W_1$ under adversarial gradient descent
#    converges to the max-margin direction $u^*$ of the *original* data.
# 2. *Homogeneous networks.* If adversarial training reaches $\mathcal L(\theta(t_0))<\ell(0)/n$, the
#    normalised adversarial margin is eventually non-decreasing and every limit direction of
#    $\theta(t)/\lVert\theta(t)\rVert$ is that of a KKT point of
#    $\min_\theta\frac12\lVert\theta\rVert^2$ s.t. $q_i(\theta)\ge1$, a margin problem on the
#    *adversarial* examples.
# :::
#
# Sections 2 to 4 test part 1 of {prf:ref}`thm-adv-implicit-bias` (with {prf:ref}`thm-soudry` as the
# $\epsilon=0$ baseline), section 5 shows that for $\ell_\infty$ perturbations the target is a different
# (mixed-norm) direction, and section 6 tests part 2, in the form of {prf:ref}`thm-lyu-li` applied to the
# $q_i$.

# %% tags=["parameters"]
# Defaults. The runner (python -m mfat run) injects its own values; see the banner at the end.
profile = "quick"
seed = 0
device = "auto"
replay = False
overrides = {}

# %% [markdown]
# The set-up: this run's settings, and the modules the page calls: `mfat.companions.margins` for the
# max-margin problems, `mfat.experiments.implicit_bias` (imported as `ib`) for the data, the training runs and
# their analysis, `mfat.chapter.figures.implicit_bias` for the figures.

# %%
import math

import numpy as np
import torch

import mfat
import mfat.chapter
from mfat import theory
from mfat.chapter import plotting
from mfat.chapter.figures import implicit_bias as figures
from mfat.experiments import implicit_bias as ib

ctx = mfat.chapter.start("07_implicit_bias", profile, overrides, seed=seed,
                         device=device, replay=replay,
                         theorem="Lyu & Zhu 2022 (reconstructed)")
S = ctx.settings
L_lin = len(S.widths) + 1
mfat.chapter.settings.describe("07_implicit_bias")

# %% [markdown]
# ## 1. The two targets
#
# For a linear classifier $w$ the worst case over $\lVert\delta\rVert_p\le\epsilon$ is explicit
# (Hölder): $\min_\delta y\,w^\top(x+\delta) = y\,w^\top x - \epsilon\lVert w\rVert_{p^*}$, attained at
# $\delta = -\epsilon y\,w/\lVert w\rVert_2$ for $p=2$ and $\delta = -\epsilon y\,\mathrm{sign}(w)$ for
# $p=\infty$ ($p^* = 2$ and $1$). For a linear model FGM and FGSM return exactly this point and PGD
# converges to it (tested in `tests/test_homogeneous.py`), so the deep linear experiments use the formula.
#
# **Why an $\ell_2$ perturbation leaves the max-margin direction unchanged.** Write $w = \lVert w\rVert u$.
# Then $q_i = \lVert w\rVert\,(y_i u^\top x_i - \epsilon)$: the same shift $-\epsilon$ for every example.
# The normalised adversarial margin $\min_i q_i/\lVert w\rVert = \min_i y_i u^\top x_i - \epsilon$ is the clean
# margin of $u$ minus a constant, so it is maximised by the same direction, the hard-margin SVM
# direction $u^*$, with value $\gamma^* - \epsilon$. The same holds for the dynamics: the gradient
# $\nabla_w q_i = y_i x_i - \epsilon\,w/\lVert w\rVert$ differs from the clean one by a *radial* vector,
# and the sample weights $e^{-q_i}/\sum_j e^{-q_j}$ are those of clean training at the same $w$ (the
# factor $e^{\epsilon\lVert w\rVert}$ cancels). Adversarial $\ell_2$ training therefore moves the
# direction exactly as clean training does at the same $w$; only the growth of $\lVert w\rVert$ differs.
# This requires $\epsilon<\gamma^*$: otherwise no direction has a positive adversarial margin.
#
# **Why $\ell_\infty$ is different.** Now $\min_i q_i/\lVert w\rVert = \min_i y_iu^\top x_i -
# \epsilon\lVert u\rVert_1$, and $\lVert u\rVert_1$ varies on the sphere: the maximiser is the
# *mixed-norm robust* direction (Li et al. 2020), the solution of
#
# $$\min_w \tfrac12\lVert w\rVert_2^2\quad\text{s.t.}\quad y_i w^\top x_i - \epsilon\lVert w\rVert_1\ge 1 .$$
#
# With multipliers $\alpha_i\ge0$, $A=\sum_i\alpha_i$ and $v = \sum_i\alpha_i y_i x_i$, minimising the
# Lagrangian $\tfrac12\lVert w\rVert^2 - v^\top w + \epsilon A\lVert w\rVert_1 + A$ over $w$ is a
# soft-thresholding, $w = S(v, \epsilon A)$ with $S(v,t) = \mathrm{sign}(v)\max(|v|-t, 0)$, and the dual is
#
# $$\max_{\alpha\ge0}\ \sum_i\alpha_i - \tfrac12\big\lVert S\big(\textstyle\sum_i\alpha_i y_i x_i,\ \epsilon\sum_i\alpha_i\big)\big\rVert^2 .$$
#
# The robust direction is a soft-thresholded, sparser combination of the support vectors; at
# $\epsilon = 0$ it is the SVM. `mfat.companions.margins.max_margin` solves the dual (L-BFGS-B), or the primal QP
# (SLSQP with an epigraph $t\ge|w|$), re-solves the active set found as a linear system, and returns
# the KKT residual of its answer. We compute both targets on two data sets: E1, random separable data
# in $d=$ {glue:text}`ch7_d` dimensions, and E2, two clusters in the plane built so that the targets differ.
#
# `ib.margin_targets` solves all four problems, each twice (dual and primal), and returns the two directions of
# each data set, their margins and their cosine.

# %%
X1, y1 = ib.separable_data(S.n, S.d, S.data_margin,
                           generator=ctx.generator(1))
X2, y2 = ib.discriminating_data(S.n_per_class, S.center, S.spread,
                                generator=ctx.generator(2))
T = ib.margin_targets(X1, y1, X2, y2, S)
gamma1, gamma2, svm2, rob2 = T["gamma1"], T["gamma2"], T["svm2"], T["rob2"]
for name, (dual, primal) in T["solutions"].items():
    print(
        f"{name:32s} margin {dual.margin:.6f} (primal {primal.margin:.6f}); support {len(dual.support)} points; "
        f"KKT residual dual {dual.kkt:.1e}, primal {primal.kkt:.1e}")
for key in ("gamma1", "gamma2", "cos_targets2", "cos_targets1"):
    mfat.chapter.glue(f"ch7_{key}", T[key])
mfat.chapter.glue("ch7_d", S.d)
print("E2: u* =", np.round(svm2.direction, 4), " robust =",
      np.round(rob2.direction, 4), f" cos = {T['cos_targets2']:.4f}")

# %% [markdown]
# Both solvers must agree and both answers must satisfy the KKT conditions. The solvers stop at
# relative tolerances of about $10^{-12}$ (dual) and $10^{-15}$ on the objective (SLSQP), so agreement
# to $10^{-6}$ relative is a safe numerical check; the KKT residual of the polished solution must be
# at round-off level ($10^{-9}$). On E2 the two targets have cosine {glue:text}`ch7_cos_targets2:.4f`:
# a clearly different direction, which is what makes E2 *discriminating*. On E1 they nearly coincide
# (cosine {glue:text}`ch7_cos_targets1:.5f`); the E1 margin is $\gamma^* = $ {glue:text}`ch7_gamma1:.4f`.

# %%
for name, (dual, primal) in T["solutions"].items():
    ctx.card.close(f"{name}: primal QP and dual agree on the margin",
                   dual.margin, primal.margin, rtol=1e-6,
                   note="numerical solver tolerance")
    ctx.card.at_most(f"{name}: KKT residual of the solution", dual.kkt,
                     1e-9, note="round-off")
_ = ctx.card.at_most(
    "E2 is discriminating: cos(u*, robust direction) < 1",
    T["cos_targets2"], 1.0 - 1e-3,
    note="the targets must differ for the l_inf experiment to mean anything"
)

# %% [markdown]
# ## 2. Deep linear networks with $\ell_2$ perturbations converge to $u^*$
#
# We train $L=$ {glue:text}`ch7_L` layer linear networks (widths {glue:text}`ch7_widths`, entries
# $\mathcal N(0, \sigma^2)$ with $\sigma=$ {glue:text}`ch7_init_std`) on E1 with the exponential loss:
# standard training, $\ell_2$ adversarial training with $\epsilon$ below the margin ($0.3\gamma^*$,
# $0.6\gamma^*$), at the margin and beyond ($\gamma^*$, $1.2\gamma^*$), and $\ell_\infty$ (FGSM)
# training at $0.3\gamma^*$, each from {glue:text}`ch7_seeds` initialisations.
#
# **Step sizes.** Convergence in direction under plain gradient descent is logarithmically slow: the
# loss decays like $1/t$, so $\lVert w\rVert$ grows like $\log t$. We therefore run two schedules:
#
# - *plain GD*, $\theta\leftarrow\theta-\eta\nabla\mathcal L$ (the theorem's setting);
# - *normalised GD*, $\theta\leftarrow\theta-\eta\,\nabla\log\mathcal L(\theta)/\lVert\theta\rVert^{L-1}$.
#   Since $\nabla\log\mathcal L = \nabla\mathcal L/\mathcal L$, this multiplies the gradient by a positive
#   scalar: in continuous time it only reparametrises the gradient flow, whose path, and so whose limit
#   direction, is unchanged. Here $\lVert\theta\rVert$ grows linearly in the step count, and the direction
#   converges in a few thousand steps. (The loss is never formed: $\nabla\log\mathcal L$ uses softmax
#   weights of the margins, exact at any scale.)
#
# `ib.e1_configs` lists the six trainings; `ib.deep_linear_runs` trains all of them, with every seed, as one
# batch from one generator and records, at log-spaced steps, the cosine of $w$ with each target, the loss, the
# norm, the singular values of every layer and the balance of adjacent layers.

# %%
configs1 = ib.e1_configs(S, gamma1, T["eps_linf1"])
common = dict(seeds=S.seeds, widths=S.widths, init_std=S.init_std,
              targets={"svm": T["u_svm1"],
                       "rob": T["u_rob1"]}, device=ctx.device)
runs_norm = ctx.cached(
    "e1-normalised", lambda: ib.deep_linear_runs(
        X1, y1, configs1, steps=S.steps_normalised, lr=S.lr_normalised,
        schedule="normalised", generator=ctx.generator(10), **common))
# plain GD only below the margin: at eps >= gamma* the loss does not vanish, the curvature grows with ||theta||
# and a constant step eventually becomes unstable
configs1_const = [c for c in configs1 if c["eps"] < gamma1]
runs_const = ctx.cached(
    "e1-constant", lambda: ib.deep_linear_runs(
        X1, y1, configs1_const, steps=S.steps_constant, lr=S.lr_constant,
        schedule="constant", generator=ctx.generator(10), **common))
mfat.chapter.glue("ch7_L", L_lin)
mfat.chapter.glue("ch7_widths", ", ".join(str(w) for w in S.widths))
mfat.chapter.glue("ch7_init_std", S.init_std)
mfat.chapter.glue("ch7_seeds", S.seeds)

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.e1_direction(runs_norm, runs_const, configs1, gamma1, S),
    "ch7_direction")

# %% [markdown]
# ```{glue:figure} ch7_direction
# ---
# name: fig-ch7-direction
# alt: >-
#   Two log-log panels of one minus the cosine between the network's direction and the SVM direction against the
#   gradient step, one curve per training. Left, normalised gradient descent: the curves below the margin fall
#   by many orders of magnitude, those at or beyond the margin level off. Right, plain gradient descent: the
#   same curves fall slowly.
# ---
# **Deep linear networks converge to the max-margin direction** (data set E1). The gap $1-\cos(w(t), u^*)$
# between the end-to-end vector and the SVM direction against the gradient step, for standard training, $\ell_2$
# adversarial training at budgets below, at and beyond the margin $\gamma^*$, and $\ell_\infty$ (FGSM) training,
# under normalised (left) and plain (right) gradient descent; median over {glue:text}`ch7_seeds` seeds.
# ```

# %% [markdown]
# The target is $\cos(w, u^*) > 0.999$ for $\ell_2$ adversarial training below the
# margin; we assert it for every seed at the end of the normalised run. Under plain GD the same curves
# crawl: after {glue:text}`ch7_steps_const` steps the gap $1-\cos$ is
# {glue:text}`ch7_const_gap_std:.1e` for standard training and {glue:text}`ch7_const_gap_adv:.1e` at
# $\epsilon = $ {glue:text}`ch7_eps_big:g`$\,\gamma^*$ (medians). In both schedules $\ell_2$ adversarial
# training below the margin is not slower than standard training; Li et al. (2020) prove a faster rate for
# linear classifiers under plain GD. For a linear model the gradient shows why: under plain GD its
# tangential part, which turns the direction, is $e^{\epsilon\lVert w\rVert}$ times the clean one at the same
# $w$ (every sample weight carries that factor), and only the radial part is reduced by $\epsilon$. At the
# margin ($\epsilon=\gamma^*$) the direction still approaches $u^*$ but the loss cannot vanish; beyond it
# the direction stalls (next section). Plain GD is run only below the margin: at or beyond it the loss does
# not vanish, the curvature grows with $\lVert\theta\rVert$ and a constant step eventually diverges.
# The $\ell_\infty$ run heads for its own target (section 5).

# %%
below = ib.below_margin(configs1, gamma1)
for i in below:
    cos_end = runs_norm["cos_svm"][-1, i, :]
    ctx.card.at_least(
        f"E1 {configs1[i]['name']} (normalised GD, {S.steps_normalised} steps): "
        f"min over {S.seeds} seeds of cos(w, u*)", cos_end.min(), 0.999,
        note="the target of this reproduction")
i_std, i_big = 0, below[-1]
mfat.chapter.glue("ch7_steps_const", S.steps_constant)
mfat.chapter.glue("ch7_const_gap_std",
                  float(np.median(1 - runs_const["cos_svm"][-1, i_std])))
mfat.chapter.glue("ch7_const_gap_adv",
                  float(np.median(1 - runs_const["cos_svm"][-1, i_big])))
mfat.chapter.glue("ch7_eps_big", S.eps_below[-1])
mfat.chapter.glue(
    "ch7_cos_e1_min",
    float(min(runs_norm["cos_svm"][-1, i, :].min() for i in below)))

# %% [markdown]
# ## 3. When $\epsilon$ reaches the margin
#
# For $\epsilon\ge\gamma^*$ every $w$ has $\min_i y_iw^\top x_i\le\gamma^*\lVert w\rVert\le\epsilon\lVert w\rVert$,
# so some adversarial margin is $\le 0$ and the mean loss is at least $\ell(0)/n = 1/n$ at every step:
# the adversarial data are not separable, $\lVert w\rVert$ stops growing (for $\epsilon>\gamma^*$ the loss
# is coercive and has a finite minimiser), and nothing forces the direction towards $u^*$.

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.e1_loss_and_norm(runs_norm, configs1, gamma1, S), "ch7_loss")

# %% [markdown]
# ```{glue:figure} ch7_loss
# ---
# name: fig-ch7-loss
# alt: >-
#   Two log-x panels against the gradient step. Left: the log of the adversarial training loss falls without
#   bound below the margin and levels off above the dashed floor 1/n at and beyond it. Right, log-log: the
#   parameter norm grows steadily below the margin and stops growing beyond it.
# ---
# **When $\epsilon$ reaches the margin** (E1, normalised gradient descent, median over seeds). Left: the mean
# adversarial training loss ($\log_{10}$), with the floor $\ell(0)/n$ that every budget $\epsilon\ge\gamma^*$
# cannot go below. Right: the parameter norm $\lVert\theta\rVert_2$.
# ```

# %%
beyond = ib.beyond_margin(configs1, gamma1)
floor = math.log(theory.adversarial_loss_floor(S.n, "exp"))
for i in beyond:
    ctx.card.at_least(
        f"E1 {configs1[i]['name']} (normalised GD): log mean adversarial loss >= log(1/n) "
        f"at every recorded step", runs_norm["log_loss"][:, i].min(), floor,
        note="exact bound; no tolerance")
mfat.chapter.glue(
    "ch7_beyond_gap",
    float(np.median(1 - runs_norm["cos_svm"][-1, beyond[-1]])))
mfat.chapter.glue("ch7_beyond_rho",
                  float(np.median(runs_norm["rho"][-1, beyond[-1]])))
mfat.chapter.glue("ch7_eps_top", S.eps_beyond[-1])

# %% [markdown]
# At $\epsilon = $ {glue:text}`ch7_eps_top:g`$\,\gamma^*$ the parameter norm stays at
# {glue:text}`ch7_beyond_rho:.2f` and $1-\cos(w,u^*)$ at {glue:text}`ch7_beyond_gap:.1e`: the
# implicit bias towards the max margin needs $\epsilon < \gamma^*$.
#
# ## 4. The layers align
#
# Gradient flow on a deep linear network conserves $D_l = W_{l+1}^\top W_{l+1} - W_lW_l^\top$ (the first
# order terms of a step cancel because $W_{l+1}^\top\nabla_{W_{l+1}} = \nabla_{W_l}W_l^\top$). A gradient
# *step* changes it only by $\eta^2(G_{l+1}^\top G_{l+1} - G_lG_l^\top)$, of norm at most
# $\eta^2\max(\lVert G_{l+1}\rVert^2, \lVert G_l\rVert^2)$; summing these gives a bound $B_l(t)$ on
# $\lVert D_l(t)\rVert$ from $D_l(0)$ alone. Since $W_L$ is a row, $W_L^\top W_L$ has rank one, and Weyl's
# inequality down the layers gives
#
# $$\begin{gathered}\sigma_2(W_l)^2 \le \sum_{k\ge l}\lVert D_k\rVert ,\qquad
# 1-\big|\langle u_1(W_l), v_1(W_{l+1})\rangle\big| \le 1-\sqrt{1-s_l^2},\\
# s_l = \frac{\lVert D_l\rVert}{\sigma_1(W_{l+1})^2-\sigma_2(W_{l+1})^2-\lVert D_l\rVert}\end{gathered}$$
#
# (Davis–Kahan). As $\lVert\theta\rVert\to\infty$ while $D$ stays bounded, every layer tends to rank one and
# adjacent singular vectors align (Ji & Telgarsky 2019; the TPAMI extension of the paper states the same
# alignment). The dashed lines are these bounds computed from $D_l(0)$ and the accumulated
# second-order terms only.
#
# `ib.layer_bounds` computes the three bounds for one training from the recorded $\lVert D_l(0)\rVert$ and
# second-order drift; `ib.layer_bound_excess` gives, over layers, seeds and trainings, how far the measured
# quantities at the end exceed their bounds, which the claims require to be at most zero (up to round-off).

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.layer_alignment(runs_norm, below[0],
                            configs1[below[0]]["name"]), "ch7_layers")

# %% [markdown]
# ```{glue:figure} ch7_layers
# ---
# name: fig-ch7-layers
# alt: >-
#   Two log-log panels against the gradient step, one curve per layer: left, the ratio of the second to the
#   first singular value falls towards zero; right, the misalignment of adjacent layers' singular vectors falls;
#   each curve stays below its dashed bound.
# ---
# **The layers align** (E1, one adversarial training below the margin, normalised gradient descent, median over
# seeds). Left: $\sigma_2(W_l)/\sigma_1(W_l)$ of each layer. Right:
# $1-\lvert\langle u_1(W_l), v_1(W_{l+1})\rangle\rvert$ of adjacent layers. Dashed: the bounds from the
# conserved $D_l$ (Weyl and Davis–Kahan).
# ```

# %%
for runs, sched in ((runs_norm, "normalised"), (runs_const, "plain")):
    excess = ib.layer_bound_excess(runs, below)
    ctx.card.at_most(
        f"{sched} GD: | ||D_l(T)|| - ||D_l(0)|| | - (second-order bound), worst layer/run",
        excess["drift"], 0.0, tol=1e-9, note="round-off allowance")
    ctx.card.at_most(
        f"{sched} GD: sigma_2(W_l) - (Weyl bound from D(0)), worst layer/run",
        excess["s2"], 0.0, tol=1e-9)
    ctx.card.at_most(
        f"{sched} GD: (1 - alignment) - (Davis-Kahan bound), worst layer/run",
        excess["alignment"], 0.0, tol=1e-9)
ratio_end = runs_norm["sigma2"][-1, below][..., :-1] / runs_norm["sigma1"][
    -1, below][..., :-1]
mfat.chapter.glue("ch7_rank_ratio", float(ratio_end.max()))
mfat.chapter.glue("ch7_align_gap",
                  float((1 - runs_norm["alignment"][-1, below]).max()))

# %% [markdown]
# At the end of the normalised runs below the margin, the largest $\sigma_2/\sigma_1$ over layers,
# budgets and seeds is {glue:text}`ch7_rank_ratio:.1e` and the largest alignment gap
# {glue:text}`ch7_align_gap:.1e`.
#
# ## 5. $\ell_\infty$ (FGSM) training converges to the robust direction instead
#
# On E2 the $\ell_2$ SVM direction $u^*$ and the $\ell_\infty$-robust direction differ (cosine
# {glue:text}`ch7_cos_targets2:.4f`). We train with the same budget $\epsilon=$ {glue:text}`ch7_eps2:g`
# in both threat models (below $\gamma^* = $ {glue:text}`ch7_gamma2:.3f`, and the robust margin
# {glue:text}`ch7_rob_margin2:.3f` is positive) and follow the angle of $w(t)$ in the plane.

# %%
configs2 = ib.e2_configs(S, gamma2)
runs2 = ctx.cached(
    "e2-normalised", lambda: ib.deep_linear_runs(
        X2, y2, configs2, seeds=S.seeds, widths=S.widths, init_std=S.
        init_std, steps=S.steps_normalised, lr=S.lr_normalised, schedule=
        "normalised", targets={
            "svm": svm2.direction, "rob": rob2.direction
        }, generator=ctx.generator(20), device=ctx.device))
mfat.chapter.glue("ch7_eps2", S.eps_linf_e2)
mfat.chapter.glue("ch7_rob_margin2", rob2.margin)

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.e2_trajectories(X2, y2, runs2, configs2, svm2.direction,
                            rob2.direction, S), "ch7_e2")

# %% [markdown]
# ```{glue:figure} ch7_e2
# ---
# name: fig-ch7-e2
# alt: >-
#   Left: two clusters of points in the plane with two arrows, the SVM direction and the robust direction, at a
#   clear angle. Right: the angle of the network's direction against the gradient step; the l2-trained curve
#   settles at the SVM angle, the FGSM-trained curve at the robust angle.
# ---
# **$\ell_\infty$ (FGSM) training converges to the robust direction instead** (data set E2). Left: the data, the
# $\ell_2$ SVM direction $u^*$ and the $\ell_\infty$-robust direction. Right: the angle of $w(t)$ in the plane
# against the gradient step for standard, $\ell_2$ and FGSM training with the same budget $\epsilon=$
# {glue:text}`ch7_eps2:g` (median over seeds).
# ```

# %%
i_l2, i_inf = 1, 2
cos_inf_rob = runs2["cos_rob"][-1, i_inf]
cos_inf_svm = runs2["cos_svm"][-1, i_inf]
ctx.card.at_least(
    "E2 FGSM training: min over seeds of cos(w, robust) - cos(w, u*)",
    float((cos_inf_rob - cos_inf_svm).min()), 0.0,
    note="the target of this reproduction: closer to the robust direction")
ctx.card.at_least("E2 l2 training: min over seeds of cos(w, u*)",
                  runs2["cos_svm"][-1, i_l2].min(), 0.999,
                  note="the target of this reproduction")
mfat.chapter.glue("ch7_e2_inf_rob", float(np.median(cos_inf_rob)))
mfat.chapter.glue("ch7_e2_inf_svm", float(np.median(cos_inf_svm)))
mfat.chapter.glue("ch7_e2_l2_svm",
                  float(np.median(runs2["cos_svm"][-1, i_l2])))

# %% [markdown]
# FGSM-trained networks end with cosine {glue:text}`ch7_e2_inf_rob:.5f` with the robust direction and
# {glue:text}`ch7_e2_inf_svm:.5f` with $u^*$; $\ell_2$-trained ones with cosine
# {glue:text}`ch7_e2_l2_svm:.6f` with $u^*$ (medians over seeds). The abstract's "max-margin solution of
# the original dataset" therefore fits $\ell_2$ perturbations; for $\ell_\infty$ the limit is the
# mixed-norm margin of the adversarial examples, in line with Li et al. (2020) and with the TPAMI
# extension's "interpolation between the $\ell_2$ and $\ell_q$ SVM" (both reconstructions, not read in full).
#
# ## 6. Homogeneous ReLU networks: the adversarial margin grows, towards a KKT point
#
# For an $L$-homogeneous model the reconstructed problem is
#
# $$\min_\theta\ \tfrac12\lVert\theta\rVert^2\quad\text{s.t.}\quad q_i(\theta)\ge 1,$$
#
# and the statement is that $\theta(t)/\lVert\theta(t)\rVert$ converges to the direction of a KKT point:
# $\theta = \sum_i\lambda_i\nabla q_i(\theta)$ with $\lambda_i\ge0$ and $\lambda_i(q_i-1)=0$. Following Lyu &
# Li (2020) we measure, at $\tilde\theta = \theta/(\min_iq_i)^{1/L}$ (so that $\min_i q_i(\tilde\theta)=1$),
#
# $$r(\theta) = \min_{\lambda\ge0}\sqrt{\frac{\lVert\tilde\theta-\sum_i\lambda_i\nabla q_i(\tilde\theta)\rVert^2}{\lVert\tilde\theta\rVert^2}
# + \Big(\frac{\sum_i\lambda_i(q_i(\tilde\theta)-1)}{\lVert\tilde\theta\rVert^2}\Big)^2},$$
#
# a non-negative least-squares problem that only needs the Gram matrix of the $\nabla q_i$ (Euler's identity
# $\nabla q_i\cdot\theta = Lq_i$ supplies the cross terms); $r=0$ exactly at a KKT point. The other
# observable is the **normalised adversarial margin** $\gamma = \min_iq_i/\lVert\theta\rVert^L$ and its
# smooth version $\tilde\gamma = -\log\sum_ie^{-q_i}/\lVert\theta\rVert^L$, which the theory (gradient flow,
# from the time $t_0$ when $\mathcal L<\ell(0)/n$) makes non-decreasing. Since
# $\tilde\gamma\le\gamma\le\tilde\gamma+\log n/\lVert\theta\rVert^L$, monotone $\tilde\gamma$ implies, for
# all $t_0\le t_1<t_2$,
#
# $$\gamma(t_2)\ \ge\ \gamma(t_1) - \log n/\lVert\theta(t_1)\rVert^L ,$$
#
# so $\gamma$ is *eventually* non-decreasing: the allowance vanishes as $\lVert\theta\rVert\to\infty$.
# That is the inequality asserted below, over all pairs of recorded steps.
#
# We train bias-free two-layer ReLU networks (width {glue:text}`ch7_m`) on (a) a synthetic set that no
# linear classifier separates, $y = \mathrm{sign}(x_1x_2)$ on a sphere in $d=$ {glue:text}`ch7_syn_d`,
# and (b) MNIST 0 vs 1 ({glue:text}`ch7_mnist_n` images, pixels in $[0,1]$), with no attack, FGM and
# PGD ($\ell_2$) and FGSM ($\ell_\infty$) from `mfat.model.attacks`, all from the same initialisation. Steps:
# normalised GD with $\eta/\lVert\theta\rVert^2$; a larger $\eta$ is used until $t_0$ (the theory starts
# there). With $\eta/\lVert\theta\rVert$ instead, the relative step stays too large for the sharpening
# softmax and the margin oscillates, a discretisation effect.
#
# `ib.two_layer_runs` trains one network per attack of `ib.attack_list` from a shared initialisation and records
# the margins, the norm, the KKT residual $r$ and the clean accuracy at log-spaced and evenly spaced steps.

# %%
dtype = torch.float64 if S.relu_float64 else torch.float32
relu_common = dict(m=S.relu_m, init_scale=S.relu_init_scale,
                   steps=S.relu_steps, norm_power=S.relu_norm_power,
                   pgd_steps=S.pgd_steps, n_log=S.relu_n_log, dtype=dtype,
                   device=ctx.device)
Xs, ys = ib.sign_product_data(S.syn_n, S.syn_d, S.syn_min_margin,
                              generator=ctx.generator(30))
Xm, ym = ib.mnist_pair(S.mnist_n)
relu = {
    "synthetic": ctx.cached(
        "e3-synthetic", lambda: ib.two_layer_runs(
            Xs, ys, ib.attack_list(S, S.syn_eps_l2, S.syn_eps_linf), lr=S.
            syn_lr, lr_fit=S.syn_lr_fit, generator=ctx.generator(
                31), **relu_common)),
    "MNIST 0 vs 1": ctx.cached(
        "e3-mnist", lambda: ib.two_layer_runs(
            Xm, ym, ib.attack_list(S, S.mnist_eps_l2, S.mnist_eps_linf), lr=
            S.mnist_lr, lr_fit=S.mnist_lr_fit, generator=ctx.generator(
                32), **relu_common)),
}
n_of = {"synthetic": len(ys), "MNIST 0 vs 1": len(ym)}
eps_of = {
    "synthetic": (S.syn_eps_l2, S.syn_eps_linf),
    "MNIST 0 vs 1": (S.mnist_eps_l2, S.mnist_eps_linf)
}
mfat.chapter.glue("ch7_m", S.relu_m)
mfat.chapter.glue("ch7_syn_d", S.syn_d)
mfat.chapter.glue("ch7_mnist_n", S.mnist_n)

# %% tags=["hide-input"]
plotting.glue_figure(figures.relu_margins(relu, eps_of, S), "ch7_relu")

# %% [markdown]
# ```{glue:figure} ch7_relu
# ---
# name: fig-ch7-relu
# alt: >-
#   Four log-x panels, two per data set: the normalised adversarial margin against the gradient step rises for
#   every attack, and the KKT residual falls, for the synthetic set (top) and MNIST 0 against 1 (bottom); one
#   colour per attack, with the smoothed margin dotted below each margin curve.
# ---
# **Homogeneous ReLU networks: the adversarial margin grows, towards a KKT point.** Bias-free two-layer ReLU
# networks of width {glue:text}`ch7_m` on the synthetic set (top) and MNIST 0 against 1 (bottom), trained with
# no attack, FGM, PGD ($\ell_2$) and FGSM ($\ell_\infty$) from one initialisation: the normalised adversarial
# margin $\gamma$ (left) and the KKT residual $r$ (right) against the step, from $t_0$ on.
# ```

# %% [markdown]
# The margins are shown from $t_0$ on, when every adversarial training example is classified correctly.
#
# For each run `ib.margin_trajectory` takes the recorded steps from $t_0$ on and computes the smallest slack of
# the eventual-monotonicity inequality over all pairs $t_1<t_2$, the margin and the KKT residual at both ends,
# and one row of the table below.

# %%
summary = []
for dname, res in relu.items():
    for name, out in res.items():
        tr = ib.margin_trajectory(out, n_of[dname], S.relu_steps)
        g, kkt = tr["gamma"], tr["kkt"]
        ctx.card.holds(
            f"{dname}, {name}: the adversarial training loss falls below ell(0)/n (t0 exists)",
            tr["t0"] >= 0, measured=f"t0 = {tr['t0']}")
        ctx.card.at_least(
            f"{dname}, {name}: gamma(t2) - gamma(t1) + log(n)/rho(t1)^2 over recorded t0<=t1<t2",
            tr["slack"], 0.0, note=
            "margin eventually non-decreasing; allowance derived, not tuned"
        )
        ctx.card.at_least(
            f"{dname}, {name}: normalised adversarial margin at the end >= at t0",
            g[-1], g[0], note="margin rising")
        ctx.card.at_most(
            f"{dname}, {name}: KKT residual at the end <= at t0", kkt[-1],
            kkt[0], note="residual falling")
        summary.append({"data": dname, "training": name, **tr["row"]})
import pandas as pd  # noqa: E402

summary = pd.DataFrame(summary)
mfat.chapter.glue("ch7_kkt_end_max", float(summary["KKT r(T)"].max()))
mfat.chapter.glue("ch7_kkt_end_min", float(summary["KKT r(T)"].min()))
mfat.chapter.glue("ch7_sm_decreases",
                  int(summary["smoothed-margin decreases"].sum()))
summary.round(4)

# %% [markdown]
# Every run reaches $t_0$, its normalised adversarial margin satisfies the eventual-monotonicity
# inequality at all recorded pairs, and its KKT residual falls (to between
# {glue:text}`ch7_kkt_end_min:.2f` and {glue:text}`ch7_kkt_end_max:.2f` at the end). The residuals are
# still far from zero: convergence to a KKT direction is slow (logarithmic in the loss), and the
# quick profile stops early. The smoothed margin $\tilde\gamma$ itself, monotone for gradient flow,
# decreased at {glue:text}`ch7_sm_decreases` recorded steps in total (see the table): finite steps, and
# for PGD a perturbation that jumps between iterates as $\theta$ changes, break exact monotonicity;
# these dips are well inside the allowance above.
#
# ## Try it yourself
#
# ```
# python -m mfat run --only 07 --set eps_linf_e2=0.4 --set spread=0.5
# python -m mfat run --only 07 --set relu_steps=3000 --set mnist_n=300
# ```
#
# A smaller $\ell_\infty$ budget moves the robust target back towards $u^*$; a longer ReLU run lowers
# the KKT residual further.
#
# ## Summary
#
# - $\ell_2$ adversarial training of deep linear networks below the margin converges in direction to
#   the SVM direction of the clean data: the smallest final $\cos(w,u^*)$ over budgets and seeds on E1
#   is {glue:text}`ch7_cos_e1_min:.6f` (target: $>0.999$), and {glue:text}`ch7_e2_l2_svm:.6f` on E2.
# - $\ell_\infty$ (FGSM) training converges to the mixed-norm robust direction instead: on E2 its cosine
#   with that direction is {glue:text}`ch7_e2_inf_rob:.5f` against {glue:text}`ch7_e2_inf_svm:.5f` with
#   $u^*$ (the targets' own cosine: {glue:text}`ch7_cos_targets2:.4f`).
# - At and beyond the margin the adversarial loss stays above $1/n$ and the bias disappears.
# - The layers become rank one and align, within the bounds that the conserved $D_l$ implies.
# - For bias-free ReLU networks with FGM, FGSM and PGD, the normalised adversarial margin is eventually
#   non-decreasing (within $\log n/\lVert\theta\rVert^2$, which vanishes) and the KKT residual of the
#   adversarial margin problem falls.
#
# The quick profile uses normalised step sizes, which only reparametrise time along the gradient flow;
# plain GD shows the same ordering but needs orders of magnitude more steps.
#
# ## Exercises
#
# :::{admonition} Exercise 7.1
# Let $\delta_i(\theta)$ be the FGM perturbation, $\delta_i = \epsilon\,g_i/\lVert g_i\rVert_2$ with
# $g_i = \nabla_x\ell(y_if(\theta;x_i))$, for an $L$-homogeneous $f$. Show that $q_i(c\theta) = c^Lq_i(\theta)$
# for $c>0$, and deduce Euler's identity $\nabla q_i(\theta)\cdot\theta = L\,q_i(\theta)$ (at fixed
# $\delta_i$) used by the KKT residual of section 6. Which assumption of
# {prf:ref}`thm-adv-implicit-bias` does this supply?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# $g_i(c\theta) = \ell'(y_ic^Lf(\theta;x_i))\,y_i\,c^L\nabla_xf(\theta;x_i)$, and $\ell'(z) = -e^{-z}<0$ for
# every $z$, so $g_i(c\theta)$ is a *positive* multiple of $g_i(\theta)$ and the normalised step is unchanged:
# $\delta_i(c\theta)=\delta_i(\theta)$. Hence $q_i(c\theta) = y_if(c\theta;x_i+\delta_i) = c^Lq_i(\theta)$
# (the same holds for FGSM's sign step and for PGD, whose every step and projection is scale free).
# Differentiating $q_i(c\theta)=c^Lq_i(\theta)$ in $c$ at $c=1$, with $\delta_i$ held fixed, gives
# $\nabla q_i\cdot\theta = Lq_i$. This is the homogeneity of the margins that lets
# {prf:ref}`thm-lyu-li` carry over to adversarial training in part 2.
# :::
#
# :::{admonition} Exercise 7.2
# For a linear classifier $w$ and the $\ell_2$ budget $\epsilon$, show that the normalised adversarial
# margin $\min_iq_i/\lVert w\rVert$ is maximised by the SVM direction $u^*$ with value $\gamma^*-\epsilon$,
# and explain what the chapter's runs at $\epsilon=1.2\gamma^*$ should show. What changes for $\ell_\infty$?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# By Hölder the worst $\ell_2$ perturbation gives $q_i = y_iw^\top x_i - \epsilon\lVert w\rVert_2$, so with
# $u = w/\lVert w\rVert$, $\min_iq_i/\lVert w\rVert = \min_iy_iu^\top x_i - \epsilon$: the clean margin of $u$
# minus a constant, maximised by $u^*$ with value $\gamma^*-\epsilon$ (part 1 of
# {prf:ref}`thm-adv-implicit-bias`). At $\epsilon=1.2\gamma^*$ every direction has a negative adversarial
# margin, so the mean loss stays at least $\ell(0)/n = 1/n$, $t_0$ never comes, $\lVert w\rVert$ stops
# growing and nothing drives the direction to $u^*$ (section 3 asserts the loss floor at every step). For $\ell_\infty$ the penalty is $\epsilon\lVert u\rVert_1$, which
# varies over the sphere, so the maximiser is the mixed-norm robust direction instead (section 5: on E2 FGSM
# ends closer to it than to $u^*$).
# :::

# %%
ctx.finish()
