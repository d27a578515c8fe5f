"""Error EDF (R20 eq. 1) on a tiny example, and R20's good range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.edf import edf_table, error_edf, good_range


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
    low, high = good_range(depth, errors, n_boot=500, seed=0)
    assert 10 <= low <= high <= 11
    best_low, best_high = good_range(errors, errors, n_boot=500, seed=0)
    assert errors.min() <= best_low <= best_high < 25
    assert good_range(depth, errors, seed=3) == pytest.approx(good_range(depth, errors, seed=3))
