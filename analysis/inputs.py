"""A report's optional inputs, checked: costs.parquet, zero_cost.parquet and the ladder rungs of study.yaml.

The pipeline writes them (`collect` the costs, `pipeline zero-cost` the scores, `launch` the study); a report
without them leaves their sections out. Each checker returns the table in its declared types, or raises one
AnalysisError naming the file, the problem and how to make it again; the report shell turns that into a
warning and goes on without the file (an optional input never stops the report).

- costs.parquet: one row per task: task, runs, epochs, train_images, eval_images, crop, mean_mmacs,
  total_macs (MACs of all the task's runs), gpu_hours (at the study's calibration). The ladder reads task,
  total_macs (as `macs`) and gpu_hours.
- zero_cost.parquet: arch_id, task, predictor, score, seconds. score follows one convention for every
  predictor: higher = predicted better (lower error); params and flops are stored as counted, so for them
  "bigger is better" is the convention, not a finding. NaN = not computable (absent); -inf = a degenerate
  batch, ranked worst.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.tables import require_columns

COST_COLUMNS = ("task", "total_macs", "gpu_hours")
ZERO_COST_COLUMNS = ("arch_id", "task", "predictor", "score", "seconds")
RUNG_COLUMNS = ["task", "of", "factor", "value"]
COSTS_HINT = "run: python -m pipeline collect --study X (it writes costs.parquet)"
ZERO_COST_HINT = "run: python -m pipeline zero-cost --study X"


def check_costs(costs: pd.DataFrame) -> pd.DataFrame:
    """costs.parquet as (task str, macs float, gpu_hours float), one row per task, costs ≥ 0 or NaN."""
    require_columns(costs, COST_COLUMNS, "costs.parquet")
    out = pd.DataFrame(
        {
            "task": costs["task"].astype(str),
            "macs": pd.to_numeric(costs["total_macs"], errors="coerce").astype(float),
            "gpu_hours": pd.to_numeric(costs["gpu_hours"], errors="coerce").astype(float),
        }
    )
    problems = []
    duplicated = sorted(set(out.loc[out["task"].duplicated(), "task"]))
    if duplicated:
        problems.append(f"task(s) listed more than once: {', '.join(duplicated)}")
    for column in ("macs", "gpu_hours"):
        bad = out[(out[column] < 0) | np.isinf(out[column])]
        if len(bad):
            problems.append(f"{column} negative or infinite for task(s) {', '.join(bad['task'])}")
    if problems:
        raise AnalysisError(f"costs.parquet: {'; '.join(problems)}; {COSTS_HINT}")
    return out.reset_index(drop=True)


def check_zero_cost(scores: pd.DataFrame, arch_ids: pd.Index | None = None) -> pd.DataFrame:
    """zero_cost.parquet typed (arch_id int64, task str, predictor str, score float64, seconds float64), in
    task, arch_id, predictor order; one score per (arch_id, task, predictor), seconds finite ≥ 0, +inf and
    NaN scores kept as they are (module doc), arch_ids known to `arch_ids` when given."""
    require_columns(scores, ZERO_COST_COLUMNS, "zero_cost.parquet")
    problems = []
    arch = pd.to_numeric(scores["arch_id"], errors="coerce")
    if arch.isna().any() or (arch != np.round(arch)).any():
        problems.append("arch_id must be integers")
    out = pd.DataFrame(
        {
            "arch_id": arch.fillna(-1).astype(np.int64),
            "task": scores["task"].astype(str),
            "predictor": scores["predictor"].astype(str),
            "score": pd.to_numeric(scores["score"], errors="coerce").astype(float),
            "seconds": pd.to_numeric(scores["seconds"], errors="coerce").astype(float),
        }
    )
    if (out["predictor"].str.strip() == "").any():
        problems.append("a predictor name is empty")
    seconds = out["seconds"].to_numpy()
    if (~np.isfinite(seconds) | (seconds < 0)).any():
        problems.append("seconds must be finite and ≥ 0")
    duplicated = out.duplicated(["arch_id", "task", "predictor"])
    if duplicated.any():
        first = out[duplicated].iloc[0]
        problems.append(
            f"{int(duplicated.sum())} repeated (arch_id, task, predictor) row(s), first: "
            f"({first['arch_id']}, {first['task']}, {first['predictor']})"
        )
    if arch_ids is not None:
        unknown = sorted(set(out["arch_id"]) - set(arch_ids))
        if unknown:
            problems.append(
                f"{len(unknown)} arch_id(s) absent from architectures.parquet (first: {unknown[0]}): "
                "scores of another sample?"
            )
    if problems:
        raise AnalysisError(f"zero_cost.parquet: {'; '.join(problems)}; {ZERO_COST_HINT}")
    return out.sort_values(["task", "arch_id", "predictor"], kind="stable").reset_index(drop=True)


def ladder_rungs(study: Mapping | None) -> pd.DataFrame:
    """The study's ladder rungs (task, of, factor, value) from its tasks' `rung: {of, factor, value}`, in
    study order; a rung without usable runs yet is kept (the ladder shows its cost and n = 0)."""
    rows = []
    for name, spec in ((study or {}).get("tasks") or {}).items():
        rung = (spec or {}).get("rung")
        if not rung:
            continue
        if not isinstance(rung, Mapping) or not {"of", "factor"} <= set(rung):
            raise AnalysisError(
                f"study.yaml: task {name!r} has a malformed rung {rung!r}; a rung is {{of, factor, value}} "
                "as pipeline/ladder.py writes it (launch the study again to rewrite study.yaml)"
            )
        rows.append({"task": str(name), "of": str(rung["of"]), "factor": str(rung["factor"]),
                     "value": rung.get("value")})  # fmt: skip
    return pd.DataFrame(rows, columns=RUNG_COLUMNS)
