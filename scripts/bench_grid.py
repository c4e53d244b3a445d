"""Benchmark: the batched grid trainer (mfat.model.grid.train_grid) against a sequential loop of single-network runs
(mfat.model.training.train) on the same grid cells (same networks, data order, seeds and objective).

    OMP_NUM_THREADS=1 python scripts/bench_grid.py [--widths 32,64,128] [--depths 2,4,6,8] [--steps 20]
                                                   [--objective adversarial] [--device auto]

Writes one row per width (and a total row) to ``_output/benchmarks/grid.csv`` (atomically): width, cells, steps,
batched_s, sequential_s, ratio (= sequential / batched), device, torch version.
"""

from __future__ import annotations

import argparse
import math

import pandas as pd
import torch

from mfat.chapter.benchmarks import write_table
from mfat.data import load
from mfat.model.grid import NetStack, train_grid
from mfat.model.networks import ReLULikeNet
from mfat.model.training import TrainConfig, train
from mfat.runtime import device_name, make_generator, resolve_device, timed


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def bench_width(N: int, depths: list[int], X, y, config: TrainConfig, device) -> dict:
    def nets():
        return [ReLULikeNet(X.shape[1], N, 10, L, 2.0, generator=make_generator(1000 + 7 * N + L, device=device),
                            device=device) for L in depths]

    def gens():
        return [make_generator(2000 + 7 * N + L, device=device) for L in depths]

    def sequential_runs():
        for net, g in zip(nets(), gens()):
            train(net, X, y, config, generator=g, progress=False)

    batched, _ = timed(lambda: train_grid(NetStack(nets()), X, y, config, generators=gens(), progress=False), device)
    sequential, _ = timed(sequential_runs, device)
    return {"width": N, "cells": len(depths), "steps": config.steps, "batched_s": round(batched, 3),
            "sequential_s": round(sequential, 3), "ratio": round(sequential / batched, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", default="32,64,128")
    parser.add_argument("--depths", default="2,4,6,8")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--objective", default="adversarial", choices=("adversarial", "standard", "adv_only"))
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    X, y = load("mnist", "train", n=args.n_train, device=device)
    config = TrainConfig(objective=args.objective, lr=0.1, steps=args.steps, batch_size=32, eps=0.3, p=math.inf,
                         q=math.inf, attack_steps=3, record_every=args.steps, eval_size=500)
    # warm-up (first-call overheads are not the engine's)
    bench_width(8, [1, 2], X, y, TrainConfig(objective=args.objective, steps=2, batch_size=32, eval_size=50), device)
    rows = [bench_width(N, _ints(args.depths), X, y, config, device) for N in _ints(args.widths)]
    total_b = sum(r["batched_s"] for r in rows)
    total_s = sum(r["sequential_s"] for r in rows)
    rows.append({"width": "all", "cells": sum(r["cells"] for r in rows), "steps": args.steps,
                 "batched_s": round(total_b, 3), "sequential_s": round(total_s, 3), "ratio": round(total_s / total_b, 3)})
    table = pd.DataFrame(rows)
    table["device"] = device_name(device)
    table["torch"] = torch.__version__
    write_table("grid", table)
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
