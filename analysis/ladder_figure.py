"""The proxy ladder figure: cost against Spearman ρ per rung, one panel per `versus` (parent, then targets).

x is the cost as a fraction of the full task's GPU-hours on a log axis (rungs span orders of magnitude),
y is ρ with its bootstrap CI as an error bar, colour is the factor varied, the full task (against targets)
is a star, the Pareto frontier is a step line through its rungs, and a dashed line marks the ρ a rung must
reach to be trusted. Rows without a cost or a ρ cannot be placed and are left out. Built on
`matplotlib.figure.Figure` inside `analysis.plots.style()`: no pyplot, no global state.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from analysis.errors import AnalysisError
from analysis.ladder import FULL, pareto_frontier
from analysis.plots import style

FACTOR_ORDER = ("resolution", "epochs", "fraction", "classes", "combined", FULL)


def ladder_figure(table: pd.DataFrame, rho_min: float | None = 0.9) -> Figure:
    """One panel per `versus` of `analysis.ladder.ladder_table`; points are the rows with cost and ρ."""
    if table.empty:
        raise AnalysisError("the ladder table is empty: no rungs to plot")
    panels = list(dict.fromkeys(table["versus"]))
    factors = [f for f in FACTOR_ORDER if f in set(table["factor"])]
    factors += sorted(set(table["factor"]) - set(factors))
    colours = dict(zip(factors, sns.color_palette("colorblind", len(factors)), strict=True))
    colours[FULL] = (0.2, 0.2, 0.2)
    with style():
        fig = Figure(figsize=(3.6 * len(panels) + 0.6, 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False).ravel())
        for ax, versus in zip(axes, panels, strict=True):
            rows = table[table["versus"] == versus]
            shown = rows[np.isfinite(rows["cost_fraction"]) & (rows["cost_fraction"] > 0)]
            shown = shown[np.isfinite(shown["spearman"])]
            _panel(ax, shown, colours, rho_min)
            role = rows["versus_role"].iloc[0]
            ax.set_title(f"vs {versus} ({role})", fontsize="small")
            ax.set(xscale="log", xlabel="cost (fraction of the full task's GPU-hours)")
            ax.set_ylabel("Spearman ρ (bootstrap CI)" if ax is axes[0] else "")
        handles = [
            axes[0].scatter([], [], color=colours[f], marker="*" if f == FULL else "o", label=f)
            for f in factors
        ]
        fig.legend(handles=handles, loc="outside right upper", title="factor", fontsize="small")
    return fig


def _panel(ax, rows: pd.DataFrame, colours: dict, rho_min: float | None) -> None:
    """Points with CI bars per factor, the frontier per parent, the trust line."""
    for factor, group in rows.groupby("factor", sort=False):
        x, y = group["cost_fraction"].to_numpy(float), group["spearman"].to_numpy(float)
        low = np.nan_to_num(y - group["spearman_ci_low"].to_numpy(float), nan=0.0).clip(min=0)
        high = np.nan_to_num(group["spearman_ci_high"].to_numpy(float) - y, nan=0.0).clip(min=0)
        ax.errorbar(x, y, yerr=[low, high], fmt="none", ecolor=colours[factor], elinewidth=1, capsize=2)
        marker, size = ("*", 90) if factor == FULL else ("o", 28)
        ax.scatter(x, y, color=colours[factor], marker=marker, s=size, zorder=3, gid="rungs")
        if factor != FULL:  # the name's rung part: r32, f0.1, r32+e3
            for xi, yi, task in zip(x, y, group["task"], strict=True):
                label = str(task).rpartition("@")[2]
                ax.annotate(label, (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=6)
    for _, group in rows.groupby("of", sort=False):
        on = group[pareto_frontier(group["cost_fraction"], group["spearman"])].sort_values("cost_fraction")
        if len(on):
            ax.step(
                on["cost_fraction"], on["spearman"], where="post", color="0.3", lw=1, ls="-", gid="frontier"
            )
            ax.scatter(on["cost_fraction"], on["spearman"], s=70, facecolors="none", edgecolors="0.1",
                       linewidths=1, zorder=4, gid="frontier-points")  # fmt: skip
    if rho_min is not None and not math.isnan(rho_min):
        ax.axhline(rho_min, color="0.5", lw=0.8, ls="--")
