"""The claims chapters 3-5 make about their training attack (the sources appendix: attack gaps).

``gap`` is :func:`mfat.experiments.attack_gaps.gap_summary` of the chapter's network: ``share`` (found / best
L_adv at initialisation, the best being the reference attack), its standard error ``share_se``, ``steps`` and
``reference``.

    shortfall(ctx.card, gap)                                  # the attack's measured weakness
    network_part(ctx.card, "Theorem 5.4 with beta / slope with the best attack's L_adv", over * share,
                 tol, side="above", note=...)                 # what is left once the attack's part is removed
"""

from __future__ import annotations

from mfat.validation import check_choice

__all__ = ["shortfall", "network_part"]


def shortfall(card, gap: dict, note: str = "") -> None:
    """A deviation claim: the training attack finds less than the reference, found / best <= 1 - 2 s.e."""
    card.at_most("training attack: found / best L_adv at initialisation (a weaker attack than the reference)",
                 gap["share"], 1 - 2 * gap["share_se"], kind="deviation",
                 note=f"{gap['steps']} steps against {gap['reference']}; 2 s.e." + (f"; {note}" if note else ""))


def network_part(card, claim: str, ratio: float, tol: float, *, side: str, note: str = "") -> None:
    """``ratio`` (a theorem's prediction over the measurement, the attack's part divided out) is 1 within
    ``tol`` (a confirmation, "<claim> = 1"); otherwise the rest is the network's, asserted as a deviation
    beyond ``tol`` on ``side`` ("above": ratio >= 1 + tol, "below": ratio <= 1 - tol)."""
    check_choice("side", side, ("above", "below"))
    if abs(ratio - 1) <= tol:
        card.close(claim + " = 1", 1.0, ratio, atol=tol, note=note)
    elif side == "above":
        card.at_least(claim + " (the network's part)", ratio, 1 + tol, kind="deviation", note=note)
    else:
        card.at_most(claim + " (the network's part)", ratio, 1 - tol, kind="deviation", note=note)
