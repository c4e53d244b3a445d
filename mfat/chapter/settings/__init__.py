"""Typed quick / full settings of every chapter, validated.

Each chapter module in this package defines a frozen dataclass deriving from :class:`Settings`,
whose fields are declared with :func:`param` (default, allowed range, description), and registers a
``quick`` and a ``full`` instance with :func:`register`. Chapters then call

    settings = mfat.chapter.settings.get("01_random_linear_map", profile, overrides)

Overrides may be given as strings (from the command line); they are converted to the field's type
and validated. Every bad value raises ``ValueError`` naming the parameter, its value and the allowed
range. The chapters' modules are imported at the bottom of this file, one per chapter stem.

Chapters that train networks derive from :class:`TrainingSettings`, whose :meth:`TrainingSettings.train_config`
turns the settings into a :class:`mfat.model.training.TrainConfig`, so that no chapter re-packs them by hand.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass, field, fields

from mfat.validation import check_choice, check_int, check_real

__all__ = ["Settings", "TrainingSettings", "param", "register", "get", "chapters", "stem", "PROFILES",
           "describe"]

PROFILES = ("quick", "cpu", "full")  # the tiers: CI minutes; a 2-core CPU in about an hour; the paper
_REGISTRY: dict[str, dict[str, "Settings"]] = {}


def param(default, *, ge=None, gt=None, le=None, lt=None, choices=None, doc: str = ""):
    """Declare a settings field with its allowed range (``ge``/``gt``/``le``/``lt``) or ``choices``."""
    return field(default=default, metadata={"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "doc": doc})


def _coerce(name: str, value, typ):
    """Convert a string override to ``typ`` (int, float, bool, str or tuple[...])."""
    if not isinstance(value, str) or typ is str:
        if typing.get_origin(typ) is tuple and isinstance(value, list):
            return tuple(value)
        return value
    if typ is bool:
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed true or false")
    if typing.get_origin(typ) is tuple:
        inner = typing.get_args(typ)[0]
        return tuple(_coerce(name, v.strip(), inner) for v in value.strip("()[] ").split(",") if v.strip())
    try:
        return int(value) if typ is int else float(value) if typ is float else value
    except ValueError:
        raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed a value of type {typ.__name__}") from None


def _check_scalar(name: str, value, typ, meta):
    if meta.get("choices") is not None:
        return check_choice(name, value, meta["choices"])
    if typ is bool:
        if not isinstance(value, bool):
            raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed True or False")
        return value
    if typ is str:
        if not isinstance(value, str):
            raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed a string")
        return value
    lo = meta.get("ge") if meta.get("ge") is not None else meta.get("gt")
    hi = meta.get("le") if meta.get("le") is not None else meta.get("lt")
    if typ is int:
        v = check_int(name, value, min_value=None if lo is None else math.ceil(lo), max_value=hi)
        if meta.get("gt") is not None and v <= meta["gt"] or meta.get("lt") is not None and v >= meta["lt"]:
            raise ValueError(f"parameter '{name}' = {value!r} is out of range: allowed ({meta.get('gt')}, {meta.get('lt')})")
        return v
    return check_real(name, value, min_value=lo, max_value=hi,
                      min_inclusive=meta.get("gt") is None, max_inclusive=meta.get("lt") is None)


@dataclass(frozen=True)
class Settings:
    """Base class of chapter settings: validates every field on construction."""

    seed: int = param(0, ge=0, doc="seed of every torch.Generator in the chapter")

    def __post_init__(self):
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            typ = hints[f.name]
            value = _coerce(f.name, getattr(self, f.name), typ)
            if typing.get_origin(typ) is tuple:
                inner = typing.get_args(typ)[0]
                if not isinstance(value, tuple) or not value:
                    raise ValueError(f"parameter '{f.name}' = {value!r} is out of range: allowed a non-empty tuple")
                value = tuple(_check_scalar(f.name, v, inner, f.metadata) for v in value)
            else:
                value = _check_scalar(f.name, value, typ, f.metadata)
            object.__setattr__(self, f.name, value)
        self.check()

    def check(self) -> None:
        """Cross-field checks; override in a chapter's settings (raise ValueError)."""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


#: TrainConfig fields that a chapter's training settings pass on when it declares them (attack and optimiser).
TRAIN_FIELDS = ("lr", "batch_size", "eps", "attack_steps", "attack_step_size", "attack_restarts", "lam",
                "eval_size", "record_every")


@dataclass(frozen=True)
class TrainingSettings(Settings):
    """Settings of a chapter that trains networks: they declare (some of) :data:`TRAIN_FIELDS`."""

    def train_config(self, objective: str, steps: int, **overrides):
        """The :class:`mfat.model.training.TrainConfig` of one run: ``objective``, ``steps`` SGD steps, the
        l_inf threat model (p = q = inf) and the fields of :data:`TRAIN_FIELDS` this chapter declares, then
        ``overrides`` (any TrainConfig field)."""
        from mfat.model.training import TrainConfig

        base = {name: getattr(self, name) for name in TRAIN_FIELDS if hasattr(self, name)}
        return TrainConfig(**{"objective": objective, "steps": steps, "p": math.inf, "q": math.inf, **base,
                              **overrides})


def register(chapter: str, *, quick: Settings, full: Settings, cpu: Settings | None = None) -> None:
    """Register the tiers of ``chapter`` (its stem): ``quick`` (CI), ``cpu`` (the largest scale a 2-core machine
    runs in about an hour) and ``full`` (the paper's scale)."""
    tiers = {"quick": quick, "cpu": cpu, "full": full}
    for name, value in tiers.items():
        if value is not None and type(value) is not type(quick):
            raise TypeError(f"{chapter}: the {name} settings must have the type of the quick settings")
    _REGISTRY[stem(chapter)] = tiers


def stem(chapter: str) -> str:
    """The chapter's stem: ``"02_adversarial_loss"`` (a page of ``book/``) -> ``"adversarial_loss"``."""
    return re.sub(r"^\d\d_", "", chapter)


def chapters() -> list[str]:
    """Stems of the chapters with registered settings."""
    return sorted(_REGISTRY)


def get(chapter: str, profile: str = "quick", overrides: dict | None = None, **kwargs) -> Settings:
    """The validated settings of ``chapter`` at ``profile``, with ``overrides`` applied."""
    chapter = stem(chapter)
    if chapter not in _REGISTRY:
        raise ValueError(f"parameter 'chapter' = {chapter!r} is out of range: allowed one of {', '.join(chapters())}")
    profile = check_choice("profile", profile, PROFILES)
    base = _REGISTRY[chapter][profile]
    if base is None:
        have = [t for t in PROFILES if _REGISTRY[chapter][t] is not None]
        raise ValueError(f"parameter 'profile' = {profile!r} is out of range for chapter {chapter!r}: allowed "
                         f"{', '.join(have)}")
    changes = {**(overrides or {}), **kwargs}
    names = {f.name for f in fields(base)}
    for key in changes:
        if key not in names:
            raise ValueError(f"parameter '{key}' is not a setting of chapter {chapter!r}: allowed {', '.join(sorted(names))}")
    return dataclasses.replace(base, **changes)


def describe(chapter: str):
    """A table of a chapter's settings: name, one column per tier it has, allowed range, meaning."""
    import pandas as pd

    tiers = {t: s for t, s in _REGISTRY[stem(chapter)].items() if s is not None}
    rows = []
    for f in fields(tiers["quick"]):
        m = f.metadata
        rng = (f"one of {m['choices']}" if m.get("choices") else
               ", ".join(f"{k} {m[k]}" for k in ("ge", "gt", "le", "lt") if m.get(k) is not None))
        rows.append({"setting": f.name, **{t: getattr(s, f.name) for t, s in tiers.items()},
                     "allowed": rng, "meaning": m.get("doc", "")})
    return pd.DataFrame(rows).set_index("setting")


# the chapters' settings, one module per chapter stem (each registers its tiers on import)
from mfat.chapter.settings import (  # noqa: E402,F401
    adversarial_loss,
    attack_gaps,
    capacity,
    implicit_bias,
    model,
    perturbation_learning,
    random_linear_map,
    trainability,
    weight_variance,
)
