"""mfat.site.leaks: Python reprs under a cell are found; figures, tables and prose are not."""

import nbformat

from mfat.site.leaks import check_notebooks, leaked_outputs


def _nb(*outputs):
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = list(outputs)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), cell])


def _result(text, **more):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text, **more}, execution_count=1)


def test_reprs_are_found():
    for text, kind in [("<matplotlib.legend.Legend at 0x7f3a2c1d0>", "object repr"),
                       ("Text(0.5, 0.98, 'Fig. 5')", "matplotlib text"),
                       ("Claim(chapter='01', ...)", "claim repr"),
                       ("{'a': np.float64(0.25)}", "numpy scalar repr"),
                       ("0.9174", "bare number"),
                       ("[<matplotlib.lines.Line2D at 0x1>]", "object repr")]:
        found = leaked_outputs(_nb(_result(text)))
        assert [(i, k) for i, k, _ in found] == [(1, kind)], text


def test_figures_tables_and_text_are_fine():
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure size 640x480 with 1 Axes>"})
    table = _result("   a\n0  1", **{"text/html": "<table></table>"})
    prose = nbformat.v4.new_output("stream", name="stdout", text="beta = 1.234 at d = 784\n")
    assert leaked_outputs(_nb(figure, table, prose)) == []


def test_check_notebooks_names_the_file_and_cell(tmp_path):
    path = tmp_path / "03_x.ipynb"
    nbformat.write(_nb(_result("np.float64(3.5)")), path)
    assert check_notebooks([path]) == ["03_x.ipynb: cell 1: numpy scalar repr: 'np.float64(3.5)'"]
