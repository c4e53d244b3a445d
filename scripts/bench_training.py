"""Benchmark of mfat.model.training: seconds per SGD step for each objective at a few sizes.

    OMP_NUM_THREADS=1 python scripts/bench_training.py [--device auto] [--steps 10] [--sizes 128x4 1000x10]

Writes ``<output_dir>/benchmarks/training.csv`` (objective, N, L, batch, attack_steps, device, s_per_step).
Synthetic Gaussian inputs (d = 784, K = 10), so no data files are needed.
"""

from __future__ import annotations

import argparse
import os

import torch

from mfat.chapter.benchmarks import write_table
from mfat.data import gaussian_inputs
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig, train
from mfat.runtime import device_name, make_generator, resolve_device, timed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--attack-steps", type=int, default=5)
    parser.add_argument("--sizes", nargs="+", default=["128x4", "512x4", "1000x10"], help="NxL pairs")
    args = parser.parse_args(argv)
    os.environ.setdefault("MFAT_QUIET", "1")
    dev = resolve_device(args.device)
    gen = make_generator(0, device=dev)
    X = gaussian_inputs(max(4 * args.batch, 256), 784, seed=0, dtype=torch.float32, device=dev)
    y = torch.randint(0, 10, (X.shape[0],), generator=torch.Generator().manual_seed(0)).to(dev)
    rows = []
    for size in args.sizes:
        N, L = (int(v) for v in size.lower().split("x"))
        for objective in ("standard", "adversarial", "madry"):
            cfg = TrainConfig(objective=objective, lr=0.01, steps=args.steps, batch_size=args.batch,
                              attack_steps=args.attack_steps, record_every=args.steps, eval_size=args.batch)
            net = ReLULikeNet(784, N, 10, L, 2.0, 0.0, generator=gen, device=dev)
            train(net, X, y, TrainConfig(**{**cfg.as_dict(), "steps": 1}), generator=gen)  # warm-up
            seconds, _ = timed(lambda: train(net, X, y, cfg, generator=gen), dev)
            per_step = seconds / (args.steps + 1)
            rows.append({"objective": objective, "N": N, "L": L, "batch": args.batch,
                         "attack_steps": args.attack_steps, "device": device_name(dev), "s_per_step": per_step})
            print(f"{objective:12s} N={N:5d} L={L:3d}: {per_step * 1e3:8.1f} ms/step")
    write_table("training", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
