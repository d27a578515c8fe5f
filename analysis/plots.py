"""Figures from the analysis tables: each function returns a matplotlib Figure and leaves global state alone.

Styles are applied with seaborn's context managers around figure creation (no `set_theme`), figures are built
on `matplotlib.figure.Figure` directly except the clustermap, which seaborn creates through pyplot (the caller
closes it). Labels come from an optional `labels` mapping task -> axis label, e.g. "imagenet top-5 error (%)".
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

HIGHLIGHT = {"best 10": "#1b9e77", "worst 10": "#d95f02", "other": "#b0b0b0"}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The one look of every figure, scoped to the figure's creation."""
    with (
        sns.axes_style("ticks"),
        sns.plotting_context("notebook", font_scale=0.85),
        warnings.catch_warnings(),
    ):
        # seaborn 0.13 calls Colormap.set_bad, which matplotlib 3.11 marks as pending deprecation
        warnings.filterwarnings("ignore", "The set_bad function", PendingDeprecationWarning)
        yield


def _label(labels: Mapping[str, str] | None, task: str) -> str:
    return (labels or {}).get(task, f"{task} error (%)")


def _grid(n: int, ncols: int, size: tuple[float, float], *, fixed: bool = False) -> tuple[Figure, np.ndarray]:
    """n panels of `size` inches in rows of `ncols`. `fixed` margins (in inches, for small tick labels and a
    one-line title per panel) replace constrained layout, which costs more than the drawing on 15 panels."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    width, height = size[0] * ncols, size[1] * nrows
    if fixed:
        fig = Figure(figsize=(width, height))
        margins = {
            "left": 0.75 / width,
            "right": 1 - 0.15 / width,
            "bottom": 0.55 / height,
            "top": 1 - 0.3 / height,
            "wspace": 0.32,
            "hspace": 0.62,
        }
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=margins).ravel())
    else:
        fig = Figure(figsize=(width, height), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def long_errors(matrix: pd.DataFrame) -> pd.DataFrame:
    """(arch_id, task, error) rows of the error matrix, missing runs dropped."""
    return matrix.rename_axis(index="arch_id", columns="task").stack().rename("error").reset_index()


def edf_overlay_figure(matrix: pd.DataFrame) -> Figure:
    """All tasks' error EDFs on one axes (R20 Fig. 2 style)."""
    with style():
        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        ax = fig.subplots()
        palette = sns.color_palette("husl", matrix.shape[1])
        sns.ecdfplot(long_errors(matrix), x="error", hue="task", palette=palette, ax=ax)
        ax.set(xlabel="error (%)", ylabel="cumulative prob.", title="Error EDF per task")
        if ax.get_legend() is not None:
            sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title="task", fontsize="small")
    return fig


def edf_grid_figure(matrix: pd.DataFrame, labels: Mapping[str, str] | None = None) -> Figure:
    """One EDF panel per task, with n and the best error in the title."""
    with style():
        fig, axes = _grid(matrix.shape[1], 5, (2.6, 2.3), fixed=True)
        for ax, task in zip(axes, matrix.columns, strict=False):
            errors = matrix[task].dropna()
            sns.ecdfplot(x=errors.to_numpy(), ax=ax, color="#3b6ea8")
            first = ax.get_subplotspec().is_first_col()
            ax.set(
                xlabel=_label(labels, task).removeprefix(f"{task} "),
                ylabel="cumulative prob." if first else "",
            )
            ax.set_title(f"{task} (n={errors.size}, best {errors.min():.1f})", fontsize="small")
    return fig


def clustermap_figure(rho: pd.DataFrame, n: int | None = None) -> Figure:
    """Clustered heatmap of the task×task Spearman matrix (average linkage on 1 − ρ)."""
    k = rho.shape[0]
    cluster = k >= 3 and bool(np.isfinite(rho.to_numpy()).all())
    linkage = None
    if cluster:
        distance = np.clip(1 - rho.to_numpy(), 0, 2)
        np.fill_diagonal(distance, 0)
        linkage = hierarchy.linkage(squareform((distance + distance.T) / 2, checks=False), "average")
    size = max(5.0, 0.55 * k + 2.5)
    with style():
        grid = sns.clustermap(
            rho,
            row_cluster=cluster,
            col_cluster=cluster,
            row_linkage=linkage,
            col_linkage=linkage,
            cmap="vlag",
            vmin=-1,
            vmax=1,
            center=0,
            annot=k <= 16,
            fmt=".2f",
            annot_kws={"size": 7},
            figsize=(size, size),
            dendrogram_ratio=0.12,
            cbar_pos=(1.02, 0.3, 0.025, 0.35),
            linewidths=0.5,
        )
        grid.ax_heatmap.set(xlabel="", ylabel="")
        title = "Spearman ρ between tasks" + (f" (n = {n})" if n else "")
        grid.figure.suptitle(title, y=1.0)
    return grid.figure


def apr_figure(
    matrix: pd.DataFrame,
    target: str,
    sources: list[str],
    correlations: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    top: int = 10,
) -> Figure:
    """APR scatter of `target` error (y) against each source's error (x); best and worst `top` highlighted."""
    from analysis.correlation import lookup

    with style():
        fig, axes = _grid(len(sources), len(sources), (4.2, 3.8))
        for ax, source in zip(axes, sources, strict=False):
            both = matrix[[source, target]].dropna()
            # T22 marks 10 of 500; a small study marks at most a quarter, so "best" stays a minority
            k = max(1, min(top, len(both) // 4))
            best, worst = f"best {k}", f"worst {k}"
            palette = dict(zip((best, worst, "other"), HIGHLIGHT.values(), strict=True))
            order = both[target].rank(method="first")
            group = np.where(order <= k, best, np.where(order > len(both) - k, worst, "other"))
            data = both.assign(group=group).sort_values("group", key=lambda g: g.map({"other": 0}).fillna(1))
            sns.scatterplot(
                data,
                x=source,
                y=target,
                hue="group",
                palette=palette,
                hue_order=list(palette),
                s=14,
                linewidth=0,
                rasterized=True,
                ax=ax,
            )
            row = lookup(correlations, source, target)
            stats = (
                "" if row is None else f"ρ = {row['spearman']:.2f}, r = {row['pearson']:.2f}, n = {row['n']}"
            )
            ax.set(xlabel=_label(labels, source), ylabel=_label(labels, target))
            ax.set_title(f"{target} vs {source}\n{stats}", fontsize="small")
            # outside the axes, so it never hides a point (tests/analysis/test_plots.py checks this)
            ax.legend(
                title=None, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0
            )
    return fig


def driver_figure(matrix: pd.DataFrame, archs: pd.DataFrame, driver: str, drivers: pd.DataFrame) -> Figure:
    """Error against one architecture property (e.g. cum_depth), one panel per task, ρ in each title."""
    with style():
        fig, axes = _grid(matrix.shape[1], 5, (2.6, 2.3), fixed=True)
        for ax, task in zip(axes, matrix.columns, strict=False):
            errors = matrix[task].dropna()
            ax.scatter(
                archs.loc[errors.index, driver],
                errors,
                s=4,
                alpha=0.5,
                color="#3b6ea8",
                linewidths=0,
                rasterized=True,
            )
            hit = drivers[(drivers["task"] == task) & (drivers["driver"] == driver)]
            rho = hit["spearman"].iloc[0] if len(hit) else math.nan
            ax.set_title(f"{task}: ρ = {rho:.2f}", fontsize="small")
            ax.set(xlabel=driver, ylabel="error (%)" if ax.get_subplotspec().is_first_col() else "")
    return fig


def driver_heatmap_figure(drivers: pd.DataFrame) -> Figure:
    """Task × driver heatmap of Spearman ρ(error, driver)."""
    square = drivers.pivot(index="task", columns="driver", values="spearman")
    square = square.reindex(
        index=list(dict.fromkeys(drivers["task"])), columns=list(dict.fromkeys(drivers["driver"]))
    )
    with style():
        fig = Figure(figsize=(0.45 * square.shape[1] + 3, 0.32 * square.shape[0] + 1.8), layout="constrained")
        ax = fig.subplots()
        sns.heatmap(
            square,
            cmap="vlag",
            vmin=-1,
            vmax=1,
            center=0,
            annot=True,
            fmt=".2f",
            annot_kws={"size": 6},
            cbar_kws={"label": "Spearman ρ(error, driver)"},
            ax=ax,
        )
        ax.set(xlabel="", ylabel="", title="What drives error: ρ of error with architecture properties")
    return fig
