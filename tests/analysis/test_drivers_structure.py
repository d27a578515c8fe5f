"""Drivers (ρ of error with architecture properties) and the structure of the best architectures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.drivers import DRIVERS, driver_table
from analysis.structure import best_architectures, structure_table
from analysis.tables import validate_architectures
from tests.analysis.synthetic import synthetic_architectures


def test_drivers_have_known_signs_and_their_column_names():
    archs = validate_architectures(synthetic_architectures(80, seed=1))
    m = pd.DataFrame(
        {"deep_wins": -archs["cum_depth"] + 0.0, "wide_loses": archs["cum_width"] / 100.0}, index=archs.index
    )
    table = driver_table(m, archs)
    assert set(table["driver"]) == set(DRIVERS) and len(table) == 2 * len(DRIVERS)
    rho = table.set_index(["task", "driver"])["spearman"]
    assert rho["deep_wins", "cum_depth"] == pytest.approx(-1)
    assert rho["wide_loses", "cum_width"] == pytest.approx(1)
    assert (table["n"] == 80).all()


def test_constant_driver_gives_nan_not_a_warning():
    archs = validate_architectures(synthetic_architectures(10))
    archs["b1"] = 1
    table = driver_table(pd.DataFrame({"t": np.arange(10.0)}, index=archs.index), archs, ("b1",))
    assert np.isnan(table["spearman"].item())


def test_structure_of_the_top_k():
    archs = validate_architectures(synthetic_architectures(30, seed=2))
    errors = pd.DataFrame({"t": np.arange(30.0)[::-1]}, index=archs.index)  # arch 29 best, then 28, …
    table = structure_table(errors, archs, top=15)
    d1 = table[(table["stage"] == 1) & (table["param"] == "d")].iloc[0]
    top = archs.loc[range(29, 14, -1), "d1"]
    assert d1["best"] == archs.loc[29, "d1"] and d1["best_arch_id"] == 29 and d1["k"] == 15
    assert d1["mean"] == pytest.approx(top.mean()) and d1["sd"] == pytest.approx(top.std(ddof=1))
    assert len(table) == 4 * 5  # stages × (b, 1/b, d, g, w)
    inv_b = table[(table["stage"] == 2) & (table["param"] == "inv_b")].iloc[0]
    top_b = archs.loc[range(29, 14, -1), "b2"].astype(float)
    assert inv_b["best"] == 1 / archs.loc[29, "b2"]
    assert inv_b["mean"] == pytest.approx((1 / top_b).mean()) and inv_b["sd"] == pytest.approx(
        (1 / top_b).std()
    )
    best = best_architectures(errors, archs).iloc[0]
    assert best["arch_id"] == 29 and best["depths"] == list(archs.loc[29, "depths"])
    assert best["bottleneck_ratios"] == list(archs.loc[29, "bottleneck_ratios"])
    assert (best["space_resolution"], best["space_classes"]) == (224, 1000)
    assert np.isnan(best["trained_flops"])  # no runs given: the trained size is unknown, not guessed


def test_best_architecture_carries_its_trained_size_from_its_own_run():
    archs = validate_architectures(synthetic_architectures(5, seed=2))
    errors = pd.DataFrame({"t": [5.0, 1.0, 3.0, 4.0, 2.0]}, index=archs.index)
    runs = pd.DataFrame(
        {
            "task": ["t"] * 5,
            "arch_id": range(5),
            "flops": [10, 11, 12, 13, 14],
            "params": [20, 21, 22, 23, 24],
            "resolution": 32,
            "num_classes": 10,
        }
    )
    best = best_architectures(errors, archs, runs, space_size=(64, 100)).iloc[0]
    assert best["arch_id"] == 1 and (best["trained_flops"], best["trained_params"]) == (11, 21)
    assert (best["trained_resolution"], best["trained_classes"]) == (32, 10)
    assert (best["flops"], best["space_resolution"], best["space_classes"]) == (
        archs.loc[1, "flops"],
        64,
        100,
    )


def test_driver_bootstrap_equals_explicit_resamples_and_covers_the_truth(rng):
    from scipy import stats

    from analysis.drivers import _bootstrap

    archs = validate_architectures(synthetic_architectures(300, seed=4))
    props = archs[["cum_depth", "cum_width"]].to_numpy(dtype=float)
    errors = np.column_stack([props[:, 0] + rng.normal(0, 5, 300), rng.normal(size=300)])
    boot = _bootstrap(errors, props, 5, np.random.default_rng(0))
    from analysis.correlation import resample_counts

    counts = resample_counts(300, 5, np.random.default_rng(0))  # the same draws
    for b in range(5):
        idx = np.repeat(np.arange(300), counts[b].astype(int))
        assert boot[b, 0, 1] == pytest.approx(stats.spearmanr(errors[idx, 0], props[idx, 1])[0], abs=1e-12)
    table = driver_table(
        pd.DataFrame(errors, columns=["t", "u"], index=archs.index), archs, ("cum_depth",), n_boot=500
    )
    u = table.set_index("task").loc["u"]
    assert u["spearman_ci_low"] < 0 < u["spearman_ci_high"]  # no relation: the CI covers 0
    t = table.set_index("task").loc["t"]
    assert t["spearman_ci_low"] < t["spearman"] < t["spearman_ci_high"] and t["spearman_ci_low"] > 0.5
