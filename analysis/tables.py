"""Validate the result tables of a study and shape them for analysis (pure: DataFrames in, DataFrames out).

`runs` holds one row per run (DESIGN.md); only runs with status "ok" count. When a task has several seeds
of one architecture, their errors are averaged (mean of the ok seeds), so every statistic works on one error
per (architecture, task). `error_matrix` is that table in wide form: one row per `arch_id`, one column per
task, NaN where a task has no ok run of the architecture.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from analysis.errors import AnalysisError

RUN_COLUMNS = ("arch_id", "task", "error", "status")
ARCH_COLUMNS = ("arch_id", "flops", "params", "acts", "cum_depth", "cum_width")
LIST_COLUMNS = {"d": "depths", "w": "widths", "b": "bottleneck_ratios", "g": "group_widths"}
STAGE_COLUMNS = tuple(f"{p}{i}" for p in "dwbg" for i in range(1, 5))
MIN_ARCHS = 3  # fewest architectures a correlation is computed on
# A task is "barely trained" when its median final training loss or its median error is at least this
# fraction of chance (ln k, and 100·(1 − top/k) %): its ranking then mostly reflects convergence speed.
UNDERTRAINED_FRACTION = 0.9


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


def chance_error(classes: float | None, metric: str | None) -> float:
    """Error (%) of guessing uniformly among `classes`: 100·(1 − 1/k) for top-1, 100·(1 − 5/k) for top-5;
    NaN when unknown or when the metric cannot fail (top-5 of 5 classes or fewer)."""
    top = {"top1": 1, "top5": 5}.get(str(metric))
    if top is None or classes is None or not np.isfinite(classes) or classes <= top:
        return math.nan
    return 100.0 * (1 - top / classes)


def training_health(ok_runs: pd.DataFrame) -> pd.DataFrame:
    """Per task: median final training loss of the ok runs and median error (of the architectures' mean
    errors, as in the error matrix) beside chance (ln k and chance error),
    and whether either is within UNDERTRAINED_FRACTION of chance. Runs tables without `final_loss`
    (older studies) or without `num_classes` leave that criterion NA; `undertrained` is NA when neither
    criterion can be judged."""
    rows = []
    for task, runs in ok_runs.groupby("task", sort=False):
        classes = runs["num_classes"].dropna() if "num_classes" in runs.columns else pd.Series([])
        k = float(classes.iloc[0]) if len(classes) else math.nan
        metric = str(runs["metric"].iloc[0]) if "metric" in runs.columns else None
        loss = pd.to_numeric(runs["final_loss"], errors="coerce") if "final_loss" in runs.columns else None
        median_loss = float(loss[np.isfinite(loss)].median()) if loss is not None else math.nan
        chance_loss = math.log(k) if k > 1 else math.nan
        median_error = float(runs.groupby("arch_id")["error"].mean().median())  # as the error matrix's
        chance = chance_error(k, metric)
        by_loss = (
            pd.NA
            if math.isnan(median_loss) or math.isnan(chance_loss)
            else bool(median_loss >= UNDERTRAINED_FRACTION * chance_loss)
        )
        by_error = pd.NA if math.isnan(chance) else bool(median_error >= UNDERTRAINED_FRACTION * chance)
        judged = [v for v in (by_loss, by_error) if v is not pd.NA]
        rows.append(
            {
                "task": str(task),
                "metric": metric,
                "median_final_loss": median_loss,
                "chance_loss": chance_loss,
                "median_error": median_error,
                "chance_error": chance,
                "undertrained_by_loss": by_loss,
                "undertrained_by_error": by_error,
                "undertrained": any(judged) if judged else pd.NA,
            }
        )
    out = pd.DataFrame(rows)
    for col in ("undertrained_by_loss", "undertrained_by_error", "undertrained"):
        out[col] = out[col].astype("boolean")
    return out.set_index("task")


# ---- output schemas: every table the report writes, with its arrow types (also when empty or all-NaN) ----
_S, _I, _F, _B, _L = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.list_(pa.int64())
_RHO = {"spearman": _F, "spearman_ci_low": _F, "spearman_ci_high": _F}
_ARCH = {"depths": _L, "widths": _L, "bottleneck_ratios": _L, "group_widths": _L}


_TRUST = {  # analysis/trust.py's TRUST_COLUMNS, in its order
    "reference_spearman_corrected": _F, "reference_spearman_corrected_ci_low": _F,
    "reference_spearman_corrected_ci_high": _F, "reference_corrected_above_1": _B,
    "reference_reliability": _F, "target_reliability": _F, "noise_ceiling": _F, "noise_share": _F,
    "best_minus_reference": _F, "best_minus_reference_ci_low": _F, "best_minus_reference_ci_high": _F,
    "best_minus_reference_p": _F, "planned_rho": _F, "n_for_halfwidth_05": _I, "plan_size_command": _S,
    "zero_cost_best": _S, "zero_cost_spearman": _F, "zero_cost_spearman_ci_low": _F,
    "zero_cost_spearman_ci_high": _F, "zero_cost_n": _I, "trained_best": _S, "trained_minus_zero_cost": _F,
    "trained_minus_zero_cost_ci_low": _F, "trained_minus_zero_cost_ci_high": _F,
    "trained_minus_zero_cost_p": _F,
}  # fmt: skip


def _pair(prefix: str) -> dict[str, pa.DataType]:
    return {f"{prefix}_{k}": t for k, t in {**_RHO, "pearson": _F, "n": _I, "verdict": _S}.items()}


SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema(list(cols.items()))
    for name, cols in {
        "edf": {"task": _S, "error": _F, "edf": _F, "edf_right": _F, "n": _I},
        "correlations": {"task_a": _S, "task_b": _S, **_RHO, "spearman_p": _F, "pearson": _F, "kendall": _F,
                         "n": _I, "spearman_corrected": _F, "spearman_corrected_ci_low": _F,
                         "spearman_corrected_ci_high": _F, "corrected_above_1": _B, "rel_a": _F, "rel_b": _F},
        "drivers": {"task": _S, "driver": _S, **_RHO, "spearman_p": _F, "n": _I},
        "structure": {"task": _S, "stage": _I, "param": _S, "best": _F, "mean": _F, "sd": _F, "k": _I,
                      "best_arch_id": _I},
        "best": {"task": _S, "arch_id": _I, "error": _F, **_ARCH, "flops": _I, "params": _I,
                 "space_resolution": _I, "space_classes": _I, "trained_flops": _I, "trained_params": _I,
                 "trained_resolution": _I, "trained_classes": _I, "n": _I},
        "good_ranges": {"task": _S, "param": _S, "low": _F, "high": _F, "n": _I, "resamples": _I},
        "topk": {"task_a": _S, "task_b": _S, "k": _I, "overlap": _I, "fraction": _F, "chance": _F, "n": _I},
        "regret": {"source": _S, "target": _S, "chosen_arch_id": _I, "chosen_error": _F, "best_arch_id": _I,
                   "best_error": _F, "regret": _F, "chosen_rank": _I, "regret_top10": _F, "n": _I},
        "targets": {"target": _S, "classes": _I, "reference": _S, "architectures": _I, **_pair("reference"),
                    "matched_proxy": _S, **_pair("matched"), "best_proxy": _S, **_pair("best_proxy"),
                    "best_arch_id": _I, "best_error": _F, **{f"best_{k}": t for k, t in _ARCH.items()},
                    "reference_choice_arch_id": _I, "reference_choice_error": _F,
                    "matched_choice_arch_id": _I, "matched_choice_error": _F,
                    "regret_reference": _F, "regret_matched": _F,
                    "top10_overlap_reference": _F, "top10_overlap_matched": _F,
                    "target_undertrained": _B, "reference_undertrained": _B, "matched_undertrained": _B,
                    **_TRUST, "reading": _S},
        "target_proxies": {"target": _S, "source": _S, "role": _S, "matched": _B, **_RHO, "n": _I,
                           "verdict": _S},
        "comparison": {"source": _S, "setting": _S, "kind": _S, "task_a": _S, "task_b": _S, "published": _F,
                       "published_n": _I, "study": _F, "study_ci_low": _F, "study_ci_high": _F, "study_n": _I,
                       "difference": _F, "published_in_ci": _B},
        "reliability": {"task": _S, "n_archs": _I, "n_seeds": _I, "seed_spearman": _F,
                        "seed_spearman_ci_low": _F, "seed_spearman_ci_high": _F, "spread_pp": _F,
                        "base_seeds": _I, "matrix_reliability": _F},
        "proxy_differences": {"target": _S, "proxy_a": _S, "proxy_b": _S, "rho_a": _F, "rho_b": _F,
                              "rho_ab": _F, "delta": _F, "ci_low": _F, "ci_high": _F, "n": _I,
                              "t_statistic": _F, "p_value": _F, "zou_ci_low": _F, "zou_ci_high": _F,
                              "method": _S},
        "ladder": {"task": _S, "of": _S, "factor": _S, "value": _S, "versus": _S, "versus_role": _S,
                   "macs": _F, "gpu_hours": _F, "cost_fraction": _F, **_RHO, "n": _I, "pareto": _B},
        "zero_cost": {"arch_id": _I, "task": _S, "predictor": _S, "score": _F, "seconds": _F},
        "zero_cost_agreement": {"task": _S, "predictor": _S, **_RHO, "n": _I, "verdict": _S, "seconds": _F,
                                "hours": _F, "cost_fraction": _F},
        "tasks": {"task": _S, "role": _S, "classes": _I, "matched_proxy": _S, "architectures": _I,
                  "seeds_max": _I, "best_error": _F, "median_error": _F, "metric": _S,
                  "median_final_loss": _F, "chance_loss": _F, "chance_error": _F,
                  "undertrained_by_loss": _B, "undertrained_by_error": _B, "undertrained": _B},
    }.items()
}  # fmt: skip


def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    """`df` as an arrow table of the declared schema of table `name` (column order included): ints with
    missing values stay int64 (null), empty and all-NaN columns keep their type."""
    schema = SCHEMAS[name]
    # an internal contract between the analyses and their schema, not a user error
    assert set(df.columns) == set(schema.names), (
        f"table {name!r}: columns {list(df.columns)} differ from its schema {schema.names}"
    )
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)


def conform(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """`df` with its schema's columns, order and types (via arrow: int64 with gaps reads as float64 NaN,
    bool with gaps as pandas' nullable boolean); what the written parquet file reads back as."""
    return to_arrow(df, name).to_pandas(types_mapper={_B: pd.BooleanDtype()}.get)
