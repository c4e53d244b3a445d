"""mfat.chapter.costs and mfat.chapter.plan: every chapter's work at every tier, positive and growing with the tier;
the throughput model, its fit and the schedule on n GPUs."""

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from mfat.chapter import costs, plan
from mfat.chapter import settings as chapter_settings
from mfat.model import flops
from mfat.model.networks import NetworkSpec
from mfat.model.training import TrainConfig
from mfat.paths import repo_root

MODEL = plan.Throughput("test", fp32=1e12, fp64=5e11, draws=1e10, pass_s=1e-5, source="stated for the test")
STEMS = chapter_settings.chapters()


def _total_seconds(stem: str, profile: str) -> float:
    settings, tier = plan.tier_settings(stem, profile)
    return sum(MODEL.seconds(w) for w in costs.chapter_work(stem, settings, tier))


@pytest.mark.parametrize("profile", chapter_settings.PROFILES)
@pytest.mark.parametrize("stem", STEMS)
def test_every_chapter_has_positive_work_at_every_tier(stem, profile):
    settings, tier = plan.tier_settings(stem, profile)
    units = costs.chapter_work(stem, settings, tier)
    assert units, f"{stem} at {profile}: no units"
    for w in units:
        values = (w.fp32, w.fp64, w.draws, w.passes)
        assert all(v >= 0 and math.isfinite(v) for v in values), w
        assert any(v > 0 for v in values), w
        assert MODEL.seconds(w) > 0


@pytest.mark.parametrize("stem", STEMS)
def test_work_grows_with_the_tier(stem):
    quick, cpu, full = (_total_seconds(stem, p) for p in ("quick", "cpu", "full"))
    # a chapter without a cpu tier runs its quick tier there; chapters 0 and 1 run the paper's scale on a CPU
    assert quick <= cpu <= full
    assert quick < full


def test_plan_table_for_every_profile():
    for profile in chapter_settings.PROFILES:
        table = plan.plan(profile, gpus=4, gpu=MODEL, cpu=MODEL)
        assert list(table.chapter) == [*STEMS, "all chapters"]
        numeric = table.drop(columns=["chapter", "tier"])
        assert (numeric.iloc[:, 1:] >= 0).all().all() and (table["GPU hours"] > 0).all()
        total = table.iloc[-1]
        assert total["GPU hours"] == pytest.approx(table["GPU hours"].iloc[:-1].sum())
        assert total["wall hours on 4 GPUs"] <= total["GPU hours"] + 1e-12
        assert total["wall hours on 4 GPUs"] >= total["GPU hours"] / 4 - 1e-12
    totals = [plan.plan(p, gpu=MODEL, cpu=MODEL).iloc[-1]["GPU hours"] for p in ("quick", "cpu", "full")]
    assert totals[0] < totals[1] < totals[2]


def test_schedule_longest_first():
    work = [3.0, 3.0, 2.0, 2.0, 2.0]
    assert plan.schedule(work, 1) == sum(work)
    assert plan.schedule(work, 2) == 7.0  # 3+2+2 | 3+2 (the greedy schedule; the optimum is 6)
    assert plan.schedule(work, 10) == 3.0
    with pytest.raises(ValueError, match="gpus"):
        plan.schedule(work, 0)


def test_fit_recovers_a_stated_rate_and_latency():
    gflop = np.array([1.0, 10.0, 100.0])
    passes = np.array([5e4, 4e4, 6e4])
    seconds = gflop * 1e9 / 50e9 + passes * 2e-4
    rows = [{"kind": "trainer", "name": "batched", "width": w, "gflop": g, "passes": p, "seconds": s,
             "device": "cpu: test"} for w, g, p, s in zip((64, 128, 256), gflop, passes, seconds)]
    rows += [{"kind": "gemm", "name": "fp32 n=512", "gflop_per_s": 100.0},
             {"kind": "gemm", "name": "fp64 n=512", "gflop_per_s": 40.0},
             {"kind": "draws", "name": "randn fp64", "gdraws_per_s": 0.5}]
    fitted = plan.fit_throughput(pd.DataFrame(rows), "a stated table")
    assert fitted.fp32 == pytest.approx(50e9)
    assert fitted.pass_s == pytest.approx(2e-4)
    assert fitted.fp64 == pytest.approx(50e9 * 0.4)
    assert fitted.draws == pytest.approx(0.5e9)
    with pytest.raises(ValueError, match="batched"):
        plan.fit_throughput(pd.DataFrame(rows[3:]))


def test_h100_datasheet_model():
    gpu = plan.h100(0.5)
    assert gpu.fp32 == pytest.approx(33.5e12) and gpu.fp64 == pytest.approx(33.5e12)
    with pytest.raises(ValueError, match="efficiency"):
        plan.h100(0.0)


def test_training_work_is_the_flop_model():
    spec = NetworkSpec(784, 64, 10, 3)
    cfg = TrainConfig(objective="adversarial", steps=5, batch_size=8, attack_steps=2, record_every=5, eval_size=16)
    w = costs.training_work("m", "u", spec, cfg)
    assert w.fp32 == flops.training(spec, cfg)["total"]
    assert w.draws == flops.network_draws(spec) and w.passes == flops.layer_passes(3, cfg)
    assert w.times(3).fp32 == 3 * w.fp32


def test_norm_model_by_hand():
    inf = math.inf
    # (1, 2): one pass, 2 K d; (2, 2): the SVD, 4 K d min(K, d); (inf, 1) with min(K, d) = 3 free signs: 2^3 2 K d
    assert costs.norm_flops(3, 5, [(1.0, 2.0)]) == 30
    assert costs.norm_flops(3, 5, [(2.0, 2.0)]) == 4 * 15 * 3
    assert costs.norm_flops(3, 5, [(inf, 1.0)]) == 8 * 30
    assert costs.norm_flops(40, 50, [(inf, 1.0)], restarts=2, max_iter=3) == 4 * 3 * 4 * 2000


def test_unknown_chapter_is_refused():
    with pytest.raises(ValueError, match="stem"):
        costs.chapter_work("nope", None, "quick")


def test_committed_cpu_benchmark_calibrates_the_cpu():
    cpu = plan.default_cpu()
    assert cpu.fp32 > 0 and cpu.fp64 > 0 and cpu.draws > 0 and cpu.pass_s >= 0
    assert (repo_root() / plan.CPU_CALIBRATION).exists()


def test_command_line_prints_the_plan():
    out = subprocess.run([sys.executable, "-m", "mfat", "plan", "--profile", "quick", "--gpus", "2"],
                         capture_output=True, text=True, check=True, cwd=repo_root()).stdout
    assert "all chapters" in out and "wall hours on 2 GPUs" in out and "seconds(unit)" in out
