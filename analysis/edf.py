"""Error EDFs (R20 eq. 1) and R20's bootstrapped "good range" of the best models.

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


def good_range(
    values: np.ndarray,
    errors: np.ndarray,
    *,
    frac: float = 0.25,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """R20's good range: resample `frac` of the models with replacement, keep the best one's value, repeat;
    return the (1-level)/2 and (1+level)/2 percentiles of those values."""
    values = np.asarray(values, dtype=float)
    errors = np.asarray(errors, dtype=float)
    m = max(1, round(frac * errors.size))
    idx = np.random.default_rng(seed).integers(0, errors.size, size=(n_boot, m))
    best = values[idx[np.arange(n_boot), np.argmin(errors[idx], axis=1)]]
    low, high = np.percentile(best, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def good_range_table(
    matrix: pd.DataFrame, archs: pd.DataFrame, params: list[str], *, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Long table (task, param, low, high, n) of good ranges of `params` and of the error itself, per task."""
    rows = []
    for task in matrix.columns:
        errors = matrix[task].dropna()
        for param in ["error", *params]:
            values = errors.to_numpy() if param == "error" else archs.loc[errors.index, param].to_numpy()
            low, high = good_range(values, errors.to_numpy(), n_boot=n_boot, seed=seed)
            rows.append({"task": task, "param": param, "low": low, "high": high, "n": errors.size})
    return pd.DataFrame(rows)
