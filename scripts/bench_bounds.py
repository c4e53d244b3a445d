"""The paper's Fig. 3 measurement (chapter 2) at a chosen scale: time, and the ratios to Theorem 5.1's bound.

    OMP_NUM_THREADS=1 python scripts/bench_bounds.py [--N 4000] [--K 100] [--L 3] [--eps 0.1]
        [--d 8 32 128 512] [--networks 4] [--inputs 10] [--refine-steps 2] [--beta-samples 100] [--device auto]

For every d it builds ``--networks`` vanilla ReLU networks at the critical point (sigma_w^2 = 2, sigma_b^2 = 0.01),
attacks ``--inputs`` Gaussian inputs each with every (p, q) pair (:func:`mfat.experiments.adversarial_loss.sweep`:
linearised start and steepest-ascent refinement) and compares the mean loss with eps beta omega^(L/2), beta the
Monte Carlo expectation where the norms are exact and the closed-form upper bound where they are not (as the
chapter does). Writes ``<output_dir>/benchmarks/bounds.csv`` (one row per d and pair: mean L_adv, its clustered
standard error, the ratio to the bound, L_adv / (eps ||J(x)||), the seconds of the d's measurement, device).
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
import pandas as pd

from mfat.chapter.benchmarks import write_table
from mfat.experiments import adversarial_loss as al
from mfat.runtime import device_name, make_generator, resolve_device, timed
from mfat.stats import standard_error
from mfat.theory import adversarial_loss as bounds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--N", type=int, default=4000)
    parser.add_argument("--K", type=int, default=100)
    parser.add_argument("--L", type=int, default=3)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--d", type=int, nargs="+", default=[8, 32, 128, 512])
    parser.add_argument("--networks", type=int, default=4)
    parser.add_argument("--inputs", type=int, default=10)
    parser.add_argument("--refine-steps", type=int, default=2)
    parser.add_argument("--beta-samples", type=int, default=100)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    dev = resolve_device(args.device)
    gen = make_generator(0, device=dev)
    rows = []
    for d in args.d:
        cfg = dict(d=d, N=args.N, K=args.K, L=args.L, sigma_w2=2.0, sigma_b2=0.01)
        seconds, res = timed(lambda: al.sweep([cfg], [args.eps], al.PAIRS, n_networks=args.networks,
                                              n_inputs=args.inputs, generator=gen, device=dev,
                                              refine_steps=args.refine_steps), dev)
        for j, pq in enumerate(al.PAIRS):
            v = res["L_adv"][0, 0, j]
            betas, exact = al.gaussian_norms(*pq, d, args.K, args.beta_samples, generator=gen, device=dev)
            beta = betas.mean() if exact else bounds.beta(*pq, d, args.K, "bound")
            bound = args.eps * beta  # omega = 1 at sigma_w^2 = 2
            rows.append({"d": d, "pair": al.pair_label(*pq), "N": args.N, "K": args.K, "L": args.L,
                         "samples": v.size, "mean_L_adv": v.mean(), "se": al.clustered_se(v, res["network"]),
                         "beta_used": "expectation" if exact else "closed-form bound",
                         "ratio_to_bound": v.mean() / bound,
                         "ratio_se": math.hypot(al.clustered_se(v, res["network"]) / bound,
                                                v.mean() / bound * standard_error(betas) / beta
                                                if exact else 0.0),
                         "L_adv_over_eps_J": float(np.mean(v / (args.eps * res["norm"][0, j]))),
                         "seconds": round(seconds, 2), "device": device_name(dev)})
        print(f"d={d}: {seconds:.1f} s; " + ", ".join(f"{r['pair']} {r['ratio_to_bound']:.3f}" for r in rows[-9:]),
              flush=True)
    table = pd.DataFrame(rows)
    write_table("bounds", table, float_format="%.5g")
    print(table.pivot(index="pair", columns="d", values="ratio_to_bound").round(3).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
