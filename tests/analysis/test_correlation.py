"""Rank correlations: known answers, ties against scipy, the vectorised bootstrap, coverage of its CI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.correlation import (
    bootstrap_spearman,
    correlation_matrix,
    correlation_table,
    pair_correlation,
    resample_counts,
)
from analysis.errors import AnalysisError


def test_identical_rankings_give_one_and_reversed_minus_one(rng):
    x = rng.uniform(10, 90, 50)
    assert pair_correlation(x, 2 * x + 3)["spearman"] == pytest.approx(1.0)
    assert pair_correlation(x, -x)["spearman"] == pytest.approx(-1.0)
    assert pair_correlation(x, -x)["kendall"] == pytest.approx(-1.0)


def test_ties_use_average_ranks_as_scipy():
    x = np.array([10, 20, 20, 30, 40, 40, 40, 50.0])
    y = np.array([12, 11, 25, 25, 30, 41, 39, 60.0])
    got = pair_correlation(x, y)
    assert got["spearman"] == pytest.approx(stats.spearmanr(x, y)[0])
    ranks_x, ranks_y = stats.rankdata(x), stats.rankdata(y)
    assert got["spearman"] == pytest.approx(np.corrcoef(ranks_x, ranks_y)[0, 1])
    assert got["kendall"] == pytest.approx(stats.kendalltau(x, y)[0])
    assert got["pearson"] == pytest.approx(stats.pearsonr(x, y)[0])


def test_fewer_than_three_architectures_is_a_clear_error():
    with pytest.raises(AnalysisError, match=r"'cifar10' and 'imagenet' have 1 architecture.*at least 3"):
        pair_correlation(np.array([1.0, np.nan]), np.array([2.0, 3.0]), ("cifar10", "imagenet"))


def test_vectorised_bootstrap_equals_spearman_on_explicit_resamples(rng):
    values = np.round(rng.normal(size=(30, 3)), 1)  # rounding makes ties, within and across resamples
    counts = resample_counts(30, 20, rng)
    assert (counts.sum(axis=1) == 30).all()
    boot = bootstrap_spearman(values, counts)
    for b in range(20):
        idx = np.repeat(np.arange(30), counts[b].astype(int))
        for i, j in [(0, 1), (0, 2), (1, 2)]:
            assert boot[b, i, j] == pytest.approx(
                stats.spearmanr(values[idx, i], values[idx, j])[0], abs=1e-12
            )


def test_bootstrap_ci_covers_the_true_correlation(rng):
    r = 0.6
    true_spearman = 6 / np.pi * np.arcsin(r / 2)  # population Spearman ρ of a bivariate normal
    xy = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=500)
    table, _ = correlation_table(pd.DataFrame(xy, columns=["a", "b"]), n_boot=1000, seed=1)
    row = table.iloc[0]
    assert row["spearman_ci_low"] < true_spearman < row["spearman_ci_high"]
    assert 0.08 < row["spearman_ci_high"] - row["spearman_ci_low"] < 0.2  # ≈ 4 × 1/√n scale


def test_bootstrap_is_seeded(rng):
    m = pd.DataFrame(rng.normal(size=(40, 3)), columns=list("abc"))
    first, _ = correlation_table(m, n_boot=200, seed=7)
    again, _ = correlation_table(m, n_boot=200, seed=7)
    other, _ = correlation_table(m, n_boot=200, seed=8)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["spearman_ci_low"], other["spearman_ci_low"])


def test_missing_runs_use_the_intersection(rng):
    m = pd.DataFrame(rng.normal(size=(20, 3)), columns=["imagenet", "cifar10", "concrete"])
    m.iloc[:5, 1] = np.nan
    m.iloc[3:8, 2] = np.nan
    table, notes = correlation_table(m, n_boot=50)
    n = {(a, b): k for a, b, k in table[["task_a", "task_b", "n"]].itertuples(index=False)}
    assert n == {("imagenet", "cifar10"): 15, ("imagenet", "concrete"): 15, ("cifar10", "concrete"): 12}
    both = m[["cifar10", "concrete"]].dropna()
    row = table[(table["task_a"] == "cifar10") & (table["task_b"] == "concrete")].iloc[0]
    assert row["spearman"] == pytest.approx(stats.spearmanr(both["cifar10"], both["concrete"])[0])
    assert notes == []


def test_pair_with_too_few_common_architectures_is_reported_not_crashed(rng):
    m = pd.DataFrame(rng.normal(size=(10, 3)), columns=["a", "b", "c"])
    m.iloc[:5, 1] = np.nan
    m.iloc[5:, 2] = np.nan  # b and c share no architecture
    table, notes = correlation_table(m, n_boot=20)
    row = table[(table["task_a"] == "b") & (table["task_b"] == "c")].iloc[0]
    assert row["n"] == 0 and np.isnan(row["spearman"])
    assert notes == ["'b' and 'c' share 0 architecture(s): no correlation"]


def test_correlation_matrix_is_symmetric_with_unit_diagonal(rng):
    m = pd.DataFrame(rng.normal(size=(25, 4)), columns=list("wxyz"))
    table, _ = correlation_table(m, n_boot=0)
    square = correlation_matrix(table)
    assert np.allclose(square, square.T) and np.allclose(np.diag(square), 1)
    assert table["spearman_ci_low"].isna().all()  # no bootstrap asked for
