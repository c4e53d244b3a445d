"""mfat.chapter.plotting and interactive: two panels per row at most, readable type, figures handed to the page."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from mfat.chapter import interactive, plotting


def test_panels_put_at_most_two_in_a_row_and_centre_an_odd_last_one():
    fig, axes = plotting.panels(3, height=2.0)
    boxes = [ax.get_position() for ax in axes]
    assert len(axes) == 3 and fig.get_figheight() == pytest.approx(4.0)
    assert boxes[0].y0 == pytest.approx(boxes[1].y0) and boxes[2].y1 < boxes[0].y0
    assert (boxes[2].x0 + boxes[2].x1) / 2 == pytest.approx(0.5, abs=0.02)
    plt.close(fig)
    with pytest.raises(ValueError, match="parameter 'n' = 0"):
        plotting.panels(0)


def test_small_text_is_raised_to_the_readable_size_as_displayed():
    fig, axes = plotting.figure(1)
    axes[0, 0].plot([0, 1], [0, 1], label="a line")
    legend = axes[0, 0].legend(fontsize=4)
    note = axes[0, 0].text(0.5, 0.5, "note", fontsize=20)
    assert plotting.readable_fonts(fig) >= 1
    shown = plotting.displayed_scale(fig)
    assert legend.get_texts()[0].get_fontsize() * shown == pytest.approx(plotting.MIN_FONT_PT)
    assert note.get_fontsize() == 20
    assert plotting.readable_fonts(fig) == 0
    plt.close(fig)


def test_a_wide_figure_is_shrunk_to_the_column():
    wide, _ = plotting.figure(1, width=2 * plotting.COLUMN_PX / plotting.DPI)
    narrow, _ = plotting.figure(1)
    assert plotting.displayed_scale(wide) < plotting.displayed_scale(narrow)
    plt.close("all")


def test_the_static_twin_is_an_inline_image_with_its_alt_text():
    fig, axes = plotting.figure(1)
    axes[0, 0].plot([0, 1], [1, 0])
    html = interactive._static_html(fig, 'a falling "line"')
    assert html.startswith('<img class="mfat-static" src="data:image/png;base64,')
    assert 'alt="a falling &quot;line&quot;"' in html
    assert not plt.fignum_exists(fig.number)


def test_a_static_twin_needs_alt_text():
    fig, _ = plotting.figure(1)
    with pytest.raises(ValueError, match="parameter 'alt' is empty"):
        interactive.show(object(), "k", static=fig)
    plt.close(fig)


def test_titles_wider_than_their_room_are_wrapped_between_words():
    fig, axes = plotting.panels(2, height=2.0)
    fig.suptitle("a figure title far too long for its figure, with maths $p = q = \\infty$ kept whole " * 2)
    axes[1].set_title("a panel title that is much wider than its own panel")
    axes[0].set_title("short")
    assert plotting.fit_titles(fig) == 2
    assert "\n" in fig._suptitle.get_text() and "$p = q = \\infty$" in fig._suptitle.get_text()
    assert "\n" in axes[1].get_title() and axes[0].get_title() == "short"
    renderer = fig.canvas.get_renderer()
    assert fig._suptitle.get_window_extent(renderer).width <= 1.05 * fig.bbox.width
    plt.close(fig)


def test_wrapping_keeps_the_line_breaks_a_title_has():
    fig, _ = plotting.panels(1, height=2.0, width=3.0)
    fig.suptitle("first line of a long title that cannot fit on one line of this figure at all\nsecond line")
    plotting.fit_titles(fig)
    assert fig._suptitle.get_text().endswith("\nsecond line") and fig._suptitle.get_text().count("\n") >= 2
    plt.close(fig)


def test_axis_titles_are_typeset_as_plotly_html():
    assert interactive.typeset("L_adv") == "L<sub>adv</sub>"
    assert interactive.typeset("Var J_11") == "Var J<sub>11</sub>"
    assert interactive.typeset("q^(l)") == "q<sup>(l)</sup>"
    assert interactive.typeset("||w(t)||²_FR") == "‖w(t)‖²<sub>FR</sub>"
    assert interactive.typeset("depth L") == "depth L"
    assert interactive.typeset("σ²_w(t)") == "σ²<sub>w</sub>(t)"
    assert interactive.typeset("Fisher-Rao norm under adv_only training") == "Fisher-Rao norm under adv_only training"


def _frames(n=3):
    import numpy as np

    x = np.array([1.0, 10.0, 100.0])
    return {f"N={k}": [interactive.Series("theory", x, x * k, "theory"), interactive.Series("measured", x, x * k)]
            for k in range(1, n + 1)}


def test_log_axes_label_powers_of_ten_only_when_they_span_a_decade():
    fig = interactive.slider_figure(_frames(), xlabel="d", ylabel="L_adv", log_x=True, log_y=True)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.dtick == 1
    assert fig.layout.yaxis.title.text == "L<sub>adv</sub>"
    import numpy as np

    narrow = {"a": [interactive.Series("m", np.array([2.0, 3.0]), np.array([2.0, 3.0]))]}
    assert interactive.slider_figure(narrow, xlabel="x", ylabel="y", log_x=True).layout.xaxis.dtick is None


def test_a_slider_without_a_twin_gets_one_panel_per_position_for_print():
    fig = interactive.slider_figure(_frames(4), xlabel="d", ylabel="L_adv", log_x=True)
    twin = interactive.static_twin(fig)
    shown = [ax for ax in twin.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in shown] == ["N=1", "N=2", "N=3", "N=4"]
    assert all(ax.get_xscale() == "log" for ax in shown)
    assert len(shown[0].get_lines()) == 2
    plt.close(twin)


def test_the_print_twin_sets_sub_and_superscripts_as_mathtext():
    fig = interactive.slider_figure(_frames(2), xlabel="q^(l)", ylabel="Var J_11")
    twin = interactive.static_twin(fig)
    labels = [ax.get_ylabel() for ax in twin.axes if ax.get_ylabel()] + [ax.get_xlabel() for ax in twin.axes]
    assert "Var J$_{11}$" in labels and "q$^{(l)}$" in labels
    twin.canvas.draw()  # the mathtext parses
    plt.close(twin)
