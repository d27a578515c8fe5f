"""The proxy ladder table, its Pareto frontier, the cheapest trustworthy rung and the figure."""

from __future__ import annotations

import io
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.ladder import (
    LADDER_COLUMNS,
    cheapest_trustworthy,
    ladder_table,
    pareto_frontier,
    trustworthy_sentence,
)
from analysis.ladder_figure import ladder_figure

RUNGS = pd.DataFrame(
    [
        ("imagenet@r16", "imagenet", "resolution", 16),
        ("imagenet@r32", "imagenet", "resolution", 32),
        ("imagenet@e1", "imagenet", "epochs", 1),
        ("imagenet@f0.1", "imagenet", "fraction", 0.1),
        ("imagenet@r32+e3", "imagenet", "combined", {"resolution": 32, "epochs": 3}),
    ],
    columns=["task", "of", "factor", "value"],
)
COSTS = pd.DataFrame(
    {
        "task": [
            "imagenet",
            "imagenet@r16",
            "imagenet@r32",
            "imagenet@e1",
            "imagenet@f0.1",
            "imagenet@r32+e3",
        ],
        "macs": [4e17, 2e15, 8e15, 4e16, 4e16, 2.4e15],
        "gpu_hours": [2000.0, 10.0, 40.0, 200.0, 200.0, 12.0],
    }
)


def _correlations(pairs: dict[tuple[str, str], tuple[float, float, float]], n: int = 100) -> pd.DataFrame:
    rows = [
        {"task_a": a, "task_b": b, "spearman": r, "spearman_ci_low": lo, "spearman_ci_high": hi, "n": n,
         "spearman_p": 0.0, "pearson": r, "kendall": r}
        for (a, b), (r, lo, hi) in pairs.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


CORRELATIONS = _correlations(
    {
        ("imagenet", "imagenet@r16"): (0.70, 0.60, 0.78),
        ("imagenet@r32", "imagenet"): (0.93, 0.88, 0.96),  # either order is found
        ("imagenet", "imagenet@e1"): (0.85, 0.79, 0.90),
        ("imagenet", "imagenet@f0.1"): (0.95, 0.91, 0.98),
        ("imagenet", "imagenet@r32+e3"): (0.91, 0.78, 0.95),  # ρ high enough, CI low not
        ("imagenet", "cifar10"): (0.60, 0.50, 0.70),
        ("imagenet@r16", "cifar10"): (0.62, 0.52, 0.71),
        ("imagenet@r32", "cifar10"): (0.58, 0.47, 0.68),
        ("imagenet@f0.1", "cifar10"): (0.40, 0.30, 0.50),
    }
)


@pytest.fixture
def table() -> pd.DataFrame:
    return ladder_table(CORRELATIONS, RUNGS, COSTS, targets=["cifar10", "imagenet"])


def test_table_is_long_with_one_row_per_rung_and_versus(table):
    assert list(table.columns) == LADDER_COLUMNS
    parent = table[table["versus"] == "imagenet"]
    assert list(parent["task"]) == list(RUNGS["task"]) and set(parent["versus_role"]) == {"parent"}
    target = table[table["versus"] == "cifar10"]
    assert list(target["task"]) == ["imagenet", *RUNGS["task"]]  # the full task first: the baseline
    assert target.iloc[0]["factor"] == "full" and target.iloc[0]["cost_fraction"] == 1.0
    r32 = parent.set_index("task").loc["imagenet@r32"]
    assert (r32["spearman"], r32["spearman_ci_low"], r32["n"]) == (0.93, 0.88, 100)
    assert r32["cost_fraction"] == pytest.approx(40 / 2000) and r32["value"] == "32"
    combo = parent.set_index("task").loc["imagenet@r32+e3"]
    assert combo["value"] == "resolution=32, epochs=3" and combo["macs"] == 2.4e15
    missing = target.set_index("task").loc["imagenet@e1"]  # no correlation with cifar10 yet
    assert math.isnan(missing["spearman"]) and missing["n"] == 0 and not missing["pareto"]


def test_pareto_frontier_on_constructed_points():
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, 4.0, np.nan]
    rho = [0.5, 0.7, 0.6, 0.7, 0.4, 0.9, 0.99]
    # (2, .6) is beaten by (2, .7); (3, .7) by (2, .7); the NaN cost cannot be placed
    assert pareto_frontier(cost, rho).tolist() == [True, True, False, False, True, True, False]
    ties = pareto_frontier([1.0, 1.0, 2.0], [0.8, 0.8, 0.8])
    assert ties.tolist() == [True, True, False]  # equal points both stay; a dearer equal ρ does not
    assert pareto_frontier([], []).tolist() == []
    with pytest.raises(AnalysisError, match="two vectors of one length"):
        pareto_frontier([1.0, 2.0], [0.5])


def test_table_marks_the_frontier_per_versus(table):
    parent = table[table["versus"] == "imagenet"].set_index("task")["pareto"]
    # cost fractions .005 .02 .1 .1 .006 with ρ .70 .93 .85 .95 .91
    assert parent.to_dict() == {"imagenet@r16": True, "imagenet@r32": True, "imagenet@e1": False,
                                "imagenet@f0.1": True, "imagenet@r32+e3": True}  # fmt: skip
    target = table[table["versus"] == "cifar10"].set_index("task")["pareto"]
    assert target[target].index.tolist() == ["imagenet@r16"]  # cheaper and better than the full task


def test_cheapest_trustworthy_both_outcomes(table):
    best = cheapest_trustworthy(table, "imagenet")
    assert best["task"] == "imagenet@r32"  # r32+e3 is cheaper but its CI low is 0.78
    assert cheapest_trustworthy(table, "imagenet", rho_min=0.9, ci_low_min=0.75)["task"] == "imagenet@r32+e3"
    assert cheapest_trustworthy(table, "imagenet", rho_min=0.94)["task"] == "imagenet@f0.1"
    assert cheapest_trustworthy(table, "cifar10") is None  # the full task does not count as a rung
    sentence = trustworthy_sentence(table, "imagenet")
    assert "the cheapest proxy with ρ ≥ 0.90 (CI low ≥ 0.80) is imagenet@r32" in sentence
    assert "costs 2.0% of the full task's GPU-hours" in sentence
    assert "no rung reaches ρ ≥ 0.90" in trustworthy_sentence(table, "cifar10")
    assert "closest is imagenet@r16 (ρ = 0.62 [0.52, 0.71], n = 100)" in trustworthy_sentence(
        table, "cifar10"
    )
    with pytest.raises(AnalysisError, match="no rows versus 'concrete'"):
        cheapest_trustworthy(table, "concrete")


def test_missing_columns_are_named():
    with pytest.raises(AnalysisError, match=r"costs lacks column\(s\) \['gpu_hours'\]"):
        ladder_table(CORRELATIONS, RUNGS, COSTS.drop(columns="gpu_hours"))


def test_figure_has_one_panel_per_versus_and_a_point_per_placeable_row(table):
    open_before = plt.get_fignums()
    fig = ladder_figure(table)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["vs imagenet (parent)", "vs cifar10 (target)"]
    for ax, versus in zip(panels, ["imagenet", "cifar10"], strict=True):
        rows = table[table["versus"] == versus]
        placeable = int((np.isfinite(rows["cost_fraction"]) & np.isfinite(rows["spearman"])).sum())
        points = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "rungs")
        assert points == placeable and ax.get_xscale() == "log"
        ringed = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == "frontier-points")
        assert ringed == int(rows["pareto"].sum())
    fig.savefig(io.BytesIO(), format="png")  # renders
    assert plt.get_fignums() == open_before  # not registered with pyplot: nothing global to close
