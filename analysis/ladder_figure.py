"""The proxy ladder figure: cost against Spearman ρ per rung, one panel per `versus` (parent, then targets).

x is the cost as a fraction of the full task's GPU-hours on a log axis (rungs span orders of magnitude),
y is ρ with its bootstrap CI as an error bar, colour is the factor varied, the full task (against targets)
is a star, the Pareto frontier is a step line through its rungs, and a dashed line marks the ρ a rung must
reach to be trusted. Rows without a cost or a ρ cannot be placed and are left out. Built on
`matplotlib.figure.Figure` inside `analysis.plots.style()`: no pyplot, no global state.

Zero-cost predictors (optional, `analysis.zero_cost.agreement_table`) are drawn beside the rungs of each
panel: the agreement of their scores on the panel's task with its errors, as grey diamonds with CI bars at a
fixed x one decade left of the cheapest placed rung of the figure (ZERO_COST_OFFSET). A fixed position,
not their measured seconds: those are wall-clock time on whatever device scored them (and 0 for params and
flops), not GPU-hours at the study's calibration, so the x of a diamond only says "near zero cost".
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
ZERO_COST_OFFSET = 10.0  # the diamonds sit this factor left of the cheapest placed rung
ZERO_COST_COLOUR = (0.45, 0.45, 0.45)


def zero_cost_x(table: pd.DataFrame) -> float:
    """The fixed x of the zero-cost diamonds: the cheapest placed cost fraction / ZERO_COST_OFFSET, rounded
    down to a power of ten (1e-3 when nothing is placed)."""
    costs = table["cost_fraction"].to_numpy(float)
    costs = costs[np.isfinite(costs) & (costs > 0) & np.isfinite(table["spearman"].to_numpy(float))]
    cheapest = costs.min() if costs.size else 1e-2
    return float(10 ** math.floor(math.log10(cheapest / ZERO_COST_OFFSET)))


def ladder_figure(
    table: pd.DataFrame, rho_min: float | None = 0.9, zero_cost: pd.DataFrame | None = None
) -> Figure:
    """One panel per `versus` of `analysis.ladder.ladder_table`; points are the rows with cost and ρ, and
    with `zero_cost` (agreement table) the predictors scored on the panel's task (module doc)."""
    if table.empty:
        raise AnalysisError("the ladder table is empty: no rungs to plot")
    x_free = zero_cost_x(table)
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
            if zero_cost is not None:
                _zero_cost(ax, zero_cost[zero_cost["task"] == versus], x_free)
            role = rows["versus_role"].iloc[0]
            ax.set_title(f"vs {versus} ({role})", fontsize="small")
            ax.set_xscale("log")
            ax.set_ylabel("Spearman ρ (bootstrap CI)" if ax is axes[0] else "")
        fig.supxlabel("cost (fraction of the full task's GPU-hours, log scale)", fontsize="medium")
        handles = [
            axes[0].scatter([], [], color=colours[f], marker="*" if f == FULL else "o", label=f)
            for f in factors
        ]
        if zero_cost is not None and len(zero_cost):
            handles.append(
                axes[0].scatter([], [], color=ZERO_COST_COLOUR, marker="D", label="zero-cost (fixed x)")
            )
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


def _zero_cost(ax, rows: pd.DataFrame, x: float) -> None:
    """The predictors' ρ with CI bars at the fixed x, labelled by name."""
    rows = rows[np.isfinite(rows["spearman"].to_numpy(float))]
    if rows.empty:
        return
    y = rows["spearman"].to_numpy(float)
    low = np.nan_to_num(y - rows["spearman_ci_low"].to_numpy(float), nan=0.0).clip(min=0)
    high = np.nan_to_num(rows["spearman_ci_high"].to_numpy(float) - y, nan=0.0).clip(min=0)
    xs = np.full(len(y), x)
    ax.errorbar(xs, y, yerr=[low, high], fmt="none", ecolor=ZERO_COST_COLOUR, elinewidth=0.8, capsize=2)
    ax.scatter(xs, y, color=ZERO_COST_COLOUR, marker="D", s=22, zorder=3, gid="zero-cost")
    for yi, names in _label_groups(y, rows["predictor"].astype(str).tolist()):
        ax.annotate(", ".join(names), (x, yi), xytext=(5, 0), textcoords="offset points", fontsize=6,
                    ha="left", va="center", color="0.3")  # fmt: skip


def _label_groups(y: np.ndarray, names: list[str], gap: float = 0.04) -> list[tuple[float, list[str]]]:
    """Names of points closer than `gap` in ρ joined into one label at their mean ρ (no overprinting)."""
    order = np.argsort(y)
    groups: list[list[int]] = []
    for i in order:
        if groups and y[i] - y[groups[-1][-1]] < gap:
            groups[-1].append(i)
        else:
            groups.append([i])
    return [(float(np.mean(y[g])), [names[i] for i in g]) for g in groups]
