"""One bounded calibration run on a GPU: a smoke test, the grid benchmark at the full profile's shapes, and one timed
unit of each of the heaviest full-profile measurements, extrapolated to the unit's full length.

    python scripts/gpu_calibration.py [--device cuda] [--budget-s 420] [--out _output/benchmarks]
    python scripts/gpu_calibration.py --device cpu --tiny       # the same code path at toy sizes (about a minute)

Parts, in order (each wrapped: an error is recorded and the next part runs; every file is rewritten atomically
after each part, so a run stopped from outside keeps what finished):

1. ``smoke``: the device's name; a float64 and a float32 product checked against the CPU (relative error); one
   short :func:`mfat.model.grid.train_grid` (float64, standard objective, full batch, so that the mini-batch order
   and no random attack start enter) on the device and on the CPU from the same networks: equal to round-off.
2. ``grid``: ``scripts/bench_grid.py`` at the full profile's shapes of chapter 4 (every width and depth, batch
   128, 10 PGD steps, 2 networks per (N, L), a few steps): the batched trainer, the loop and the vmap ensemble,
   the float32 / float64 product peaks and the draw rate. Written as ``<prefix>_grid.csv``: the table that
   ``python -m mfat plan`` reads as its GPU calibration when it is committed as ``results/benchmarks/gpu_grid.csv``.
3. ``units``: chapter 4's Fig. 5 grid at one width (N = 1024, every depth); a chapter-5 accuracy run (the widest,
   robust evaluation and the Fisher-Rao norm at each record); the heaviest chapter-6 sweep run (22 variants x
   5 seeds of the full profile, on Gaussian inputs of the MNIST run's size); a chapter-3 Fig. 4 run; one
   chapter-2 explicit network of Fig. 3 at N = 40000. Each training unit is timed at two step counts k1 < k2 and
   extrapolated linearly to its full length (seconds = t(k1) + (t(k2) - t(k1)) / (k2 - k1) (steps - k1), each t
   the best of two runs after a warm-up); the explicit network is timed once (the measurement has n_networks of
   them per d). Each row also carries the plan's prediction for the same unit (:mod:`mfat.chapter.costs` with the
   throughput fitted on part 2) and the ratio measured / predicted. Written as ``<prefix>_units.csv``.

Checked on the development CPU with ``--device cpu --tiny`` (about 70 s there under load: too slow for the test
suite, so run it by hand after changing this script or the functions it calls).

``<prefix>_calibration.json`` holds the smoke results, the fitted throughput, what was skipped or failed and the
time used. ``--budget-s`` bounds the whole run: a part (or a width of part 2) that would start after its share of
the budget is skipped. Inputs are Gaussian (d = 784, 10 classes; the work does not depend on the pixel values),
so nothing is read from the data cache or downloaded.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_grid  # noqa: E402  (the benchmark script beside this one)

from mfat.atomic import atomic_write_text  # noqa: E402
from mfat.chapter import costs, plan  # noqa: E402
from mfat.chapter import settings as chapter_settings  # noqa: E402
from mfat.data import gaussian_inputs  # noqa: E402
from mfat.experiments import adversarial_loss as al  # noqa: E402
from mfat.experiments import capacity as cap  # noqa: E402
from mfat.experiments import perturbation_learning as pl  # noqa: E402
from mfat.experiments import trainability as tr  # noqa: E402
from mfat.experiments import weight_variance as wv  # noqa: E402
from mfat.model.grid import train_grid  # noqa: E402
from mfat.model.networks import NetworkSpec, ReLULikeNet  # noqa: E402
from mfat.model.training import TrainConfig  # noqa: E402
from mfat.runtime import device_name, make_generator, resolve_device, synchronize, timed  # noqa: E402

D, K = 784, 10


class Clock:
    """The run's time budget: ``left()`` seconds remain; ``allows(s)`` whether a part of about s seconds fits."""

    def __init__(self, budget_s: float):
        self.start, self.budget = time.perf_counter(), budget_s

    def used(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget - self.used()

    def allows(self, seconds: float) -> bool:
        return self.left() > seconds


# ------------------------------------------------------------------------------------------ 1. smoke
def smoke(device) -> dict:
    """Device name, products against the CPU, and a short float64 train_grid equal to the CPU's (module doc)."""
    out = {"device": device_name(device), "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
           "allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)}
    g = torch.Generator().manual_seed(0)
    for dtype, name in ((torch.float64, "fp64"), (torch.float32, "fp32")):
        a, b = (torch.randn(512, 512, generator=g, dtype=dtype) for _ in range(2))
        ref = a @ b
        got = (a.to(device) @ b.to(device)).cpu()
        out[f"matmul_{name}_rel_err"] = float((got - ref).norm() / ref.norm())
    X = torch.rand(64, 20, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (64,), generator=g)
    config = TrainConfig(objective="standard", lr=0.1, steps=3, batch_size=64, record_every=1, eval_size=64)
    runs = {}
    for dev in ("cpu", device):
        nets = [ReLULikeNet(20, 16, 4, L, seed=L, dtype=torch.float64).to(dev) for L in (1, 2, 3)]
        stack, table = train_grid(nets, X.to(dev), y.to(dev), config,
                                  generators=[make_generator(i, device=dev) for i in range(3)], progress=False)
        runs[str(dev)] = (torch.cat([w.detach().cpu().flatten() for w in stack.W]), table.loss.to_numpy())
    (w_cpu, loss_cpu), (w_dev, loss_dev) = runs["cpu"], runs[str(device)]
    out["train_grid_fp64_max_rel_diff"] = float((w_dev - w_cpu).abs().max() / w_cpu.abs().max())
    out["train_grid_fp64_loss_max_diff"] = float(abs(loss_dev - loss_cpu).max())
    out["passed"] = (out["matmul_fp64_rel_err"] < 1e-12 and out["matmul_fp32_rel_err"] < 1e-4
                     and out["train_grid_fp64_max_rel_diff"] < 1e-10)
    return out


# ------------------------------------------------------------------------------------------ 3. units
def _data(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    X = gaussian_inputs(n, D, seed=0, dtype=torch.float32, device=device) / math.sqrt(D)
    y = torch.randint(0, K, (n,), generator=torch.Generator().manual_seed(0)).to(device)
    return X, y


def two_point(run, k1: int, k2: int, full: int, device) -> dict:
    """Time ``run(k)`` at k1 and k2 steps (the best of two each, after one untimed ``run(k1)``: first-call costs,
    kernel selection, allocations) and extrapolate linearly to ``full`` steps (module doc)."""
    run(k1)
    t1, t2 = (min(timed(lambda: run(k), device)[0] for _ in range(2)) for k in (k1, k2))
    per_step = max(t2 - t1, 0.0) / (k2 - k1)
    return {"k1": k1, "k2": k2, "t_k1_s": t1, "t_k2_s": t2, "per_step_s": per_step, "steps": full,
            "measured_s": t1 + per_step * (full - k1)}


def unit_fig5(tiny: bool, device) -> tuple[dict, costs.Work]:
    """Chapter 4: the Fig. 5 grid at one width (every depth, max_cells at a time), adversarial."""
    S = chapter_settings.get("trainability", "full")
    N, depths = (32, (2, 4)) if tiny else (1024, S.depths)
    n = 256 if tiny else S.eval_size
    X, y = _data(n, device)
    config = S.train_config("adversarial", S.steps, record_every=S.steps, eval_size=min(S.eval_size, n))

    def run(k):
        cfg = dataclasses.replace(config, steps=k, record_every=k)
        tr.depth_width_grid(X, y, depths, [N], cfg, sigma_w2=S.sigma_w2, seed=1, device=device,
                            max_cells=S.max_cells, gain_examples=64)

    specs = [NetworkSpec(D, N, K, L) for L in depths]
    work = costs.grid_work("grid-cells", f"N={N}", specs, config,
                           extra=sum(64 * costs.flops.jacobian(s) for s in specs))
    return {"unit": f"ch4 Fig. 5 grid, N={N}, {len(depths)} depths", **two_point(run, 1, 3, S.steps, device)}, work


def unit_capacity(tiny: bool, device) -> tuple[dict, costs.Work]:
    """Chapter 5: the widest accuracy run (adversarial, robust evaluation and Fisher-Rao at every record)."""
    S = chapter_settings.get("capacity", "full")
    N, L = (32, 2) if tiny else (max(S.acc_widths), S.L)
    n = 256 if tiny else max(S.eval_size, S.fr_batch, S.batch_size)
    X, y = _data(n, device)
    X_fr, X_eval, y_eval = X[:min(S.fr_batch, n)], X[:min(S.eval_size, n)], y[:min(S.eval_size, n)]
    config = S.train_config("adversarial", S.acc_steps, lr=S.acc_lr, eps=S.acc_eps, record_every=S.acc_record_every,
                            robust_eval=True, eval_size=len(X_eval))

    def run(k):
        cap.capacity_run(X, y, X_fr, N=N, L=L, K=K, sigma_w2=S.vanilla_sigma_w2,
                         config=dataclasses.replace(config, steps=k, record_every=S.acc_record_every),
                         generator=make_generator(0, device=device), X_eval=X_eval, y_eval=y_eval, device=device)

    spec = NetworkSpec(D, N, K, L)
    work = costs.training_work("accuracy", f"N={N}", spec, config,
                               per_record=len(X_fr) * costs.flops.fisher_rao(spec))
    # k1, k2 below the recording interval: both runs record twice (step 0 and the last), the slope is the step's
    return {"unit": f"ch5 accuracy run, N={N}, L={L}", **two_point(run, 2, 6, S.acc_steps, device),
            "note": "records (robust evaluation, Fisher-Rao) every acc_record_every steps are in the intercept "
                    "only twice: the extrapolation undercounts them"}, work


def unit_perturbation(tiny: bool, device) -> tuple[dict, costs.Work]:
    """Chapter 6: the heaviest sweep run, all variants of the base run (eps factors x scenarios), 5 seeds, on
    Gaussian inputs of the MNIST run's size (d = 784, N = 12700), float64."""
    S = chapter_settings.get("perturbation_learning", "full")
    N, d, seeds = (200, 20, 2) if tiny else (costs.IMAGE_COUNT["mnist"], D, S.n_seeds)
    data = pl.make_data("gauss", N=N, d=d, n_eval=200 if tiny else 1000, n_seeds=seeds,
                        generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    eps = S.defaults("mnist")["eps"]
    variants = [pl.Variant(sc, e * k, 1.0) for sc, e in eps.items() for k in S.eps_factors]
    variants += [pl.Variant(sc, e, 1.0) for sc, e in eps.items() for k in S.time_fractions if k != 1.0]

    def run(k):
        pl.perturbation_learning(data, m=S.m, variants=variants, T_g=1.0, steps=k, n_seeds=seeds, with_cosine=True,
                                 generator=torch.Generator().manual_seed(1), dtype=torch.float64, device=device)

    work = costs.Work("sweeps", "base run", passes=8 * S.steps,
                      fp64=costs.perturbation_run_ops(N, d, S.m, S.steps, seeds, len(variants),
                                                      n_eval=data.Z.shape[-2]))
    return {"unit": f"ch6 sweep base run, N={N}, d={d}, {len(variants)} variants x {seeds} seeds",
            **two_point(run, 2, 6, S.steps, device)}, work


def unit_fig4(tiny: bool, device) -> tuple[dict, costs.Work]:
    """Chapter 3: one Fig. 4 run (adversarial, N = 1000, L = 10), with its attack at initialisation."""
    S = chapter_settings.get("weight_variance", "full")
    N, L = (32, 2) if tiny else (S.N, S.L)
    X, y = _data(512 if tiny else 2048, device)
    config = S.train_config("adversarial", S.steps, record_first=S.slope_steps, eval_size=500)

    def run(k):
        cfg = dataclasses.replace(config, steps=k, record_first=0, record_every=k)
        wv.train_run(X, y, cfg, N=N, K=K, L=L, sigma_w2=S.sigma_w2, generator=make_generator(0, device=device),
                     device=device)

    spec = NetworkSpec(D, N, K, L)
    work = costs.training_work("fig4_mnist", "adversarial", spec, config,
                               extra=256 * costs.attack_flops(spec, config.attack_steps))
    return {"unit": f"ch3 Fig. 4 run, N={N}, L={L}", **two_point(run, 2, 6, S.steps, device)}, work


def unit_fig3(tiny: bool, device) -> tuple[dict, costs.Work]:
    """Chapter 2: one explicit network of Fig. 3 (float32, N = 40000, K = 100, L = 3, the largest d): its draw,
    J(x) at n_inputs inputs and its nine norms, and the linearised attack of every pair."""
    S = chapter_settings.get("adversarial_loss", "full")
    N, d = (256, 16) if tiny else (S.N, max(S.d_values))
    pairs = al.threat_pairs(S.ps, S.qs)
    gen = make_generator(0, device=device)

    def run():
        net = ReLULikeNet(d, N, S.K, S.L, S.sigma_w2, S.sigma_b2, generator=gen, device=device)
        x = gaussian_inputs(S.n_inputs, d, seed=0, dtype=torch.float32, device=device)
        al.measure(net, x, [S.eps], pairs, refine_steps=S.refine_steps, norm_restarts=S.norm_restarts,
                   generator=gen)
        del net
        synchronize(device)

    seconds, _ = timed(run, device)
    spec = NetworkSpec(d, N, S.K, S.L, S.sigma_w2, S.sigma_b2)
    work = costs.explicit_norms_work("fig3", f"d={d}", spec, 1, S.n_inputs, pairs, n_eps=1,
                                     refine_steps=S.refine_steps, restarts=S.norm_restarts)
    return {"unit": f"ch2 Fig. 3 explicit network, N={N}, d={d}", "measured_s": seconds, "steps": 1,
            "note": f"one of the {S.n_networks} networks per d"}, work


UNITS = (unit_fig5, unit_capacity, unit_perturbation, unit_fig4, unit_fig3)


# ------------------------------------------------------------------------------------------ the run
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget-s", type=float, default=420.0, help="the whole run's time budget (seconds)")
    parser.add_argument("--out", type=Path, default=None, help="folder of the tables (default <output_dir>/benchmarks)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: the code path in about a minute on a CPU")
    parser.add_argument("--prefix", default=None, help="file name prefix (default gpu, or cpu without CUDA)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    clock = Clock(args.budget_s)
    device = resolve_device(args.device)
    from mfat.paths import output_dir

    out = args.out or output_dir() / "benchmarks"
    prefix = args.prefix or ("gpu" if device.type == "cuda" else "cpu") + ("_tiny" if args.tiny else "")
    report = {"device": device_name(device), "budget_s": args.budget_s, "tiny": args.tiny, "parts": {}}
    unit_rows: list[dict] = []
    throughput = None

    def save():
        report["used_s"] = clock.used()
        atomic_write_text(out / f"{prefix}_calibration.json", json.dumps(report, indent=2, default=str))
        if unit_rows:
            atomic_write_text(out / f"{prefix}_units.csv", pd.DataFrame(unit_rows).to_csv(index=False))

    def part(name, fn, reserve_s):
        """Run ``fn`` if ``reserve_s`` seconds of the budget are left; record its result or its error."""
        if not clock.allows(reserve_s):
            report["parts"][name] = {"status": "skipped", "left_s": clock.left()}
            print(f"{name}: skipped ({clock.left():.0f} s left)", flush=True)
            return None
        start = time.perf_counter()
        try:
            value = fn()
            report["parts"][name] = {"status": "done", "seconds": time.perf_counter() - start}
            return value
        except Exception as err:  # one failing part must not cost the others
            report["parts"][name] = {"status": "failed", "error": repr(err), "trace": traceback.format_exc()}
            print(f"{name}: failed: {err!r}", flush=True)
            return None
        finally:
            if device.type == "cuda":
                torch.cuda.empty_cache()
            print(f"{name}: {report['parts'][name]['status']} after {clock.used():.0f} s", flush=True)
            save()

    report["smoke"] = part("smoke", lambda: smoke(device), 5)
    budget = args.budget_s

    def grid():
        shapes = bench_grid.bench_shapes("full-shapes")
        if args.tiny:
            shapes = dict(shapes, widths=[16, 32], depths=[2, 4], batch_size=16, attack_steps=2)
            shapes["settings"] = dataclasses.replace(shapes["settings"], batch_size=16, attack_steps=2,
                                                     depths=(2, 4), widths=(16, 32))
        table = bench_grid.run_bench(device=device, shapes=shapes, widths=shapes["widths"], seeds=2,
                                     steps=1 if args.tiny else 3, data="synthetic", profile=True,
                                     deadline=time.perf_counter() + 0.45 * budget,
                                     gemm_sizes=(64, 128) if args.tiny else None)
        atomic_write_text(out / f"{prefix}_grid.csv", table.to_csv(index=False))
        return plan.fit_throughput(table, f"{prefix}_grid.csv")

    throughput = part("grid", grid, 0.2 * budget)
    if throughput is not None:
        report["throughput"] = dataclasses.asdict(throughput)
    for fn in UNITS:
        def measure(fn=fn):
            row, work = fn(args.tiny, device)
            predicted = throughput.seconds(work) if throughput is not None else math.nan
            unit_rows.append({**row, "predicted_s": predicted, "measured_over_predicted": row["measured_s"] / predicted
                              if predicted and not math.isnan(predicted) else math.nan, "device": device_name(device)})
        part(fn.__name__, measure, 0.08 * budget)
    save()
    print(json.dumps({k: v for k, v in report.items() if k != "parts"}, indent=1, default=str))
    if unit_rows:
        print(pd.DataFrame(unit_rows).drop(columns=["device"]).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
