"""Rank agreement between tasks: Spearman ρ (average ranks) with a percentile-bootstrap CI, Pearson r and
Kendall τ.

The bootstrap resamples architectures with replacement. It is vectorised: a resample is a row of counts
c (B×n, Σc = n) over the n architectures both tasks share, so one draw serves every pair of tasks with
the same architectures. Within a resample an architecture's average rank is (count of resampled values
strictly below) + (count of resampled values equal + 1)/2, read off a cumulative sum of the counts in
sorted order; ρ is then the Pearson correlation of those ranks weighted by c. This equals
`scipy.stats.spearmanr` on the explicitly resampled vectors (checked in tests/analysis/test_correlation.py)
without materialising them.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.tables import MIN_ARCHS

COLUMNS = [
    "task_a",
    "task_b",
    "spearman",
    "spearman_ci_low",
    "spearman_ci_high",
    "spearman_p",
    "pearson",
    "kendall",
    "n",
]


def pair_correlation(x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("a", "b")) -> dict[str, float]:
    """Spearman ρ (with p), Pearson r and Kendall τ-b of paired errors; n < 3 raises AnalysisError."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    both = np.isfinite(x) & np.isfinite(y)
    n = int(both.sum())
    if n < MIN_ARCHS:
        raise AnalysisError(
            f"tasks {names[0]!r} and {names[1]!r} have {n} architecture(s) with ok runs on both; "
            f"a correlation needs at least {MIN_ARCHS}"
        )
    x, y = x[both], y[both]
    with warnings.catch_warnings():  # a constant error vector has no ranking: NaN, reported as such
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        rho, p = stats.spearmanr(x, y)
        r = stats.pearsonr(x, y)[0] if np.ptp(x) > 0 and np.ptp(y) > 0 else np.nan
        tau = stats.kendalltau(x, y)[0]
    return {
        "spearman": float(rho),
        "spearman_p": float(p),
        "pearson": float(r),
        "kendall": float(tau),
        "n": n,
    }


def resample_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """B×n counts of n draws with replacement from n architectures (each row sums to n)."""
    idx = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)


def resample_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """B×n average ranks of every value within each resample given by `counts` (see module doc)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    cum = np.cumsum(counts[:, order], axis=1)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size] - 1
    at_or_below = cum[:, ends]
    below = np.where(starts > 0, cum[:, np.maximum(starts - 1, 0)], 0.0)
    group_rank = below + (at_or_below - below + 1) / 2
    group_of_sorted = np.repeat(np.arange(starts.size), ends - starts + 1)
    ranks = np.empty_like(counts)
    ranks[:, order] = group_rank[:, group_of_sorted]
    return ranks


def unit_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """B×T×n resample ranks, centred and scaled so that a dot product of two columns is their weighted ρ."""
    n = values.shape[0]
    weights = counts / n
    units = []
    for t in range(values.shape[1]):
        ranks = resample_ranks(values[:, t], counts)
        centred = ranks - (weights * ranks).sum(axis=1, keepdims=True)
        sd = np.sqrt((weights * centred**2).sum(axis=1, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):  # a constant resample: NaN, dropped later
            units.append(np.sqrt(weights) * centred / sd)
    return np.stack(units, axis=1)


def bootstrap_spearman(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """B×T×T Spearman matrices of the n×T error table `values` under each resample of `counts` (B×n)."""
    u = unit_ranks(values, counts)
    return u @ u.transpose(0, 2, 1)


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap draws without NaN draws (constant resamples); NaN if none is left."""
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def correlation_table(
    matrix: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[pd.DataFrame, list[str]]:
    """Every pair of tasks (columns of `matrix`) once, over the architectures both have; plus notes on
    pairs with too few architectures (their statistics are NaN, n is reported)."""
    tasks = list(matrix.columns)
    values = matrix.to_numpy(dtype=float)
    present = np.isfinite(values)
    rng = np.random.default_rng(seed)
    groups: dict[bytes, list[tuple[int, int]]] = {}
    for i in range(len(tasks)):
        for j in range(i + 1, len(tasks)):
            groups.setdefault((present[:, i] & present[:, j]).tobytes(), []).append((i, j))
    rows, notes = {}, []
    for key, pairs in groups.items():
        mask = np.frombuffer(key, dtype=bool)
        n = int(mask.sum())
        if n < MIN_ARCHS:
            for i, j in pairs:
                rows[i, j] = {"n": n}
                notes.append(f"{tasks[i]!r} and {tasks[j]!r} share {n} architecture(s): no correlation")
            continue
        cols = sorted({t for pair in pairs for t in pair})
        sub = values[mask][:, cols]
        boot = np.empty((0, len(cols), len(cols)))
        if n_boot > 0:
            block = max(1, int(4e6 // (len(cols) * n)))  # keeps the B×T×n arrays near 32 MB
            boot = np.concatenate(
                [
                    bootstrap_spearman(sub, resample_counts(n, min(block, n_boot - s), rng))
                    for s in range(0, n_boot, block)
                ]
            )
        for i, j in pairs:
            row = pair_correlation(values[mask, i], values[mask, j], (tasks[i], tasks[j]))
            if n_boot > 0:
                draws = boot[:, cols.index(i), cols.index(j)]
                row["spearman_ci_low"], row["spearman_ci_high"] = percentile_ci(draws, level)
            rows[i, j] = row
    table = pd.DataFrame(
        [{"task_a": tasks[i], "task_b": tasks[j], **rows[i, j]} for i, j in sorted(rows)], columns=COLUMNS
    )
    table["n"] = table["n"].astype(int)
    return table, notes


def correlation_matrix(table: pd.DataFrame, value: str = "spearman") -> pd.DataFrame:
    """Symmetric task×task matrix of one column of a correlation table, 1 on the diagonal."""
    tasks = list(dict.fromkeys([*table["task_a"], *table["task_b"]]))
    square = pd.DataFrame(np.eye(len(tasks)), index=tasks, columns=tasks)
    for a, b, v in table[["task_a", "task_b", value]].itertuples(index=False):
        square.loc[a, b] = square.loc[b, a] = v
    return square


def lookup(table: pd.DataFrame, a: str, b: str) -> pd.Series | None:
    """The correlation row of tasks `a` and `b` in either order, or None."""
    hit = table[
        ((table["task_a"] == a) & (table["task_b"] == b)) | ((table["task_a"] == b) & (table["task_b"] == a))
    ]
    return None if hit.empty else hit.iloc[0]
