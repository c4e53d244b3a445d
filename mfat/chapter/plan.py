"""The plan: what every chapter costs at a tier, and how long it takes on one GPU, on n GPUs and on the CPU.

    python -m mfat plan --profile full [--gpus 8] [--calibration results/benchmarks/gpu_grid.csv]

Per chapter: its units and their work (:mod:`mfat.chapter.costs`: float32 and float64 matrix-product operations,
Gaussian draws, sequential layer passes), and times from a stated throughput model (:class:`Throughput`):

    seconds(unit) = fp32 / R_fp32 + fp64 / R_fp64 + draws / R_draws + passes * t_pass

- GPU (the estimate for one H100 and for n of them): by default the H100 SXM datasheet (FP32 67 TFLOP/s, FP64
  tensor core 67 TFLOP/s, HBM3 3.35 TB/s) times an efficiency (``--efficiency``, default 0.5 for the products,
  0.25 of the memory bandwidth for float64 draws), with an assumed 20 microseconds per sequential layer pass. When a
  GPU calibration table is present (``results/benchmarks/gpu_grid.csv``, written by ``scripts/gpu_calibration.py``,
  or ``--calibration PATH``) its measured rates replace these (:func:`fit_throughput`). An H200 has the H100's
  compute units and clocks, so its measured compute rates stand for an H100's; its draws are faster (more
  bandwidth).
- CPU: fitted in the same way on the committed CPU benchmark (``results/benchmarks/grid.csv``, from
  ``scripts/bench_grid.py``).

On n GPUs the units are scheduled longest first, each on the GPU that frees up first (the wall time of a greedy
schedule; units are independent, see the README on Ray). Every number is an estimate from counted work and
measured or stated rates, not a measurement of the chapter.
"""

from __future__ import annotations

import argparse
import heapq
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mfat.chapter import settings as chapter_settings
from mfat.chapter.costs import Work, chapter_work
from mfat.paths import repo_root
from mfat.validation import check_choice, check_int, check_real

__all__ = ["Throughput", "h100", "fit_throughput", "tier_settings", "schedule", "plan", "format_plan", "main",
           "CPU_CALIBRATION", "GPU_CALIBRATION"]

#: H100 SXM datasheet numbers: dense FP32 (no tensor cores; torch's default float32 products), FP64 tensor core
#: (cuBLAS DGEMM), HBM3 bandwidth in bytes/s.
H100_FP32, H100_FP64, H100_BANDWIDTH = 67e12, 67e12, 3.35e12
#: Assumed latency of one sequential layer pass on a GPU (a handful of kernel launches), seconds.
GPU_PASS_S = 20e-6
CPU_CALIBRATION = Path("results") / "benchmarks" / "grid.csv"
GPU_CALIBRATION = Path("results") / "benchmarks" / "gpu_grid.csv"


@dataclass(frozen=True)
class Throughput:
    """Rates of one device: operations/s in float32 and float64, Gaussian draws/s, seconds per layer pass; and
    where they come from."""

    device: str
    fp32: float
    fp64: float
    draws: float
    pass_s: float
    source: str

    def seconds(self, work: Work) -> float:
        """The model's time for ``work`` (module doc)."""
        return (work.fp32 / self.fp32 + work.fp64 / self.fp64 + work.draws / self.draws
                + work.passes * self.pass_s)


def h100(efficiency: float = 0.5, *, draw_efficiency: float = 0.25, pass_s: float = GPU_PASS_S) -> Throughput:
    """The H100 SXM datasheet times ``efficiency`` (products) and ``draw_efficiency`` (bandwidth, 8 bytes a draw)."""
    efficiency = check_real("efficiency", efficiency, min_value=0.0, max_value=1.0, min_inclusive=False)
    draw_efficiency = check_real("draw_efficiency", draw_efficiency, min_value=0.0, max_value=1.0,
                                 min_inclusive=False)
    return Throughput("H100 (datasheet)", efficiency * H100_FP32, efficiency * H100_FP64,
                      draw_efficiency * H100_BANDWIDTH / 8, pass_s,
                      f"H100 SXM datasheet x {efficiency:g} (products), x {draw_efficiency:g} (draws), "
                      f"{pass_s * 1e6:g} us per layer pass (assumed)")


def _nonnegative_fit(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares A x = b with x >= 0, for two unknowns: the unconstrained fit, else the best one-term fit."""
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    if (x >= 0).all():
        return x
    candidates = []
    for j in range(A.shape[1]):
        col = A[:, j]
        xj = max(float(col @ b) / float(col @ col), 0.0) if col @ col > 0 else 0.0
        x1 = np.zeros(A.shape[1])
        x1[j] = xj
        candidates.append((float(np.sum((A @ x1 - b) ** 2)), x1))
    return min(candidates, key=lambda c: c[0])[1]


def fit_throughput(table: pd.DataFrame, source: str = "") -> Throughput:
    """Rates from a ``scripts/bench_grid.py`` table (the batched trainer's rows per width, the ``gemm`` and ``draws``
    rows): seconds = operations / R_fp32 + passes * t_pass fitted by non-negative least squares over the widths;
    R_fp64 = R_fp32 times the ratio of the float64 and float32 product peaks; R_draws the float64 draw rate."""
    needed = {"kind", "name", "width", "gflop", "passes", "seconds", "gflop_per_s", "gdraws_per_s"}
    rows = (table[(table.kind == "trainer") & (table.name == "batched") & (table.width.astype(str) != "all")]
            if needed <= set(table.columns) else table.iloc[:0])
    if rows.empty:
        raise ValueError(f"parameter 'table' ({source or 'a benchmark table'}) has no batched-trainer rows: allowed "
                         "a table written by scripts/bench_grid.py")
    A = np.stack([rows.gflop.to_numpy(float) * 1e9, rows.passes.to_numpy(float)], 1)
    inv_rate, pass_s = _nonnegative_fit(A, rows.seconds.to_numpy(float))
    fp32 = 1.0 / inv_rate if inv_rate > 0 else float(A[:, 0].sum() / rows.seconds.sum())
    gemm = table[table.kind == "gemm"]
    peak = {p: gemm[gemm.name.str.startswith(p)].gflop_per_s.max() for p in ("fp32", "fp64")}
    draws = table[(table.kind == "draws") & (table.name == "randn fp64")].gdraws_per_s.max() * 1e9
    device = str(rows.device.iloc[0])
    return Throughput(device, fp32, fp32 * peak["fp64"] / peak["fp32"], draws, pass_s,
                      f"fitted on {source or 'a benchmark table'} ({device}): {fp32 / 1e9:.3g} GFLOP/s in training, "
                      f"{pass_s * 1e6:.3g} us per layer pass")


def _read_calibration(path: Path) -> Throughput:
    path = Path(path).resolve()
    name = path.relative_to(repo_root()) if path.is_relative_to(repo_root()) else path
    return fit_throughput(pd.read_csv(path), str(name))


def tier_settings(stem: str, profile: str):
    """(settings, tier used) of chapter ``stem`` at ``profile``; a chapter without a ``cpu`` tier uses ``quick``
    there (what a CPU runs of it)."""
    profile = check_choice("profile", profile, chapter_settings.PROFILES)
    try:
        return chapter_settings.get(stem, profile), profile
    except ValueError:
        if profile != "cpu":
            raise
        return chapter_settings.get(stem, "quick"), "quick"


def schedule(seconds, gpus: int) -> float:
    """Wall time of running independent units of ``seconds`` on ``gpus`` devices, longest first, each on the device
    that frees up first."""
    gpus = check_int("gpus", gpus, min_value=1)
    loads = [0.0] * gpus
    for s in sorted(seconds, reverse=True):
        heapq.heapreplace(loads, loads[0] + s)
    return max(loads)


def plan(profile: str = "full", *, gpus: int = 1, gpu: Throughput | None = None,
         cpu: Throughput | None = None) -> pd.DataFrame:
    """One row per chapter (and a total): tier, units, work (TFLOP float32 / float64, G draws, M passes) and the
    model's hours on one GPU, the wall hours on ``gpus`` GPUs and the hours on the CPU."""
    gpus = check_int("gpus", gpus, min_value=1)
    gpu = gpu or default_gpu()
    cpu = cpu or default_cpu()
    rows, everything = [], []
    for stem in chapter_settings.chapters():
        settings, tier = tier_settings(stem, profile)
        units = chapter_work(stem, settings, tier)
        everything += units
        rows.append(_row(stem, tier, units, gpus, gpu, cpu))
    rows.append(_row("all chapters", profile, everything, gpus, gpu, cpu))
    return pd.DataFrame(rows)


def _row(name: str, tier: str, units: list[Work], gpus: int, gpu: Throughput, cpu: Throughput) -> dict:
    on_gpu = [gpu.seconds(w) for w in units]
    return {"chapter": name, "tier": tier, "units": len(units),
            "fp32 TFLOP": sum(w.fp32 for w in units) / 1e12, "fp64 TFLOP": sum(w.fp64 for w in units) / 1e12,
            "G draws": sum(w.draws for w in units) / 1e9, "M passes": sum(w.passes for w in units) / 1e6,
            "GPU hours": sum(on_gpu) / 3600, f"wall hours on {gpus} GPUs": schedule(on_gpu, gpus) / 3600,
            "CPU hours": sum(cpu.seconds(w) for w in units) / 3600}


def default_gpu(efficiency: float = 0.5, calibration: Path | None = None) -> Throughput:
    """The GPU model: ``calibration`` (or the committed ``results/benchmarks/gpu_grid.csv``) when present, else
    :func:`h100` at ``efficiency``."""
    path = calibration or repo_root() / GPU_CALIBRATION
    if calibration is not None and not Path(calibration).exists():
        raise ValueError(f"parameter 'calibration' = {str(calibration)!r} does not exist: allowed a table written by "
                         "scripts/gpu_calibration.py or scripts/bench_grid.py")
    return _read_calibration(Path(path)) if Path(path).exists() else h100(efficiency)


def default_cpu() -> Throughput:
    """The CPU model, fitted on the committed ``results/benchmarks/grid.csv``."""
    path = repo_root() / CPU_CALIBRATION
    if not path.exists():
        raise ValueError(f"the CPU benchmark {path} is missing: run scripts/bench_grid.py and copy "
                         "_output/benchmarks/grid.csv there")
    return _read_calibration(path)


def format_plan(table: pd.DataFrame, gpu: Throughput, cpu: Throughput) -> str:
    """The plan as text: the throughput model, then the table."""
    def fmt(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    head = [f"GPU: {gpu.source}", f"     rates: fp32 {gpu.fp32 / 1e12:.3g} TFLOP/s, fp64 {gpu.fp64 / 1e12:.3g} "
            f"TFLOP/s, draws {gpu.draws / 1e9:.3g} G/s, {gpu.pass_s * 1e6:.3g} us per layer pass",
            f"CPU: {cpu.source}", f"     rates: fp32 {cpu.fp32 / 1e9:.3g} GFLOP/s, fp64 {cpu.fp64 / 1e9:.3g} "
            f"GFLOP/s, draws {cpu.draws / 1e9:.3g} G/s, {cpu.pass_s * 1e6:.3g} us per layer pass",
            "seconds(unit) = fp32 / R_fp32 + fp64 / R_fp64 + draws / R_draws + passes * t_pass", ""]
    return "\n".join(head) + table.to_string(index=False, formatters={c: fmt for c in table.columns})


def main(argv=None) -> int:
    """``python -m mfat plan``: print the plan of a tier (module doc)."""
    parser = argparse.ArgumentParser(prog="python -m mfat plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="full", choices=chapter_settings.PROFILES)
    parser.add_argument("--gpus", type=int, default=8, help="GPUs of the wall-time column (default 8)")
    parser.add_argument("--efficiency", type=float, default=0.5,
                        help="fraction of the H100 datasheet's product rates reached (without a calibration table)")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="a GPU calibration table (default: results/benchmarks/gpu_grid.csv when present)")
    args = parser.parse_args(argv)
    gpu = default_gpu(args.efficiency, args.calibration)
    cpu = default_cpu()
    table = plan(args.profile, gpus=args.gpus, gpu=gpu, cpu=cpu)
    print(f"The plan of the {args.profile!r} tier (estimates from counted work; python -m mfat plan --help)\n")
    print(format_plan(table, gpu, cpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
