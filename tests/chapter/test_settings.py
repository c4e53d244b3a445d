"""mfat.chapter.settings: registry, typed overrides, validation with clear messages."""

import math
from pathlib import Path

import pytest

from mfat.chapter import settings as profiles


def test_every_chapter_of_the_book_has_settings_under_its_stem():
    book = Path(__file__).resolve().parents[2] / "book"
    assert sorted(profiles.stem(p.stem) for p in book.glob("[0-9][0-9]_*.py")) == profiles.chapters()
    assert profiles.get("00_model", "quick") == profiles.get("model", "quick")


def test_every_registered_chapter_has_valid_quick_and_full():
    for name in profiles.chapters():
        q, f = profiles.get(name, "quick"), profiles.get(name, "full")
        assert type(q) is type(f)
        assert len(profiles.describe(name)) == len(q.as_dict())


def test_string_overrides_are_converted_and_validated():
    s = profiles.get("00_model", "quick", {"N": "64", "vanilla_sigma_w2": "1.5, 2.5", "v": "0.5"})
    assert s.N == 64 and s.vanilla_sigma_w2 == (1.5, 2.5) and s.v == 0.5


@pytest.mark.parametrize("overrides, name", [
    ({"N": "-5"}, "'N'"), ({"N": "abc"}, "'N'"), ({"L": 0}, "'L'"), ({"sigma_b2": -1.0}, "'sigma_b2'"),
    ({"vanilla_sigma_w2": (1.0, -2.0)}, "'vanilla_sigma_w2'"), ({"width": 5}, "'width'"), ({"seed": -3}, "'seed'"),
])
def test_bad_overrides_name_the_parameter(overrides, name):
    with pytest.raises(ValueError, match=name):
        profiles.get("00_model", "quick", overrides)


def test_bad_chapter_and_profile():
    with pytest.raises(ValueError, match="'chapter'"):
        profiles.get("99_nothing", "quick")
    with pytest.raises(ValueError, match="'profile'"):
        profiles.get("00_model", "medium")


def test_choices_and_exclusive_bounds():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Demo(profiles.Settings):
        p: float = profiles.param(math.inf, choices=(1.0, 2.0, math.inf))
        eps: float = profiles.param(0.1, gt=0.0)
        kind: str = profiles.param("vanilla", choices=("vanilla", "residual"))

    assert Demo(p="inf").p == math.inf
    with pytest.raises(ValueError, match="'p'"):
        Demo(p=3.0)
    with pytest.raises(ValueError, match="'eps'"):
        Demo(eps=0.0)
    with pytest.raises(ValueError, match="'kind'"):
        Demo(kind="dense")
