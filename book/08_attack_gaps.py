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
# # 8. Why some $(p, q)$ attacks are harder

# %% [markdown] tags=["verdict"]
# :::{admonition} Verdict
# :class: verdict
# **Statement.** The paper observes that adversarial examples are markedly harder to generate for some norm
# pairs $(p, q)$ than for others and leaves the reason open (sources appendix, the method summary).
#
# **Status: answered by measurement.** At a small budget an attack has to compute $\lVert J(x)\rVert_{p\to q}$, the maximum of a convex function
# over the $\ell_p$ ball, and it is hard exactly where many extreme points compete for that maximum (the $d$
# signed basis vectors for $p=1$, the $K$ rows for $q=\infty$, the sign patterns for $q=1$): there one start
# of 10-step PGD stops **{glue:text}`ch8_many_shortfall:.0%`** short on average, while $(2,2)$, and even the
# NP-hard $(\infty,2)$, have one dominant basin that full-step PGD reaches
# (**{glue:text}`ch8_power_22:.1%`** and **{glue:text}`ch8_power_inf2:.1%`** of the norm after 10 steps).
# At the training budget $\epsilon$ = {glue:text}`ch8_eps_large` of chapters 3 to 5 the $\ell_\infty$ ball is
# as long as the input itself and the network bends inside it, which makes the $\ell_\infty$ pairs the hardest
# by far: for $(\infty,\infty)$ the jump to the linearised maximiser realises
# **{glue:text}`ch8_jump_large:.0%`** of $\epsilon\lVert J(x)\rVert$, one start of 10-step PGD
# **{glue:text}`ch8_attack_large:.0%`** and the best of all attacks **{glue:text}`ch8_best_large:.0%`**.
#
# **Scale.** This build: the {glue:text}`profile` tier (a network of width {glue:text}`ch8_N` and depth
# {glue:text}`ch8_L` at MNIST images, exact-law draws of $J$); the paper's networks are of width 1000 and
# depth 10, attacked with PGD at $\epsilon = 0.3$.
# :::

# %% [markdown]
# The adversarial loss of chapter 2 is a maximum,
#
# $$
# L_{adv}(x) = \max_{\lVert\eta\rVert_p\le\epsilon}\ \lVert f(x+\eta) - f(x)\rVert_q ,
# $$ (eq-ladv-8)
#
# and every number the book reports for it is what an attack found: projected gradient ascent (PGD), a lower
# bound. {cite:t}`kumano2023meanfield` report, in an appendix on optimising the adversarial examples, that
# finding them is markedly harder for some pairs $(p, q)$ than for others, and leave the reason open (the
# appendix itself could not be read: see {ref}`sources <sources-attack-difficulty>`). This chapter answers the
# question with what the book already owns: the exact operator norms of chapter 2 and the exact law of $J(x)$
# of chapter 1. It separates the two reasons an attack can fall short: it stops at a local maximum (*attack
# weakness*: more search finds more), or the network is not linear across the ball (*non-linearity*: then even
# the true maximum differs from the linear value $\epsilon\lVert J(x)\rVert_{p,q}$).
#
# **How this page is built.** The attacks are all the one PGD loop of `mfat.model.attacks`, configured by
# `mfat.experiments.attack_gaps` (imported as `ag`); the closed forms are in `mfat.theory.attack_gaps`; the
# figures in `mfat.chapter.figures.attack_gaps`. A tolerance is four standard errors unless said otherwise.

# %% tags=["parameters"]
# Defaults; `python -m mfat run` injects its own (see the banner at the end).
profile = "quick"
seed = 0
device = "auto"
replay = False
overrides = {}

# %% [markdown]
# The set-up: the settings of this run and the modules the page calls.

# %%
import math

import mfat
import mfat.chapter
from mfat import stats, theory
from mfat.chapter.figures import attack_gaps as figures
from mfat.chapter import plotting
from mfat.chapter.interactive import show
from mfat.data import load
from mfat.experiments import attack_gaps as ag

ctx = mfat.chapter.start("08_attack_gaps", profile, overrides, seed=seed,
                         device=device, replay=replay,
                         theorem="Theorem 5.1, step 1 (the attack)")
S = ctx.settings
Z = stats.Z_DEFAULT
TYPICAL = "10 steps, madry"  # 10-step PGD, the training attack of chapters 3 to 5
ROUNDING = ag.rounding_allowance(784)
for name in ("N", "L", "K", "restarts", "law_samples", "n_inputs",
             "geometry_starts"):
    mfat.chapter.glue(f"ch8_{name}", getattr(S, name))
mfat.chapter.settings.describe("08_attack_gaps")

# %% [markdown]
# ## 1. At a small budget the attack computes a norm
#
# Inside the activation region of $x$ the network is affine, $f(x+\eta) - f(x) = J(x)\eta$ (chapter 2, step 1),
# so for a budget below the region's radius
#
# $$
# L_{adv}(x) = \epsilon\max_{\lVert u\rVert_p\le1}\lVert J(x)u\rVert_q = \epsilon\lVert J(x)\rVert_{p\to q}.
# $$
#
# The best attack achieves $\epsilon\lVert J(x)\rVert_{p\to q}$ and nothing achieves more; how hard the
# attack is at a small budget is how hard the norm is to compute. The objective $u\mapsto\lVert Ju\rVert_q$ is
# convex, and a convex function attains its maximum over a compact convex set at an extreme point: one of the
# $2d$ signed basis vectors $\pm e_j$ of the $\ell_1$ ball, one of the $2^d$ vertices $\{\pm1\}^d$ of the
# $\ell_\infty$ ball, a point of the $\ell_2$ sphere. Six pairs have closed forms:
#
# - $(1, q)$: the largest column norm $\max_j\lVert J_{:,j}\rVert_q$ (the maximum sits on a vertex $\pm e_j$);
# - $(p, \infty)$: the largest row norm $\max_i\lVert J_{i,:}\rVert_{p^*}$, $\tfrac1p+\tfrac1{p^*}=1$ (Hölder):
#   for $(\infty,\infty)$ the largest row $\ell_1$ norm, attained at $u=\mathrm{sign}(J_{i,:})$, for
#   $(2,\infty)$ the largest row $\ell_2$ norm, attained at $J_{i,:}/\lVert J_{i,:}\rVert_2$;
# - $(2,2)$: the largest singular value, attained at the top right singular vector.
#
# The other three are NP-hard. $\lVert J\rVert_{\infty\to1} = \max_{s\in\{\pm1\}^K,\,u\in\{\pm1\}^d}s^\top Ju$ is
# a cut-norm problem, NP-hard even to approximate to a fixed relative precision {cite:p}`rohn2000norm`
# {cite:p}`hendrickx2010pnorms`. $\lVert J\rVert_{\infty\to2}^2 = \max_{u\in\{\pm1\}^d}u^\top J^\top Ju$ is
# the maximum of a positive semi-definite quadratic form over the cube; with $J^\top J$ the Laplacian of a
# graph it is four times the graph's maximum cut, so it is NP-hard as well {cite:p}`hendrickx2010pnorms`. By
# duality $\lVert J\rVert_{2\to1} = \lVert J^\top\rVert_{\infty\to2}$. {cite:t}`steinberg2005thesis` and
# {cite:t}`lewis2010topnine` tabulate all nine. The book's `mfat.model.norms` computes the three exactly by
# enumeration when the free signs are few (here $(2,1)$ and $(\infty,1)$, with $K$ = {glue:text}`ch8_K`
# signs), and otherwise brackets them between a certified lower bound (a local search) and a certified upper
# bound: this happens for $(\infty,2)$, whose $d = 784$ signs cannot be enumerated. Every ratio below divides
# by the exact norm, and for $(\infty,2)$ by the lower end of its bracket, lifted to the best value any
# attack found on the linear map (itself a lower bound on the norm): so the $(\infty,2)$ ratios are, if
# anything, too generous.
#
# **The prediction: how many maxima compete.** Where $\lVert Ju\rVert_q$ is locally linear around a point $u$,
# the point is a local maximum only if it maximises that linear function, $\langle J^\top w, u\rangle$ with
# $w = \nabla\lVert y\rVert_q$ at $y = Ju$, over the ball: $u$ is fixed by its dual vector $w$. So the local
# maxima (counted up to sign, since $\lVert J(-u)\rVert_q = \lVert Ju\rVert_q$) are at most as many as the dual
# vectors, $K$ rows for $q=\infty$ and $2^{K-1}$ sign vectors for $q=1$, and at most as many as the extreme
# points, $d$ for $p=1$ and $2^{d-1}$ for $p=\infty$. $(2,2)$ has a single one, the top singular vector (the
# other singular vectors are saddles); $(\infty,2)$ has no bound better than its $2^{d-1}$ vertices.

# %%
prediction = ag.geometry_bounds(784, S.K)
prediction.style.format({"local maxima at most": ag.format_count})

# %% [markdown]
# A small number of maxima is not what makes an attack easy, and a large one is not what makes it hard: what
# matters is how many competing maxima a random start can fall into, and how far below the best they lie.
# That is what the rest of the chapter measures.
#
# ## 2. The attacks
#
# Every attack is one configuration of the one PGD loop: a start, a step-size rule and a number of steps. The
# start is a uniform random point of the ball, one per restart (the restarts run side by side, and an attack
# with $R$ restarts keeps the best); or $\eta=0$; or the maximiser of the linearised problem,
# $\epsilon u^\star$ with $\lVert J(x)u^\star\rVert_q = \lVert J(x)\rVert_{p\to q}$, from `mfat.model.norms`.
# The rules:
#
# - **madry**: steps of $2.5\epsilon/\text{steps}$ {cite:p}`madry2018towards`, the rule of chapters 3 to 5;
# - **full**: steps far longer than the ball, so that each lands on
#   $\epsilon\,\mathrm{argmax}_{\lVert u\rVert_p\le1}\langle\nabla, u\rangle$, the maximiser of the linearised
#   objective: on a linear map this is the power method for operator norms {cite:p}`boyd1974power`
#   {cite:p}`higham1992pnorm`, which never decreases the objective and stops at a fixed point, a local maximum
#   that need not be the norm;
# - **FGSM**: one step of length $\epsilon$ from $\eta=0$ {cite:p}`goodfellow2015explaining` (FGM for $p=2$);
#   the gradient of a norm at $\eta = 0$ does not exist, so it is taken at a tiny random point, as the engine
#   does for every attack that starts at zero.
#
# The **gap ratio** of an attack is the value it found divided by $\epsilon\lVert J(x)\rVert_{p,q}$.
#
# ## 3. The small-budget limit: attack weakness alone
#
# On a linear map $\eta\mapsto J\eta$ there is no non-linearity: the maximum is exactly
# $\epsilon\lVert J\rVert_{p,q}$, and every gap is the attack's. Two kinds of $J$ at the network setting of
# chapters 3 and 5 ($d$ = 784, $K$ = {glue:text}`ch8_K`, width $N$ = {glue:text}`ch8_N`, depth
# $L$ = {glue:text}`ch8_L`, vanilla ReLU at $\sigma_w^2 = 2$): {glue:text}`ch8_law_samples` exact draws of
# $J$ from its finite-width law (`mfat.laws.jacobian`, chapter 2), and the Jacobians $J(x)$ of one such
# network at {glue:text}`ch8_n_inputs` MNIST test images (pixels in $[0,1]$). Every attack, every pair, with
# {glue:text}`ch8_restarts` restarts for the random starts:

# %%
law = ctx.cached(
    "law", lambda: ag.law_measurement(S, generator=ctx.generator(1), device=
                                      ctx.device))
mnist = ctx.cached(
    "mnist", lambda: ag.mnist_measurement(S, generator=ctx.generator(2),
                                          device=ctx.device))

# %% [markdown]
# The mean gap ratio of each attack on each pair, with one restart and with all restarts (rows marked
# $\times R$); the last row is the best any attack found:

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.gap_heatmaps(
        {
            "exact law of J": ag.gap_matrix(law),
            "J(x) at MNIST images": ag.gap_matrix(mnist["linear"])
        }, title="The small-budget limit: found / (ε‖J‖)"), "ch8_small_eps")

# %% [markdown]
# ```{glue:figure} ch8_small_eps
# ---
# name: fig-ch8-small-eps
# alt: >-
#   Two heat maps, attack variant (rows) by norm pair (columns), of the mean ratio of the loss an attack
#   finds to eps times the norm of J: left on exact-law draws of J, right on J(x) at MNIST images.
# ---
# **Attack gaps in the small-budget limit.** The mean of found / $(\epsilon\lVert J\rVert_{p,q})$ per attack
# variant (rows; $\times R$: best of all restarts) and norm pair (columns), on exact-law draws of $J$ (left)
# and on the Jacobians $J(x)$ of the network at MNIST images (right). 1 is the norm itself.
# ```

# %% [markdown]
# The jump to the linearised maximiser is exact by construction, so the best of all is 1 everywhere. The
# random-start attacks are not. **Claims (the theory):** no attack ever exceeds $\epsilon$ times the upper
# bound on the norm (up to the rounding of a sum of $d$ products, $10\,d\,u$ with $u = 2^{-52}$), and the jump
# reaches the norm to the same rounding wherever the norm is exact.

# %%
for name, res in (("exact law", law), ("MNIST J(x)", mnist["linear"])):
    margin = ag.small_eps_margins(res)
    ctx.card.at_most(
        f"{name}: no attack exceeds eps x upper bound on ||J||_(p,q) "
        "(largest relative excess)", margin["excess"], ROUNDING)
    ctx.card.at_most(
        f"{name}: the linearised maximiser attains eps ||J||_(p,q) "
        "(exact pairs, largest |ratio - 1|)", margin["jump_error"],
        ROUNDING)

# %% [markdown]
# **Claims (what a random start misses).** One might expect a norm, the maximum of a convex function, to be
# easy to climb. It is not: on the seven pairs whose maximum competes with many others, one start of even
# the full-step (power) iteration stops short of the norm, by more than four standard errors of its mean
# shortfall. And NP-hardness is not what ranks the pairs: the NP-hard $(\infty,2)$ comes closer to its norm
# than the closed-form $(\infty,\infty)$, with the same attack on the same matrices.

# %%
full = TYPICAL.replace("madry", "full")
gaps = ag.shortfall(law, full)
for pq in ag.MANY_MAXIMA:
    row = gaps.loc[ag.pair_label(*pq)]
    ctx.card.at_least(
        f"exact law {ag.pair_label(*pq)}: one start of {full} falls "
        "short of eps ||J|| (mean shortfall >= 4 s.e.)", row["shortfall"],
        Z * row["s.e."], kind="deviation")
one = ag.best_of(law, 1)[0][:, list(law["variants"]).index(full)]
diff, se = ag.paired_difference(
    one[ag.pair_index(law, (math.inf, 2))],
    one[ag.pair_index(law, (math.inf, math.inf))])
ctx.card.at_least(
    f"exact law: {full}, one start, reaches more of the norm for the "
    "NP-hard (inf,2) than for the closed-form (inf,inf) (mean difference)",
    diff, Z * se, kind="deviation")
gaps.style.format("{:.3f}")

# %% [markdown]
# ## 4. The geometry: how many maxima a start can fall into
#
# From {glue:text}`ch8_geometry_starts` random starts per matrix the full-step iteration runs to a fixed
# point; the table counts the distinct end points (up to sign) and the share of starts that end at the
# maximum, on the exact law and on the MNIST Jacobians.

# %%
geometry = {
    name: ag.geometry_table(res, 784, S.K)
    for name, res in (("exact law", law), ("MNIST J(x)", mnist["linear"]))
}
geometry["exact law"].style.format(precision=3).format(
    {"local maxima at most": ag.format_count})

# %% tags=["hide-input"]
plotting.glue_figure(figures.geometry(geometry["exact law"]),
                     "ch8_geometry")

# %% [markdown]
# ```{glue:figure} ch8_geometry
# ---
# name: fig-ch8-geometry
# alt: >-
#   Per norm pair, bars of the number of distinct end points reached from random starts next to the bound
#   on local maxima, on a log scale, with the share of starts that end at the maximum.
# ---
# **How many maxima a start can fall into.** Per norm pair, the most distinct end points of the full-step
# iteration from random starts on one matrix (exact law of $J$), the bound on the number of local maxima,
# and the share of starts that end at the maximum.
# ```

# %% [markdown]
# $(2,2)$ has one maximum and every start finds it: the power method. For $p = 1$, $q = \infty$ and $q = 1$
# the starts scatter over many fixed points of nearly equal value (for $q = \infty$ over all $K$ rows, as
# many as the bound allows), and only a minority end at the best:
# restarts, not steps, are what helps there. $(\infty,2)$ sits in between: many vertices are fixed points,
# but all of them come close to the best value (the sign of the top singular vector), so whichever a start
# reaches, it ends near the maximum. **Claims (the theory):** the $(2,2)$ iteration ends at one point from every start, at the
# maximum; and no pair shows more distinct end points than its bound.

# %%
for name, table in geometry.items():
    two, most = table.loc["(2,2)"], table["distinct end points (max)"]
    ctx.card.holds(
        f"{name}: (2,2) full-step iteration ends at one point from every start",
        most["(2,2)"] == 1, measured=most["(2,2)"])
    ctx.card.at_least(
        f"{name}: (2,2) share of starts ending at the maximum",
        two["starts ending at the maximum"], 1.0)
    ctx.card.holds(
        f"{name}: distinct end points <= the bound on local maxima, every pair",
        bool((most <= table["local maxima at most"]).all()),
        measured=most.max())
geometry["MNIST J(x)"].style.format(precision=3).format(
    {"local maxima at most": ag.format_count})

# %% [markdown]
# ## 5. Steps and restarts
#
# The gap ratio against the number of steps, for one restart and for the best of all restarts (madry rule),
# in the small-budget limit and on the network at the largest budget (section 6):

# %%
network = mnist["network"]
large = len(network["eps"]) - 1
curves = {
    "exact law, ε → 0": (ag.steps_curves(law, "madry"), ag.PAIRS),
    f"network, ε = {network['eps'][large]:g}": (ag.steps_curves(
        network, "madry", large), ag.PAIRS)
}

# %% tags=["hide-input"]
show(
    figures.steps_slider(curves), "ch8_steps",
    static=figures.steps_and_restarts(curves),
    alt="Two panels of the gap ratio against the number of PGD steps on a "
    "log axis, one line per norm pair, solid for one restart and dashed for "
    "the best of all restarts: left in the small-budget limit, right on the "
    "network at the largest budget.")

# %% [markdown]
# ```{glue:figure} ch8_steps
# ---
# name: fig-ch8-steps
# alt: >-
#   Two panels of the gap ratio against the number of PGD steps on a log axis, one line per norm pair,
#   solid for one restart and dashed for the best of all restarts: left in the small-budget limit, right on
#   the network at the largest budget.
# ---
# **Steps and restarts.** The mean gap ratio against the number of PGD steps (madry rule), one restart
# (solid) and the best of all restarts (dashed), per norm pair: in the small-budget limit (left) and on the
# network at the largest budget (right). On screen the figure is interactive: one pair and setting at a time
# (move the slider), with every number of restarts and the linearised value (dashed); in print both panels.
# ```

# %% [markdown]
# In the limit, more steps help the pairs with one dominant maximum ($(2,2)$, $(\infty,2)$) and hardly the
# others, whose curves flatten at the value of a typical local maximum; restarts lift those. On the network
# at $\epsilon$ = {glue:text}`ch8_eps_large` both keep helping the $\ell_\infty$ pairs.
#
# ## 6. The network: where non-linearity enters
#
# The same network and images, now attacked on the network itself at the budgets
# {glue:text}`ch8_eps_values` (pixel units, as in chapters 3 to 5). The $\ell_\infty$ ball of radius 0.3
# reaches $0.3\sqrt{784}\approx8.4$ in $\ell_2$, about the length of an MNIST image itself; its activation
# regions are far smaller (chapter 2 measures their radius), so the ball crosses many of them.

# %% tags=["hide-input"]
plotting.glue_figure(
    figures.gap_heatmaps(
        {
            f"network, ε = {eps:g}": ag.gap_matrix(network, e)
            for e, eps in enumerate(network["eps"])
        }, title="The network: found / (ε‖J(x)‖)"), "ch8_network")

# %% [markdown]
# ```{glue:figure} ch8_network
# ---
# name: fig-ch8-network
# alt: >-
#   Heat maps, attack variant by norm pair, of found over eps times the norm of J(x), one panel per budget
#   on the network at MNIST images.
# ---
# **Attack gaps on the network.** The mean of found / $(\epsilon\lVert J(x)\rVert_{p,q})$ per attack variant
# and norm pair, attacking the network itself at each budget (pixel units). Above 1: the network's
# loss exceeds its linearisation.
# ```

# %% [markdown]
# Three numbers per pair separate the two causes. The jump to the linearised maximiser measures how far the
# network bends along the best linear direction; the typical attack shows what training uses; the best of all
# attacks is a lower bound on $L_{adv}$. The linear value is a reference, not a bound: once the ball leaves
# the activation region the Jacobian changes inside it, and the true maximum can lie below *or above*
# $\epsilon\lVert J(x)\rVert$.

# %%
bends = ag.nonlinearity_table(network, TYPICAL)

# %% tags=["hide-input"]
plotting.glue_figure(figures.nonlinearity(bends), "ch8_nonlinearity")

# %% [markdown]
# ```{glue:figure} ch8_nonlinearity
# ---
# name: fig-ch8-nonlinearity
# alt: >-
#   Per norm pair, three markers on a ratio axis: the jump to the linearised maximiser, the typical
#   attack and the best of all attacks, each relative to eps times the norm of J(x).
# ---
# **Where non-linearity enters.** Per norm pair at the largest budget, the network's loss relative to
# $\epsilon\lVert J(x)\rVert_{p,q}$ at the jump to the linearised maximiser (how far the network bends along
# the best linear direction), for the typical attack, and for the best attack found.
# ```

# %% [markdown]
# For $p = 1$ the ball is small (its $\ell_2$ radius is $\epsilon$) and the network stays nearly linear: the
# attacks come close to the linear value, and the best exceeds it on some inputs. For $p = \infty$ even
# $\epsilon$ = {glue:text}`ch8_eps_small` is far beyond the activation region: for $(\infty,\infty)$ the jump
# realises **{glue:text}`ch8_jump_small:.0%`** of the linear value and the best attack
# **{glue:text}`ch8_best_small:.0%`**. For $p = \infty$ at
# $\epsilon$ = {glue:text}`ch8_eps_large` the jump realises a fraction of the linear value, and search
# finds several times more. Part of the remaining gap is weakness (the best is still growing with restarts
# and steps, section 5); how much is non-linearity cannot be told without an upper bound on $L_{adv}$ that
# holds beyond the region, which no method here provides.
#
# Each attack's share of the best of all at $\epsilon$ = {glue:text}`ch8_eps_large` (the mean over inputs of
# its value over the best value any attack found there): the weakness part of its gap, a lower bound on it.

# %%
ag.weakness_table(network, large).style.format("{:.2f}")

# %% [markdown]
# **Claims (deviations from the linear picture).** At the largest budget (i) for $p = 1$ some input's best
# attack exceeds $\epsilon\lVert J(x)\rVert_{p,q}$, so the linear value is not an upper bound; (ii) for
# $(\infty,\infty)$ the best attack finds more than the jump to the linearised maximiser, by more than four
# standard errors of the paired difference.

# %%
best = ag.best_of_all(network)[large]
above = max(best[ag.pair_index(network, (1, q))].max()
            for q in (1, 2, math.inf))
ctx.card.at_least(
    f"network, eps = {network['eps'][large]:g}, p = 1: largest best / "
    "(eps ||J(x)||) over inputs exceeds 1", above, 1.0 + ROUNDING,
    kind="deviation")
j = ag.pair_index(network, (math.inf, math.inf))
jump = ag.variant_ratio(network, "linearised maximiser", 1, large)[j]
diff, se = ag.paired_difference(best[j], jump)
ctx.card.at_least(
    f"network, eps = {network['eps'][large]:g}, (inf,inf): best attack "
    "minus the jump to the linearised maximiser", diff, Z * se,
    kind="deviation")
numbers = ag.headline(law, network, TYPICAL)
for key, value in numbers.items():
    mfat.chapter.glue(f"ch8_{key}", value)
mfat.chapter.glue("ch8_eps_values",
                  ", ".join(f"{e:g}" for e in network["eps"]))
bends.style.format("{:.3f}")

# %% [markdown]
# ## 7. Against $d$, $K$, depth and width
#
# Which features of $J$ set the small-budget gap? Exact draws of $J$ around $d$ = 784,
# $K$ = {glue:text}`ch8_K`, $L$ = {glue:text}`ch8_sweep_L`, $N$ = {glue:text}`ch8_sweep_N`, one feature varied
# at a time, attacked by one start of the typical attack:

# %%
units = ag.sweep_units(S)
swept = ctx.cached_units("sweeps", units,
                         lambda u: ag.sweep_unit(S, u, device=ctx.device),
                         list)
sweep = ag.sweep_table(units, swept, TYPICAL)
mfat.chapter.glue("ch8_sweep_L", S.sweep_L)
mfat.chapter.glue("ch8_sweep_N", S.sweep_N)

# %% tags=["hide-input"]
plotting.glue_figure(figures.sweeps(sweep, TYPICAL), "ch8_sweeps")

# %% [markdown]
# ```{glue:figure} ch8_sweeps
# ---
# name: fig-ch8-sweeps
# alt: >-
#   Four panels of the gap ratio of the typical attack against the input dimension, the number of outputs,
#   the depth and the width, one line per norm pair, on exact-law draws of J.
# ---
# **What makes an attack harder.** The mean gap ratio of the typical attack on exact-law draws of $J$,
# swept over the input dimension $d$, the outputs $K$, the depth $L$ and the width $N$ around the chapter's
# setting, one line per norm pair.
# ```

# %% [markdown]
# More outputs $K$ mean more rows, entries and sign patterns to compete, and the gap grows for nearly every
# pair. The input dimension matters little once $d$ exceeds a few dozen, and so does depth at this width.
# Width matters through the shape of $J$: in the mean-field limit $J$ is a Gaussian matrix with independent
# entries whatever the width (Theorem 4.1), but a narrow network's product of random layers concentrates $J$
# on a few directions (the Gram chain of chapter 2), and one direction dominating every norm makes every
# pair easy.
# **Claim (a deviation from the mean-field picture):** one start of the typical attack comes closer to the
# norm at the narrowest width than at the widest, averaged over the pairs, by more than four standard errors.

# %%
narrow, wide = (ag.variant_ratio(swept[units.index(u)],
                                 TYPICAL).mean(axis=0)
                for u in (ag.sweep_point(units, "N", min(S.widths)),
                          ag.sweep_point(units, "N", max(S.widths))))
ctx.card.at_least(
    f"exact law: {TYPICAL}, one start, mean over pairs: ratio at N = "
    f"{min(S.widths)} minus ratio at N = {max(S.widths)}",
    narrow.mean() - wide.mean(),
    Z * math.hypot(stats.standard_error(narrow),
                   stats.standard_error(wide)), kind="deviation")
sweep.style.format("{:.3f}")

# %% [markdown]
# ## 8. The training attacks of chapters 3 to 5
#
# Chapters 3 to 5 train on $L_{adv}$ as found by a few PGD steps ($\ell_\infty$, $p=q=\infty$,
# $\epsilon = 0.3$). How much of $L_{adv}$ does that attack find? Each chapter's network at initialisation, at
# the tiers listed in the settings, on {glue:text}`ch8_train_inputs` MNIST training images, against a reference
# of {glue:text}`ch8_reference_steps` steps $\times$ {glue:text}`ch8_reference_restarts` restarts
# (`ag.training_attack_gap`):

# %%
chapters = {(stem, tier): mfat.chapter.settings.get(stem, tier)
            for stem in ag.CHAPTER_NETWORKS
            for tier in S.training_tiers}
configs = ag.training_configs(chapters)
trained = ctx.cached(
    "training-attacks",
    lambda: ag.training_gap_measurement(configs, S, device=ctx.device))
training_table = ag.training_gap_table(trained)
for name in ("train_inputs", "reference_steps", "reference_restarts"):
    mfat.chapter.glue(f"ch8_{name}", getattr(S, name))
training_table.style.format(precision=3)

# %% [markdown]
# The column *found / best* is what the training attack finds of the best reference; *found / linear* and
# *best / linear* divide by the linear value $\epsilon\lVert J(x)\rVert_{\infty,\infty}$ (exact: the largest
# row $\ell_1$ norm). And after training: chapter 3's network (quick tier) trained by its own objective,
# $\mathrm{CE} + \lambda L_{adv}$, for {glue:text}`ch8_trained_steps` steps, measured the same way before and
# after.

# %%
wv = mfat.chapter.settings.get("weight_variance", "quick")
X, y = load("mnist", "train", n=wv.n_train, scaling="unit",
            device=ctx.device)
after = ctx.cached(
    "after-training", lambda: ag.trained_gap_measurement(
        wv.train_config("adversarial", S.trained_steps), X, y, S, N=wv.N, L=
        wv.L, sigma_w2=wv.sigma_w2, generator=ctx.generator(3)))
mfat.chapter.glue("ch8_trained_steps", S.trained_steps)
ag.before_after_table(after).style.format(precision=3)

# %% [markdown]
# **Claims (deviations: the training attack is weak).** Every training attack finds less than the reference,
# by more than four standard errors of its mean shortfall; and so does chapter 3's after training.

# %%
for i, row in training_table.iterrows():
    ctx.card.at_least(
        f"{row['used by']}: {row['steps']}-step training attack, "
        "1 - found / best", 1.0 - row["found / best"],
        Z * row["found / best s.e."], kind="deviation")
end = after["after"]
ctx.card.at_least(
    f"weight_variance (quick) after {S.trained_steps} steps: "
    "1 - found / best", 1.0 - end["vs_best"], Z * end["vs_best_se"],
    kind="deviation")

# %% [markdown]
# **An engine check.** FGSM as configured here is the engine's own fast gradient method: the same values
# from the same seed, on the MNIST Jacobians, for every pair.

# %%
J_mnist = ag.mnist_jacobians(S, generator=ctx.generator(2),
                             device=ctx.device)
problem = ag.LinearMaps(J_mnist)
ctx.card.at_most(
    "FGSM as an attack configuration = mfat.model.attacks.fgm "
    "(largest |difference|)", ag.fgsm_agreement(problem, 1.0), 0.0,
    kind="machinery")

# %% [markdown]
# ## Summary
#
# - At a small budget an attack computes $\lVert J(x)\rVert_{p\to q}$. The best attack reaches it exactly
#   (the jump to the linearised maximiser), and no attack exceeds it.
# - The hard pairs are those where many extreme points compete: $p = 1$ ($d$ vertices), $q = \infty$ ($K$
#   rows), $q = 1$ (sign patterns). A random start ends at one of them; restarts help, steps hardly do.
#   $(2,2)$ has one maximum, and the NP-hard $(\infty,2)$ one dominant basin: full steps solve both.
# - Narrow, deep networks are easier to attack than the mean-field picture suggests: their $J$ concentrates
#   on few directions.
# - At the training budget $\epsilon = 0.3$ the network bends inside the $\ell_\infty$ ball. The linear
#   value is then neither reached nor an upper bound, and the training attacks of chapters 3 to 5 find well
#   under the best reference: the $L_{adv}$ those chapters train on is an underestimate.
#
# ## Try it yourself
#
# ```
# python -m mfat run --only 08 --set K=16 --set "widths=8,32,1000"
# python -m mfat run --only 08 --set "eps_values=0.001,0.01,0.3" --set restarts=8
# ```
#
# ## Exercises
#
# :::{admonition} Exercise 8.1
# For $(\infty,\infty)$ on a linear map, show that one full step from a start $u_0$ lands on
# $\sigma\,\mathrm{sign}(J_{i,:})$, where $i$ is the row with the largest $\lvert J_{i,:}u_0\rvert$ and $\sigma$ the
# sign of $J_{i,:}u_0$, and that this vertex is a fixed point when
# $\lvert J_{k,:}\mathrm{sign}(J_{i,:})\rvert < \lVert J_{i,:}\rVert_1$ for every $k\ne i$. When does the
# iteration end at the maximum?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# Near $u_0$, $\lVert Ju\rVert_\infty = \sigma J_{i,:}u$, whose gradient is $\sigma J_{i,:}^\top$; the full step
# lands on the maximiser of $\langle\sigma J_{i,:}^\top, u\rangle$ over the cube, $\sigma\,\mathrm{sign}(J_{i,:})$.
# There row $i$ reaches $\lVert J_{i,:}\rVert_1$ and, by the condition, still dominates, so the next step
# returns the same vertex. Its value $\lVert J_{i,:}\rVert_1$ is the norm exactly when $i$ is the row of
# largest $\ell_1$ norm: the iteration ends at the maximum when the start's dominant row is the best row. For
# Gaussian rows $\lvert J_{k,:}\mathrm{sign}(J_{i,:})\rvert$ is of order $\sqrt d$ and $\lVert J_{i,:}\rVert_1$ of
# order $d$, so the condition holds at $d = 784$, and a start picks one of $K$ rows of nearly equal norm: about
# one start in $K$ ends at the maximum, as the $(\infty,\infty)$ row of the geometry table shows.
# :::
#
# :::{admonition} Exercise 8.2
# Why can $L_{adv}(x)$ exceed $\epsilon\lVert J(x)\rVert_{p,q}$ at a large budget, and which quantity bounds it
# there?
# :::
#
# :::{admonition} Solution
# :class: dropdown
# Along the segment from $x$ to $x+\eta$, $f(x+\eta) - f(x) = \int_0^1 J(x+s\eta)\eta\,ds$ (chapter 2), so
# $L_{adv}(x)\le\epsilon\max_{x'}\lVert J(x')\rVert_{p,q}$ over the ball, not $\epsilon\lVert J(x)\rVert_{p,q}$.
# Beyond the activation region of $x$ the Jacobian changes, and where units switch *on* along $\eta$ the
# norm of $J$ grows: the loss can then exceed the linear value.
# :::

# %%
ctx.finish()
