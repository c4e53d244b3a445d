"""Claims: a prediction, a measurement and a tolerance, asserted in the chapter and kept for the scorecard.

    card = Scorecard("01_random_linear_map", profile)
    card.close("Var J_11 matches omega^L/d", predicted=1e-3, measured=v, rtol=tol)

A failing claim is recorded, saved, and then raises :class:`ClaimFailed` with both numbers, so the
chapter (and the book build) fails. Claims are written atomically to
``<output_dir>/claims/<chapter>.json`` after every claim.
"""

from __future__ import annotations

import math
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from mfat import __version__
from mfat.atomic import atomic_write_json
from mfat.paths import output_dir
from mfat.validation import check_choice

__all__ = ["KINDS", "Claim", "ClaimFailed", "Scorecard", "load_claims"]


#: What a claim is about: it confirms a prediction of the theory; it measures (and bounds) a deviation from the
#: theory; or it checks the machinery (an estimator, a sampler, the engine) on which the other claims rely.
KINDS = ("confirms", "deviation", "machinery")


class ClaimFailed(AssertionError):
    """A chapter's prediction and measurement disagree beyond the stated tolerance."""


@dataclass
class Claim:
    chapter: str
    profile: str
    claim: str
    theorem: str
    predicted: float | str
    measured: float | str
    tolerance: str
    passed: bool
    note: str = ""
    kind: str = "confirms"


def _num(x) -> float | str:
    try:
        return float(x)
    except (TypeError, ValueError):
        return str(x)


@dataclass
class Scorecard:
    """Collects the claims of one chapter run."""

    chapter: str
    profile: str
    theorem: str = ""
    device: str = "cpu"
    claims: list[Claim] = field(default_factory=list)

    # -- claim kinds -------------------------------------------------------------------------------
    def close(self, claim: str, predicted, measured, *, rtol: float = 0.0, atol: float = 0.0,
              theorem: str | None = None, note: str = "", kind: str = "confirms") -> None:
        """|measured - predicted| <= atol + rtol |predicted|."""
        p, m = float(predicted), float(measured)
        bound = atol + rtol * abs(p)
        ok = math.isfinite(m) and abs(m - p) <= bound
        tol = " + ".join(s for s in (f"{rtol:.3g} rel" if rtol else "", f"{atol:.3g} abs" if atol else "") if s) or "exact"
        self._record(claim, p, m, f"|diff| <= {tol}", ok, theorem, note, kind)

    def at_most(self, claim: str, measured, bound, *, tol: float = 0.0, theorem: str | None = None,
                note: str = "", kind: str = "confirms") -> None:
        """measured <= bound + tol."""
        m, b = float(measured), float(bound)
        ok = math.isfinite(m) and m <= b + tol
        self._record(claim, f"<= {b:.6g}", m, f"+{tol:.3g}" if tol else "none", ok, theorem, note, kind)

    def at_least(self, claim: str, measured, bound, *, tol: float = 0.0, theorem: str | None = None,
                 note: str = "", kind: str = "confirms") -> None:
        """measured >= bound - tol."""
        m, b = float(measured), float(bound)
        ok = math.isfinite(m) and m >= b - tol
        self._record(claim, f">= {b:.6g}", m, f"-{tol:.3g}" if tol else "none", ok, theorem, note, kind)

    def holds(self, claim: str, condition: bool, *, predicted="true", measured="", tolerance: str = "n/a",
              theorem: str | None = None, note: str = "", kind: str = "confirms") -> None:
        """A qualitative claim: ``condition`` must be true (give the numbers behind it in ``measured``)."""
        self._record(claim, predicted, measured, tolerance, bool(condition), theorem, note, kind)

    # -- bookkeeping -------------------------------------------------------------------------------
    def _record(self, claim, predicted, measured, tolerance, ok, theorem, note, kind) -> None:
        """Record a claim (the claim methods return nothing, so a notebook cell shows no repr)."""
        kind = check_choice("kind", kind, KINDS)
        c = Claim(self.chapter, self.profile, claim, theorem if theorem is not None else self.theorem,
                  _num(predicted), _num(measured), tolerance, bool(ok), note, kind)
        self.claims.append(c)
        self.save()
        if not ok:
            raise ClaimFailed(f"{self.chapter} [{self.profile}]: claim '{claim}' failed: predicted {predicted}, "
                              f"measured {measured}, tolerance {tolerance}")

    def save(self):
        atomic_write_json(output_dir() / "claims" / f"{self.chapter}.json", {
            "chapter": self.chapter, "profile": self.profile, "device": self.device,
            "mfat_version": __version__, "saved": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "claims": [asdict(c) for c in self.claims]})

    def table(self):
        """The claims as a pandas DataFrame (for display in the chapter)."""
        import pandas as pd

        cols = ["claim", "kind", "theorem", "predicted", "measured", "tolerance", "passed"]
        return pd.DataFrame([asdict(c) for c in self.claims], columns=[*cols, "note"])[cols]

    @property
    def all_passed(self) -> bool:
        return all(c.passed for c in self.claims)


def load_claims(directory=None) -> list[dict]:
    """All saved claims under ``<output_dir>/claims`` (for the scorecard page)."""
    import json

    directory = directory or output_dir() / "claims"
    out = []
    for path in sorted(directory.glob("*.json")):
        out.extend(json.loads(path.read_text())["claims"])
    return out
