"""Every analysis of a study from its two tables, as one pure function: `analyse(runs, archs, study)`.

Returns an `Analysis` holding the error matrix, the task roles, the long-format tables the report writes to
`tables/*.parquet` (each conformed to its schema in `analysis.tables.SCHEMAS`), notes on what was skipped and
why, warnings the reader must see (small n, wide CIs, barely trained tasks, an unusable optional input), and
the seconds each stage took.

The error matrix averages the base seeds only (analysis/seeds.py); replicate runs feed the seed-noise tables
(analysis/noise.py). The optional inputs `costs` (costs.parquet) and `zero_cost` (zero_cost.parquet) add the
ladder's cost axis and the zero-cost tables; absent, their tables are written empty (typed) and the report
says so; unusable, the same with a warning naming the problem (analysis/inputs.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from analysis import (
    agreement,
    correlation,
    drivers,
    edf,
    inputs,
    ladder,
    noise,
    seeds,
    structure,
    tables,
    targets,
    trust,
    zero_cost,
)
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
    base_seeds: tuple[int, ...] = ()
    has_costs: bool = False
    has_zero_cost: bool = False


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
    costs: pd.DataFrame | None = None,
    zero_cost_scores: pd.DataFrame | None = None,
) -> Analysis:
    """Validate the tables; compute EDFs, correlations, drivers, structure, agreement, seed noise, the
    ladder, zero-cost agreement and target summaries. `n_boot`: bootstrap resamples of every ρ CI;
    `good_range_resamples`: R20's good-range repetitions; `costs`, `zero_cost_scores`: the optional tables
    costs.parquet and zero_cost.parquet (module doc)."""
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
    seed_sets, seed_notes = seeds.base_seed_sets(runs, study)
    base = seeds.base_runs(ok, seed_sets)
    full = tables.error_matrix(base)
    matrix, notes = tables.usable_tasks(full)
    notes = seed_notes + notes
    if matrix.shape[1] == 0:
        raise AnalysisError(
            f"no task has {tables.MIN_ARCHS} or more architectures with ok runs "
            f"({', '.join(f'{t}: {n}' for t, n in full.notna().sum().items())}); wait for more runs"
        )
    per_task = tables.seeds_per_task(base)
    averaged = [t for t, k in per_task.items() if k > 1 and t in matrix.columns]
    if averaged:
        notes.append(f"errors averaged over the ok seeds of each architecture on: {', '.join(averaged)}")
    base_seeds, more = seeds.common_base_seeds(seed_sets, list(matrix.columns))
    notes += more
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
    out["best"] = structure.best_architectures(matrix, archs, base, _space_size(study))
    lap("structure")
    out["good_ranges"] = edf.good_range_table(
        matrix, archs, list(GOOD_RANGE_PARAMS), n_resamples=good_range_resamples, seed=seed
    )
    lap("good ranges")
    out["topk"] = agreement.topk_table(matrix)
    out["regret"] = agreement.regret_table(matrix)
    lap("agreement")
    out["reliability"], more = noise.reliabilities(ok, seed_sets, n_boot=n_boot, seed=seed)
    notes += more
    out["correlations"] = noise.with_corrected(
        out["correlations"], matrix, ok, base_seeds, out["reliability"], n_boot=n_boot, seed=seed
    )
    out["proxy_differences"] = noise.differences(matrix, roles, n_boot=n_boot, seed=seed)
    lap("seed noise")
    warnings: list[str] = []
    costs = _optional(inputs.check_costs, costs, warnings)
    scores = _optional(lambda t: inputs.check_zero_cost(t, archs.index), zero_cost_scores, warnings)
    cost_axis = costs if costs is not None else pd.DataFrame(columns=["task", "macs", "gpu_hours"])
    out["ladder"] = ladder.ladder_table(
        out["correlations"], inputs.ladder_rungs(study), cost_axis, list(roles.targets)
    )
    lap("ladder")
    out["target_proxies"] = targets.target_proxy_table(roles, out["correlations"])
    agreement_table, versus = None, None
    if scores is not None:
        agreement_table = zero_cost.agreement_table(scores, matrix, costs, n_boot=n_boot, seed=seed)
        versus = zero_cost.versus_trained(
            matrix, scores, _zero_cost_picks(out["target_proxies"], agreement_table), n_boot=n_boot, seed=seed
        )
    out["zero_cost"] = scores if scores is not None else pd.DataFrame(columns=inputs.ZERO_COST_COLUMNS)
    out["zero_cost_agreement"] = (
        agreement_table if agreement_table is not None else pd.DataFrame(columns=zero_cost.AGREEMENT_COLUMNS)
    )
    lap("zero-cost")
    sizes = matrix.notna().sum().to_dict()
    health = tables.training_health(base[base["task"].isin(matrix.columns)])
    trusted = trust.target_trust(
        roles, out["correlations"], out["target_proxies"], out["proxy_differences"], agreement_table, versus
    )
    out["targets"] = targets.target_table(
        roles, out["correlations"], out["regret"], out["topk"], sizes, out["best"], health, trusted
    )
    out["tasks"] = pd.DataFrame(
        {
            "task": list(matrix.columns),
            "role": [roles.role(t) for t in matrix.columns],
            "classes": [roles.classes.get(t) for t in matrix.columns],
            "matched_proxy": [roles.matched.get(t) for t in matrix.columns],
            "architectures": [int(matrix[t].notna().sum()) for t in matrix.columns],
            "seeds_max": [int(per_task.get(t, 0)) for t in matrix.columns],
            "best_error": [float(matrix[t].min()) for t in matrix.columns],
        }
    ).join(health, on="task")
    warnings += targets.report_warnings(out["targets"], health, int(matrix.notna().sum().max()))
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
        base_seeds=tuple(base_seeds),
        has_costs=costs is not None,
        has_zero_cost=scores is not None,
    )


def _optional(
    check: Callable[[pd.DataFrame], pd.DataFrame], table: pd.DataFrame | None, warnings: list[str]
) -> pd.DataFrame | None:
    """`check(table)`, or None (with a warning) when the optional table is unusable; None when absent."""
    if table is None:
        return None
    try:
        return check(table)
    except AnalysisError as exc:
        warnings.append(f"{exc}; its section of the report is left out")
        return None


def _zero_cost_picks(
    target_proxies: pd.DataFrame, scores_vs_errors: pd.DataFrame
) -> dict[str, tuple[str, str]]:
    """Per target: (its best trained source, its best zero-cost predictor), where it has both."""
    picks = {}
    for target, rows in target_proxies.dropna(subset="spearman").groupby("target", sort=False):
        predictor = zero_cost.best_predictor(scores_vs_errors, target)
        if predictor is not None:
            picks[target] = (rows.loc[rows["spearman"].idxmax(), "source"], predictor["predictor"])
    return picks
