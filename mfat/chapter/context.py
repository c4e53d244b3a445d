"""What every chapter does first and last, so that no chapter copies it.

    ctx = mfat.chapter.start("01_random_linear_map", profile, overrides, seed=seed, device=device,
                             replay=replay, theorem="Theorem 4.1")
    ctx.settings   # validated settings (mfat.chapter.settings)
    ctx.card       # the chapter's Scorecard (mfat.chapter.claims)
    ctx.device     # torch.device
    ctx.cached(tag, compute)   # mfat.chapter.results.cached with this chapter's settings and profile
    ctx.cached_units(tag, *plan, gpus=ctx.unit_gpus)   # a measurement of units (mfat.runtime.Units), resumable
    ...
    ctx.finish()   # shows the claims table; raises if any claim failed
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from mfat import __version__
from mfat.atomic import atomic_write_json
from mfat.chapter import plotting
from mfat.chapter import settings as profiles
from mfat.chapter import results
from mfat.chapter.claims import Scorecard
from mfat.chapter.executors import executor_from_env
from mfat.paths import output_dir
from mfat.runtime import device_name
from mfat.runtime import make_generator, resolve_device

__all__ = ["Chapter", "start", "glue"]


def glue(name: str, value, display: bool = False) -> None:
    """myst-nb ``glue`` (numbers in the prose come from code). Keys are case-insensitive in myst-nb.

    Returns nothing, so that a cell ending with it shows no output on the page.
    """
    from myst_nb import glue as _glue

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()  # numpy / torch scalars: glue formats Python numbers only
    _glue(name, value, display=display)


@dataclass
class Chapter:
    name: str
    profile: str
    settings: profiles.Settings
    device: torch.device
    replay: bool
    card: Scorecard
    notes: dict = field(default_factory=dict)

    def generator(self, offset: int = 0) -> torch.Generator:
        """A fresh generator seeded with ``settings.seed + offset`` on the chapter's device."""
        return make_generator(self.settings.seed + offset, device=self.device)

    def cached(self, tag: str, compute, settings=None, schema: int = 1) -> dict:
        """``compute()`` under this chapter's settings (quick: recomputed; cpu, full: the result store)."""
        out, meta = results.cached(profiles.stem(self.name), tag, settings or self.settings, compute,
                                   tier=self.profile, replay=self.replay, device=self.card.device, schema=schema)
        self.notes[tag] = meta
        return out

    def cached_units(self, tag: str, units: list, compute_unit, combine, settings=None, schema: int = 1,
                     gpus: float = 0.0):
        """A measurement made of units (a width, a chunk of cells, a sweep point), each stored as it finishes and
        computed by the executor of ``MFAT_EXECUTOR`` (serial, or ray with ``gpus`` per unit)."""
        out, meta = results.cached_units(profiles.stem(self.name), tag, settings or self.settings, units,
                                         compute_unit, combine, tier=self.profile, replay=self.replay,
                                         device=self.card.device, schema=schema, gpus=gpus,
                                         executor=executor_from_env())
        self.notes[tag] = meta
        return out

    @property
    def unit_gpus(self) -> float:
        """What a training unit declares to the executor: one GPU when the chapter runs on CUDA, else none."""
        return 1.0 if self.device.type == "cuda" else 0.0

    def banner(self) -> str:
        """One line saying how this page was produced."""
        s = f"profile **{self.profile}**, device {self.card.device}, torch {torch.__version__}, mfat {__version__}"
        stored = [m for m in self.notes.values() if m.get("date")]
        if self.profile in results.STORED_TIERS and stored:
            s += f"; {self.profile}-tier results computed on " + ", ".join(
                sorted({f"{m['date'][:10]} ({m['device']}, {m['wall_time_s']} s)" for m in stored}))
        return s

    def evidence(self) -> dict:
        """Where this page's numbers come from: the tier, this run, and each stored result's provenance."""
        stored = [{"tag": tag, **{k: m.get(k) for k in ("date", "device", "commit", "wall_time_s")}}
                  for tag, m in self.notes.items() if self.profile in results.STORED_TIERS and m.get("date")]
        return {"chapter": self.name, "tier": self.profile, "replay": self.replay, "device": self.card.device,
                "stored": stored}

    def finish(self):
        """Display the chapter's claims, record where its numbers come from, and fail if a claim did not hold."""
        from IPython.display import Markdown, display

        atomic_write_json(output_dir() / "pages" / f"{self.name}.json", self.evidence())
        display(Markdown(f"This page was produced with {self.banner()}."))
        table = self.card.table()
        if not self.card.all_passed:
            raise AssertionError(f"{self.name}: some claims failed:\n{table}")
        return table


def start(name: str, profile: str = "quick", overrides: dict | None = None, *, seed: int = 0,
          device: str = "auto", replay: bool = False, theorem: str = "") -> Chapter:
    """Validate the settings, pick the device, set the plotting theme, open the scorecard."""
    settings = profiles.get(name, profile, {**(overrides or {}), "seed": seed})
    dev = resolve_device(device)
    if replay and profile not in results.STORED_TIERS:
        raise ValueError(f"parameter 'replay' = True is out of range for profile {profile!r}: allowed only with "
                         f"{' or '.join(results.STORED_TIERS)}")
    plotting.setup()
    torch.manual_seed(settings.seed)  # only for third-party code that ignores our generators
    card = Scorecard(name, profile, theorem=theorem, device=device_name(dev))
    glue("profile", profile)
    return Chapter(name, profile, settings, dev, replay, card)
