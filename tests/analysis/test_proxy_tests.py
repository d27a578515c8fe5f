"""Differences of two dependent ρ: published worked examples, the size of the test, the paired bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.correlation import percentile_ci, resample_counts
from analysis.errors import AnalysisError
from analysis.proxy_tests import (
    DIFFERENCE_COLUMNS,
    fisher_interval,
    proxy_differences,
    williams_t,
    zou_interval,
)


# ---------------------------------------------------------------------------------------------- formulas
def test_williams_t_matches_the_published_example():
    """r_jk = .3, r_jh = .4, r_kh = .5, n = 100 → t(97) = −1.0767, p = .2843: the output of DEPCOR (Silver,
    Hittner & May 2006, Applied Psychological Measurement 30:152–153), which the R package cocor also
    checks its Williams test against (tests/testthat/tests.r, "Test williams1959")."""
    t, p = williams_t(0.3, 0.4, 0.5, 100)
    assert float(t) == pytest.approx(-1.0767, abs=5e-5)
    assert float(p) == pytest.approx(0.2843, abs=5e-5)


def test_williams_t_by_hand_for_a_small_case():
    # r_jk = .5, r_jh = .2, r_kh = .3, n = 50: |R| = 1 − .25 − .04 − .09 + 2·.5·.2·.3 = .68, r̄ = .35,
    # denominator = 2·(49/47)·.68 + .35²·.7³ = 1.417872 + .042018 = 1.459890, t = .3·sqrt(49·1.3/1.459890)
    t, p = williams_t(0.5, 0.2, 0.3, 50)
    assert float(t) == pytest.approx(0.3 * math.sqrt(63.7 / (2 * 49 / 47 * 0.68 + 0.35**2 * 0.7**3)))
    assert float(t) == pytest.approx(1.9817, abs=1e-4)
    assert float(p) == pytest.approx(2 * stats.t.sf(float(t), 47))
    back, _ = williams_t(0.2, 0.5, 0.3, 50)
    assert float(back) == pytest.approx(-float(t))  # antisymmetric in the two compared correlations


def test_zou_interval_matches_the_published_example():
    """Zou (2007, Psychological Methods 12:399–413), overlapping correlations: r_12 = .396, r_13 = .179,
    r_23 = .088, n = 66 → 95 % CI for ρ_12 − ρ_13 of (−.093, .517) (also a check in cocor's tests)."""
    low, high = zou_interval(0.396, 0.179, 0.088, 66)
    assert float(low) == pytest.approx(-0.093, abs=5e-4)
    assert float(high) == pytest.approx(0.517, abs=5e-4)


def test_spearman_variant_widens_the_single_intervals_as_bonett_wright():
    low, high = fisher_interval(0.6, 103, spearman=True)
    half = 1.959964 * math.sqrt((1 + 0.36 / 2) / 100)
    assert (float(low), float(high)) == pytest.approx(
        (math.tanh(math.atanh(0.6) - half), math.tanh(math.atanh(0.6) + half)), abs=1e-6
    )
    plain = zou_interval(0.6, 0.4, 0.5, 103)
    wide = zou_interval(0.6, 0.4, 0.5, 103, spearman=True)
    assert wide[0] < plain[0] and wide[1] > plain[1]


def _spearman_triples(rng, draws: int, n: int, corr: np.ndarray) -> np.ndarray:
    """draws×3×3 sample Spearman matrices of n rows from a trivariate normal."""
    x = rng.multivariate_normal(np.zeros(3), corr, size=(draws, n))
    ranks = stats.rankdata(x, axis=1)
    ranks -= ranks.mean(axis=1, keepdims=True)
    ranks /= np.sqrt((ranks**2).sum(axis=1, keepdims=True))
    return np.einsum("dni,dnj->dij", ranks, ranks)


@pytest.mark.parametrize("n, rho_target, rho_ab", [(40, 0.7, 0.8), (150, 0.5, 0.3)])
def test_spearman_test_has_its_nominal_size(rng, n, rho_target, rho_ab):
    """Under H0 (both sources agree equally with the target), p < .05 in about 5 % of 2000 draws: the binomial
    sd is 0.5 %, so [3.5 %, 6.5 %] is ±3 sd. Zou's interval misses 0 about as often. Population Spearman
    values are set through Pearson r = 2·sin(π·ρ/6)."""
    r_t, r_ab = (2 * math.sin(math.pi * v / 6) for v in (rho_target, rho_ab))
    corr = np.array([[1, r_t, r_t], [r_t, 1, r_ab], [r_t, r_ab, 1]])
    rho = _spearman_triples(rng, 2000, n, corr)
    _, p = williams_t(rho[:, 0, 1], rho[:, 0, 2], rho[:, 1, 2], n, spearman=True)
    low, high = zou_interval(rho[:, 0, 1], rho[:, 0, 2], rho[:, 1, 2], n, spearman=True)
    assert 0.035 <= np.mean(p < 0.05) <= 0.065
    assert 0.035 <= np.mean((low > 0) | (high < 0)) <= 0.065


# ---------------------------------------------------------------------------------------------- table
def _matrix(rng, n=200, missing=True) -> pd.DataFrame:
    """Target t; proxy a agrees with it clearly better than b; ref in between; a few holes."""
    corr = np.array([[1, 0.8, 0.3, 0.5], [0.8, 1, 0.3, 0.5], [0.3, 0.3, 1, 0.4], [0.5, 0.5, 0.4, 1]])
    m = pd.DataFrame(rng.multivariate_normal(np.zeros(4), corr, size=n), columns=["t", "a", "b", "ref"])
    if missing:
        m.iloc[[1, 4, 9], 2] = np.nan
        m.iloc[[4, 20], 3] = np.nan
    return m


def test_paired_bootstrap_equals_explicit_resampling(rng):
    m = _matrix(rng, n=60)
    got = proxy_differences(m, {"t": ["a", "b"]}, n_boot=30, seed=5, level=0.9).iloc[0]
    rows = m[["t", "a", "b"]].dropna().index.to_numpy()
    assert got["n"] == len(rows) == 57
    values = m.to_numpy()
    assert got["rho_a"] == pytest.approx(stats.spearmanr(values[rows, 0], values[rows, 1])[0])
    assert got["rho_ab"] == pytest.approx(stats.spearmanr(values[rows, 1], values[rows, 2])[0])
    counts = resample_counts(60, 30, np.random.default_rng(5))
    deltas = []
    for b in range(30):
        idx = np.repeat(rows, counts[b, rows].astype(int))  # the same draw for both ρ, over the complete rows
        deltas.append(
            stats.spearmanr(values[idx, 0], values[idx, 1])[0]
            - stats.spearmanr(values[idx, 0], values[idx, 2])[0]
        )
    low, high = percentile_ci(np.array(deltas), 0.9)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high), abs=1e-12)


def test_a_clearly_better_proxy_is_detected_by_all_three(rng):
    table = proxy_differences(_matrix(rng), {"t": ["a", "b", "ref"]}, n_boot=500, seed=1)
    assert table[["proxy_a", "proxy_b"]].values.tolist() == [["a", "b"], ["a", "ref"], ["b", "ref"]]
    first = table.iloc[0]
    assert first["delta"] == pytest.approx(first["rho_a"] - first["rho_b"])
    assert first["delta"] > 0.3 and first["p_value"] < 0.001
    assert first["ci_low"] > 0 and first["zou_ci_low"] > 0
    assert first["ci_low"] < first["delta"] < first["ci_high"]
    assert first["zou_ci_low"] < first["delta"] < first["zou_ci_high"]
    assert table["method"].str.contains("williams").all()


def test_targets_and_sources_must_be_columns():
    m = pd.DataFrame({"t": [1.0, 2, 3, 4], "a": [1.0, 2, 3, 4]})
    with pytest.raises(AnalysisError, match=r"task\(s\) b, x are not in the error matrix; it has: t, a"):
        proxy_differences(m, {"x": ["a", "b"]})


def test_typed_empty_and_too_few_architectures(rng):
    m = _matrix(rng, n=30, missing=False)
    empty = proxy_differences(m, {"t": ["a"], "b": ["b"]})  # one source, or only the target itself
    assert empty.empty and empty.dtypes.astype(str).to_dict() == DIFFERENCE_COLUMNS
    few = proxy_differences(m.iloc[:3], {"t": ["a", "b"]}, n_boot=20).iloc[0]
    assert few["n"] == 3
    assert np.isnan(few[["rho_a", "delta", "ci_low", "p_value", "zou_ci_low"]].astype(float)).all()
