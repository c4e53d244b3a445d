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
# # 4. Trainability: vanilla networks lose it, residual networks keep it
#
# Chapter 3 showed that adversarial training shrinks the weight variance $\sigma_w^2$ of a vanilla network
# linearly in time, at a rate $\propto\epsilon\beta_{p,q}/N$. Kumano, Kera and Yamasaki draw the consequence:
# a shrinking $\sigma_w^2$ pushes the network's gain $\omega^L$ towards zero, and a network whose gain is
# too small cannot be trained (its input-output sensitivity and its gradients vanish). Residual networks
# escape, because their per-layer gain $\omega_r = 1+\alpha\sigma_w^2$ never drops below one. This chapter
# states the three results, draws their predictions, and trains grids of networks on MNIST over depth
# $L$ and width $N$ (the paper's Fig. 5) to see where the prediction holds and where it does not.
#
# ## Definition 5.5 and Lemma 5.5
#
# :::{prf:definition} $(M,m)$-trainability {cite:p}`kumano2023meanfield`
# :label: def-trainable
#
# For thresholds $0 < m\le 1\le M$, a network of depth $L$ is **$(M, m)$-trainable** when its squared
# Jacobian gain $\omega^L$ ($= d\,\mathrm{Var}\,J_{ij}$ by Theorem 4.1, the factor by which gradients are
# scaled) satisfies
#
# $$
# m \;\le\; \omega^L \;\le\; M .
# $$ (eq-trainable)
# :::
#
# :::{prf:lemma} Trainable regions {cite:p}`kumano2023meanfield`
# :label: lem-trainable-regions
#
# A vanilla network ($\omega_v = \alpha\sigma_w^2$) is $(M,m)$-trainable iff
# $m^{1/L}\le\alpha\sigma_w^2\le M^{1/L}$; a residual network ($\omega_r = 1 + \alpha\sigma_w^2$) iff
# $\alpha\sigma_w^2\le M^{1/L}-1$ (its lower condition always holds, since $\omega_r^L\ge1\ge m$).
# :::
#
# :::{prf:proof}
# Take $L$-th roots in {eq}`eq-trainable`: $x\mapsto x^{1/L}$ is increasing on $[0,\infty)$, so
# $m\le\omega^L\le M$ iff $m^{1/L}\le\omega\le M^{1/L}$. Substitute $\omega_v$ or $\omega_r$; for the
# residual network $\omega_r\ge1\ge m^{1/L}$ always.
# :::
#
# ## Theorem 5.6: vanilla networks leave the trainable set
#
# :::{prf:theorem} Vanilla networks lose $(M,m)$-trainability {cite:p}`kumano2023meanfield`
# :label: thm-vanilla-exit
#
# Start a vanilla network trainable, at $\alpha\sigma_w^2(0) = 1$. Under adversarial training
# $\sigma_w^2$ falls at the rate of Theorem 5.4 (chapter 3), so it leaves the trainable set of
# {prf:ref}`lem-trainable-regions` when $\alpha\sigma_w^2(t)$ reaches $m^{1/L}$, at the time
#
# $$
# T = \frac{N\big(\alpha\sigma_w^2(0) - m^{1/L}\big)}{c\,\alpha\,\epsilon\,\beta_{p,q}\,\omega_v(0)^{L/2}}
# \;\overset{\omega_v(0)=1}{=}\; \frac{N\,(1-m^{1/L})}{c\,\alpha\,\epsilon\,\beta_{p,q}}
# \;\approx\; \frac{N\ln(1/m)}{c\,\alpha\,\epsilon\,\beta_{p,q}\,L}
# $$ (eq-exit-time)
# :::
#
# This is the *linear law* (the rate frozen at $t=0$). So $T$ grows linearly with the width and falls like
# $1/L$, $1/\epsilon$ and $1/\beta_{p,q}$. If the rate is not frozen, $w = \alpha\sigma_w^2$ obeys
# $\dot w = -(c\alpha\epsilon\beta/N)\,w^{L/2}$, which slows down as $w$ falls (the *unfrozen ODE*), and
# $T_{ODE} = N\big(m^{1/L-1/2} - 1\big)/\big((L/2-1)\,c\,\alpha\epsilon\beta\big)$ for $L>2$: an order of
# magnitude later.
#
# :::{prf:theorem} Residual networks stay $(M,m)$-trainable {cite:p}`kumano2023meanfield`
# :label: thm-residual-stays
#
# If $\alpha\sigma_w^2(0)\le M^{1/L}-1$, adversarial training only decreases $\sigma_w^2$, which keeps
# $\omega_r^L\le M$, and $\omega_r^L\ge1\ge m$ always: the residual network is $(M,m)$-trainable
# ({prf:ref}`def-trainable`) for all $t$.
# :::
#
# **Fig. 5.** With a fixed budget $t$ (gradient-flow time, $t = \eta_{lr}\times$steps), the vanilla
# networks that are still trainable at the end are those wider than
#
# $$
# N^*(L) = \frac{c\,t\,\alpha\,\epsilon\,\beta_{p,q}}{1-m^{1/L}}\qquad(\text{linear law}),
# $$ (eq-critical-width)
#
# (set $T = t$ in {eq}`eq-exit-time` and solve for $N$), a slowly rising line in $L$, with $m = 10^{-4}$ as in the paper.
#
# **What is confirmed and what is reconstructed.** The names and claims (vanilla networks lose
# adversarial trainability, residual networks keep it, width helps, Fig. 5 with $m = 10^{-4}$, $p=q=\infty$,
# $\epsilon=0.3$, and that standard training is accurate everywhere) are the paper's (spec sections 7, 9,
# 14). Definition 5.5's exact form, the formula for $T$ and its constant $c$, the grids, the data set,
# the optimiser and the objective are reconstructed (spec section 13).
#
# **Conventions** (as in chapter 3): plain SGD, time $t=\eta_{lr}\times$steps, $c = 2$; the objective is
# $\mathrm{CE}(f(x),y) + \lambda L_{adv}(x)$ with $\lambda=1$ and $L_{adv}$ at the PGD maximiser of
# $\lVert f(x+\eta)-f(x)\rVert_\infty$ over $\lVert\eta\rVert_\infty\le 0.3$ (pixels in $[0,1]$); biases start
# at zero and are trained; $P_{in}$, $P_{out}$, $P^{(l)}$ are frozen. $\beta_{\infty,\infty}(d=784, K=10)$ is
# the Monte Carlo expectation of chapter 2.

# %% tags=["parameters"]
# Defaults. The runner (python -m mfat run) injects its own values; see the banner at the end.
profile = "quick"
seed = 0
device = "auto"
replay = False
overrides = {}

# %%
import math
import time

import numpy as np
import pandas as pd
import torch

import mfat
import mfat.chapter
from mfat import stats, theory
from mfat.chapter import plotting
from mfat.data import load
from mfat.experiments.trainability import (agreement, depth_gains, depth_width_grid, initial_balance,
                                         jacobian_gain)
from mfat.model.grid import NetStack, train_grid
from mfat.model.networks import ReLULikeNet
from mfat.runtime import make_generator
from mfat.experiments.adversarial_loss import beta_monte_carlo
from mfat.model.training import TrainConfig, train

ctx = mfat.chapter.start("04_trainability", profile, overrides, seed=seed, device=device, replay=replay,
                         theorem="Lemma 5.5 / Theorems 5.6, 5.7")
S = ctx.settings
ALPHA = theory.alpha(1.0, 0.0)
beta = beta_monte_carlo(math.inf, math.inf, 784, 10, n_samples=2000)[0]
mfat.chapter.glue("ch4_beta", beta)
mfat.chapter.settings.describe("04_trainability")

# %% [markdown]
# ## Lemma 5.5: the trainable regions, and the gains of random networks
#
# The regions are bands in the plane of depth $L$ and per-layer gain $\alpha\sigma_w^2$. On top, the
# measured gains of random networks: for each setting, {glue:text}`ch4_gain_networks` random networks of
# width {glue:text}`ch4_gain_N`, each read at every depth $l\le L_{max}$ (its first $l$ layers with a
# fresh output projection), at one random input; the measured gain is $\lVert J_l(x)\rVert_F^2/K$, whose
# mean is $\omega^l$ exactly at any width when $\sigma_b^2 = 0$ (the sign symmetry of the Gaussian
# weights makes each activation pattern independent, in mean, of the propagated direction).

# %%
gain_configs = ([("vanilla", s, False) for s in S.gain_vanilla_sigma_w2]
                + [("residual", s, True) for s in S.gain_residual_sigma_w2])


def measure_gains():
    return {f"{kind} {s:g}": depth_gains(S.gain_d, S.gain_N, S.gain_L_max, s, residual=res,
                                         n_networks=S.gain_networks, generator=ctx.generator(10 + i),
                                         device=ctx.device)
            for i, (kind, s, res) in enumerate(gain_configs)}


gains = ctx.cached("gains", measure_gains)
depth_axis = np.arange(1, S.gain_L_max + 1)

fig, axes = plotting.figure(2, height=4.6)
Lc = np.linspace(1, S.gain_L_max, 200)
for ax, kind, res in ((axes[0, 0], "vanilla", False), (axes[0, 1], "residual", True)):
    lo = np.array([theory.trainable_interval(int(round(x)), S.M, S.m, res)[0] for x in depth_axis])
    hi = np.array([theory.trainable_interval(int(round(x)), S.M, S.m, res)[1] for x in depth_axis])
    lo_c, hi_c = (np.zeros_like(Lc) if res else S.m ** (1 / Lc)), (S.M ** (1 / Lc) - (1 if res else 0))
    ax.fill_between(Lc, np.maximum(lo_c, 1e-3), hi_c, color=plotting.colors()[2], alpha=0.18,
                    label=f"$(M,m)$-trainable, Lemma 5.5")
    plotting.theory_line(ax, Lc, hi_c, label=f"$M^{{1/L}}{'-1' if res else ''}$, $M$={S.M:g}")
    if not res:
        plotting.theory_line(ax, Lc, lo_c, label=f"$m^{{1/L}}$, $m$={S.m:g}", ls=":")
    for (k, s, r), color in zip(gain_configs, plotting.colors()):
        if k != kind:
            continue
        g = gains[f"{k} {s:g}"]["gain"].mean(0)
        ok = (g >= S.m) & (g <= S.M)
        w = ALPHA * s
        ax.scatter(depth_axis[ok], np.full(ok.sum(), w), marker="o", color=color, s=22, zorder=4,
                   label=f"$\\alpha\\sigma_w^2$={w:g}")
        ax.scatter(depth_axis[~ok], np.full((~ok).sum(), w), marker="x", color=color, s=26, zorder=4)
    ax.set_yscale("log")
    ax.set(xlabel="depth $L$", ylabel="per-layer gain $\\alpha\\sigma_w^2$", title=f"{kind} networks",
           ylim=(0.002, 300))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="x-small", ncol=2)
fig.suptitle(f"Lemma 5.5: trainable bands; random networks (N={S.gain_N}) with measured $\\omega^L$ "
             "in $[m, M]$ (o) or outside (x)")

# %% [markdown]
# A marker is a circle when the measured mean gain $\overline{\lVert J_L\rVert_F^2/K}$ lies in $[m, M]$, a cross
# otherwise; the lemma predicts circles exactly inside the band. The next figure shows the measured
# gains themselves against $\omega^L$.

# %%
fig, axes = plotting.figure(1, height=3.4)
ax = axes[0, 0]
for (k, s, r), color in zip(gain_configs, plotting.colors()):
    g = gains[f"{k} {s:g}"]["gain"]
    pred = np.array([theory.gain(s, int(L), residual=r) for L in depth_axis])
    plotting.theory_line(ax, depth_axis, pred, label=None, color=color)
    se = g.std(0, ddof=1) / np.sqrt(len(g))
    plotting.measured(ax, depth_axis, g.mean(0), yerr=2 * se, color=color,
                      label=f"{k}, $\\sigma_w^2$={s:g} ($\\omega$={theory.omega(s, residual=r):.2f})")
ax.axhline(S.m, color=plotting.THEORY, lw=0.8, ls=":")
ax.axhline(S.M, color=plotting.THEORY, lw=0.8, ls=":")
ax.set_yscale("log")
ax.set(xlabel="depth $L$", ylabel="gain $\\|J\\|_F^2/K$",
       title=f"measured gain (markers, mean $\\pm$ 2 s.e.) vs $\\omega^L$ (dashed); dotted: $m$ and $M$")
ax.legend(loc="upper left", fontsize="x-small", ncol=2)

# %% [markdown]
# The gain of one network is a product of $L$ random per-layer factors, so its distribution is skewed and
# heavy-tailed at large depth: the sample mean of a few dozen networks sits below $\omega^L$ more often than
# above, and its standard error is itself unreliable. The well-posed check is per layer. Write
# $T_l = M^{(l)}\cdots M^{(1)}P_{in}$; given the layers below, the factor
# $r_l = \lVert T_l\rVert_F^2/\lVert T_{l-1}\rVert_F^2$ has mean exactly $\omega$ at any width (the same
# symmetry argument), so the $r_l$ of all layers and networks are unbiased and uncorrelated.
#
# **Claim.** For every setting, the mean per-layer factor over all {glue:text}`ch4_gain_samples` layers
# and networks equals $\omega$ within four standard errors. Lemma 5.5 then follows from
# $\omega^L = \prod_l\omega$; the markers above show the classification of the measured gains.

# %%
n_in = 0
for (k, s, r) in gain_configs:
    f = gains[f"{k} {s:g}"]["factor"].ravel()
    ctx.card.close(f"Lemma 5.5 / Thm 4.1: {k} sigma_w^2={s:g}, mean per-layer gain factor = omega",
                   theory.omega(s, residual=r), f.mean(), atol=stats.mean_tolerance(f.std(ddof=1), f.size))
    g = gains[f"{k} {s:g}"]["gain"].mean(0)
    n_in += sum((S.m <= g[L - 1] <= S.M) == theory.is_trainable(s, int(L), S.M, S.m, residual=r) for L in depth_axis)
mfat.chapter.glue("ch4_gain_networks", S.gain_networks)
mfat.chapter.glue("ch4_gain_N", S.gain_N)
mfat.chapter.glue("ch4_gain_samples", S.gain_networks * S.gain_L_max)
mfat.chapter.glue("ch4_gain_class", n_in / (len(gain_configs) * S.gain_L_max))

# %% [markdown]
# The mean measured gains fall on the side of the band the lemma predicts at
# {glue:text}`ch4_gain_class:.0%` of the markers (the exceptions, if any, sit next to a band edge, where
# $\omega^L$ is within the sampling spread of $m$ or $M$).

# %% [markdown]
# ## Theorem 5.6: the exit time and its laws
#
# The exit time is linear in $N$ and inversely proportional to $\epsilon$ and $\beta$ (both laws); its
# depth dependence is shown below for MNIST's $\beta_{\infty,\infty}$ = {glue:text}`ch4_beta:.2f` and
# $\epsilon = 0.3$ at $N = 1000$. The linear law's $T$ approaches $N\ln(1/m)/(c\alpha\epsilon\beta L)$
# (the $1/L$ law) from below; the unfrozen ODE gives a much longer $T$, growing with $L$ at first, because the
# rate $\propto\omega^{L/2}$ collapses as soon as $\omega<1$. Residual networks: $T = \infty$.

# %%
Ls = np.arange(2, 41)
T_lin = np.array([theory.exit_time(1000, int(L), S.eps, beta, c=S.c) for L in Ls])
T_ode = np.array([theory.exit_time(1000, int(L), S.eps, beta, c=S.c, law="ode") for L in Ls])
T_asym = 1000 * math.log(1 / S.m) / (S.c * ALPHA * S.eps * beta * Ls)
fig, axes = plotting.figure(2, height=3.2)
ax = axes[0, 0]
plotting.theory_line(ax, Ls, T_lin, label="linear law (rate frozen at t=0)")
plotting.theory_line(ax, Ls, T_ode, label="unfrozen ODE", ls=":", color=plotting.colors()[3])
plotting.theory_line(ax, Ls, T_asym, label="$N\\ln(1/m)/(c\\alpha\\epsilon\\beta L)$", ls="-.",
                     color=plotting.colors()[7], lw=1.0)
ax.set_yscale("log")
ax.set(xlabel="depth $L$", ylabel="exit time $T$ (t = lr $\\times$ steps)", title="T vs depth, N = 1000")
ax.legend(fontsize="x-small")
ax = axes[0, 1]
t_res = np.linspace(0, 4 * theory.exit_time(1000, 10, S.eps, beta, c=S.c, law="ode"), 200)
for L, color in zip((5, 10, 20), plotting.colors()):
    sv = theory.sigma_w2_ode(t_res, S.sigma_w2, S.eps, beta, L, 1000, c=S.c)
    sr = theory.sigma_w2_ode(t_res, S.residual_sigma_w2, S.eps, beta, L, 1000, residual=True, c=S.c)
    plotting.theory_line(ax, t_res, (ALPHA * sv) ** L, label=f"vanilla L={L}", color=color)
    plotting.theory_line(ax, t_res, (1 + ALPHA * sr) ** L, label=f"residual L={L}", color=color, ls="-", lw=1.0)
ax.axhline(S.m, color=plotting.THEORY, lw=0.8, ls=":", label="$m$")
ax.set_yscale("log")
ax.set(xlabel="training time $t$", ylabel="$\\omega(t)^L$", title="Thm 5.6 vs 5.7 along the ODE, N = 1000",
       ylim=(S.m / 30, 10))
ax.legend(fontsize="x-small", ncol=2)

# %% [markdown]
# ## A collapsing run, followed in time
#
# One vanilla network ($N$ = {glue:text}`ch4_run_N`, $L$ = {glue:text}`ch4_run_L`, $\sigma_w^2(0)=2$)
# trained with the chapter's objective on MNIST, with the training engine of chapter 3
# (`mfat.model.training.train`). Recorded: $\sigma_w^2(t)$, the measured Jacobian gain
# $\lVert J(x)\rVert_F^2/K$ on {glue:text}`ch4_run_gain_examples` fixed training inputs, the parameter gradient
# norm, $L_{adv}$ and the training accuracy. The predictions are the linear law and the ODE for $\sigma_w^2$,
# and the gain $\omega(t)^L$ that the mean-field theory infers *from the measured* $\sigma_w^2(t)$.

# %%
X, y = load(S.dataset, "train", n=S.n_train, device=ctx.device)
K = int(y.max()) + 1
base_config = TrainConfig(objective="adversarial", lr=S.lr, steps=S.steps, batch_size=S.batch_size, eps=S.eps,
                          p=math.inf, q=math.inf, attack_steps=S.attack_steps, lam=S.lam,
                          record_every=S.run_record_every, eval_size=S.eval_size)
X_gain = X[:S.run_gain_examples]


def collapsing_run():
    net = ReLULikeNet(784, S.run_N, 10, S.run_L, S.sigma_w2, 0.0, generator=ctx.generator(100), device=ctx.device)
    table = train(net, X, y, base_config, generator=ctx.generator(101),
                  metrics={"gain": lambda n, xb, yb: jacobian_gain(n, X_gain)})
    return {k: table[k].to_numpy() for k in ("t", "sigma_w2", "gain", "grad_norm", "L_adv", "clean_acc")}


run = ctx.cached("run", collapsing_run)
t_run = run["t"]
T_run_lin = theory.exit_time(S.run_N, S.run_L, S.eps, beta, S.sigma_w2, m=S.m, M=S.M, c=S.c)
T_run_ode = theory.exit_time(S.run_N, S.run_L, S.eps, beta, S.sigma_w2, m=S.m, M=S.M, c=S.c, law="ode")
below = np.flatnonzero(run["gain"] < S.m)
T_run_meas = float(t_run[below[0]]) if below.size else math.inf

fig, axes = plotting.figure(3, height=4.6)
ax = axes[0, 0]
plotting.measured(ax, t_run, run["sigma_w2"], label="measured $\\sigma_w^2(t)$", ms=3)
plotting.theory_line(ax, t_run, theory.sigma_w2_linear(t_run, S.sigma_w2, S.eps, beta, S.run_L, S.run_N, c=S.c),
                     label="linear law")
plotting.theory_line(ax, t_run, theory.sigma_w2_ode(t_run, S.sigma_w2, S.eps, beta, S.run_L, S.run_N, c=S.c),
                     label="unfrozen ODE", ls=":", color=plotting.colors()[3])
ax.axhline(theory.exit_threshold_sigma_w2(S.run_L, S.m), color=plotting.THEORY, lw=0.8, ls="-.",
           label="$m^{1/L}/\\alpha$ (exit)")
ax.set(xlabel="training time $t$", ylabel="$\\sigma_w^2$", title="weight variance")
ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22))
ax = axes[0, 1]
plotting.measured(ax, t_run, run["gain"], label="measured $\\|J\\|_F^2/K$", ms=3)
plotting.theory_line(ax, t_run, (ALPHA * run["sigma_w2"]) ** S.run_L, label="$(\\alpha\\sigma_w^2(t))^L$, measured $\\sigma_w^2$",
                     color=plotting.colors()[2], ls="-", lw=1.2)
plotting.theory_line(ax, t_run, (ALPHA * theory.sigma_w2_linear(t_run, S.sigma_w2, S.eps, beta, S.run_L, S.run_N,
                                                                 c=S.c)).clip(1e-12) ** S.run_L, label="linear law")
ax.axhline(S.m, color=plotting.THEORY, lw=0.8, ls=":", label="$m$")
ax.set_yscale("log")
ax.set(xlabel="training time $t$", ylabel="gain $\\omega^L$", title="Jacobian gain", ylim=(1e-9, 1e2))
ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22))
ax = axes[0, 2]
plotting.measured(ax, t_run, run["grad_norm"], label="$\\|\\nabla_W\\mathcal{L}\\|$", ms=3)
plotting.measured(ax, t_run, run["L_adv"], label="$L_{adv}$ (batch mean)", ms=3, marker="s")
ax.set_yscale("log")
ax2 = ax.twinx()
ax2.plot(t_run, run["clean_acc"], color=plotting.colors()[4], lw=1.5, label="train accuracy")
ax2.set_ylim(0, 1)
ax2.set_ylabel("training accuracy")
ax2.grid(False)
ax.set(xlabel="training time $t$", ylabel="norm", title="gradients, $L_{adv}$, accuracy")
h1, l1 = ax.get_legend_handles_labels()
h2, l2 = ax2.get_legend_handles_labels()
ax.legend(h1 + h2, l1 + l2, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.22))
fig.suptitle(f"A collapsing run: vanilla N={S.run_N}, L={S.run_L}, adversarial training on {S.dataset}\n"
             f"($\\epsilon$={S.eps:g}, lr={S.lr:g}); predicted exit T={T_run_lin:.3g} (linear law), "
             f"{T_run_ode:.3g} (ODE)")

mfat.chapter.glue("ch4_run_N", S.run_N)
mfat.chapter.glue("ch4_run_L", S.run_L)
mfat.chapter.glue("ch4_run_gain_examples", S.run_gain_examples)
mfat.chapter.glue("ch4_T_run_lin", T_run_lin)
mfat.chapter.glue("ch4_T_run_ode", T_run_ode)
mfat.chapter.glue("ch4_T_run_meas", T_run_meas)
mfat.chapter.glue("ch4_run_sw_end", float(run["sigma_w2"][-1]))
mfat.chapter.glue("ch4_run_gain_end", float(run["gain"][-1]))
mfat.chapter.glue("ch4_run_acc_end", float(run["clean_acc"][-1]))

# %% [markdown]
# The run leaves the trainable set, but not the way the theory says. Its measured gain falls below
# $m$ at $t\approx$ {glue:text}`ch4_T_run_meas:.3g` (linear law: $T$ = {glue:text}`ch4_T_run_lin:.3g`;
# ODE: {glue:text}`ch4_T_run_ode:.3g`) and ends at {glue:text}`ch4_run_gain_end:.2g`, with training
# accuracy {glue:text}`ch4_run_acc_end:.2f`. Yet $\sigma_w^2$ ends at {glue:text}`ch4_run_sw_end:.3f`, far
# above the exit value: the gain that $\sigma_w^2$ implies through Theorem 4.1 stays near one. The weights
# stopped being iid Gaussian (Assumption 5.2): as chapter 3 found, the adversarial gradient is nearly low
# rank, aligned with the few directions that feed the $K$ outputs, so a change that is cheap in
# $\lVert W\rVert_F^2$ removes most of $J$. The mean-field theory predicts the *time scale* of the collapse
# through the frozen rate, but the variable that collapses is $\lVert J\rVert$, not $\sigma_w^2$.

# %%
ctx.card.holds("collapsing run: measured gain ||J||_F^2/K ends below m (the run leaves the (M, m)-trainable set)",
               run["gain"][-1] < S.m, predicted=f"< {S.m:g}", measured=f"{run['gain'][-1]:.3g}")
ctx.card.holds("collapsing run: sigma_w^2 stays above the exit value m^(1/L)/alpha (mean-field proxy misses it)",
               run["sigma_w2"][-1] > theory.exit_threshold_sigma_w2(S.run_L, S.m),
               predicted=f"linear law: exit at t={T_run_lin:.3g}",
               measured=f"sigma_w^2(end)={run['sigma_w2'][-1]:.3f} > {theory.exit_threshold_sigma_w2(S.run_L, S.m):.3f}")

# %% [markdown]
# ## Fig. 5: training accuracy over depth and width
#
# Every cell is one network trained for the same budget, {glue:text}`ch4_steps` SGD steps at learning rate
# {glue:text}`ch4_lr` (so $t$ = {glue:text}`ch4_t_budget:.3g`), batch {glue:text}`ch4_batch`, on the first
# {glue:text}`ch4_n_train` training images, and the heat map shows its final accuracy on
# {glue:text}`ch4_eval_size` of them. The networks of one width are trained together as one batched
# computation (`mfat.model.grid`); each cell is exactly the run `mfat.model.training.train` would make on its own. Three
# grids: vanilla under adversarial training (Theorem 5.6), vanilla under standard training, residual
# ($\sigma_w^2(0)$ = {glue:text}`ch4_res_sw`) under adversarial training (Theorem 5.7), and a fourth panel,
# the first grid again on Fashion-MNIST (setting `fashion`; discussed below). A cell has
# **collapsed** when its accuracy is below {glue:text}`ch4_collapse_acc` (twice chance). On the vanilla
# adversarial maps, the dashed line is the linear-law boundary $N^*(L)$ and the dotted line the unfrozen-ODE
# boundary, both for $m = 10^{-4}$ (cells above a line are predicted to train; the ODE line can fall below
# the grid).

# %%
t_budget = S.lr * S.steps


def grid_config(objective):
    return TrainConfig(objective=objective, lr=S.lr, steps=S.steps, batch_size=S.batch_size, eps=S.eps,
                       p=math.inf, q=math.inf, attack_steps=S.attack_steps, lam=S.lam, record_every=S.steps,
                       eval_size=S.eval_size)


def run_grid(objective, residual, data=(X, y), offset=0):
    Xd, yd = data
    return depth_width_grid(Xd, yd, S.depths, S.widths, grid_config(objective),
                            sigma_w2=S.residual_sigma_w2 if residual else S.sigma_w2, residual=residual,
                            n_seeds=S.n_seeds, seed=S.seed + offset, device=ctx.device, max_cells=S.max_cells)


grids = ctx.cached("grid-cells", lambda: {"vanilla adversarial": run_grid("adversarial", False, offset=1),
                                     "vanilla standard": run_grid("standard", False, offset=2),
                                     "residual adversarial": run_grid("adversarial", True, offset=3)})
if S.fashion and S.dataset != "fashion-mnist":
    Xf, yf = load("fashion-mnist", "train", n=S.n_train, device=ctx.device)
    grids["Fashion-MNIST: vanilla adversarial"] = ctx.cached("fashion-cells",
                                                             lambda: run_grid("adversarial", False, (Xf, yf), 4))

boundary = {law: np.array([theory.critical_width(int(L), t_budget, S.eps, beta, m=S.m, M=S.M, c=S.c, law=law)
                           for L in S.depths]) for law in theory.LAWS}
L_fine = np.arange(max(1, min(S.depths) - 1), max(S.depths) + 2)
boundary_fine = {law: np.array([theory.critical_width(int(L), t_budget, S.eps, beta, m=S.m, M=S.M, c=S.c, law=law)
                                for L in L_fine]) for law in theory.LAWS}


def edges(values, log=False):
    v = np.log(values) if log else np.asarray(values, dtype=float)
    mid = (v[1:] + v[:-1]) / 2
    e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return np.exp(e) if log else e


def heatmap(ax, res, title, lines=True):
    acc = res["acc"].mean(axis=2)
    mesh = ax.pcolormesh(edges(S.depths), edges(S.widths, log=True), acc, vmin=0.0, vmax=1.0, cmap="viridis",
                         shading="flat")
    for i, N in enumerate(S.widths):
        for j, L in enumerate(S.depths):
            ax.text(L, N, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if acc[i, j] < 0.6 else "black")
    if lines:
        ax.plot(L_fine, boundary_fine["linear"], color="white", ls="--", lw=2.0, label="$N^*(L)$, linear law")
        ax.plot(L_fine, boundary_fine["ode"], color="#ff7f0e", ls=":", lw=2.2,
                label="$N^*(L)$, unfrozen ODE" + (" (below the grid)" if boundary["ode"].max() < min(S.widths)
                                                   else ""))
    grid_axes(ax, title)
    return mesh


def grid_axes(ax, title):
    """The axes of a depth-by-width heat map: cell edges, log width, one tick per grid value."""
    ax.set_yscale("log")
    ax.set_ylim(edges(S.widths, log=True)[[0, -1]])
    ax.set_xlim(edges(S.depths)[[0, -1]])
    ax.set_yticks(S.widths, [str(w) for w in S.widths])
    ax.minorticks_off()
    ax.set_xticks(S.depths)
    ax.grid(False)
    ax.set(xlabel="depth $L$", ylabel="width $N$", title=title)


names = list(grids)
fig, axes = plotting.figure(len(names), height=3.9, width=plotting.WIDTH * max(1.0, len(names) / 3))
for ax, name in zip(axes[0], names):
    mesh = heatmap(ax, grids[name], name, lines="vanilla adversarial" in name)
handles, labels = axes[0, 0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize="small", frameon=True, facecolor="0.6")
fig.colorbar(mesh, ax=list(axes[0]), label="training accuracy", shrink=0.9)
data_note = f"{S.dataset} (last panel: Fashion-MNIST)" if len(names) > 3 else S.dataset
fig.suptitle(f"Fig. 5: training accuracy after t = {t_budget:g} ({S.steps} steps), $p=q=\\infty$, "
             f"$\\epsilon$={S.eps:g}, {data_note}; lines: predicted boundaries for m = {S.m:g}")

for k, v in {"ch4_steps": S.steps, "ch4_lr": S.lr, "ch4_t_budget": t_budget, "ch4_batch": S.batch_size,
             "ch4_n_train": S.n_train, "ch4_eval_size": S.eval_size, "ch4_res_sw": S.residual_sigma_w2,
             "ch4_collapse_acc": S.collapse_acc}.items():
    mfat.chapter.glue(k, v)

# %% [markdown]
# ### Agreement of the predicted and the observed trainable cells
#
# A cell is predicted trainable when $N\ge N^*(L)$, and observed trainable when its accuracy is at least
# {glue:text}`ch4_collapse_acc`. The grid resolves the boundary only to within one cell: a width $N_i$
# stands for the interval between the geometric midpoints to its neighbours, and when $N^*(L)$ falls in
# that interval the cell could go either way. The acceptance threshold therefore is
# $\min(0.8,\ 1 - n_{amb}/n)$, with $n_{amb}$ the number of such ambiguous cells out of $n$: 0.8 is the
# issue's number for the full profile, and on a coarse grid $1 - n_{amb}/n$ (here
# {glue:text}`ch4_threshold:.2f`) is the most a correct boundary can be asked for.

# %%
van = grids["vanilla adversarial"]
acc_van = van["acc"].mean(axis=2)
observed = acc_van >= S.collapse_acc
log_edges = edges(S.widths, log=True)


def threshold_for(b):
    amb = sum(1 for j in range(len(S.depths)) for i in range(len(S.widths))
              if log_edges[i] <= b[j] < log_edges[i + 1])
    return min(0.8, 1.0 - amb / observed.size), amb


agr = {law: agreement(observed, S.widths, boundary[law]) for law in theory.LAWS}
best = max(theory.LAWS, key=lambda law: agr[law]["fraction"])
threshold, n_amb = threshold_for(boundary[best])
table = pd.DataFrame({"law": list(theory.LAWS),
                      "agreement": [agr[law]["fraction"] for law in theory.LAWS],
                      **{f"N*(L={L})": [boundary[law][j] for law in theory.LAWS] for j, L in enumerate(S.depths)}})


def observed_boundary(trains):
    """Per depth, the smallest width from which every wider cell trains (inf if none); trains: (widths, depths)."""
    out = []
    for j in range(len(S.depths)):
        tail = [i for i in range(len(S.widths)) if trains[i:, j].all()]
        out.append(S.widths[tail[0]] if tail else math.inf)
    return out


obs_boundary = observed_boundary(observed)
obs_table = pd.DataFrame({"L": S.depths, "observed: trains from N =": obs_boundary,
                          "N* linear": boundary["linear"].round(1), "N* ODE": boundary["ode"].round(1)})
mfat.chapter.glue("ch4_agree_linear", agr["linear"]["fraction"])
mfat.chapter.glue("ch4_agree_ode", agr["ode"]["fraction"])
mfat.chapter.glue("ch4_best_law", "linear law" if best == "linear" else "unfrozen ODE")
mfat.chapter.glue("ch4_threshold", threshold)
display(table.round(3))
obs_table

# %% [markdown]
# ### Interactive: the boundary $N^*(L)$ for other budgets
#
# The predicted boundary {eq}`eq-critical-width` of {prf:ref}`thm-vanilla-exit` for both laws
# (`mfat.theory.critical_width`), at multiples of this run's budget $t = \eta_{lr}\times$steps; both are
# exactly proportional to $t$. The markers are this grid's observed boundary (the smallest width from
# which every wider cell trains), shown only in the frame of the budget actually trained. Move the slider;
# the static Fig. 5 heat maps above are the fallback for readers without JavaScript.

# %%
from mfat.chapter.interactive import Series, show, slider_figure

obs_arr = np.array(obs_boundary, dtype=float)
obs_ok = np.isfinite(obs_arr)
ch4_frames = {}
for factor in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0):
    # N*(L) is linear in the budget, so the frames rescale the boundaries computed above
    ch4_frames[f"{factor:g}× (t = {factor * t_budget:.3g})"] = [
        Series("N*(L), linear law", L_fine, factor * boundary_fine["linear"], "theory"),
        Series("N*(L), unfrozen ODE", L_fine, factor * boundary_fine["ode"], "theory"),
        Series("observed boundary (this grid)", np.asarray(S.depths, dtype=float)[obs_ok] if factor == 1.0 else [],
               obs_arr[obs_ok] if factor == 1.0 else []),
    ]
show(slider_figure(ch4_frames, xlabel="depth L", ylabel="critical width N*", log_y=True,
                   slider_label="budget: ", title="Theorem 5.6: widths above N*(L) stay trainable"), "ch4-critical-width")

# %%
acc_std = grids["vanilla standard"]["acc"].mean(axis=2)
acc_res = grids["residual adversarial"]["acc"].mean(axis=2)
pred_collapse = ~agr[best]["predicted"]
ctx.card.at_least(f"Fig. 5 vanilla adversarial: agreement of predicted ({best} law) and observed trainable cells",
                  agr[best]["fraction"], threshold,
                  note=f"{n_amb} of {observed.size} cells ambiguous at this grid resolution; "
                       f"linear {agr['linear']['fraction']:.3f}, ODE {agr['ode']['fraction']:.3f}")
ctx.card.holds("Fig. 5 vanilla adversarial: the collapse is visible (some cells at chance, some trained)",
               (~observed).any() and observed.any(),
               measured=f"{int((~observed).sum())} collapsed, {int(observed.sum())} trained of {observed.size}")
ctx.card.at_least("Fig. 5 vanilla standard training: no cell collapses (min accuracy)", acc_std.min(),
                  S.collapse_acc)
# Theorem 5.7 as stated: the residual network stays in the (M, m)-trainable set (its measured gain omega^L)
gain_res = grids["residual adversarial"]["gain"]
ctx.card.at_least("Theorem 5.7: every residual cell ends (M, m)-trainable (smallest final gain ||J||_F^2/K >= m)",
                  float(np.min(gain_res)), S.m)
ctx.card.at_most("Theorem 5.7: every residual cell ends (M, m)-trainable (largest final gain ||J||_F^2/K <= M)",
                 float(np.max(gain_res)), S.M)
# accuracy: asserted above the shortcut-cancellation width N_c = K / (alpha sigma_w^2(0)) (see the text)
N_C = K / (ALPHA * S.residual_sigma_w2)
wide = np.asarray(S.widths) >= N_C
ctx.card.holds(f"the grid reaches the shortcut-cancellation width N_c = {N_C:g}", bool(wide.any()),
               measured=f"widest N = {max(S.widths)}")
ctx.card.at_least(f"Fig. 5 residual adversarial training: no cell collapses at N >= N_c = {N_C:g} (min accuracy)",
                  float(acc_res[wide].min()) if wide.any() else math.nan, S.collapse_acc)
res_collapsed_narrow = int((acc_res[~wide] < S.collapse_acc).sum())
van_collapsed_narrow = int((acc_van[~wide] < S.collapse_acc).sum())
mfat.chapter.glue("ch4_min_std", float(acc_std.min()))
mfat.chapter.glue("ch4_min_res", float(acc_res[wide].min()) if wide.any() else math.nan)
mfat.chapter.glue("ch4_min_gain_res", float(np.min(gain_res)))
mfat.chapter.glue("ch4_N_c", float(N_C))
mfat.chapter.glue("ch4_m", S.m)
mfat.chapter.glue("ch4_res_narrow_collapsed", res_collapsed_narrow)
mfat.chapter.glue("ch4_van_narrow_collapsed", van_collapsed_narrow)
mfat.chapter.glue("ch4_narrow_cells", int((~wide).sum()) * len(S.depths))


def narrow_row():
    out = {}
    for objective, offset in (("adversarial", 5), ("standard", 6)):
        r = depth_width_grid(X, y, S.depths, [S.narrow_N], grid_config(objective), sigma_w2=S.residual_sigma_w2,
                             residual=True, n_seeds=S.n_seeds, seed=S.seed + offset, device=ctx.device)
        out[objective] = r["acc"].mean(axis=2)[0]
    return out


narrow = ctx.cached("narrow", narrow_row)
mfat.chapter.glue("ch4_narrow_N", S.narrow_N)
mfat.chapter.glue("ch4_narrow_adv_min", float(narrow["adversarial"].min()))
mfat.chapter.glue("ch4_narrow_std_min", float(narrow["standard"].min()))
mfat.chapter.glue("ch4_narrow_verdict", "in this run the row collapsed under adversarial training"
                  if narrow["adversarial"].min() < S.collapse_acc <= narrow["standard"].min()
                  else "in this run the row did not show a collapse specific to adversarial training")
pd.DataFrame({"L": S.depths, f"residual adversarial, N={S.narrow_N}": narrow["adversarial"],
              f"residual standard, N={S.narrow_N}": narrow["standard"]}).round(3)

# %% [markdown]
# The {glue:text}`ch4_best_law` places the boundary better: it agrees with the observed trainable cells in
# {glue:text}`ch4_agree_linear:.0%` of the vanilla cells (linear law) against
# {glue:text}`ch4_agree_ode:.0%` (ODE). The ODE boundary is far too low: it assumes that the decrease slows
# down as $\omega^{L/2}$ falls, but the networks collapse through the low-rank route seen above, whose speed
# is set by the size of the adversarial gradient at the start, as in the frozen (linear) law. The observed
# boundary rises with depth faster than $N^*(L)\propto 1/(1-m^{1/L})$ (table above): shallow networks train
# below $N^*$, deeper ones need more width than predicted. Three effects the theory leaves out: finite width
# (the low-rank route costs a share of $\lVert W\rVert_F^2$ that shrinks like $K/N$), the finite learning rate
# (the first updates are large: the gradient norm at the start grows with depth), and the objective (the
# cross-entropy term keeps pulling the network back, and at $\epsilon = 0.3$ the adversarial term is
# several times larger). Standard training collapses nowhere (lowest accuracy
# {glue:text}`ch4_min_std:.2f`).
#
# ### The same boundary on Fashion-MNIST, and the objective the theorem leaves out
#
# {prf:ref}`thm-vanilla-exit` does not look at the data: $N^*(L)$ depends on the depth, the budget $t$,
# $\epsilon$ and $\beta$ only. The Fashion-MNIST panel of Fig. 5 is the vanilla adversarial grid again (same
# networks, budget and data order) on the first {glue:text}`ch4_n_train` Fashion-MNIST training images.
# Fashion-MNIST is harder, so a trained cell ends lower, but the collapse threshold (twice chance) stays the
# same.

# %%
FASHION = "Fashion-MNIST: vanilla adversarial"
has_fashion = FASHION in grids
if has_fashion:
    acc_f = grids[FASHION]["acc"].mean(axis=2)
    observed_f = acc_f >= S.collapse_acc
    agr_f = {law: agreement(observed_f, S.widths, boundary[law]) for law in theory.LAWS}
    mfat.chapter.glue("ch4_fashion_agree", agr_f[best]["fraction"])
    mfat.chapter.glue("ch4_fashion_agree_other", agr_f["ode" if best == "linear" else "linear"]["fraction"])
    mfat.chapter.glue("ch4_fashion_collapsed", int((~observed_f).sum()))
    mfat.chapter.glue("ch4_mnist_collapsed", int((~observed).sum()))
    mfat.chapter.glue("ch4_cells", int(observed.size))
    display(pd.DataFrame({"L": S.depths, f"{S.dataset}: trains from N =": obs_boundary,
                          "Fashion-MNIST: trains from N =": observed_boundary(observed_f),
                          "N* linear": boundary["linear"].round(1), "N* ODE": boundary["ode"].round(1)}))
    display(pd.DataFrame({"law": list(theory.LAWS),
                          f"agreement, {S.dataset}": [agr[law]["fraction"] for law in theory.LAWS],
                          "agreement, Fashion-MNIST": [agr_f[law]["fraction"] for law in theory.LAWS]}).round(3))
else:
    print("The Fashion-MNIST grid is off in this run (setting `fashion`, or `dataset` is already Fashion-MNIST).")
    for k in ("ch4_fashion_agree", "ch4_fashion_agree_other", "ch4_fashion_collapsed", "ch4_mnist_collapsed",
              "ch4_cells"):
        mfat.chapter.glue(k, math.nan)

# %% [markdown]
# Taken at its word, the theorem predicts the same boundary on both data sets. On Fashion-MNIST the
# {glue:text}`ch4_best_law` (chosen on MNIST) agrees with {glue:text}`ch4_fashion_agree:.0%` of the cells
# (the other law: {glue:text}`ch4_fashion_agree_other:.0%`), against {glue:text}`ch4_agree_linear:.0%` for
# the linear law on MNIST: {glue:text}`ch4_fashion_collapsed` of {glue:text}`ch4_cells` Fashion cells
# collapse against {glue:text}`ch4_mnist_collapsed` MNIST cells, so networks the theorem counts as lost keep
# training. (The stored CPU run at a larger scale, `results/reduced/04_trainability`, shows a wider gap; see
# `results/README.md`.) We do not hold the Fashion grid to the MNIST acceptance threshold; we find out why it
# differs and test that.
#
# **The objective.** The theorem follows the gradient flow of $L_{adv}$, whose drive on the weights comes from
# $J(x)$ alone. The networks are trained on CE $+\ \lambda L_{adv}$, and the cross-entropy pulls the other way:
# fitting the labels needs a large $J$. Only the pull depends on the data. A bias-free ReLU network is
# positively homogeneous, $f(cx) = c f(x)$, so the cross-entropy gradient grows with the input norm
# (Fashion-MNIST images carry more ink: {glue:text}`ch4_norm_fashion:.1f` against
# {glue:text}`ch4_norm_mnist:.1f` mean $\lVert x\rVert_2$), while the law of $J(x)$, and with it the drive of
# {prf:ref}`thm-vanilla-exit`, does not depend on $x$. `initial_balance` measures both at initialisation, on
# {glue:text}`ch4_balance_networks` random networks per cell of the grid, the same networks and the same
# {glue:text}`ch4_balance_batch` row indices on both data sets:
#
# * **Claim (the drive does not see the data):** the mean $\lVert J(x)\rVert_{\infty,\infty}$ at
#   initialisation, the $\epsilon\to0$ limit of $L_{adv}/\epsilon$, differs between the data sets by
#   {glue:text}`ch4_jnorm_diff:.1%` ± {glue:text}`ch4_jnorm_se:.1%` (asserted zero within 4 standard errors
#   of the paired difference). At $\epsilon$ = 0.3 itself the perturbation is not small next to the image,
#   and by homogeneity a larger $\lVert x\rVert$ acts like a smaller $\epsilon$; the mean $L_{adv}$ there
#   differs by {glue:text}`ch4_ladv_diff:.1%` ± {glue:text}`ch4_ladv_se:.1%` (shown, not asserted).
# * **Claim (the pull does):** the ratio $\lVert\nabla\,\mathrm{CE}\rVert/\lVert\nabla\lambda L_{adv}\rVert$ is
#   {glue:text}`ch4_pull_ratio:.2f` times larger on Fashion-MNIST (geometric mean over the pairs; asserted
#   above 1 by more than 4 standard errors of the log).
# * **Claims (consequences):** with a stronger pull, Fashion-MNIST collapses in no more cells than MNIST, and
#   the theorem's guarantee side still holds there: every Fashion cell with $N\ge N^*(L)$ trains.
#
# So on Fashion-MNIST the boundary is off by the third effect named above, the training objective: $N^*(L)$
# is where the adversarial term alone would take the network out of the trainable set, and how far the
# cross-entropy delays that depends on the data. A probe run while writing this section (objective
# $L_{adv}$ alone, `grid_config("adv_only")`, widths 64 to 256, depths 2 to 10, 600 steps at lr 0.05, 5000
# images) found no difference: on both data sets every cell ended at chance accuracy, its gain collapsed.
# Rerun it with `depth_width_grid(X, y, S.depths, S.widths, grid_config("adv_only"), sigma_w2=S.sigma_w2)`.

# %%
def balance():
    out = {}
    for name, (Xd, yd) in (("mnist", (X, y)), ("fashion-mnist", (Xf, yf))):
        out[name] = initial_balance(Xd, yd, S.depths, S.widths, grid_config("adversarial"), sigma_w2=S.sigma_w2,
                                    n_networks=S.balance_networks, batch_size=min(S.balance_batch, S.n_train),
                                    seed=S.seed + 7, device=ctx.device)
        out[name]["norm"] = float(Xd.norm(dim=1).mean())
    return out


def paired_relative(a, b):
    """Mean, standard error and count of the paired differences b - a, relative to a's mean per cell.

    a, b: arrays [width, depth, network] measured on the same networks (two data sets)."""
    rel = (b - a) / a.mean(axis=2, keepdims=True)
    return float(rel.mean()), float(rel.std(ddof=1) / math.sqrt(rel.size)), rel.size


if has_fashion and S.dataset == "mnist":
    bal = ctx.cached("init-balance", balance)
    bm, bf = bal["mnist"], bal["fashion-mnist"]
    jn_mean, jn_se, n_pairs = paired_relative(bm["J_norm"], bf["J_norm"])
    ctx.card.close("the drive does not see the data (eps -> 0): mean ||J(x)||_{inf,inf} at init, Fashion-MNIST "
                   "vs MNIST (relative, paired networks)", 0.0, jn_mean, atol=stats.Z_DEFAULT * jn_se,
                   note=f"{n_pairs} paired networks")
    ladv_mean, ladv_se, _ = paired_relative(bm["L_adv"], bf["L_adv"])
    log_pull = np.log((bf["grad_ce"] / bf["grad_adv"]) / (bm["grad_ce"] / bm["grad_adv"]))
    pull_mean, pull_se = float(log_pull.mean()), float(log_pull.std(ddof=1) / math.sqrt(log_pull.size))
    ctx.card.at_least("the pull does: log of the ratio |grad CE|/|grad lam L_adv| at init, Fashion-MNIST over "
                      "MNIST (> 4 s.e.)", pull_mean, stats.Z_DEFAULT * pull_se,
                      note=f"s.e. {pull_se:.3g}; ratio {math.exp(pull_mean):.2f}")
    ctx.card.at_most("with the stronger pull, Fashion-MNIST collapses in no more cells than MNIST",
                     int((~observed_f).sum()), int((~observed).sum()))
    guaranteed = agr[best]["predicted"]
    ctx.card.holds(f"guarantee side on Fashion-MNIST: every cell with N >= N*(L) ({best} law) trains",
                   bool(observed_f[guaranteed].all()),
                   measured=f"{int(observed_f[guaranteed].sum())} of {int(guaranteed.sum())} such cells train")
    ctx.card.holds("Fig. 5 on Fashion-MNIST, vanilla adversarial: the collapse is visible (some cells at chance, "
                   "some trained)", (~observed_f).any() and observed_f.any(),
                   measured=f"{int((~observed_f).sum())} collapsed, {int(observed_f.sum())} trained of "
                            f"{observed_f.size}")
    for k, v in {"ch4_jnorm_diff": jn_mean, "ch4_jnorm_se": jn_se, "ch4_ladv_diff": ladv_mean,
                 "ch4_ladv_se": ladv_se, "ch4_pull_ratio": math.exp(pull_mean),
                 "ch4_norm_mnist": bm["norm"], "ch4_norm_fashion": bf["norm"]}.items():
        mfat.chapter.glue(k, v)
    pull_m, pull_f = ((b["grad_ce"] / b["grad_adv"]).mean(axis=2) for b in (bm, bf))  # [width, depth]
    ratio_table = pd.DataFrame({"L": S.depths, **{
        f"|∇CE|/|∇λL_adv|, N={N}, MNIST / Fashion": [f"{a:.3f} / {b:.3f}" for a, b in zip(pull_m[i], pull_f[i])]
        for i, N in enumerate(S.widths)}})
else:
    ratio_table = pd.DataFrame()
    for k in ("ch4_jnorm_diff", "ch4_jnorm_se", "ch4_ladv_diff", "ch4_ladv_se", "ch4_pull_ratio", "ch4_norm_mnist",
              "ch4_norm_fashion"):
        mfat.chapter.glue(k, math.nan)
mfat.chapter.glue("ch4_balance_networks", S.balance_networks)
mfat.chapter.glue("ch4_balance_batch", min(S.balance_batch, S.n_train))
ratio_table

# %% [markdown]
# ### Residual networks: the theorem's own quantity, and the accuracy
#
# {prf:ref}`thm-residual-stays` is a statement about the gain: $\omega_r^L\ge1\ge m$, so a residual network
# cannot leave the $(M,m)$-trainable set through $\sigma_w^2$. We measure the gain itself at the end of every
# cell, $\lVert J(x)\rVert_F^2/K$ averaged over 64 training images (the quantity of Definition 5.5), next to the
# vanilla cells:

# %%
fig, axes = plotting.figure(2, height=3.6)
log_m, log_M = math.log10(S.m), math.log10(S.M)
for ax, name in zip(axes[0], ("vanilla adversarial", "residual adversarial")):
    lg = np.log10(np.clip(grids[name]["gain"].mean(axis=2), 1e-12, None))
    mesh = ax.pcolormesh(edges(S.depths), edges(S.widths, log=True), lg, vmin=min(log_m - 2, np.nanmin(lg)),
                         vmax=max(1.0, np.nanmax(lg)), cmap="magma", shading="flat")
    for i, N in enumerate(S.widths):
        for j, L in enumerate(S.depths):
            ax.text(L, N, f"{lg[i, j]:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if lg[i, j] < log_m + 2 else "black")
    if name.startswith("residual"):
        ax.axhline(N_C, color="white", ls="--", lw=1.5, label=f"$N_c = K/(\\alpha\\sigma_w^2(0))$ = {N_C:g}")
        ax.legend(loc="lower right", fontsize="x-small")
    grid_axes(ax, f"{name}:\nfinal $\\log_{{10}}$ gain")
fig.colorbar(mesh, ax=list(axes[0]), label=f"$\\log_{{10}}\\,\\|J\\|_F^2/K$ (m: {log_m:g})", shrink=0.9)
fig.suptitle(f"the measured gain $\\omega^L$ after t = {t_budget:g}: trainable means between m = {S.m:g} and "
             f"M = {S.M:g}");

# %% [markdown]
# **Claim (Theorem 5.7 as stated):** every residual cell ends with its gain between $m$ and $M$ (smallest
# {glue:text}`ch4_min_gain_res:.2g` against $m$ = {glue:text}`ch4_m`). This holds, but by a margin the
# theorem does not explain: the residual gain falls far below its initial $\omega_r^L\ge1$ while
# $\sigma_w^2$ barely moves, through the same low-rank route as the vanilla collapse.
#
# **Accuracy, and a width the theorem does not see.** A residual block adds $W^{(l)}\phi(h)$ to the
# shortcut. To cancel the shortcut on the $K$ output directions, adversarial training needs a change of
# $W^{(l)}$ of squared size about $K/\alpha$ per layer (unit gain on $K$ directions, through the fraction
# $\alpha$ of active units), against $\lVert W^{(l)}\rVert_F^2 = \sigma_w^2 N$ at the start: a relative
# change $K/(\alpha\sigma_w^2 N)$. The book's rule of thumb (a heuristic derived here, not the paper's) is
# that residual networks keep their accuracy when this is below one, at $N\ge N_c = K/(\alpha\sigma_w^2(0))$
# = {glue:text}`ch4_N_c:.0f`. It was formulated after a larger CPU run (widths 64 to 512, depths to 12)
# showed residual networks of width 64 collapsing at depth 8 to 12 while the gain stayed above $m$.
# **Claim:** no residual cell with $N\ge N_c$ collapses (lowest accuracy {glue:text}`ch4_min_res:.2f`).
# Below $N_c$ the outcome is shown, not asserted: {glue:text}`ch4_res_narrow_collapsed` of the
# {glue:text}`ch4_narrow_cells` residual cells collapsed there, against {glue:text}`ch4_van_narrow_collapsed`
# vanilla cells at the same widths and depths.
#
# **The narrow row.** One narrower row, $N$ = {glue:text}`ch4_narrow_N` (about three times the $K = 10$
# outputs, far below $N_c$), is shown in the table above: there the lowest residual accuracy under
# adversarial training is {glue:text}`ch4_narrow_adv_min:.2f` against {glue:text}`ch4_narrow_std_min:.2f`
# under standard training, with the collapse threshold at {glue:text}`ch4_collapse_acc`:
# {glue:text}`ch4_narrow_verdict`. Theorem 5.7 is a mean-field statement about the gain; the accuracy of a
# narrow residual network is open to the same low-rank route that kills a vanilla network's $J$.

# %% [markdown]
# ## The batched grid engine
#
# How much the batching buys: the cells of one width trained for {glue:text}`ch4_bench_steps` steps as
# one batched computation, against a Python loop of `mfat.model.training.train` runs of the same cells (same
# networks, data order and seeds). `scripts/bench_grid.py` makes the full comparison and writes
# `_output/benchmarks/grid.csv`.

# %%
def speed_comparison():
    N = S.widths[min(1, len(S.widths) - 1)]
    cfg = TrainConfig(objective="adversarial", lr=S.lr, steps=S.bench_steps, batch_size=S.batch_size, eps=S.eps,
                      attack_steps=S.attack_steps, lam=S.lam, record_every=S.bench_steps, eval_size=S.eval_size)

    def nets():
        return [ReLULikeNet(784, N, 10, L, S.sigma_w2, generator=make_generator(500 + L, device=ctx.device),
                            device=ctx.device) for L in S.depths]

    gens = lambda: [make_generator(600 + L, device=ctx.device) for L in S.depths]  # noqa: E731
    start = time.perf_counter()
    train_grid(NetStack(nets()), X, y, cfg, generators=gens(), progress=False)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for net, g in zip(nets(), gens()):
        train(net, X, y, cfg, generator=g, progress=False)
    sequential = time.perf_counter() - start
    return {"N": N, "batched_s": batched, "sequential_s": sequential}


speed = speed_comparison()
speed_ratio = speed["sequential_s"] / speed["batched_s"]
mfat.chapter.glue("ch4_bench_steps", S.bench_steps)
mfat.chapter.glue("ch4_speed_ratio", speed_ratio)
mfat.chapter.glue("ch4_speed_N", speed["N"])
pd.DataFrame([{**speed, "ratio": speed_ratio}]).round(3)

# %% [markdown]
# ## Closing note
#
# * Lemma 5.5 holds for random networks: their measured gains follow $\omega^L$ and fall in the predicted
#   bands.
# * Theorem 5.6's prediction of *where* vanilla networks stop training (the linear-law boundary $N^*(L)$)
#   agrees with {glue:text}`ch4_agree_linear:.0%` of the cells of the MNIST grid (threshold
#   {glue:text}`ch4_threshold:.2f`); the unfrozen-ODE boundary with {glue:text}`ch4_agree_ode:.0%`. The
#   mechanism differs from the theory's: $\lVert J\rVert$ collapses while $\sigma_w^2$ barely moves.
# * On Fashion-MNIST the same boundary agrees with only {glue:text}`ch4_fashion_agree:.0%` of the cells:
#   the cross-entropy pulls {glue:text}`ch4_pull_ratio:.1f`$\times$ harder against the adversarial drive there
#   (measured at initialisation), and delays the collapse the theorem predicts from the drive alone.
# * Standard training does not collapse in this grid. Residual networks under adversarial training stay
#   $(M,m)$-trainable in every cell (Theorem 5.7; smallest gain {glue:text}`ch4_min_gain_res:.2g`) and keep
#   their accuracy from the width $N_c$ = {glue:text}`ch4_N_c:.0f` on; below it they can collapse
#   ({glue:text}`ch4_res_narrow_collapsed` of {glue:text}`ch4_narrow_cells` cells here; at
#   $N$ = {glue:text}`ch4_narrow_N` the lowest accuracy is {glue:text}`ch4_narrow_adv_min:.2f`).
# * The batched grid engine trains the cells of one width (N = {glue:text}`ch4_speed_N`)
#   {glue:text}`ch4_speed_ratio:.1f`$\times$ faster than a loop of single runs.
#
# ## Try it yourself
#
# Change the budget, the grid or the data set, for example:
#
# ```
# python -m mfat run --only 04 --set steps=300 --set "widths=64,128,256,512"
# python -m mfat run --only 04 --set dataset=fashion-mnist
# ```
#
# Doubling the steps doubles $N^*(L)$; the full profile (`--profile full`, meant for a GPU) is the paper's
# scale, $L\in\{2,\dots,20\}$ and $N\in\{64,\dots,4096\}$, with the Fashion-MNIST grid.
#
# ## Exercises
#
# :::{admonition} Exercise 4.1
# Using the linear law {eq}`eq-critical-width`, (a) show that $N^*(L)\approx c\,t\,\alpha\epsilon\beta\,L/\ln(1/m)$
# for large $L$, and (b) find the exact factor by which $N^*(L)$ changes when the threshold is loosened from
# $m=10^{-4}$ to $m=10^{-2}$. Evaluate it at $L=2$ and $L=10$, and say what it tends to as $L\to\infty$.
# :::
#
# :::{admonition} Solution
# :class: dropdown
# (a) $1-m^{1/L} = 1-e^{-\ln(1/m)/L} = \ln(1/m)/L + O(L^{-2})$, so the denominator of {eq}`eq-critical-width`
# is $\approx\ln(1/m)/L$ and $N^*$ grows linearly in $L$ (doubling the depth roughly doubles the width needed).
# (b) Put $x = 10^{-2/L}$, so $(10^{-4})^{1/L} = x^2$ and $(10^{-2})^{1/L} = x$. The ratio is
# $N^*_{m=10^{-2}}/N^*_{m=10^{-4}} = (1-x^2)/(1-x) = 1+x = 1+10^{-2/L}$: $1.1$ at $L=2$, $1+10^{-0.2}\approx1.63$
# at $L=10$, and $\to 2 = \ln(10^4)/\ln(10^2)$ as $L\to\infty$, as (a) predicts. A looser $m$ means a
# network counts as untrainable sooner, so wider networks are needed. Check:
# `theory.critical_width(10, 1.0, 0.3, beta, m=1e-2) / theory.critical_width(10, 1.0, 0.3, beta)` gives 1.631.
# :::
#
# :::{admonition} Exercise 4.2
# Derive the unfrozen-ODE exit time of {prf:ref}`thm-vanilla-exit`: solve
# $\dot w = -k\,w^{L/2}$, $k = c\alpha\epsilon\beta/N$, $w(0)=1$, up to $w(T) = m^{1/L}$. Treat $L>2$ and $L=2$,
# and compute $T_{ODE}/T_{lin}$ for $m=10^{-4}$ at $L=2$ and $L=10$. Why does the same calculation give
# no exit for a residual network ({prf:ref}`thm-residual-stays`)?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# Separate the variables: $kT = \int_{m^{1/L}}^{1} w^{-L/2}\,dw$. For $L>2$ this is
# $\big[w^{1-L/2}/(1-L/2)\big]_{m^{1/L}}^{1} = (m^{1/L-1/2}-1)/(L/2-1)$; for $L=2$ it is
# $\ln(m^{-1/2}) = \tfrac12\ln(1/m)$. The linear law gives $kT_{lin} = 1-m^{1/L}$. At $L=2$:
# $T_{ODE}/T_{lin} = 4.605/0.99 \approx 4.65$. At $L=10$: $m^{1/L-1/2} = 10^{1.6}\approx 39.8$, so
# $kT_{ODE} = 38.8/4 = 9.70$, while $kT_{lin} = 1-10^{-0.4} = 0.602$: a ratio $\approx 16.1$, the "order of
# magnitude later" of the text (`theory.exit_time(1000, 10, 0.3, beta, law="ode") / theory.exit_time(1000, 10, 0.3, beta)`
# returns 16.12). A residual network has $\omega_r = 1+\alpha\sigma_w^2\ge1$, so $\omega_r^L\ge 1\ge m$ no
# matter how far $\sigma_w^2$ falls: there is no lower exit to reach, and because $\sigma_w^2$ only decreases
# the upper condition $\omega_r^L\le M$ that held at $t=0$ keeps holding, so $T=\infty$.
# :::

# %%
ctx.finish()
