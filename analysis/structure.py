"""Structure of the best architectures per task (T22's top-15 tables): per stage, the best architecture's
(b, d, g, w) and the mean ± sd (ddof=1) of the `top` best."""

from __future__ import annotations

import pandas as pd

PARAMS = {"b": "bottleneck ratio", "d": "depth", "g": "group width", "w": "width"}


def structure_table(matrix: pd.DataFrame, archs: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """Long table (task, stage, param, best, mean, sd, k, best_arch_id); k = number averaged."""
    rows = []
    for task in matrix.columns:
        ranked = matrix[task].dropna().sort_values(kind="stable")
        best_id = ranked.index[0]
        head = archs.loc[ranked.index[:top]]
        for stage in range(1, 5):
            for param in PARAMS:
                col = f"{param}{stage}"
                rows.append(
                    {
                        "task": task,
                        "stage": stage,
                        "param": param,
                        "best": float(archs.at[best_id, col]),
                        "mean": float(head[col].mean()),
                        "sd": float(head[col].std(ddof=1)) if len(head) > 1 else 0.0,
                        "k": len(head),
                        "best_arch_id": int(best_id),
                    }
                )
    return pd.DataFrame(rows)


def best_architectures(matrix: pd.DataFrame, archs: pd.DataFrame) -> pd.DataFrame:
    """One row per task: the best architecture, its error and its (d, w, b, g) lists and complexity."""
    rows = []
    for task in matrix.columns:
        errors = matrix[task].dropna()
        best = errors.idxmin()
        a = archs.loc[best]
        rows.append(
            {
                "task": task,
                "arch_id": int(best),
                "error": float(errors[best]),
                "depths": "-".join(str(int(a[f"d{i}"])) for i in range(1, 5)),
                "widths": "-".join(str(int(a[f"w{i}"])) for i in range(1, 5)),
                "bottleneck_ratios": "-".join(str(int(a[f"b{i}"])) for i in range(1, 5)),
                "group_widths": "-".join(str(int(a[f"g{i}"])) for i in range(1, 5)),
                "flops": int(a["flops"]),
                "params": int(a["params"]),
                "n": errors.size,
            }
        )
    return pd.DataFrame(rows)
