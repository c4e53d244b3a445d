"""Benchmark of chapter 7's engine: seconds per training step of deep linear and bias-free two-layer ReLU networks.

    OMP_NUM_THREADS=1 python scripts/bench_implicit_bias.py [--device auto] [--steps 200] [--relu-sizes 100x32 1000x100]

Writes ``<output_dir>/benchmarks/implicit_bias.csv`` (model, size, attack, runs, device, s_per_step). Synthetic
inputs only (the ReLU sizes are n x m at d = 784, the MNIST dimension), so no data files are needed.
"""

from __future__ import annotations

import argparse
import os

import torch

from mfat.chapter.benchmarks import write_table
from mfat.companions.homogeneous import DeepLinear, TwoLayerReLU, train_deep_linear, train_two_layer
from mfat.data import gaussian_inputs
from mfat.experiments.implicit_bias import separable_data
from mfat.runtime import device_name, make_generator, resolve_device, timed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--runs", nargs="+", type=int, default=[6, 60], help="deep linear runs per batch")
    parser.add_argument("--relu-sizes", nargs="+", default=["100x32", "1000x100"], help="n x m pairs (d = 784)")
    parser.add_argument("--pgd-steps", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    dev = resolve_device(args.device)
    rows = []
    X, y = separable_data(30, 5, 0.5, generator=make_generator(0))
    X, y = torch.tensor(X), torch.tensor(y)
    for R in args.runs:
        for schedule in ("normalised", "constant"):
            net = DeepLinear(5, (8, 8), runs=R, generator=make_generator(1, device=dev), device=dev)
            eps = torch.full((R,), 0.1, dtype=torch.float64)
            linf = torch.zeros(R, dtype=torch.bool)
            s, _ = timed(lambda: train_deep_linear(net, X, y, eps, linf, steps=args.steps, lr=0.05,
                                                   schedule=schedule, n_log=2), dev)
            rows.append({"model": "deep linear L=3", "size": f"R={R}", "attack": f"exact l2 ({schedule})",
                         "runs": R, "device": device_name(dev), "s_per_step": s / (args.steps + 1)})
            print(f"deep linear R={R:3d} {schedule:10s}: {rows[-1]['s_per_step'] * 1e3:8.3f} ms/step")
    for size in args.relu_sizes:
        n, m = (int(v) for v in size.lower().split("x"))
        Xr = gaussian_inputs(n, 784, seed=0, dtype=torch.float32, device=dev)
        yr = torch.where(Xr[:, 0] > 0, 1.0, -1.0).to(dev)
        for attack in ("none", "fgm", "fgsm", "pgd"):
            model = TwoLayerReLU(784, m, generator=make_generator(2, device=dev), dtype=torch.float32, device=dev)
            steps = max(args.steps // 10, 5)
            s, _ = timed(lambda: train_two_layer(model, Xr, yr, attack=attack, eps=0.5, steps=steps, lr=0.05,
                                                 norm_power=2.0, pgd_steps=args.pgd_steps, n_log=2), dev)
            rows.append({"model": "two-layer ReLU", "size": f"n={n}, m={m}", "attack": attack, "runs": 1,
                         "device": device_name(dev), "s_per_step": s / (steps + 1)})
            print(f"relu n={n:5d} m={m:4d} {attack:5s}: {rows[-1]['s_per_step'] * 1e3:8.2f} ms/step")
    write_table("implicit_bias", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
