"""Seed reliability and the correction for attenuation, on data with a known latent structure.

Construction (`latent_runs`): every architecture has a latent quality per task, bivariate normal with
Pearson r_L = 2·sin(π·0.8/6), so the qualities' Spearman ρ is 0.8 (Pearson 1907: ρ_S = 6/π·asin(r/2)).
A run's error is 30 + 5·(quality + σ·ε), ε standard normal and independent per (architecture, task, seed).
Two seeds then correlate with Pearson p = 1/(1 + σ²); σ² = 1/p − 1 with p = 2·sin(π·rel/6) makes their
Spearman ρ, the task's single-run reliability, exactly rel (0.6 and 0.7). Population values follow from
the same normal theory: one seed of each task correlates with Pearson r_L·sqrt(p_a·p_b), i.e. Spearman
6/π·asin(r_L·sqrt(p_a·p_b)/2) = 0.524, close to the textbook 0.8·sqrt(0.6·0.7) = 0.518 (Spearman ρ is
not exactly linear in Pearson r); its ratio to sqrt(0.6·0.7) is 0.808.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.correlation import percentile_ci, resample_counts
from analysis.errors import AnalysisError
from analysis.reliability import (
    CORRECTED_COLUMNS,
    RELIABILITY_COLUMNS,
    corrected_correlations,
    noise_ceiling,
    noise_share,
    reliability_table,
    seed_matrix,
    spearman_brown,
    spearman_draws,
)

LATENT_RHO, RELIABILITY = 0.8, {"a": 0.6, "b": 0.7}


def pearson_of(spearman: float) -> float:
    """Pearson r of a bivariate normal whose Spearman ρ is `spearman` (Pearson 1907)."""
    return 2 * math.sin(math.pi * spearman / 6)


def spearman_of(pearson: float) -> float:
    return 6 / math.pi * math.asin(pearson / 2)


def latent_runs(rng, n_archs=300, seeds=(0, 1, 2), reliability=RELIABILITY, shared_noise=False):
    """Long run table of the construction in the module doc; `shared_noise` gives both tasks one ε."""
    r_latent = pearson_of(LATENT_RHO)
    quality = rng.multivariate_normal([0, 0], [[1, r_latent], [r_latent, 1]], size=n_archs)
    frames = []
    for s in seeds:
        noise = rng.standard_normal(n_archs)
        for t, (task, rel) in enumerate(reliability.items()):
            sigma = math.sqrt(1 / pearson_of(rel) - 1)
            eps = noise if shared_noise else rng.standard_normal(n_archs)
            error = 30 + 5 * (quality[:, t] + sigma * eps)
            frames.append(
                pd.DataFrame({"arch_id": np.arange(n_archs), "task": task, "seed": s, "error": error})
            )
    return pd.concat(frames, ignore_index=True).assign(status="ok")


def base_matrix(runs: pd.DataFrame, base_seeds) -> pd.DataFrame:
    """What the report's error matrix holds: the mean over the base seeds per (architecture, task)."""
    base = runs[runs["seed"].isin(base_seeds) & (runs["status"] == "ok")]
    return base.groupby(["arch_id", "task"])["error"].mean().unstack("task")


def true_observed_rho(k: int = 1) -> float:
    """Population Spearman ρ between the two tasks' means of k seeds (module doc)."""
    p = [pearson_of(rel) for rel in RELIABILITY.values()]
    p_mean = [k * x / (1 + (k - 1) * x) for x in p]  # Pearson reliability of a k-seed mean (exact here)
    return spearman_of(pearson_of(LATENT_RHO) * math.sqrt(p_mean[0] * p_mean[1]))


def rho_sd(rho: float, n: int) -> float:
    """Sampling sd of a Spearman ρ: Bonett–Wright Fisher-z se, mapped back by the delta method."""
    return math.sqrt((1 + rho**2 / 2) / (n - 3)) * (1 - rho**2)


# ---------------------------------------------------------------------------------------------- shapes
def test_seed_matrix_has_one_column_per_seed_of_ok_runs_only():
    runs = pd.DataFrame(
        {
            "arch_id": [1, 1, 2, 2, 3, 1],
            "task": ["a", "a", "a", "a", "a", "b"],
            "seed": [2, 0, 0, 2, 0, 0],
            "error": [11.0, 10.0, 20.0, 99.0, 30.0, 5.0],
            "status": ["ok", "ok", "ok", "failed", "ok", "ok"],
        }
    )
    got = seed_matrix(runs, "a")
    assert list(got.columns) == [0, 2] and list(got.index) == [1, 2, 3]
    assert got.loc[1].tolist() == [10.0, 11.0]
    assert got.loc[2, 0] == 20.0 and math.isnan(got.loc[2, 2])  # the failed run does not count


def test_runs_without_a_seed_column_are_a_clear_error():
    runs = pd.DataFrame({"arch_id": [1], "task": ["a"], "error": [1.0], "status": ["ok"]})
    with pytest.raises(AnalysisError, match=r"lacks column.*seed"):
        reliability_table(runs)


@pytest.mark.parametrize("kwargs", [{"level": 1.5}, {"n_boot": -1}])
def test_bad_bootstrap_settings_are_clear_errors(rng, kwargs):
    with pytest.raises(AnalysisError, match=r"level|n_boot"):
        reliability_table(latent_runs(rng, n_archs=10), **kwargs)


def test_no_replicates_give_typed_empty_tables(rng):
    runs = latent_runs(rng, n_archs=20, seeds=(0,))
    table = reliability_table(runs, n_boot=50)
    assert table.empty and table.dtypes.astype(str).to_dict() == RELIABILITY_COLUMNS
    single = corrected_correlations(base_matrix(runs, [0])[["a"]], runs, [0], n_boot=50)
    assert single.empty and single.dtypes.astype(str).to_dict() == CORRECTED_COLUMNS


def test_two_replicated_architectures_are_too_few(rng):
    runs = latent_runs(rng, n_archs=20, seeds=(0, 1))
    runs = runs[(runs["seed"] == 0) | (runs["arch_id"] < 2)]
    assert reliability_table(runs, n_boot=20).empty


# ---------------------------------------------------------------------------------------------- bootstrap
def test_subset_draws_equal_spearman_on_explicit_resamples(rng):
    values = np.round(rng.normal(size=(25, 3)), 1)  # ties within and across resamples
    values[[0, 3, 7], 1] = np.nan
    values[[3, 11], 2] = np.nan
    counts = resample_counts(25, 15, rng)
    sets = [(0, 1), (0, 2), (1, 2), (0, 1, 2)]
    draws = spearman_draws(values, sets, counts)
    for s, cols in enumerate(sets):
        rows = np.isfinite(values[:, list(cols)]).all(axis=1)
        for b in range(15):
            idx = np.repeat(np.flatnonzero(rows), counts[b, rows].astype(int))
            for x, y in [(0, 1), (0, -1)]:
                want = stats.spearmanr(values[idx, cols[x]], values[idx, cols[y]])[0]
                assert draws[s][b, x, y] == pytest.approx(want, abs=1e-12)


def test_corrected_ci_is_one_joint_resample_of_all_architectures(rng):
    """The whole pipeline against explicit resampling: the same counts feed ρ_ab and both reliabilities."""
    runs = latent_runs(rng, n_archs=40)
    runs = runs[~((runs["arch_id"] >= 30) & (runs["seed"] > 0))]  # archs 30..39 not replicated
    runs = runs[~((runs["arch_id"] == 5) & (runs["seed"] == 2) & (runs["task"] == "a"))]  # one failed run
    matrix = base_matrix(runs, [0])
    n_boot, level = 40, 0.9
    got = corrected_correlations(matrix, runs, [0], n_boot=n_boot, seed=7, level=level).iloc[0]
    counts = resample_counts(40, n_boot, np.random.default_rng(7))  # one block: the same stream
    seeds = {t: seed_matrix(runs, t).to_numpy() for t in "ab"}

    def reliability(seed_values: np.ndarray, idx: np.ndarray) -> float:
        rhos, weights = [], []
        for s, t in [(0, 1), (0, 2), (1, 2)]:
            sub = seed_values[idx][:, [s, t]]
            sub = sub[np.isfinite(sub).all(axis=1)]
            rhos.append(stats.spearmanr(sub[:, 0], sub[:, 1])[0])
            both = np.isfinite(seed_values[:, [s, t]]).all(axis=1).sum()  # weight: architectures of the pair
            weights.append(both)
        return float(np.average(rhos, weights=weights))

    draws = []
    for b in range(n_boot):
        idx = np.repeat(np.arange(40), counts[b].astype(int))
        rho = stats.spearmanr(matrix.to_numpy()[idx, 0], matrix.to_numpy()[idx, 1])[0]
        draws.append(rho / math.sqrt(reliability(seeds["a"], idx) * reliability(seeds["b"], idx)))
    low, high = percentile_ci(np.array(draws), level)
    assert got["spearman_corrected_ci_low"] == pytest.approx(low, abs=1e-9)
    assert got["spearman_corrected_ci_high"] == pytest.approx(high, abs=1e-9)
    full = np.arange(40)
    assert got["rel_a"] == pytest.approx(reliability(seeds["a"], full), abs=1e-12)


# ---------------------------------------------------------------------------------------------- recovery
def test_correction_recovers_the_latent_rho(rng):
    runs = latent_runs(rng)
    table = reliability_table(runs, n_boot=1000, seed=1).set_index("task")
    assert table["n_archs"].tolist() == [300, 300] and table["n_seeds"].tolist() == [3, 3]
    matrix = base_matrix(runs, [0])
    observed = stats.spearmanr(matrix["a"], matrix["b"])[0]
    # attenuated to ≈ 0.8·sqrt(0.6·0.7) = 0.518 (exactly 0.524 here): 3 sampling sd at n = 300 is ±0.13
    assert observed == pytest.approx(LATENT_RHO * math.sqrt(0.6 * 0.7), abs=3 * rho_sd(observed, 300))
    row = corrected_correlations(matrix, runs, [0], n_boot=1000, seed=2).iloc[0]
    assert row["spearman_corrected_ci_low"] <= LATENT_RHO <= row["spearman_corrected_ci_high"]
    assert row["spearman_corrected"] > observed
    assert row["rel_a"] == pytest.approx(table.loc["a", "seed_spearman"])  # k = 1: the single-run value
    assert not row["corrected_above_1"]


def test_averaged_base_seeds_use_the_spearman_brown_reliability(rng):
    runs = latent_runs(rng)
    table = reliability_table(runs, n_boot=0).set_index("task")
    row = corrected_correlations(base_matrix(runs, [0, 1]), runs, [0, 1], n_boot=1000, seed=3).iloc[0]
    assert row["rel_a"] == pytest.approx(spearman_brown(table.loc["a", "seed_spearman"], 2))
    assert row["rel_b"] == pytest.approx(spearman_brown(table.loc["b", "seed_spearman"], 2))
    assert row["spearman_corrected_ci_low"] <= LATENT_RHO <= row["spearman_corrected_ci_high"]


def test_reliability_ci_coverage_and_unbiased_correction_over_repetitions():
    """50 seeded studies: the 95 % reliability CIs cover 0.6 and 0.7 in ≥ 90 % of cases; the mean observed
    and corrected ρ land within 3 standard errors of the mean (sd/√50) of their population values."""
    covered, observed, corrected = [], [], []
    for rep in range(50):
        runs = latent_runs(np.random.default_rng(1000 + rep))
        table = reliability_table(runs, n_boot=200, seed=rep).set_index("task")
        for task, rel in RELIABILITY.items():
            covered.append(
                table.loc[task, "seed_spearman_ci_low"] <= rel <= table.loc[task, "seed_spearman_ci_high"]
            )
        matrix = base_matrix(runs, [0])
        observed.append(stats.spearmanr(matrix["a"], matrix["b"])[0])
        corrected.append(corrected_correlations(matrix, runs, [0], n_boot=0).iloc[0]["spearman_corrected"])
    assert np.mean(covered) >= 0.9
    rho = true_observed_rho()
    assert np.mean(observed) == pytest.approx(rho, abs=3 * rho_sd(rho, 300) / math.sqrt(50))
    truth = rho / math.sqrt(0.6 * 0.7)  # 0.808: the population value of the corrected Spearman here
    assert np.mean(corrected) == pytest.approx(truth, abs=3 * np.std(corrected, ddof=1) / math.sqrt(50))


# ---------------------------------------------------------------------------------------------- edge cases
def test_task_without_replicates_gives_nan_not_an_error(rng):
    runs = latent_runs(rng, n_archs=60)
    only_base = runs[(runs["task"] == "b") & (runs["seed"] == 0)].assign(task="c")
    runs = pd.concat([runs, only_base], ignore_index=True)
    assert reliability_table(runs, n_boot=50)["task"].tolist() == ["a", "b"]
    table = corrected_correlations(base_matrix(runs, [0]), runs, [0], n_boot=50).set_index(
        ["task_a", "task_b"]
    )
    assert list(table.index) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert np.isfinite(table.loc[("a", "b")].drop("corrected_above_1").astype(float)).all()
    for pair in [("a", "c"), ("b", "c")]:
        assert table.loc[pair, ["spearman_corrected", "spearman_corrected_ci_low", "rel_b"]].isna().all()
        assert not table.loc[pair, "corrected_above_1"]
    assert table.loc[("a", "c"), "rel_a"] == pytest.approx(table.loc[("a", "b"), "rel_a"])


def test_values_above_one_are_kept_and_flagged(rng):
    """Seed noise shared by both tasks makes ρ_ab exceed the ceiling sqrt(rel_a·rel_b)."""
    runs = latent_runs(rng, n_archs=200, reliability={"a": 0.5, "b": 0.5}, shared_noise=True)
    row = corrected_correlations(base_matrix(runs, [0]), runs, [0], n_boot=200).iloc[0]
    assert row["spearman_corrected"] > 1.2 and row["corrected_above_1"]
    assert row["spearman_corrected_ci_high"] > row["spearman_corrected"] > row["spearman_corrected_ci_low"]


def test_empty_base_seeds_are_a_clear_error(rng):
    runs = latent_runs(rng, n_archs=10)
    with pytest.raises(AnalysisError, match="base_seeds"):
        corrected_correlations(base_matrix(runs, [0]), runs, [])


# ---------------------------------------------------------------------------------------------- formulas
def test_spearman_brown_by_hand():
    assert spearman_brown(0.6, 1) == pytest.approx(0.6)
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3)  # 2·0.5 / (1 + 0.5)
    assert spearman_brown(np.array([0.0, 1.0]), 4).tolist() == [0.0, 1.0]
    with pytest.raises(AnalysisError, match="at least 1"):
        spearman_brown(0.5, 0)


def test_noise_share_by_hand():
    c = noise_ceiling(0.55, 0.55)
    assert c == pytest.approx(0.55)
    # ρ = 0.31: noise-free ρ = 0.31/0.55 = 0.5636; disagreement 0.69 shrinks to 0.4364, by 0.2536 = 36.8 %
    assert noise_share(0.31, 0.55, 0.55) == pytest.approx((0.31 / 0.55 - 0.31) / 0.69)
    assert noise_share(0.31, 0.55, 0.55) == pytest.approx(0.3676, abs=1e-4)
    got = noise_share(np.array([0.9, -0.2, np.nan, 1.0]), 0.5, 0.5)
    assert got[0] == 1.0 and got[1] == 0.0 and np.isnan(got[2:]).all()  # clipped, clipped, NaN, NaN
    assert math.isnan(noise_share(0.3, 0.0, 0.5))
