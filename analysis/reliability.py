"""How far a ρ can be trusted: seed-to-seed reliability of each task and ρ corrected for it (issue 13).

A study trains most architectures once per task (its base `seeds`); `replicates` retrains K of them with
other seeds. Those replicated architectures measure how much a task's ranking moves with the training seed
alone: the *reliability* of a task is the Spearman ρ between two seeds' error vectors over the replicated
architectures (averaged over seed pairs). Seed noise caps the ρ any two tasks can show: with error =
quality + noise, the observed ρ_ab ≈ ρ_true·sqrt(rel_a·rel_b), so Spearman's (1904) correction for
attenuation ρ_ab / sqrt(rel_a·rel_b) estimates the agreement of the tasks' noise-free rankings.

Bootstrap: architectures are resampled with the shared-resample counts of analysis/correlation.py. A subset
of the architectures (those with both seeds, or both tasks) sees the counts of its own members only; their
rows are rescaled to sum to the subset's size, which multiplies every resample rank by one factor per row
(rank = a·(count-rank − ½) + ½) and so leaves the weighted ρ unchanged (tests/analysis/test_reliability.py
checks it against `scipy.stats.spearmanr` on explicit resamples). In `corrected_correlations` one draw over
all architectures feeds the numerator and both reliabilities, so their covariance is in the interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.correlation import bootstrap_spearman, percentile_ci, resample_counts
from analysis.errors import AnalysisError
from analysis.tables import MIN_ARCHS, require_columns

SEED_RUN_COLUMNS = ("arch_id", "task", "seed", "error", "status")
RELIABILITY_COLUMNS = {
    "task": "object",
    "n_archs": "int64",
    "n_seeds": "int64",
    "seed_spearman": "float64",
    "seed_spearman_ci_low": "float64",
    "seed_spearman_ci_high": "float64",
    "spread_pp": "float64",
}
CORRECTED_COLUMNS = {
    "task_a": "object",
    "task_b": "object",
    "spearman_corrected": "float64",
    "spearman_corrected_ci_low": "float64",
    "spearman_corrected_ci_high": "float64",
    "corrected_above_1": "bool",
    "rel_a": "float64",
    "rel_b": "float64",
}
CELLS_PER_BLOCK = 4e6  # B×T×n floats per bootstrap block (~32 MB), as in correlation_table


def typed_frame(rows: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    """DataFrame of `rows` with exactly `columns` in their dtypes, also when `rows` is empty."""
    return pd.DataFrame(rows, columns=list(columns)).astype(columns)


def check_bootstrap(n_boot: int, level: float) -> None:
    """Raise AnalysisError for a negative `n_boot` or a `level` outside (0, 1)."""
    if n_boot < 0:
        raise AnalysisError(f"n_boot must be 0 (no interval) or more, got {n_boot}")
    if not 0 < level < 1:
        raise AnalysisError(f"level must lie strictly between 0 and 1 (e.g. 0.95), got {level}")


# ------------------------------------------------------------------------------------------ resampling
def spearman_draws(values: np.ndarray, sets: Sequence[Sequence[int]], counts: np.ndarray) -> list[np.ndarray]:
    """For each column set of `values` (n×T, NaN = absent): B×k×k Spearman matrices of its k columns under
    each resample row of `counts` (B×n), over the rows where every column of the set is present.

    Sets over the same rows share one `bootstrap_spearman` call; `counts` of ones give the plain ρ. A
    resample that leaves a set fewer than two distinct values gives NaN (dropped by `percentile_ci`)."""
    present = np.isfinite(values)
    groups: dict[bytes, list[int]] = {}
    for s, cols in enumerate(sets):
        groups.setdefault(present[:, list(cols)].all(axis=1).tobytes(), []).append(s)
    out: list[np.ndarray] = [np.empty(0)] * len(sets)
    for key, members in groups.items():
        rows = np.frombuffer(key, dtype=bool)
        union = sorted({c for s in members for c in sets[s]})
        boot = _subset_spearman(values[rows][:, union], counts[:, rows])
        for s in members:
            at = [union.index(c) for c in sets[s]]
            out[s] = boot[:, at][:, :, at]
    return out


def _subset_spearman(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`bootstrap_spearman` for counts whose rows need not sum to n (rescaled; see module doc)."""
    n, total = values.shape[0], counts.sum(axis=1, keepdims=True)
    if n < MIN_ARCHS:
        return np.full((counts.shape[0], values.shape[1], values.shape[1]), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):  # a resample missing the whole subset: NaN
        return bootstrap_spearman(values, counts * (n / total))


def blocks(n_boot: int, cells_per_draw: int) -> list[int]:
    """Sizes of the bootstrap blocks that keep B×cells near CELLS_PER_BLOCK (sum = n_boot)."""
    size = max(1, int(CELLS_PER_BLOCK // max(1, cells_per_draw)))
    return [min(size, n_boot - start) for start in range(0, n_boot, size)]


# ------------------------------------------------------------------------------------------ seeds
def ok_seed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The ok runs of a run table with a `seed` column (arch_id int, task str, seed int, error float)."""
    require_columns(runs, SEED_RUN_COLUMNS, "runs")
    ok = runs.loc[runs["status"] == "ok", list(SEED_RUN_COLUMNS[:4])].copy()
    ok["error"] = pd.to_numeric(ok["error"], errors="coerce")
    ok = ok[np.isfinite(ok["error"])]
    return ok.astype({"arch_id": "int64", "task": str, "seed": "int64"})


def seed_matrix(runs: pd.DataFrame, task: str) -> pd.DataFrame:
    """Errors of `task`'s ok runs: index arch_id, one column per seed (sorted), NaN where a seed has no
    ok run; a repeated (arch, seed) is averaged."""
    return _seed_matrix(ok_seed_runs(runs), task)


def _seed_matrix(ok: pd.DataFrame, task: str) -> pd.DataFrame:
    runs = ok[ok["task"] == task]
    table = runs.pivot_table(index="arch_id", columns="seed", values="error", aggfunc="mean")
    return table.sort_index().sort_index(axis=1).astype(float)


def replicated(seeds: pd.DataFrame) -> pd.DataFrame:
    """The rows (architectures) of a seed matrix with at least two ok seeds."""
    return seeds[seeds.notna().sum(axis=1) >= 2]


def seed_pairs(seeds: pd.DataFrame) -> list[tuple[int, int]]:
    """Column pairs of a seed matrix that share at least MIN_ARCHS architectures."""
    present = seeds.notna().to_numpy()
    s, t = np.triu_indices(seeds.shape[1], k=1)
    shared = (present[:, s] & present[:, t]).sum(axis=0)
    return [(int(a), int(b)) for a, b, n in zip(s, t, shared, strict=True) if n >= MIN_ARCHS]


def pair_weights(seeds: pd.DataFrame, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Weight of each seed pair in the reliability: its share of the (architecture, pair) observations."""
    present = seeds.notna().to_numpy()
    n = np.array([(present[:, s] & present[:, t]).sum() for s, t in pairs], dtype=float)
    return n / n.sum()


def mean_pair_rho(
    values: np.ndarray, pairs: Sequence[tuple[int, int]], weights: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """B draws of the seed reliability: the weighted mean over seed pairs of the pair's Spearman ρ."""
    draws = spearman_draws(values, pairs, counts)
    return np.stack([d[:, 0, 1] for d in draws], axis=1) @ weights


def spread(seeds: pd.DataFrame) -> float:
    """Median |error_s − error_t| (percentage points) over every architecture and seed pair it has."""
    values = seeds.to_numpy()
    s, t = np.triu_indices(values.shape[1], k=1)
    diffs = np.abs(values[:, s] - values[:, t]).ravel()
    diffs = diffs[np.isfinite(diffs)]
    return float(np.median(diffs)) if diffs.size else math.nan


# ------------------------------------------------------------------------------------------ tables
def reliability_table(
    runs: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """One row per task with ≥ MIN_ARCHS architectures of ≥ 2 ok seeds (columns: RELIABILITY_COLUMNS).

    seed_spearman = Σ_pairs w_st·ρ(error_s, error_t), ρ over the architectures having both seeds s and t,
    w_st ∝ their number (the plain mean over seed pairs when every replicated architecture has every seed);
    its CI is the `level` percentile bootstrap over the replicated architectures. spread_pp = median
    absolute seed-to-seed error difference (percentage points)."""
    check_bootstrap(n_boot, level)
    ok = ok_seed_runs(runs)
    rng = np.random.default_rng(seed)
    rows = []
    for task in dict.fromkeys(ok["task"]):
        seeds = replicated(_seed_matrix(ok, task))
        pairs = seed_pairs(seeds)
        if len(seeds) < MIN_ARCHS or not pairs:
            continue
        values, weights, n = seeds.to_numpy(), pair_weights(seeds, pairs), len(seeds)
        rel = float(mean_pair_rho(values, pairs, weights, np.ones((1, n)))[0])
        draws = [
            mean_pair_rho(values, pairs, weights, resample_counts(n, b, rng)) for b in blocks(n_boot, 4 * n)
        ]
        draws = np.concatenate([np.empty(0), *draws])
        low, high = percentile_ci(draws, level) if n_boot else (math.nan, math.nan)
        n_seeds = int(seeds.notna().any(axis=0).sum())
        rows.append(
            {
                "task": task,
                "n_archs": n,
                "n_seeds": n_seeds,
                "seed_spearman": rel,
                "seed_spearman_ci_low": low,
                "seed_spearman_ci_high": high,
                "spread_pp": spread(seeds),
            }
        )
    return typed_frame(rows, RELIABILITY_COLUMNS)


def spearman_brown(rel: float | np.ndarray, k: float) -> float | np.ndarray:
    """Reliability of the mean of k runs from that of one: k·r / (1 + (k − 1)·r) (Spearman 1910; Brown
    1910). Exact for Pearson reliabilities of parallel measurements, the usual approximation for Spearman."""
    if k < 1:
        raise AnalysisError(f"k (runs averaged) must be at least 1, got {k}")
    rel = np.asarray(rel, dtype=float)
    out = k * rel / (1 + (k - 1) * rel)
    return float(out) if out.ndim == 0 else out


def noise_ceiling(rel_a: float | np.ndarray, rel_b: float | np.ndarray) -> float | np.ndarray:
    """sqrt(rel_a·rel_b): the ρ two tasks would show if their noise-free rankings were identical."""
    out = np.sqrt(np.asarray(rel_a, dtype=float) * np.asarray(rel_b, dtype=float))
    return float(out) if out.ndim == 0 else out


def noise_share(rho: float | np.ndarray, rel_a: float | np.ndarray, rel_b: float | np.ndarray):
    """Share of the observed disagreement 1 − ρ that seed noise accounts for, in [0, 1].

    With ceiling c = sqrt(rel_a·rel_b) the noise-free ρ is ρ/c (correction for attenuation), so removing
    the noise would shrink the disagreement from 1 − ρ to 1 − ρ/c; the share is the part removed:
        share = (ρ/c − ρ) / (1 − ρ) = ρ·(1 − c) / (c·(1 − ρ)),  clipped to [0, 1].
    It is 1 when ρ/c ≥ 1 (noise explains all of it) and 0 for ρ ≤ 0 (noise only shrinks ρ towards 0).
    Example: ρ = 0.31, c = 0.55 → 0.37: about a third of the disagreement is seed noise. (1 − c)/(1 − ρ)
    is an upper bound: it counts the whole gap to the ceiling as noise, as if the true rankings agreed.
    NaN where ρ or either reliability is NaN, where c ≤ 0, or where ρ = 1 (no disagreement)."""
    rho = np.asarray(rho, dtype=float)
    c = np.asarray(noise_ceiling(rel_a, rel_b), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where((c > 0) & (rho < 1), rho * (1 - c) / (c * (1 - rho)), np.nan)
    out = np.where(np.isnan(share), np.nan, np.clip(share, 0.0, 1.0))
    return float(out) if out.ndim == 0 else out


def corrected_correlations(
    matrix: pd.DataFrame,
    runs: pd.DataFrame,
    base_seeds: Sequence[int],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Every pair of `matrix` columns (task_a, task_b in column order, as `correlation_table`) with
    spearman_corrected = ρ_ab / sqrt(rel_a·rel_b) (Spearman 1904), never clipped; `corrected_above_1` flags
    values above 1. ρ_ab is over the architectures having both tasks; rel = spearman_brown(seed reliability,
    k = len(base_seeds)) is the reliability of what `matrix` holds (the mean of k base-seed runs). The CI
    resamples all architectures jointly (see module doc); NaN where a task has no reliability."""
    check_bootstrap(n_boot, level)
    if len(base_seeds) == 0:
        raise AnalysisError("base_seeds is empty; pass the study's `seeds` (the runs the matrix averages)")
    ok, tasks = ok_seed_runs(runs), list(matrix.columns)
    seeds = {t: replicated(_seed_matrix(ok, t)) for t in tasks}
    replicated_ids = sorted({int(i) for s in seeds.values() for i in s.index})
    ids = matrix.index.union(pd.Index(replicated_ids, dtype="int64"))  # both without duplicates
    model = _Corrected(matrix.reindex(ids).to_numpy(dtype=float), seeds, ids, k=len(base_seeds))
    point, rel = model.draws(np.ones((1, len(ids))))
    rng = np.random.default_rng(seed)
    boot = [model.draws(resample_counts(len(ids), b, rng))[0] for b in blocks(n_boot, 2 * model.cells)]
    boot = np.concatenate([np.empty((0, len(model.pairs))), *boot])
    rows = []
    for p, (i, j) in enumerate(model.pairs):
        low, high = percentile_ci(boot[:, p], level) if n_boot else (math.nan, math.nan)
        value = float(point[0, p])
        rows.append(
            {
                "task_a": tasks[i],
                "task_b": tasks[j],
                "spearman_corrected": value,
                "spearman_corrected_ci_low": low,
                "spearman_corrected_ci_high": high,
                "corrected_above_1": bool(value > 1),
                "rel_a": rel[0, i],
                "rel_b": rel[0, j],
            }
        )
    return typed_frame(rows, CORRECTED_COLUMNS)


class _Corrected:
    """The corrected ρ of every task pair as a function of one resample of all architectures `ids`."""

    def __init__(self, values: np.ndarray, seeds: dict[str, pd.DataFrame], ids: pd.Index, k: int):
        tasks = list(seeds)
        self.values, self.k, self.ntasks = values, k, len(tasks)
        self.plans = {  # task column -> (seed values over ids, seed pairs, their weights)
            tasks.index(t): (s.reindex(ids).to_numpy(), pairs, pair_weights(s, pairs))
            for t, s in seeds.items()
            if len(s) >= MIN_ARCHS and (pairs := seed_pairs(s))
        }
        self.pairs = [(i, j) for i in range(len(tasks)) for j in range(i + 1, len(tasks))]
        self.judged = [p for p, (i, j) in enumerate(self.pairs) if i in self.plans and j in self.plans]
        self.cells = values.size

    def draws(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """B×pairs corrected ρ (NaN for pairs without both reliabilities) and B×tasks reliabilities."""
        rel = np.full((counts.shape[0], self.ntasks), np.nan)
        for t, (values, pairs, weights) in self.plans.items():
            rel[:, t] = spearman_brown(mean_pair_rho(values, pairs, weights, counts), self.k)
        out = np.full((counts.shape[0], len(self.pairs)), np.nan)
        if self.judged:
            pairs = [self.pairs[p] for p in self.judged]
            rho = np.stack([d[:, 0, 1] for d in spearman_draws(self.values, pairs, counts)], axis=1)
            a, b = (np.array([pair[x] for pair in pairs]) for x in (0, 1))
            with np.errstate(invalid="ignore"):  # a reliability ≤ 0 leaves ρ uncorrectable: NaN
                out[:, self.judged] = rho / np.sqrt(rel[:, a] * rel[:, b])
        return out, rel
