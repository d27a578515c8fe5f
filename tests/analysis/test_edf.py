"""Error EDF (R20 eq. 1) on a tiny example, and R20's good range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.edf import (
    GOOD_RANGE_RESAMPLES,
    best_of_resamples,
    edf_table,
    error_edf,
    good_range,
    good_range_table,
)


def test_edf_is_the_fraction_strictly_below():
    errors = np.array([1.0, 2.0, 2.0, 3.0])
    assert error_edf(errors, [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]).tolist() == [
        0,
        0,
        0.25,
        0.25,
        0.75,
        0.75,
        1,
    ]


def test_edf_table_lists_each_distinct_error():
    m = pd.DataFrame({"a": [1.0, 2.0, 2.0, 3.0], "b": [5.0, np.nan, 4.0, np.nan]})
    table = edf_table(m)
    a = table[table["task"] == "a"]
    assert a["error"].tolist() == [1, 2, 3]
    assert a["edf"].tolist() == [0, 0.25, 0.75]
    assert a["edf_right"].tolist() == [0.25, 0.75, 1.0]
    b = table[table["task"] == "b"]
    assert b["n"].tolist() == [2, 2] and b["edf"].tolist() == [0, 0.5]


def test_good_range_brackets_the_best_models_values(rng):
    errors = rng.uniform(20, 80, 400)
    depth = np.where(errors < 30, 10, 2) + rng.integers(0, 2, 400)  # the good models are deep
    low, high = good_range(depth, errors, n_resamples=500, seed=0)
    assert 10 <= low <= high <= 11
    best_low, best_high = good_range(errors, errors, n_resamples=500, seed=0)
    assert errors.min() <= best_low <= best_high < 25
    assert good_range(depth, errors, seed=3) == pytest.approx(good_range(depth, errors, seed=3))


def test_each_resample_keeps_its_best_model(rng):
    errors = rng.uniform(0, 100, 40)
    winners = best_of_resamples(errors, n_resamples=50, seed=7)
    draws = np.random.default_rng(7).integers(0, 40, size=(50, 10))  # the same draws: 25 % of 40 models
    assert winners.tolist() == [row[np.argmin(errors[row])] for row in draws]


def test_good_range_table_equals_one_good_range_per_property_and_defaults_to_r20s_10k(rng):
    from tests.analysis.synthetic import synthetic_architectures

    archs = synthetic_architectures(60).set_index("arch_id", drop=False)
    matrix = pd.DataFrame({"t": rng.uniform(10, 90, 60), "u": rng.uniform(10, 90, 60)}, index=archs.index)
    matrix.loc[:9, "u"] = np.nan
    table = good_range_table(matrix, archs, ["cum_depth", "flops"], seed=4).set_index(["task", "param"])
    assert GOOD_RANGE_RESAMPLES == 10_000 and (table["resamples"] == 10_000).all()
    for task in ("t", "u"):
        errors = matrix[task].dropna()
        for param in ("error", "cum_depth", "flops"):
            values = errors if param == "error" else archs.loc[errors.index, param]
            expected = good_range(values.to_numpy(), errors.to_numpy(), seed=4)
            assert tuple(table.loc[(task, param), ["low", "high"]]) == pytest.approx(expected)
    assert table.loc[("u", "error"), "n"] == 50


def test_analyse_uses_10k_good_range_resamples_whatever_the_bootstrap():
    from analysis.compute import analyse
    from tests.analysis.synthetic import synthetic_architectures, synthetic_runs

    archs = synthetic_architectures(12)
    runs = synthetic_runs(archs, {"imagenet": (1000, "top5"), "mine": (4, "top1")})
    assert (analyse(runs, archs, n_boot=20).tables["good_ranges"]["resamples"] == 10_000).all()
    few = analyse(runs, archs, n_boot=20, good_range_resamples=30).tables["good_ranges"]
    assert (few["resamples"] == 30).all()
