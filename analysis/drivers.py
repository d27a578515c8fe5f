"""What drives error: Spearman ρ of each task's error with architecture properties (T22 Table 4, Fig. 7).

Drivers are named by their column in architectures.parquet: `cum_depth` (Σd_i), `cum_width` (Σw_i), the
per-stage parameters `d1..d4, w1..w4, b1..b4, g1..g4`, and `flops`, `params`, `acts`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.tables import STAGE_COLUMNS

DRIVERS = ("cum_depth", "cum_width", *STAGE_COLUMNS, "flops", "params", "acts")


def driver_table(
    matrix: pd.DataFrame, archs: pd.DataFrame, drivers: tuple[str, ...] = DRIVERS
) -> pd.DataFrame:
    """Long table (task, driver, spearman, spearman_p, n); NaN for a driver constant on the task."""
    rows = []
    for task in matrix.columns:
        errors = matrix[task].dropna()
        props = archs.loc[errors.index]
        for driver in drivers:
            x = props[driver].to_numpy(dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", stats.ConstantInputWarning)
                rho, p = stats.spearmanr(x, errors.to_numpy()) if np.ptp(x) > 0 else (np.nan, np.nan)
            rows.append(
                {
                    "task": task,
                    "driver": driver,
                    "spearman": float(rho),
                    "spearman_p": float(p),
                    "n": errors.size,
                }
            )
    return pd.DataFrame(rows)
