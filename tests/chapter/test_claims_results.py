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
    assert "4 of 6 claims passed" in text and text.count("FAIL") == 2


def test_scorecard_markdown_lists_every_claim():
    claims = [dict(chapter="01_x", profile="quick", claim="a|b", theorem="T", predicted=1.0, measured=1.01,
                   tolerance="t", passed=True, note="")]
    md = pages.scorecard_markdown(claims)
    assert "1 of 1 claims passed" in md and "a\\|b" in md and "## 01_x" in md


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
