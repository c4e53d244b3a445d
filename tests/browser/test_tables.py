"""Tables sort by a click on a column header: numbers as numbers, a second click reverses (mfat/site/sphinx_ext.py)."""

import pytest

from mfat.site.browse import VIEWPORT

pytestmark = pytest.mark.browser

# the first column of the page whose body cells are all numbers, its values, and the values after one click
SORT_JS = """async () => {
  const num = t => { const s = t.trim().replace(/[,\\u2009%]/g, "").replace(/\\u2212/g, "-").split(/\\s|\\u00b1/)[0];
    const x = Number(s); return s !== "" && Number.isFinite(x) ? x : null; };
  for (const table of document.querySelectorAll("article table")) {
    const body = table.tBodies[0];
    if (!table.tHead || !body || body.rows.length < 3) continue;
    const heads = [...[...table.tHead.rows].reduce((a, b) => b.cells.length > a.cells.length ? b : a).cells];
    for (let col = 0; col < heads.length; col++) {
      const values = () => [...body.rows].map(r => num((r.cells[col] || {innerText: ""}).innerText));
      const before = values();
      if (before.some(v => v === null) || new Set(before).size < 3) continue;
      heads[col].click();
      const up = values();
      heads[col].click();
      return {header: heads[col].innerText, sortable: heads[col].classList.contains("mfat-sortable"), before, up,
              down: values()};
    }
  }
  return null;
}"""


@pytest.mark.parametrize("rel", ["book/02_adversarial_loss.html", "book/scorecard.html"])
def test_a_numeric_column_sorts_as_numbers_both_ways(browser, site_url, rel):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{site_url}/{rel}", wait_until="networkidle")
    page.wait_for_load_state("load")  # a long page can still be parsing when the network is idle
    found = page.evaluate(SORT_JS)
    page.close()
    assert found is not None, f"{rel}: no table with a numeric column of at least three distinct values"
    assert found["sortable"], f"{rel}: the header {found['header']!r} is not marked sortable"
    assert found["up"] == sorted(found["before"]), f"{rel}: {found['header']!r} did not sort ascending: {found['up']}"
    assert found["down"] == sorted(found["before"], reverse=True), f"{rel}: the second click did not reverse"
