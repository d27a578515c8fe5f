"""Structure of the best architectures per task (T22 Fig. 13, the top 15): per stage, the best
architecture's (b, 1/b, d, g, w) and the mean ± sd (ddof=1) of the `top` best; and each task's best
architecture with its complexity where the design space counts it and at the size it was trained.

T22 Fig. 13 draws the bottleneck as 1/b (the block's inner width over its output width, 1 for no
bottleneck); `inv_b` is that view: its mean and sd are taken over 1/b, not inverted from b's.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.tables import LIST_COLUMNS

PARAMS = {
    "b": "bottleneck ratio",
    "inv_b": "1/b (T22 Fig. 13)",
    "d": "depth",
    "g": "group width",
    "w": "width",
}
SPACE_SIZE = (224, 1000)  # where architectures.parquet counts flops/params unless the study's space says


def structure_table(matrix: pd.DataFrame, archs: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """Long table (task, stage, param, best, mean, sd, k, best_arch_id); k = number averaged."""
    rows = []
    for task in matrix.columns:
        ranked = matrix[task].dropna().sort_values(kind="stable")
        best_id = ranked.index[0]
        head = archs.loc[ranked.index[:top]]
        for stage in range(1, 5):
            for param in PARAMS:
                if param == "inv_b":
                    values = 1.0 / head[f"b{stage}"].astype(float)
                    best = 1.0 / float(archs.at[best_id, f"b{stage}"])
                else:
                    values = head[f"{param}{stage}"].astype(float)
                    best = float(archs.at[best_id, f"{param}{stage}"])
                rows.append(
                    {
                        "task": task,
                        "stage": stage,
                        "param": param,
                        "best": best,
                        "mean": float(values.mean()),
                        "sd": float(values.std(ddof=1)) if len(head) > 1 else 0.0,
                        "k": len(head),
                        "best_arch_id": int(best_id),
                    }
                )
    return pd.DataFrame(rows)


def _trained_size(ok_runs: pd.DataFrame | None, task: str, arch_id: int) -> dict:
    """flops/params at the size a run was trained (crop, classes), from its runs row; NaN where unknown."""
    keys = {
        "trained_flops": "flops",
        "trained_params": "params",
        "trained_resolution": "resolution",
        "trained_classes": "num_classes",
    }
    out = dict.fromkeys(keys, math.nan)
    if ok_runs is None:
        return out
    hit = ok_runs[(ok_runs["task"] == task) & (ok_runs["arch_id"] == arch_id)]
    for key, col in keys.items():
        if col in hit.columns and hit[col].notna().any():
            out[key] = float(hit[col].dropna().iloc[0])
    return out


def best_architectures(
    matrix: pd.DataFrame,
    archs: pd.DataFrame,
    ok_runs: pd.DataFrame | None = None,
    space_size: tuple[int, int] = SPACE_SIZE,
) -> pd.DataFrame:
    """One row per task: the best architecture, its error, its (d, w, b, g) per stage as lists, and its
    flops/params both as architectures.parquet counts them (`space_size` = (px, classes)) and as trained
    (from the task's `ok_runs` row of that architecture: crop size and class count of the task)."""
    rows = []
    for task in matrix.columns:
        errors = matrix[task].dropna()
        best = int(errors.idxmin())
        a = archs.loc[best]
        rows.append(
            {
                "task": task,
                "arch_id": best,
                "error": float(errors[best]),
                **{
                    name: [int(a[f"{letter}{i}"]) for i in range(1, 5)]
                    for letter, name in LIST_COLUMNS.items()
                },
                "flops": int(a["flops"]),
                "params": int(a["params"]),
                "space_resolution": int(space_size[0]),
                "space_classes": int(space_size[1]),
                **_trained_size(ok_runs, task, best),
                "n": errors.size,
            }
        )
    return pd.DataFrame(rows)


def stages_text(values: list | np.ndarray) -> str:
    """A per-stage list as the report prints it: '1-2-4-8'."""
    return "-".join(f"{v:g}" for v in values)
