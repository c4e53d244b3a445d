"""Benchmark of mfat.model.fisher_rao: seconds per ||w||_FR^2 evaluation for each estimator at a few sizes.

    OMP_NUM_THREADS=1 python scripts/bench_capacity.py [--device auto] [--batch 256] [--repeats 3]
                                                       [--sizes 256x4 1000x10]

Writes ``<output_dir>/benchmarks/fisher_rao.csv`` (method, N, L, K, batch, device, seconds, value). Methods:
"forward" (exact, one forward pass carrying L tangents), "reverse" (exact, K backward passes), "probe" (one
random-sign backward pass, unbiased), "jvp" (exact, one torch.func.jvp per layer; the reference), and
"forward (no W-direction)" = a plain forward pass f(x), for scale. Synthetic Gaussian inputs (d = 784, K = 10).
"""

from __future__ import annotations

import argparse
import os

import torch

from mfat.chapter.benchmarks import write_table
from mfat.data import gaussian_inputs
from mfat.model import fisher_rao
from mfat.model.networks import ReLULikeNet
from mfat.runtime import device_name, make_generator, resolve_device, timed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["256x4", "1000x10"], help="NxL pairs")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    dev = resolve_device(args.device)
    gen = make_generator(0, device=dev)
    x = gaussian_inputs(args.batch, 784, seed=0, dtype=torch.float32, device=dev)
    rows = []
    for size in args.sizes:
        N, L = (int(v) for v in size.lower().split("x"))
        net = ReLULikeNet(784, N, 10, L, 2.0, 0.0, generator=gen, device=dev)
        methods = {
            "forward": lambda: fisher_rao.fisher_rao_norm(net, x, method="forward"),
            "reverse": lambda: fisher_rao.fisher_rao_norm(net, x, method="reverse"),
            "probe": lambda: fisher_rao.fisher_rao_norm(net, x, method="probe", n_probes=1, generator=gen),
            "jvp": lambda: float(fisher_rao.directional_derivatives_jvp(net, x).pow(2).sum(-1).sum(1).mean()),
            "forward (no W-direction)": lambda: float(net(x).detach().pow(2).sum(1).mean() * L),
        }
        for name, fn in methods.items():
            fn()  # warm-up
            seconds, value = timed(fn, dev, args.repeats)
            value = float(value)
            rows.append({"method": name, "N": N, "L": L, "K": 10, "batch": args.batch, "device": device_name(dev),
                         "seconds": seconds, "value": value})
            print(f"{name:26s} N={N:5d} L={L:3d}: {seconds * 1e3:9.1f} ms  (||w||_FR^2 = {value:.4g})")
    write_table("fisher_rao", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
