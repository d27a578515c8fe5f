"""Validation of runs/architectures tables and the error matrix (ok runs only, seeds averaged)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.tables import error_matrix, usable_tasks, validate_architectures, validate_runs


def _runs(rows):
    return pd.DataFrame(rows, columns=["arch_id", "task", "error", "status"])


def test_only_ok_runs_count_and_seeds_are_averaged():
    runs = _runs(
        [
            (0, "a", 10, "ok"),
            (0, "a", 20, "ok"),
            (0, "a", 99, "diverged"),
            (1, "a", 30, "ok"),
            (1, "b", 40, "failed"),
            (2, "b", 50, "ok"),
        ]
    )
    m = error_matrix(validate_runs(runs))
    assert m.loc[0, "a"] == 15 and m.loc[1, "a"] == 30 and np.isnan(m.loc[1, "b"]) and m.loc[2, "b"] == 50


def test_missing_columns_are_named():
    with pytest.raises(AnalysisError, match=r"runs.parquet lacks column\(s\) status"):
        validate_runs(pd.DataFrame({"arch_id": [0], "task": ["a"], "error": [1.0]}))
    with pytest.raises(AnalysisError, match=r"lacks column\(s\) cum_depth, cum_width"):
        validate_architectures(pd.DataFrame({"arch_id": [0], "flops": [1], "params": [1], "acts": [1]}))


def test_no_ok_run_and_bad_errors_are_reported():
    with pytest.raises(AnalysisError, match=r"no run with status 'ok'.*failed"):
        validate_runs(_runs([(0, "a", 1.0, "failed")]))
    with pytest.raises(AnalysisError, match="outside 0–100"):
        validate_runs(_runs([(0, "a", 120.0, "ok")]))


def test_flat_stage_columns_are_derived_from_lists():
    archs = pd.DataFrame(
        {
            "arch_id": [3],
            "depths": [[1, 2, 3, 4]],
            "widths": [[8, 16, 32, 64]],
            "bottleneck_ratios": [[1, 2, 4, 1]],
            "group_widths": [[1, 2, 3, 4]],
            "flops": [1],
            "params": [1],
            "acts": [1],
            "cum_depth": [10],
            "cum_width": [120],
        }
    )
    out = validate_architectures(archs)
    assert out.loc[3, ["d3", "w4", "b2", "g1"]].tolist() == [3, 64, 2, 1]


def test_tasks_with_fewer_than_three_architectures_are_dropped_with_a_note():
    m = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [1.0, np.nan, np.nan, np.nan]})
    kept, notes = usable_tasks(m)
    assert list(kept.columns) == ["a"]
    assert notes == ["task 'b' skipped: 1 architecture(s) with an ok run, at least 3 are needed"]
