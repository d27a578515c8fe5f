"""What drives error: Spearman ρ of each task's error with architecture properties (T22 Fig. 7).

Drivers are named by their column in architectures.parquet: `cum_depth` (Σd_i), `cum_width` (Σw_i), the
per-stage parameters `d1..d4, w1..w4, b1..b4, g1..g4`, and `flops`, `params`, `acts`. Each ρ gets a
percentile-bootstrap CI over the task's architectures, drawn as in `analysis.correlation`: tasks with the same
architectures share one draw, so the drivers' resample ranks are computed once per draw, not once per task.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.correlation import percentile_ci, resample_counts, unit_ranks
from analysis.tables import STAGE_COLUMNS

DRIVERS = ("cum_depth", "cum_width", *STAGE_COLUMNS, "flops", "params", "acts")


def _bootstrap(errors: np.ndarray, props: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """B×T×D resample ρ of each error column (n×T) with each property column (n×D)."""
    n = errors.shape[0]
    block = max(1, int(4e6 // ((errors.shape[1] + props.shape[1]) * n)))  # B×(T+D)×n arrays near 32 MB
    draws = []
    for start in range(0, n_boot, block):
        counts = resample_counts(n, min(block, n_boot - start), rng)
        draws.append(unit_ranks(errors, counts) @ unit_ranks(props, counts).transpose(0, 2, 1))
    return np.concatenate(draws)


def driver_table(
    matrix: pd.DataFrame,
    archs: pd.DataFrame,
    drivers: tuple[str, ...] = DRIVERS,
    *,
    n_boot: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Long table (task, driver, spearman, spearman_ci_low, spearman_ci_high, spearman_p, n); NaN for a
    driver constant on the task."""
    rng = np.random.default_rng(seed)
    present = matrix.notna().to_numpy()
    groups: dict[bytes, list[str]] = {}
    for k, task in enumerate(matrix.columns):
        groups.setdefault(present[:, k].tobytes(), []).append(task)
    results = {}
    for key, tasks in groups.items():
        rows = np.frombuffer(key, dtype=bool)
        errors = matrix.loc[rows, tasks].to_numpy(dtype=float)
        props = archs.loc[matrix.index[rows], list(drivers)].to_numpy(dtype=float)
        boot = _bootstrap(errors, props, n_boot, rng) if n_boot > 0 else None
        for t, task in enumerate(tasks):
            for d, driver in enumerate(drivers):
                x, y = props[:, d], errors[:, t]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", stats.ConstantInputWarning)
                    rho, p = stats.spearmanr(x, y) if np.ptp(x) > 0 else (np.nan, np.nan)
                ci = (
                    percentile_ci(boot[:, t, d], level)
                    if boot is not None and np.ptp(x) > 0
                    else (math.nan,) * 2
                )
                results[task, driver] = {
                    "task": task,
                    "driver": driver,
                    "spearman": float(rho),
                    "spearman_ci_low": ci[0],
                    "spearman_ci_high": ci[1],
                    "spearman_p": float(p),
                    "n": int(rows.sum()),
                }
    return pd.DataFrame([results[t, d] for t in matrix.columns for d in drivers])
