"""mfat.site.folding: what a reader sees of a chapter's code is decided by rule, and explicit tags win."""

import nbformat

from mfat.site.folding import (
    MAX_VISIBLE_LINES,
    aliases,
    cell_role,
    cell_tags,
    fold_notebook,
    settings_section,
)

SETUP = '''import mfat
import mfat.chapter
from mfat.chapter import plotting
from mfat.chapter.figures import model as figures
from mfat.chapter.interactive import show
from mfat.experiments import model as experiment

ctx = mfat.chapter.start("00_model", profile, overrides, seed=seed)
S = ctx.settings
mfat.chapter.settings.describe("00_model")'''
NAMES = aliases([SETUP, "glue = mfat.chapter.glue"])


def tags(source, given=()):
    return cell_tags(source, list(given), NAMES)


def test_figure_cells_fold_their_code():
    assert tags('plotting.glue_figure(figures.signal_propagation(m, p, S), "ch0_signal")') == ["hide-input"]
    assert tags('show(figures.signal_slider(m, p, S), "ch0-signal")') == ["hide-input"]
    assert tags('mfat.chapter.glue("k", 3)\nfigures.law(a, b);') == ["hide-input"]
    assert tags("for name in NAMES:\n    plotting.glue_figure(figures.sweeps(t[name]), f'k_{name}')") == ["hide-input"]


def test_claims_and_glue_cells_lose_their_code_but_keep_their_output():
    claims = 'for k, v in R.items():\n    ctx.card.close(f"{k}", 1.0, v, atol=0.1)\nmfat.chapter.glue("x", 2)'
    assert tags(claims) == ["remove-input"]
    assert tags('glue("a", 1)\nglue("b", 2)') == ["remove-input"]
    assert tags("ctx.finish()") == ["remove-input"]


def test_measurements_stay_visible_unless_long():
    measure = 'predicted = experiment.signal_prediction(S)\nmeasured = ctx.cached("signal", lambda: 1)'
    assert tags(measure) == []
    long_cell = "\n".join(f"x{i} = {i}" for i in range(MAX_VISIBLE_LINES + 1))
    assert tags(long_cell) == ["hide-input"]
    assert tags('m = ctx.cached("t", f)\nctx.card.close("c", 1.0, m, atol=1)') == []  # measures: not a claims cell


def test_parameters_and_setup_leave_their_place_and_explicit_tags_win():
    assert tags("profile = 'quick'", ["parameters"]) == ["remove-cell"]
    assert tags("profile = 'full'", ["injected-parameters"]) == ["remove-cell"]
    assert tags(SETUP) == ["remove-cell"] and cell_role(SETUP, [], NAMES) == "setup"
    assert tags('ctx.card.close("c", 1, 1, atol=0)', ["hide-input"]) == []
    assert tags('figures.law(a);', ["remove-cell"]) == []


def _chapter():
    cells = [nbformat.v4.new_markdown_cell("# 0. Title"),
             nbformat.v4.new_code_cell("profile = 'quick'", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("profile = 'cpu'", metadata={"tags": ["injected-parameters"]}),
             nbformat.v4.new_code_cell(SETUP),
             nbformat.v4.new_code_cell('plotting.glue_figure(figures.law(a), "k")'),
             nbformat.v4.new_code_cell('ctx.card.close("c", 1, 1, atol=0)'),
             nbformat.v4.new_code_cell("ctx.finish()")]
    return nbformat.v4.new_notebook(cells=cells)


def test_fold_notebook_ends_the_page_with_the_settings_and_is_idempotent():
    nb = _chapter()
    fold_notebook(nb, "| setting | quick |\n|---|---|\n| `N` | 5 |")
    once = nbformat.writes(nb)
    fold_notebook(nb, "| setting | quick |\n|---|---|\n| `N` | 5 |")
    assert nbformat.writes(nb) == once
    assert [c.metadata.get("tags") for c in nb.cells[1:6]] == [
        ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["remove-cell"], ["hide-input"],
        ["remove-input"]]
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Settings of this page")
    for part in ("profile = 'quick'", "profile = 'cpu'", "mfat.chapter.start(", "| `N` | 5 |", ":::{dropdown}"):
        assert part in last.source
    assert len(nb.cells) == 8  # the notebook keeps every cell in place and gains one


def test_settings_section_without_injected_values():
    text = settings_section("seed = 0", "", "import mfat", "")
    assert "The values this run was given" not in text and text.rstrip().endswith(":::")
