"""Benchmark: three ways to train the grid cells of chapter 4 (Fig. 5) on the same cells, data and objective, against
the machine's matrix-product peak.

    OMP_NUM_THREADS=2 python scripts/bench_grid.py [--preset quick|full-shapes] [--device auto] [--widths 64,256]
                                                   [--seeds 2] [--steps N] [--repeats 1] [--objective adversarial]
                                                   [--data mnist|synthetic] [--no-profile] [--name grid]

The cells: every depth of chapter 4's settings (``--preset``: ``quick``, or ``full-shapes`` = the full profile's
widths, depths, batch and PGD steps with few SGD steps) at each width, ``--seeds`` networks per (N, L); cell
(N, L, r) is drawn from the seed of :func:`mfat.experiments.trainability.cell_seed` as in the chapter. The trainers:

- ``batched``: :func:`mfat.model.grid.train_grid`, all cells of a width in one stack (``max_cells`` at a time);
- ``loop``: :func:`mfat.model.training.train`, one run per cell;
- ``vmap``: the standard PyTorch ensemble: the parameters of the networks of one (N, L) stacked by
  ``torch.func.stack_module_state`` and the forward ``vmap(functional_call)`` (vmap needs equal shapes, so one
  group per depth). The objective is the same function (:func:`mfat.model.objectives.training_objective`, with the
  one PGD loop of :mod:`mfat.model.attacks` running outside vmap on the ensemble's (G, B, ...) outputs), so every
  trainer computes the same numbers: the table's ``max_diff`` is the largest difference of the trained W^(1)
  from the batched trainer's.

The work of each is counted by :mod:`mfat.model.flops` (matrix products; the three perform the same ones), so
``gflop_per_s`` is comparable, and divided by the float32 peak (the best square product of :func:`gemm_rate`).
Rows (``kind``): ``trainer`` (one per trainer and width, and ``all``; ``passes`` counts its sequential layer passes),
``gemm`` and ``draws`` (the reference rates), ``profile`` (where one training step of the batched trainer spends its
time, by operator, at the largest width). ``load_avg`` records the machine's load when the table was written.
Written to ``<output_dir>/benchmarks/grid.csv`` (atomically); ``results/benchmarks/grid.csv`` is the committed
copy, and the plan (``python -m mfat plan``) fits its CPU throughput on it.

Findings (the committed run: 2-core AMD EPYC (Zen 4), OMP_NUM_THREADS=2, nice 10, while other jobs kept the load
average at 6 to 10, so every rate is a share of the machine; ``--preset full-shapes --widths 64,256 --seeds 2``: every
depth 2..20, batch 128, 10 PGD steps, one SGD step; wider widths do not fit in ten minutes on this CPU):

- The batched trainer took 16.2 s at N = 64 and 89.0 s at N = 256: 5.5 and 2.3 times faster than the loop, 2.9 and
  2.2 times faster than the vmap ensemble (itself 1.9 and 1.06 times the loop). All three trained the same networks
  (W^(1) agrees to 2e-4 after a step in float32: round-off of bmm against mm, amplified where a PGD sign flips; the
  float64 equality is tested in ``tests/model/test_grid.py``).
- The batched trainer reached 3.0 GFLOP/s at N = 256, 9% of the float32 peak measured in the same run (33 GFLOP/s,
  n = 2048). Why: one step's profile at N = 256 puts 42% of the time in matrix products; the rest is elementwise
  work on the (cells, 128, N) activations, O(B N) per layer against O(B N^2) for the product: ReLU forward
  (``clamp_min``) 13% and backward (``threshold_backward``) 11%, the bias copied into the output of ``baddbmm``
  (``copy_``) 12%, the split and cat of finished cells 6%. Within their share the products ran at about 7 GFLOP/s
  (40 GFLOP in 5.6 s): (128 x 256) (256 x 256) products are small for the BLAS. The elementwise share falls like
  1/N, so the fraction of the peak grows with the width (the GPU calibration measures it up to N = 4096).
- The clear win taken: ``NetStack.forward`` used to concatenate the whole (G, B, N) stack at every layer deeper than
  the shallowest cell, and its backward zero-filled and summed the slices again (``cat``, ``fill_``, ``add_`` and
  most of ``copy_``: about 40% of a step). It now splits finished cells off once and reads them out at once: one
  step of 10 cells at N = 256 (depths 2..20) went from 30.7 s to 14.1 s at the same load, with the same numbers
  (the grid-versus-single tests pass unchanged).
- Not taken: fusing the bias and ReLU into the product (``torch.compile``, or ``bmm`` then ``add``) changes the
  rounding of z = b + W h, and the engine promises the single-network numbers.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import pandas as pd
import torch
from torch.func import functional_call, stack_module_state, vmap

from mfat.chapter import settings as chapter_settings
from mfat.chapter.benchmarks import draw_rate, gemm_rate, write_table
from mfat.data import gaussian_inputs, load
from mfat.experiments.trainability import cell_seed
from mfat.model import flops
from mfat.model.grid import NetStack, train_grid
from mfat.model.networks import NetworkSpec, ReLULikeNet
from mfat.model.objectives import StackOfNetworks, training_objective
from mfat.model.training import TrainConfig, mini_batches, train, update_loop
from mfat.runtime import device_name, make_generator, resolve_device, timed

TRAINERS = ("batched", "loop", "vmap")
GEMM_OPS = ("aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm", "aten::matmul")


# ------------------------------------------------------------------------------------------ the vmap ensemble
class VmapEnsemble(StackOfNetworks):
    """G networks of equal shape as one torch.func ensemble: x (G, B, d) or (B, d) -> logits (G, B, K).

    Parameters stacked by ``stack_module_state`` (leaves, (G, ...)); forward ``vmap(functional_call)``; network g's
    attack draws from ``generators[g]``. Batch means, the cross-entropy and the randomness are those of
    :class:`mfat.model.objectives.StackOfNetworks`, so :func:`training_objective` runs on it unchanged.
    """

    def __init__(self, nets, generators):
        self.params, self.buffers = stack_module_state(nets)
        self.base = nets[0].to("meta")  # the stacked copies hold the values; the module only gives the structure
        self.G = len(nets)
        self.randomness = {"generators": generators}

    def _one(self, params, buffers, x):
        return functional_call(self.base, (params, buffers), (x,))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return vmap(self._one)(self.params, self.buffers, x if x.ndim == 3 else x.expand(self.G, *x.shape))

    def squared_weights(self) -> torch.Tensor:
        return sum(v.pow(2).sum(dim=(1, 2)) for k, v in self.params.items() if k.startswith("W."))

    def nan(self, like: torch.Tensor) -> torch.Tensor:
        return torch.full((self.G,), float("nan"), dtype=like.dtype, device=like.device)


def train_vmap(nets, X, y, config: TrainConfig, *, generators, X_eval, y_eval) -> VmapEnsemble:
    """Train equal-shape ``nets`` as a :class:`VmapEnsemble` with the loop of :func:`mfat.model.training.update_loop`;
    the random streams are used as :func:`mfat.model.grid.train_grid` uses them (one cell = one ``train`` run)."""
    ensemble = VmapEnsemble(nets, generators)
    for gen in generators:  # train() seeds its evaluation generator first
        torch.randint(0, 2**62, (1,), generator=gen, device=gen.device)
    batches = mini_batches(X.shape[0], config.batch_size, generators, X.device)

    def objective() -> dict:
        idx = torch.stack(next(batches))
        return training_objective(ensemble, X[idx], y[idx], config)

    def record(step: int, out: dict) -> None:
        with torch.no_grad():
            for i in range(0, len(X_eval), 1024):
                (ensemble(X_eval[i:i + 1024]).argmax(-1) == y_eval[i:i + 1024]).sum(dim=1).cpu()

    update_loop(list(ensemble.params.values()), config, objective, record, progress=False, desc="vmap ensemble")
    return ensemble


# ------------------------------------------------------------------------------------------ the three trainers
def make_cells(N: int, depths, seeds: int, d: int, K: int, seed: int, device):
    """(networks, generators, keys) of the cells of width N: depth-major, ``seeds`` per depth, seeded as in
    :func:`mfat.experiments.trainability.depth_width_grid`."""
    keys = [(L, r) for L in depths for r in range(seeds)]
    nets = [ReLULikeNet(d, N, K, L, 2.0, generator=make_generator(cell_seed(seed, N, L, r), device=device),
                        device=device) for L, r in keys]
    gens = [make_generator(cell_seed(seed, N, L, r) + 1, device=device) for L, r in keys]
    return nets, gens, keys


def run_batched(cells, data, config, max_cells: int) -> dict:
    nets, gens, keys = cells
    X, y, X_eval, y_eval = data
    out = {}
    for lo in range(0, len(nets), max_cells):
        stack, _ = train_grid(NetStack(nets[lo:lo + max_cells]), X, y, config, generators=gens[lo:lo + max_cells],
                              X_eval=X_eval, y_eval=y_eval, progress=False)
        for j, key in enumerate(keys[lo:lo + max_cells]):
            out[key] = stack.W[0][stack.inverse[j]].detach()
    return out


def run_loop(cells, data, config, max_cells: int) -> dict:
    nets, gens, keys = cells
    X, y, X_eval, y_eval = data
    for net, gen in zip(nets, gens):
        train(net, X, y, config, generator=gen, X_eval=X_eval, y_eval=y_eval, progress=False)
    return {key: net.W[0].detach() for key, net in zip(keys, nets)}


def run_vmap(cells, data, config, max_cells: int) -> dict:
    nets, gens, keys = cells
    X, y, X_eval, y_eval = data
    out = {}
    for L in dict.fromkeys(L for L, _ in keys):  # one group per depth: vmap needs equal shapes
        idx = [i for i, (depth, _) in enumerate(keys) if depth == L]
        ens = train_vmap([nets[i] for i in idx], X, y, config, generators=[gens[i] for i in idx], X_eval=X_eval,
                         y_eval=y_eval)
        for g, i in enumerate(idx):
            out[keys[i]] = ens.params["W.0"][g].detach()
    return out


RUNNERS = {"batched": run_batched, "loop": run_loop, "vmap": run_vmap}


def trainer_passes(depths, seeds: int, config: TrainConfig, max_cells: int) -> dict[str, int]:
    """Sequential layer passes of each trainer (:func:`mfat.model.flops.layer_passes`): one run per chunk of the
    stack, per cell for the loop, per depth for the vmap ensemble."""
    cells = [L for L in depths for _ in range(seeds)]
    chunks = [cells[lo:lo + max_cells] for lo in range(0, len(cells), max_cells)]
    return {"batched": sum(flops.layer_passes(max(c), config) for c in chunks),
            "loop": sum(flops.layer_passes(L, config) for L in cells),
            "vmap": sum(flops.layer_passes(L, config) for L in depths)}


# ------------------------------------------------------------------------------------------ the benchmark
def bench_shapes(preset: str) -> dict:
    """Chapter 4's shapes at ``preset``: quick settings, or the full profile's (steps cut to a few)."""
    S = chapter_settings.get("trainability", "quick" if preset == "quick" else "full")
    steps = 10 if preset == "quick" else 1
    return {"widths": list(S.widths), "depths": list(S.depths), "batch_size": S.batch_size, "steps": steps,
            "attack_steps": S.attack_steps, "max_cells": S.max_cells, "settings": S}


def bench_config(shapes: dict, objective: str, steps: int) -> TrainConfig:
    """The chapter's training configuration with ``steps`` steps, recorded at the first and the last, evaluated on
    one batch of examples (a long run's rare evaluations should not dominate a few-step benchmark)."""
    return shapes["settings"].train_config(objective, steps, record_every=steps, eval_size=shapes["batch_size"])


def bench_data(kind: str, n: int, device) -> tuple:
    """(X, y, X_eval, y_eval): the first n MNIST training images, or Gaussian inputs with random labels (d = 784)."""
    if kind == "mnist":
        X, y = load("mnist", "train", n=n, device=device)
    else:
        X = gaussian_inputs(n, 784, seed=0, dtype=torch.float32, device=device) / math.sqrt(784)
        y = torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(0)).to(device)
    return X, y, X, y


def reference_rates(device, sizes) -> list[dict]:
    """Rows of the float32 / float64 square products (each size) and of Gaussian draws."""
    rows = []
    for dtype, name in ((torch.float32, "fp32"), (torch.float64, "fp64")):
        for n in sizes:
            r = gemm_rate(n, dtype, device)
            rows.append({"kind": "gemm", "name": f"{name} n={n}", "width": n, "seconds": r["seconds"],
                         "gflop": r["flops"] / 1e9, "gflop_per_s": r["rate"] / 1e9})
        r = draw_rate(2**24, dtype, device)
        rows.append({"kind": "draws", "name": f"randn {name}", "seconds": r["seconds"],
                     "gdraws_per_s": r["rate"] / 1e9})
    return rows


def profile_step(cells, data, config, max_cells: int, device) -> list[dict]:
    """Where one objective evaluation + backward of the batched trainer (the first chunk of ``cells``) spends its
    time: self time per operator (CPU, or CUDA on a GPU), as shares; matrix products summed as ``gemm``."""
    from torch.profiler import ProfilerActivity, profile

    from mfat.model.grid import stacked_objective

    nets, gens, _ = cells
    stack = NetStack(nets[:max_cells])
    X, y = data[0], data[1]
    idx = torch.stack([torch.randperm(X.shape[0], generator=g, device=g.device)[:config.batch_size].to(X.device)
                       for g in gens[:max_cells]])
    cuda = torch.device(device).type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])

    def step():
        stacked_objective(stack, X[idx], y[idx], config, generators=gens[:max_cells])["loss"].sum().backward()

    step()  # warm-up
    with profile(activities=acts) as prof:
        seconds, _ = timed(step, device)
    events = prof.key_averages()
    attr = "self_device_time_total" if cuda else "self_cpu_time_total"
    # operators only: on a GPU the kernels are listed too, and their time is already their operator's
    times = {e.key: getattr(e, attr, 0.0) for e in events if e.key.startswith("aten::")}
    total = sum(times.values()) or 1.0
    gemm = sum(v for k, v in times.items() if k in GEMM_OPS)
    rows = [{"kind": "profile", "name": "step (wall)", "seconds": seconds},
            {"kind": "profile", "name": "gemm share", "share": gemm / total}]
    for k, v in sorted(times.items(), key=lambda kv: -kv[1])[:8]:
        rows.append({"kind": "profile", "name": k, "share": v / total})
    return rows


def run_bench(*, preset="quick", device="auto", widths=None, seeds=2, steps=None, objective="adversarial",
              data="mnist", n_train=2048, seed=1, trainers=TRAINERS, gemm_sizes=None, profile=True,
              repeats=1, shapes=None, deadline=math.inf) -> pd.DataFrame:
    """The benchmark table (module doc); also what ``scripts/gpu_calibration.py`` runs on a GPU. ``shapes``: a dict
    like :func:`bench_shapes`'s, replacing the preset's; widths not started by ``deadline`` (a
    ``time.perf_counter()`` value) are skipped."""
    device = resolve_device(device)
    shapes = shapes or bench_shapes(preset)
    widths = list(widths or shapes["widths"])
    steps = steps or shapes["steps"]
    config = bench_config(shapes, objective, steps)
    tensors = bench_data(data, n_train, device)
    d, K = tensors[0].shape[1], 10
    depths, max_cells = shapes["depths"], shapes["max_cells"]
    gemm_sizes = gemm_sizes or ((256, 512, 1024, 2048, 4096) if device.type == "cuda" else (256, 512, 1024, 2048))
    rows = reference_rates(device, gemm_sizes)
    peak32 = max(r["gflop_per_s"] for r in rows if r["kind"] == "gemm" and r["name"].startswith("fp32"))
    # warm-up of every trainer (first-call overheads are not the engine's)
    warm = TrainConfig(objective=objective, steps=1, batch_size=8, attack_steps=1, eval_size=8)
    for name in trainers:
        RUNNERS[name](make_cells(8, [1, 2], 2, d, K, 0, device), tensors, warm, max_cells)
    totals = {name: [0.0, 0.0, 0] for name in trainers}
    for N in widths:
        if time.perf_counter() > deadline:
            print(f"  N={N}: skipped (out of time)", flush=True)
            continue
        work = seeds * flops.grid_training([NetworkSpec(d, N, K, L) for L in depths], config)["total"]
        passes = trainer_passes(depths, seeds, config, max_cells)
        reference = None
        for name in trainers:  # interleaved per width, so that drift of a shared machine hits all alike
            seconds = math.inf
            for _ in range(repeats):  # the best of ``repeats`` runs, each on fresh copies of the same cells
                cells = make_cells(N, depths, seeds, d, K, seed, device)
                run_s, trained = timed(lambda: RUNNERS[name](cells, tensors, config, max_cells), device)
                seconds = min(seconds, run_s)
            reference = trained if reference is None else reference
            diff = max(float((trained[k] - reference[k]).abs().max()) for k in reference)
            rows.append({"kind": "trainer", "name": name, "width": N, "cells": len(cells[0]), "seconds": seconds,
                         "gflop": work / 1e9, "passes": passes[name], "max_diff": diff})
            totals[name] = [t + v for t, v in zip(totals[name], (seconds, work, passes[name]))]
            del cells, trained
        print(f"  N={N}: " + ", ".join(f"{r['name']} {r['seconds']:.2f} s" for r in rows[-len(trainers):]), flush=True)
    for name, (seconds, work, passes) in totals.items():
        if work == 0:
            continue
        cells = sum(r["cells"] for r in rows if r["kind"] == "trainer" and r["name"] == name)
        rows.append({"kind": "trainer", "name": name, "width": "all", "cells": cells,
                     "seconds": seconds, "gflop": work / 1e9, "passes": passes})
    if profile and time.perf_counter() < deadline:
        done = [r["width"] for r in rows if r["kind"] == "trainer" and r["width"] != "all"]
        rows += profile_step(make_cells(max(done), depths, seeds, d, K, seed, device), tensors, config, max_cells,
                             device)
    return finish_table(rows, peak32, device, preset=preset, objective=objective, data=data, steps=steps, seeds=seeds,
                        depths="/".join(map(str, depths)), batch=config.batch_size, attack_steps=config.attack_steps,
                        repeats=repeats)


def finish_table(rows: list[dict], peak32: float, device, **constants) -> pd.DataFrame:
    """Rates, fractions of the float32 peak and ratios to the loop; the constant columns last."""
    table = pd.DataFrame(rows)
    trainer = table.kind == "trainer"
    table.loc[trainer, "gflop_per_s"] = table.gflop / table.seconds
    table["frac_fp32_peak"] = table.gflop_per_s / peak32
    loop = table[trainer & (table.name == "loop")].set_index("width").seconds
    table.loc[trainer, "ratio_to_loop"] = [loop[w] / s if w in loop.index else math.nan
                                           for w, s in zip(table[trainer].width, table[trainer].seconds)]
    for key, value in constants.items():
        table[key] = value
    table["device"] = device_name(device)
    table["torch"] = torch.__version__
    table["threads"] = torch.get_num_threads()
    table["load_avg"] = round(os.getloadavg()[0], 2)  # other jobs on the machine when the table was written
    return table


def _ints(text: str | None) -> list[int] | None:
    return [int(v) for v in text.split(",") if v.strip()] if text else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="quick", choices=("quick", "full-shapes"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--widths", default=None, help="comma-separated widths (default: the preset's)")
    parser.add_argument("--seeds", type=int, default=2, help="networks per (N, L): what vmap has to batch")
    parser.add_argument("--steps", type=int, default=None, help="SGD steps (default: 10 quick, 1 full-shapes)")
    parser.add_argument("--objective", default="adversarial", choices=("adversarial", "standard", "adv_only", "madry"))
    parser.add_argument("--data", default="mnist", choices=("mnist", "synthetic"))
    parser.add_argument("--trainers", default=",".join(TRAINERS))
    parser.add_argument("--repeats", type=int, default=1, help="time each trainer as the best of this many runs")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--name", default="grid", help="table name under <output_dir>/benchmarks/")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    trainers = tuple(t for t in args.trainers.split(",") if t)
    if not set(trainers) <= set(TRAINERS) or "batched" not in trainers[:1]:
        parser.error(f"--trainers: allowed a list starting with 'batched' from {', '.join(TRAINERS)}")
    table = run_bench(preset=args.preset, device=args.device, widths=_ints(args.widths), seeds=args.seeds,
                      steps=args.steps, objective=args.objective, data=args.data, trainers=trainers,
                      profile=not args.no_profile, repeats=args.repeats)
    write_table(args.name, table)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.drop(columns=["device", "torch"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
