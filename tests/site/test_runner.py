"""The chapter runner: argument handling, early validation, papermill execution with hidden parameters."""

import json

import nbformat
import pytest

from mfat.site import runner

TINY = '''# %% [markdown]
# # A tiny chapter

# %% tags=["parameters"]
profile = "quick"
overrides = {}

# %%
print("profile", profile, overrides)
'''


def test_parse_overrides():
    assert runner.parse_overrides(["N=5", " L = 3 "]) == {"N": "5", "L": "3"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        runner.parse_overrides(["N"])


def test_unknown_chapter_is_named():
    with pytest.raises(SystemExit, match="'only'.*nope"):
        runner.select(["nope"])


def test_bad_parameter_stops_before_any_kernel_starts(capsys):
    with pytest.raises(SystemExit, match="'N' = -5"):
        runner.main(["run", "--only", "00", "--set", "N=-5"])
    with pytest.raises(SystemExit, match="'width' is not a setting"):
        runner.main(["run", "--only", "00", "--set", "width=3"])
    with pytest.raises(SystemExit, match="one chapter"):
        runner.main(["run", "--set", "N=3"])


def test_chapters_are_listed_in_reading_order():
    stems = [p.stem for p in runner.chapter_sources()]
    assert stems[0] == "00_model" and stems == sorted(stems)


def test_execute_injects_parameters_and_hides_them(tmp_path):
    source = tmp_path / "99_tiny.py"
    source.write_text(TINY)
    runner.execute_chapter(source, {"profile": "full", "overrides": {"N": "7"}}, timeout=120)
    nb = nbformat.read(tmp_path / "99_tiny.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "remove-cell" in injected[0].metadata["tags"]
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "profile full {'N': '7'}" in printed
    assert json.loads(json.dumps(nb.metadata["jupytext"]))["formats"] == "ipynb,py:percent"
