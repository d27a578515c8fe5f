"""Error EDFs (R20 eq. 1) and R20's bootstrapped "good range" of the best models (10⁴ resamples, as R20).

F(e) = (1/n)·Σ 1[e_i < e]: the fraction of models with error strictly below e. The table lists, per task and
distinct error value e, F(e) (`edf`, eq. 1) and the fraction at or below e (`edf_right`, the value just after
the step), so the step function is fully described by its rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError


def error_edf(errors: np.ndarray, at: np.ndarray) -> np.ndarray:
    """F(e) of R20 eq. 1 for every e in `at`: fraction of `errors` strictly below e."""
    errors = np.sort(np.asarray(errors, dtype=float))
    if errors.size == 0:
        raise AnalysisError("an error EDF needs at least one error")
    return np.searchsorted(errors, np.asarray(at, dtype=float), side="left") / errors.size


def edf_table(matrix: pd.DataFrame) -> pd.DataFrame:
    """Long table (task, error, edf, edf_right, n) of every task's EDF at its distinct error values."""
    frames = []
    for task in matrix.columns:
        errors = matrix[task].dropna().to_numpy(dtype=float)
        values, counts = np.unique(errors, return_counts=True)
        n = errors.size
        right = np.cumsum(counts) / n
        frames.append(
            pd.DataFrame(
                {"task": task, "error": values, "edf": right - counts / n, "edf_right": right, "n": n}
            )
        )
    return pd.concat(frames, ignore_index=True)


GOOD_RANGE_RESAMPLES = 10_000  # R20's repetitions; independent of the ρ bootstrap's --bootstrap
_BLOCK = 4_000_000  # resampled indices held at once (≈ 32 MB of int64)


def best_of_resamples(
    errors: np.ndarray, *, frac: float = 0.25, n_resamples: int = GOOD_RANGE_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """Row index of the best model in each of `n_resamples` draws of `frac`·n models with replacement.

    One draw serves every property of a task: its good ranges are read at the same winners, so R20's 10⁴
    repetitions cost one argmin per task, not one per property."""
    errors = np.asarray(errors, dtype=float)
    if errors.size == 0:
        raise AnalysisError("a good range needs at least one model")
    if n_resamples < 1:
        raise AnalysisError(f"a good range needs at least one resample, got {n_resamples}")
    m = max(1, round(frac * errors.size))
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK // m)
    winners = []
    for start in range(0, n_resamples, block):
        idx = rng.integers(0, errors.size, size=(min(block, n_resamples - start), m))
        winners.append(idx[np.arange(idx.shape[0]), np.argmin(errors[idx], axis=1)])
    return np.concatenate(winners)


def good_range(
    values: np.ndarray,
    errors: np.ndarray,
    *,
    frac: float = 0.25,
    n_resamples: int = GOOD_RANGE_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """R20's good range: resample `frac` of the models with replacement, keep the best one's value, repeat
    `n_resamples` times; return the (1-level)/2 and (1+level)/2 percentiles of those values."""
    best = np.asarray(values, dtype=float)[
        best_of_resamples(errors, frac=frac, n_resamples=n_resamples, seed=seed)
    ]
    low, high = np.percentile(best, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def good_range_table(
    matrix: pd.DataFrame,
    archs: pd.DataFrame,
    params: list[str],
    *,
    n_resamples: int = GOOD_RANGE_RESAMPLES,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Long table (task, param, low, high, n, resamples): good ranges of `params` and of the error."""
    rows = []
    for task in matrix.columns:
        errors = matrix[task].dropna()
        winners = best_of_resamples(errors.to_numpy(), n_resamples=n_resamples, seed=seed)
        values = np.column_stack([errors.to_numpy(), archs.loc[errors.index, params].to_numpy(dtype=float)])
        bounds = np.percentile(values[winners], [50 * (1 - level), 50 * (1 + level)], axis=0)
        for k, param in enumerate(["error", *params]):
            rows.append(
                {
                    "task": task,
                    "param": param,
                    "low": float(bounds[0, k]),
                    "high": float(bounds[1, k]),
                    "n": errors.size,
                    "resamples": n_resamples,
                }
            )
    return pd.DataFrame(rows, columns=["task", "param", "low", "high", "n", "resamples"])
