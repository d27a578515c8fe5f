"""Every analysis of a study from its two tables, as one pure function: `analyse(runs, archs, study)`.

Returns an `Analysis` holding the error matrix, the task roles, the long-format tables the report writes to
`tables/*.parquet` (each conformed to its schema in `analysis.tables.SCHEMAS`), notes on what was skipped and
why, warnings the reader must see (small n, wide CIs, barely trained tasks), and the seconds each stage took.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis import agreement, correlation, drivers, edf, structure, tables, targets
from analysis.errors import AnalysisError
from analysis.roles import Roles, infer_roles

GOOD_RANGE_PARAMS = ("cum_depth", "cum_width", "flops")  # beside the error itself


@dataclass
class Analysis:
    """Inputs as analysed and every result table (name -> long DataFrame)."""

    matrix: pd.DataFrame
    archs: pd.DataFrame
    roles: Roles
    labels: dict[str, str]
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    n_boot: int = 0
    good_range_resamples: int = 0
    seed: int = 0
    runs_total: int = 0
    runs_ok: int = 0


def _labels(ok_runs: pd.DataFrame) -> dict[str, str]:
    if "metric" not in ok_runs.columns:
        return {}
    metric = ok_runs.groupby("task")["metric"].first()
    names = {"top1": "top-1", "top5": "top-5"}
    return {t: f"{t} {names.get(m, m)} error (%)" for t, m in metric.items()}


def _space_size(study: Mapping | None) -> tuple[int, int]:
    """(px, classes) at which architectures.parquet counts flops/params: the study's `space`, else pycls'."""
    space = (study or {}).get("space") or {}
    default = structure.SPACE_SIZE
    return int(space.get("im_size") or default[0]), int(space.get("num_classes") or default[1])


def analyse(
    runs: pd.DataFrame,
    archs: pd.DataFrame,
    study: Mapping | None = None,
    *,
    n_boot: int = 1000,
    good_range_resamples: int = edf.GOOD_RANGE_RESAMPLES,
    seed: int = 0,
    top: int = 15,
) -> Analysis:
    """Validate the tables; compute EDFs, correlations, drivers, structure, agreement, target summaries.
    `n_boot`: bootstrap resamples of every ρ CI; `good_range_resamples`: R20's good-range repetitions."""
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    ok = tables.validate_runs(runs)
    archs = tables.validate_architectures(archs)
    unknown = sorted(set(ok["arch_id"]) - set(archs["arch_id"]))
    if unknown:
        raise AnalysisError(
            f"runs.parquet has ok runs of {len(unknown)} arch_id(s) absent from architectures.parquet "
            f"(first: {unknown[0]}); are both files from the same study?"
        )
    full = tables.error_matrix(ok)
    matrix, notes = tables.usable_tasks(full)
    if matrix.shape[1] == 0:
        raise AnalysisError(
            f"no task has {tables.MIN_ARCHS} or more architectures with ok runs "
            f"({', '.join(f'{t}: {n}' for t, n in full.notna().sum().items())}); wait for more runs"
        )
    seeds = tables.seeds_per_task(ok)
    averaged = [t for t, k in seeds.items() if k > 1 and t in matrix.columns]
    if averaged:
        notes.append(f"errors averaged over the ok seeds of each architecture on: {', '.join(averaged)}")
    roles = infer_roles(list(matrix.columns), tables.task_class_counts(ok), study)
    if roles.reference is None:
        notes.append("no reference task (study.yaml `reference:` or a task named imagenet): no per-target ρ")
    lap("load")

    out: dict[str, pd.DataFrame] = {}
    out["edf"] = edf.edf_table(matrix)
    lap("edf")
    out["correlations"], pair_notes = correlation.correlation_table(matrix, n_boot=n_boot, seed=seed)
    notes += pair_notes
    if out["correlations"].empty or out["correlations"]["spearman"].isna().all():
        raise AnalysisError(
            f"no two tasks share {tables.MIN_ARCHS} or more architectures with ok runs "
            f"(tasks: {', '.join(matrix.columns)}); nothing to correlate yet"
        )
    lap("correlations")
    out["drivers"] = drivers.driver_table(matrix, archs, n_boot=n_boot, seed=seed)
    lap("drivers")
    out["structure"] = structure.structure_table(matrix, archs, top=top)
    out["best"] = structure.best_architectures(matrix, archs, ok, _space_size(study))
    lap("structure")
    out["good_ranges"] = edf.good_range_table(
        matrix, archs, list(GOOD_RANGE_PARAMS), n_resamples=good_range_resamples, seed=seed
    )
    lap("good ranges")
    out["topk"] = agreement.topk_table(matrix)
    out["regret"] = agreement.regret_table(matrix)
    lap("agreement")
    sizes = matrix.notna().sum().to_dict()
    health = tables.training_health(ok[ok["task"].isin(matrix.columns)])
    out["targets"] = targets.target_table(
        roles, out["correlations"], out["regret"], out["topk"], sizes, out["best"], health
    )
    out["target_proxies"] = targets.target_proxy_table(roles, out["correlations"])
    out["tasks"] = pd.DataFrame(
        {
            "task": list(matrix.columns),
            "role": [roles.role(t) for t in matrix.columns],
            "classes": [roles.classes.get(t) for t in matrix.columns],
            "matched_proxy": [roles.matched.get(t) for t in matrix.columns],
            "architectures": [int(matrix[t].notna().sum()) for t in matrix.columns],
            "seeds_max": [int(seeds.get(t, 0)) for t in matrix.columns],
            "best_error": [float(matrix[t].min()) for t in matrix.columns],
        }
    ).join(health, on="task")
    warnings = targets.report_warnings(out["targets"], health, int(matrix.notna().sum().max()))
    out = {name: tables.conform(df, name) for name, df in out.items()}
    lap("targets")
    return Analysis(
        matrix=matrix,
        archs=archs,
        roles=roles,
        labels=_labels(ok),
        tables=out,
        notes=notes,
        warnings=warnings,
        timings=timings,
        n_boot=n_boot,
        good_range_resamples=good_range_resamples,
        seed=seed,
        runs_total=len(runs),
        runs_ok=len(ok),
    )
