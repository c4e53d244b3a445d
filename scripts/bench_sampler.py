"""Benchmark of the exact samplers of (J_11, a_1) (mfat.laws.linear_map): samples per second and speed ratios.

    OMP_NUM_THREADS=1 python scripts/bench_sampler.py [--device auto] [--chain-n 10000] [--units-n 100]
                                                      [--explicit-n 20] [--paper-explicit-n 1] [--widths 256 1024]

At the paper's Fig. 1 setting (d = 1000, N = 5000, L = 10, vanilla ReLU, sigma_w^2 = 2, sigma_b^2 = 0.01) it
times the Gram chain (``sample_chain``), the unit-level sampler (``sample_units``) and, with
``--paper-explicit-n`` > 0, explicit networks (``sample_explicit``: one N x N float64 matrix per layer,
2 GB per network at N = 5000); then the chain and explicit networks at each of ``--widths``. Writes
``<output_dir>/benchmarks/sampler.csv`` (sampler, d, N, L, n_samples, seconds, samples_per_s,
chain_speedup = chain samples/s over this sampler's at the same N, device) with an atomic write.
"""

from __future__ import annotations

import argparse
import os

import pandas as pd
import torch

from mfat.chapter.benchmarks import write_table
from mfat.data import gaussian_inputs
from mfat.laws.linear_map import sample_chain, sample_explicit, sample_units
from mfat.model.networks import NetworkSpec
from mfat.runtime import device_name, make_generator, resolve_device, timed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--chain-n", type=int, default=10_000)
    parser.add_argument("--units-n", type=int, default=100)
    parser.add_argument("--explicit-n", type=int, default=20)
    parser.add_argument("--paper-explicit-n", type=int, default=1)
    parser.add_argument("--widths", type=int, nargs="*", default=[256, 1024])
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    dev = resolve_device(args.device)
    gen = make_generator(0, device=dev)
    d, L = 1000, 10
    x = gaussian_inputs(1, d, seed=0, dtype=torch.float64, device=dev)

    def spec(N):
        return NetworkSpec(d, N, 1, L, 2.0, 0.01)

    rows = []

    def record(name, N, n, fn):
        sample_chain(spec(N), 10, generator=gen) if name == "chain" else None  # warm-up of the chain's kernels
        seconds, _ = timed(fn, dev)
        rows.append({"sampler": name, "d": d, "N": N, "L": L, "n_samples": n, "seconds": round(seconds, 4),
                     "samples_per_s": n / seconds, "device": device_name(dev)})
        print(f"{name:9s} N={N:5d}  {n:6d} samples  {seconds:8.2f} s  {n / seconds:12.1f} samples/s", flush=True)

    N = 5000
    record("chain", N, args.chain_n, lambda: sample_chain(spec(N), args.chain_n, generator=gen))
    if args.units_n > 0:
        record("units", N, args.units_n, lambda: sample_units(spec(N), x, args.units_n, generator=gen))
    if args.paper_explicit_n > 0:
        record("explicit", N, args.paper_explicit_n,
               lambda: sample_explicit(spec(N), args.paper_explicit_n, generator=gen, x=x))
    for N in args.widths:
        record("chain", N, args.chain_n, lambda: sample_chain(spec(N), args.chain_n, generator=gen))
        record("explicit", N, args.explicit_n, lambda: sample_explicit(spec(N), args.explicit_n, generator=gen, x=x))

    table = pd.DataFrame(rows)
    chain_speed = table[table.sampler == "chain"].set_index("N")["samples_per_s"]
    table["chain_speedup"] = [chain_speed.get(n, float("nan")) / s for n, s in zip(table.N, table.samples_per_s)]
    write_table("sampler", table)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
