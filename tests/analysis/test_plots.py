"""Every figure function draws from the tables without touching global matplotlib state."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pytest

from analysis import plots
from analysis.compute import analyse
from analysis.correlation import correlation_matrix
from tests.analysis.synthetic import synthetic_architectures, synthetic_runs


@pytest.fixture(scope="module")
def result():
    archs = synthetic_architectures(30)
    runs = synthetic_runs(
        archs,
        {
            "imagenet": (1000, "top5"),
            "imagenet-2": (2, "top1"),
            "concrete": (2, "top1"),
            "cifar10": (10, "top1"),
        },
    )
    return analyse(runs, archs, n_boot=20)


FIGURES = {
    "edf_overlay": lambda r: plots.edf_overlay_figure(r.matrix),
    "edf_grid": lambda r: plots.edf_grid_figure(r.matrix, r.labels),
    "clustermap": lambda r: plots.clustermap_figure(correlation_matrix(r.tables["correlations"]), n=30),
    "apr": lambda r: plots.apr_figure(
        r.matrix, "concrete", ["imagenet", "imagenet-2"], r.tables["correlations"]
    ),
    "driver": lambda r: plots.driver_figure(r.matrix, r.archs, "cum_depth", r.tables["drivers"]),
    "driver_heatmap": lambda r: plots.driver_heatmap_figure(r.tables["drivers"]),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_draws_and_leaves_rc_alone(result, name):
    before = dict(mpl.rcParams)
    fig = FIGURES[name](result)
    assert fig.axes and any(ax.has_data() or ax.collections for ax in fig.axes)
    fig.canvas.draw()
    assert dict(mpl.rcParams) == before


def test_apr_title_prints_rho_r_and_n(result):
    fig = plots.apr_figure(result.matrix, "concrete", ["imagenet"], result.tables["correlations"])
    title = fig.axes[0].get_title()
    assert "ρ = " in title and "r = " in title and "n = 30" in title


def test_apr_marks_at_most_a_quarter_of_a_small_study(result):
    small = result.matrix.iloc[:10]
    fig = plots.apr_figure(small, "concrete", ["imagenet"], result.tables["correlations"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["best 2", "worst 2", "other"]
    fig = plots.apr_figure(result.matrix, "concrete", ["imagenet"], result.tables["correlations"])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2] == ["best 7", "worst 7"]


def _plotted_points(fig) -> np.ndarray:
    """Display coordinates of every scatter point and line vertex drawn in the figure's axes."""
    points = []
    for ax in fig.axes:
        for coll in ax.collections:
            offsets = np.asarray(coll.get_offsets())
            if offsets.size:
                points.append(coll.get_offset_transform().transform(offsets))
        for line in ax.lines:
            xy = np.asarray(line.get_xydata(), dtype=float)
            if xy.size:
                points.append(line.get_transform().transform(xy[np.isfinite(xy).all(axis=1)]))
    return np.concatenate(points) if points else np.empty((0, 2))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_no_legend_covers_a_plotted_point(result, name):
    fig = FIGURES[name](result)
    fig.draw_without_rendering()  # runs the layout, so display coordinates are final
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    points = _plotted_points(fig)
    assert bool(legends) == (name in ("apr", "edf_overlay")) and len(points) > 0
    for legend in legends:
        box = legend.get_window_extent()
        inside = (
            (points[:, 0] >= box.x0)
            & (points[:, 0] <= box.x1)
            & (points[:, 1] >= box.y0)
            & (points[:, 1] <= box.y1)
        )
        assert not inside.any(), f"{name}: legend covers {int(inside.sum())} point(s)"


def test_the_legend_check_sees_a_legend_inside_the_points(result):
    """The check above can fail: a legend placed in the middle of the APR cloud is caught."""
    fig = FIGURES["apr"](result)
    ax = fig.axes[0]
    ax.legend(loc="center")
    fig.draw_without_rendering()
    box = ax.get_legend().get_window_extent()
    points = _plotted_points(fig)
    inside = (
        (points[:, 0] >= box.x0)
        & (points[:, 0] <= box.x1)
        & (points[:, 1] >= box.y0)
        & (points[:, 1] <= box.y1)
    )
    assert inside.any()
