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


def test_the_evidence_note_names_tier_hardware_and_date():
    quick = runner.evidence_note({"tier": "quick", "replay": False, "device": "cpu: X", "stored": []})
    assert "**quick** tier" in quick and "cpu: X" in quick
    stored = runner.evidence_note({"tier": "cpu", "replay": True, "device": "cpu: Y", "stored": [
        {"tag": "grid", "date": "2026-12-04T10:00:00+00:00", "device": "cpu: Z (2 cores)", "commit": "abcdef123456"}]})
    assert "**cpu** tier" in stored and "2026-12-04" in stored and "cpu: Z (2 cores)" in stored
    assert "abcdef1234" in stored and "replayed" in stored


def test_execute_opens_the_page_with_the_evidence_note(tmp_path, tmp_outputs):
    source = tmp_path / "99_tiny.py"
    source.write_text(TINY + '''
# %%
import json, os, pathlib
folder = pathlib.Path(os.environ["MFAT_OUTPUT_DIR"]) / "pages"
folder.mkdir(parents=True, exist_ok=True)
(folder / "99_tiny.json").write_text(json.dumps({"tier": "quick", "replay": False, "device": "cpu: T", "stored": []}))
''')
    nb_dir = tmp_path / "notebooks"
    path = runner.execute_chapter(source, {"profile": "quick"}, timeout=120, notebook_dir=nb_dir)
    nb = nbformat.read(path, as_version=4)
    assert path.parent == nb_dir and "evidence-note" in nb.cells[1].metadata["tags"]
    assert "**quick** tier" in nb.cells[1].source and "cpu: T" in nb.cells[1].source


def test_best_tier_prefers_full_then_cpu(tmp_outputs):
    from mfat.paths import results_dir

    assert runner.best_tier("02_adversarial_loss") is None
    (results_dir("cpu") / "adversarial_loss").mkdir(parents=True)
    (results_dir("cpu") / "adversarial_loss" / "x-0.json").write_text("{}")
    assert runner.best_tier("02_adversarial_loss") == "cpu"
    (results_dir("full") / "adversarial_loss").mkdir(parents=True)
    (results_dir("full") / "adversarial_loss" / "x-0.json").write_text("{}")
    assert runner.best_tier("02_adversarial_loss") == "full"
    assert runner.committed_tiers("adversarial_loss") == ["cpu", "full"]


def test_the_edition_refuses_chapters_without_committed_results(tmp_outputs):
    with pytest.raises(SystemExit, match="no committed cpu or full results for 00_model.*--allow-quick"):
        runner.main(["edition", "--only", "00", "--no-build"])


def test_the_evidence_note_follows_the_verdict_and_the_code_is_folded(tmp_path, tmp_outputs):
    source = tmp_path / "99_tiny.py"
    source.write_text(TINY.replace('''# # A tiny chapter
''', '''# # A tiny chapter

# %% [markdown] tags=["verdict"]
# :::{admonition} Verdict
# :class: verdict
# **Statement.** x **Status: confirmed.** **Scale.** y
# :::
''') + '''
# %%
import json, os, pathlib
folder = pathlib.Path(os.environ["MFAT_OUTPUT_DIR"]) / "pages"
folder.mkdir(parents=True, exist_ok=True)
(folder / "99_tiny.json").write_text(json.dumps({"tier": "quick", "replay": False, "device": "cpu: T", "stored": []}))
''')
    nb = nbformat.read(runner.execute_chapter(source, {"profile": "quick"}, timeout=120, notebook_dir=tmp_path / "n"),
                       as_version=4)
    assert "verdict" in nb.cells[1].metadata["tags"] and "evidence-note" in nb.cells[2].metadata["tags"]
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert "remove-cell" in params[0].metadata["tags"]
    assert nb.cells[-1].source.startswith("## Settings of this page") and 'profile = "quick"' in nb.cells[-1].source
