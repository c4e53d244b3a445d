"""mfat.chapter.claims (claims), mfat.stats (tolerances) and mfat.site.pages (scorecard)."""

import math

import numpy as np
import pytest

from mfat import stats
from mfat.site import pages
from mfat.chapter.claims import ClaimFailed, Scorecard, load_claims


def test_claims_pass_fail_and_are_saved(tmp_outputs):
    card = Scorecard("99_demo", "quick", theorem="Thm")
    card.close("close", 1.0, 1.05, rtol=0.1)
    card.at_most("below", 0.9, 1.0)
    card.at_least("above", 1.1, 1.0)
    card.holds("qualitative", True, measured="3 > 2")
    with pytest.raises(ClaimFailed, match=r"predicted 1\.0.*measured 1\.5"):
        card.close("too far", 1.0, 1.5, rtol=0.1)
    with pytest.raises(ClaimFailed):
        card.close("nan never passes", 1.0, float("nan"), atol=1e9)
    saved = load_claims()
    assert [c["passed"] for c in saved] == [True, True, True, True, False, False]
    assert not card.all_passed
    with pytest.raises(SystemExit, match="2 claim"):
        pages.write_all(book_dir=tmp_outputs)
    text = (tmp_outputs / "scorecard.md").read_text()
    assert "4 of 6 claims held" in text and text.count("✗ FAIL") == 2 and "✗ 2 failed" in text


def test_scorecard_markdown_lists_every_claim():
    claims = [dict(chapter="01_x_y", profile="cpu", claim="a|b", theorem="T", predicted=1.0, measured=1.01,
                   tolerance="t", passed=True, note="", kind="deviation"),
              dict(chapter="01_x_y", profile="cpu", claim="c", theorem="T", predicted=1.0, measured=1.0,
                   tolerance="t", passed=True, note="")]  # a record written before claims had kinds
    md = pages.scorecard_markdown(claims)
    assert "2 of 2 claims held" in md and "a\\|b" in md and "## X y" in md
    summary = pages.scorecard_summary(claims)[0]
    assert summary["confirmed"] == 1 and summary["deviations measured"] == 1 and summary["tier"] == "cpu"
    assert "measures a deviation" in md and "[the chapter](01_x_y.ipynb)" in md


def test_a_claim_kind_is_validated_and_claims_return_nothing(tmp_outputs):
    card = Scorecard("99_demo", "quick")
    assert card.close("c", 1.0, 1.0, rtol=0.1, kind="machinery") is None
    with pytest.raises(ValueError, match="'kind'"):
        card.close("c", 1.0, 1.0, rtol=0.1, kind="proof")


def test_tolerances_follow_the_sample_size():
    assert stats.variance_ratio_tolerance(10001) == pytest.approx(4 * math.sqrt(2 / 10000))
    assert stats.mean_tolerance(2.0, 400) == pytest.approx(0.4)
    assert stats.ks_tolerance(10000, 1e-4) < stats.ks_tolerance(100, 1e-4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=20000) * 3
    assert stats.ks_distance_normal(x, 9.0) < stats.ks_tolerance(20000)
    assert stats.ks_distance_normal(x, 4.0) > stats.ks_tolerance(20000)
    assert stats.loglog_slope([1, 10, 100], [1, 10**0.5, 10]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="'n'"):
        stats.variance_ratio_tolerance(1)
