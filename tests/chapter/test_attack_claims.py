"""mfat.chapter.attack_claims: the attack's shortfall, and the network's part of a deviation or a confirmation."""

import pytest

from mfat.chapter import attack_claims
from mfat.chapter.claims import ClaimFailed, Scorecard, load_claims

GAP = {"share": 0.6, "share_se": 0.05, "steps": 3, "reference": "50 steps x 8"}


def test_shortfall_is_a_deviation_beyond_two_standard_errors(tmp_outputs):
    card = Scorecard("99_demo", "quick")
    attack_claims.shortfall(card, GAP, note="extra")
    (claim,) = load_claims()
    assert claim["kind"] == "deviation" and claim["passed"]
    assert claim["predicted"] == "<= 0.9" and claim["note"] == "3 steps against 50 steps x 8; 2 s.e.; extra"
    with pytest.raises(ClaimFailed):
        attack_claims.shortfall(card, {**GAP, "share": 0.95})


@pytest.mark.parametrize("side", ["above", "below"])
def test_within_the_tolerance_the_ratio_confirms_one(tmp_outputs, side):
    attack_claims.network_part(Scorecard("99_demo", "quick"), "ratio", 1.03, 0.05, side=side)
    (claim,) = load_claims()
    assert claim["claim"] == "ratio = 1" and claim["kind"] == "confirms" and claim["passed"]


def test_beyond_the_tolerance_the_rest_is_the_networks_deviation_on_its_side(tmp_outputs):
    card = Scorecard("99_demo", "quick")
    attack_claims.network_part(card, "ratio", 1.2, 0.05, side="above")
    attack_claims.network_part(card, "ratio", 0.8, 0.05, side="below")
    assert [(c["claim"], c["kind"], c["passed"]) for c in load_claims()] == [
        ("ratio (the network's part)", "deviation", True)] * 2
    with pytest.raises(ClaimFailed):  # a deviation on the other side than the one asserted fails
        attack_claims.network_part(card, "ratio", 0.8, 0.05, side="above")
    with pytest.raises(ValueError, match="parameter 'side'"):
        attack_claims.network_part(card, "ratio", 1.0, 0.05, side="left")
