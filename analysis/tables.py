"""Validate the result tables of a study and shape them for analysis (pure: DataFrames in, DataFrames out).

`runs` holds one row per run (DESIGN.md); only runs with status "ok" count. When a task has several seeds
of one architecture, their errors are averaged (mean of the ok seeds), so every statistic works on one error
per (architecture, task). `error_matrix` is that table in wide form: one row per `arch_id`, one column per
task, NaN where a task has no ok run of the architecture.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

RUN_COLUMNS = ("arch_id", "task", "error", "status")
ARCH_COLUMNS = ("arch_id", "flops", "params", "acts", "cum_depth", "cum_width")
LIST_COLUMNS = {"d": "depths", "w": "widths", "b": "bottleneck_ratios", "g": "group_widths"}
STAGE_COLUMNS = tuple(f"{p}{i}" for p in "dwbg" for i in range(1, 5))
MIN_ARCHS = 3  # fewest architectures a correlation is computed on


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise one AnalysisError naming every column of `columns` that `df` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(
            f"{what} lacks column(s) {', '.join(missing)}; it has: {', '.join(map(str, df.columns))}"
        )


def validate_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Check the run table and return its ok runs (arch_id int, task str, error float in percent)."""
    require_columns(runs, RUN_COLUMNS, "runs.parquet")
    ok = runs[runs["status"] == "ok"].copy()
    if ok.empty:
        statuses = ", ".join(sorted(map(str, runs["status"].unique()))) or "none"
        raise AnalysisError(
            f"runs.parquet has no run with status 'ok' ({len(runs)} runs; statuses: {statuses})"
        )
    ok["error"] = pd.to_numeric(ok["error"], errors="coerce")
    bad = ok[~np.isfinite(ok["error"]) | (ok["error"] < 0) | (ok["error"] > 100)]
    if len(bad):
        first = bad.iloc[0]
        raise AnalysisError(
            f"runs.parquet has {len(bad)} ok run(s) with an error outside 0–100 % "
            f"(first: arch {first['arch_id']}, task {first['task']!r}, error {first['error']!r})"
        )
    ok["arch_id"] = ok["arch_id"].astype(np.int64)
    ok["task"] = ok["task"].astype(str)
    return ok


def validate_architectures(archs: pd.DataFrame) -> pd.DataFrame:
    """Check the architecture table; add flat per-stage columns d1..g4 from the list columns when absent."""
    require_columns(archs, ARCH_COLUMNS, "architectures.parquet")
    if archs["arch_id"].duplicated().any():
        dup = archs.loc[archs["arch_id"].duplicated(), "arch_id"].iloc[0]
        raise AnalysisError(f"architectures.parquet lists arch_id {dup} more than once")
    out = archs.copy()
    for letter, list_col in LIST_COLUMNS.items():
        flat = [f"{letter}{i}" for i in range(1, 5)]
        if all(c in out.columns for c in flat):
            continue
        require_columns(out, [list_col], f"architectures.parquet (for {', '.join(flat)})")
        values = np.array([list(v) for v in out[list_col]], dtype=np.int64)
        if values.ndim != 2 or values.shape[1] != 4:
            raise AnalysisError(f"architectures.parquet column {list_col!r} must hold 4 stages per row")
        for i, col in enumerate(flat):
            out[col] = values[:, i]
    out["arch_id"] = out["arch_id"].astype(np.int64)
    return out.set_index("arch_id", drop=False)


def error_matrix(ok_runs: pd.DataFrame) -> pd.DataFrame:
    """Mean error of the ok runs per (architecture, task): rows arch_id, columns tasks."""
    mean = ok_runs.groupby(["arch_id", "task"], sort=False)["error"].mean()
    matrix = mean.unstack("task")
    order = list(dict.fromkeys(ok_runs["task"]))
    return matrix.reindex(columns=order).sort_index()


def task_class_counts(runs: pd.DataFrame) -> dict[str, int]:
    """Class count per task from the runs' `num_classes` column (empty when the column is absent)."""
    if "num_classes" not in runs.columns:
        return {}
    counts = runs.dropna(subset=["num_classes"]).groupby("task")["num_classes"].first()
    return {str(t): int(c) for t, c in counts.items()}


def seeds_per_task(ok_runs: pd.DataFrame) -> pd.Series:
    """Largest number of ok runs averaged into one (architecture, task) error, per task."""
    return ok_runs.groupby(["task", "arch_id"]).size().groupby("task").max()


def usable_tasks(matrix: pd.DataFrame, min_archs: int = MIN_ARCHS) -> tuple[pd.DataFrame, list[str]]:
    """Drop tasks with fewer than `min_archs` architectures; return the rest and one note per dropped task."""
    counts = matrix.notna().sum()
    notes = [
        f"task {task!r} skipped: {n} architecture(s) with an ok run, at least {min_archs} are needed"
        for task, n in counts.items()
        if n < min_archs
    ]
    kept = matrix.loc[:, counts >= min_archs]
    return kept, notes
