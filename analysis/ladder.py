"""The proxy ladder's numbers: what each rung costs, how well it ranks architectures like the full task
and like each target, which rungs are on the cost/ρ Pareto frontier, and the cheapest trustworthy one.

`ladder_table` is in long form: one row per rung × `versus`, where `versus` is either the rung's parent
(`versus_role` "parent": does the cheap version rank like the full task?) or a target (`versus_role`
"target": does it predict the target as well as the full task does?). Against a target the full task is a
row of its own (factor "full", cost fraction 1): the baseline a rung is judged by; against the parent it
would be ρ = 1 by definition and is left out. Long rather than one column per target because the number of
targets varies by study and every row is filtered, plotted and tabulated the same way (tidy data).

Columns (LADDER_COLUMNS): task, of, factor, value (text: "32", "0.1", "resolution=32, epochs=3"), versus,
versus_role, macs, gpu_hours (as given by `costs`), cost_fraction (gpu_hours of the rung / of its parent;
NaN when either is unknown), spearman, spearman_ci_low, spearman_ci_high, n (architectures behind ρ; 0 when
the pair is not in the correlation table), pareto (on the frontier of its (of, versus) group).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

LADDER_COLUMNS = [
    "task", "of", "factor", "value", "versus", "versus_role", "macs", "gpu_hours", "cost_fraction",
    "spearman", "spearman_ci_low", "spearman_ci_high", "n", "pareto",
]  # fmt: skip
FULL = "full"  # the factor of the parent's own row against a target
TRUSTED_RHO, TRUSTED_CI_LOW = 0.9, 0.8  # the report's bar for a trustworthy rung (issue 14)
_CORRELATION_COLUMNS = ("task_a", "task_b", "spearman", "spearman_ci_low", "spearman_ci_high", "n")


def ladder_table(
    correlations: pd.DataFrame,
    rungs: pd.DataFrame,
    costs: pd.DataFrame,
    targets: Sequence[str] = (),
) -> pd.DataFrame:
    """Rungs (task, of, factor, value) × {their parent, each target} with costs and Spearman ρ (module doc).

    `correlations` is analysis.correlation's table, `costs` has task, macs, gpu_hours per task (the parents'
    rows give the denominators of cost_fraction).
    """
    _require(correlations, _CORRELATION_COLUMNS, "correlations")
    _require(rungs, ("task", "of", "factor", "value"), "rungs")
    _require(costs, ("task", "macs", "gpu_hours"), "costs")
    pairs: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in correlations.to_dict("records"):
        pairs[row["task_a"], row["task_b"]] = pairs[row["task_b"], row["task_a"]] = row
    cost = costs.drop_duplicates("task", keep="last").set_index("task")[["macs", "gpu_hours"]]
    rows = []
    for of, group in rungs.groupby("of", sort=False):
        members = list(group.itertuples(index=False))
        rung_tasks = {r.task for r in members}
        for versus in [of, *(t for t in dict.fromkeys(targets) if t != of and t not in rung_tasks)]:
            entries = [(r.task, r.factor, _value_text(r.value)) for r in members]
            if versus != of:
                entries.insert(0, (of, FULL, ""))
            for task, factor, value in entries:
                rows.append(
                    {
                        "task": task,
                        "of": of,
                        "factor": factor,
                        "value": value,
                        "versus": versus,
                        "versus_role": "parent" if versus == of else "target",
                        **_costs(cost, task, of),
                        **_rho(pairs.get((task, versus))),
                    }
                )
    table = pd.DataFrame(rows, columns=LADDER_COLUMNS)
    table["n"] = table["n"].astype(int)
    table["pareto"] = False
    for _, group in table.groupby(["of", "versus"], sort=False):
        table.loc[group.index, "pareto"] = pareto_frontier(group["cost_fraction"], group["spearman"])
    return table


def pareto_frontier(cost: Sequence[float] | np.ndarray, rho: Sequence[float] | np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates: none is at most as costly and at least as good,
    strictly better in one. Equal points do not dominate each other (both stay); NaN is never on it."""
    cost = np.asarray(cost, dtype=float)
    rho = np.asarray(rho, dtype=float)
    if cost.shape != rho.shape or cost.ndim != 1:
        raise AnalysisError(
            f"cost and rho must be two vectors of one length, got {cost.shape} and {rho.shape}"
        )
    ok = np.isfinite(cost) & np.isfinite(rho)
    cheaper_or_equal = cost[None, :] <= cost[:, None]  # [i, j]: j costs at most what i costs
    at_least_as_good = rho[None, :] >= rho[:, None]
    strictly = (cost[None, :] < cost[:, None]) | (rho[None, :] > rho[:, None])
    dominated = (cheaper_or_equal & at_least_as_good & strictly & ok[None, :]).any(axis=1)
    return ok & ~dominated


def cheapest_trustworthy(
    table: pd.DataFrame, versus: str, rho_min: float = 0.9, ci_low_min: float = 0.8
) -> pd.Series | None:
    """The cheapest rung against `versus` with ρ ≥ rho_min and CI low ≥ ci_low_min, or None.

    The full task is not a rung; rungs of unknown cost come after every known one; among equal costs the
    higher ρ wins, then the task name."""
    rows = _versus(table, versus)
    trusted = rows[
        (rows["factor"] != FULL)
        & (rows["spearman"] >= rho_min)
        & (rows["spearman_ci_low"] >= ci_low_min)  # a missing CI is not evidence
    ]
    if trusted.empty:
        return None
    ordered = trusted.assign(_unknown=trusted["cost_fraction"].isna(), _rho=-trusted["spearman"])
    ordered = ordered.sort_values(["_unknown", "cost_fraction", "_rho", "task"], kind="stable")
    return ordered.iloc[0][LADDER_COLUMNS]


def trustworthy_sentence(
    table: pd.DataFrame, versus: str, rho_min: float = 0.9, ci_low_min: float = 0.8
) -> str:
    """The report's sentence on the cheapest trustworthy rung against `versus` (or that none reaches it)."""
    bar = f"ρ ≥ {rho_min:.2f} (CI low ≥ {ci_low_min:.2f})"
    best = cheapest_trustworthy(table, versus, rho_min, ci_low_min)
    if best is not None:
        known = not math.isnan(best["cost_fraction"])
        cost = (
            f"costs {_percent(best['cost_fraction'])} of the full task's GPU-hours"
            if known
            else "has no cost estimate"
        )
        proxy = f"{best['task']} ({_rho_text(best)})"
        return f"Against {versus}, the cheapest proxy with {bar} is {proxy}; it {cost}."
    rows = _versus(table, versus)
    rows = rows[(rows["factor"] != FULL) & rows["spearman"].notna()]
    if rows.empty:
        return f"Against {versus}, no rung has a correlation yet, so none reaches {bar}."
    top = rows.loc[rows["spearman"].idxmax()]
    return f"Against {versus}, no rung reaches {bar}; the closest is {top['task']} ({_rho_text(top)})."


def zero_cost_clause(
    agreement: pd.DataFrame | None, task: str, rho_min: float = 0.9, ci_low_min: float = 0.8
) -> str | None:
    """Whether a zero-cost predictor scored on `task` clears the same bar as a rung (agreement table of
    analysis/zero_cost.py); None without scores of the task."""
    rows = (
        None if agreement is None else agreement[(agreement["task"] == task) & agreement["spearman"].notna()]
    )
    if rows is None or rows.empty:
        return None
    trusted = rows[(rows["spearman"] >= rho_min) & (rows["spearman_ci_low"] >= ci_low_min)]
    if len(trusted):
        best = trusted.loc[trusted["spearman"].idxmax()]
        name = best["predictor"]
        return f"The zero-cost predictor {name} reaches it too ({_rho_text(best)}), at near-zero cost."
    best = rows.loc[rows["spearman"].idxmax()]
    return f"No zero-cost predictor reaches it; the best is {best['predictor']} ({_rho_text(best)})."


# ---------------------------------------------------------------------------------------------- helpers


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}")


def _versus(table: pd.DataFrame, versus: str) -> pd.DataFrame:
    rows = table[table["versus"] == versus]
    if rows.empty:
        known = ", ".join(map(str, dict.fromkeys(table["versus"])))
        raise AnalysisError(f"the ladder table has no rows versus {versus!r} (versus: {known or 'none'})")
    return rows


def _costs(cost: pd.DataFrame, task: str, of: str) -> dict[str, float]:
    macs = float(cost.at[task, "macs"]) if task in cost.index else math.nan
    hours = float(cost.at[task, "gpu_hours"]) if task in cost.index else math.nan
    full = float(cost.at[of, "gpu_hours"]) if of in cost.index else math.nan
    fraction = hours / full if full > 0 else math.nan
    return {"macs": macs, "gpu_hours": hours, "cost_fraction": fraction}


def _rho(row: Mapping[str, Any] | None) -> dict[str, float]:
    if row is None:
        return {"spearman": math.nan, "spearman_ci_low": math.nan, "spearman_ci_high": math.nan, "n": 0}
    return {
        "spearman": float(row["spearman"]),
        "spearman_ci_low": float(row["spearman_ci_low"]),
        "spearman_ci_high": float(row["spearman_ci_high"]),
        "n": int(row["n"]),
    }


def _value_text(value: Any) -> str:
    """A rung value as text: 32 -> '32', 1.0 -> '1', a combination -> 'resolution=32, epochs=3'."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_value_text(v)}" for k, v in value.items())
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _percent(fraction: float) -> str:
    percent = 100 * fraction
    return f"{percent:.0f}%" if percent >= 10 else f"{percent:.1f}%" if percent >= 1 else f"{percent:.2g}%"


def _rho_text(row: pd.Series) -> str:
    ci = (
        f" [{row['spearman_ci_low']:.2f}, {row['spearman_ci_high']:.2f}]"
        if np.isfinite(row["spearman_ci_low"])
        else ""
    )
    return f"ρ = {row['spearman']:.2f}{ci}, n = {int(row['n'])}"
