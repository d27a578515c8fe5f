"""`python -m pipeline collect --study X`: the current plan's finished runs into `results_dir/runs.parquet`.

Exactly the run keys of the study's plan, computed fresh, are read: a result on disk whose key is not in
the plan (a run of an earlier version of the study: other epochs, another space, an older store) is left
where it is, counted and named once, never mixed in; `python -m pipeline clean` removes such files. A
result file that cannot be read is reported and left out (the next launch trains it again). The per-epoch
histories go to `history.parquet` beside it, and each task's cost (`pipeline.cost.estimate` of the study's
architectures: runs, images, crop, MACs, GPU-hours) to `costs.parquet`. With `keep_weights: best-K`, the
weights of each task's K best runs are kept under `weights/<task>/` and the others deleted (`all` keeps
every run's, `none` writes none).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline import fsio, layout
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.cost import write_costs
from pipeline.launch import current_plan
from pipeline.study import Study, load_study


@dataclass
class Collected:
    path: Path
    table: pd.DataFrame
    missing: dict[str, int] = field(default_factory=dict)  # task -> plan runs without a result yet
    damaged: list[tuple[Path, str]] = field(default_factory=list)
    stale: dict[str, int] = field(default_factory=dict)  # task -> results not in the current plan

    def summary(self) -> str:
        counts = self.table["status"].value_counts().to_dict() if not self.table.empty else {}
        text = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no finished runs"
        return f"{len(self.table)} runs ({text}) -> {self.path}"


def collect(
    study: Study, plan: pd.DataFrame | None = None, *, out: Callable[[str], None] = print
) -> Collected:
    """Write runs.parquet (and history.parquet) from the result files of the current plan's keys."""
    results_dir = Path(study.results_dir)
    plan = current_plan(study) if plan is None else plan
    files, missing, stale = [], {}, {}
    for task, group in plan.groupby("task", sort=False):
        listed = layout.listed_results(results_dir, str(task))
        wanted = set(group["run_key"])
        files += [listed[k] for k in sorted(wanted & set(listed))]
        missing[str(task)] = len(wanted - set(listed))
        stale_count = len(set(listed) - wanted)
        if stale_count:
            stale[str(task)] = stale_count
    for task in layout.tasks_on_disk(results_dir):
        if task not in study.tasks and layout.listed_results(results_dir, task):
            stale[task] = len(layout.listed_results(results_dir, task))
    table, damaged = layout.read_rows(files)
    if table.empty:
        table = layout.empty_results()
    else:
        table = table.reindex(
            columns=list(layout.RESULT_COLUMNS) + [c for c in table if c not in layout.RESULT_TYPES]
        )
        table = table.sort_values(["task", "arch_id", "seed"], kind="stable").reset_index(drop=True)
    path = fsio.write_table(
        table,
        results_dir / "runs.parquet",
        schema=layout.result_schema() if set(table.columns) == set(layout.RESULT_TYPES) else None,
    )
    _collect_histories(results_dir, table)
    write_costs(study, layout.read_architectures(study))
    prune_weights(study, table)
    result = Collected(path, table, missing, damaged, stale)
    for file, why in damaged:
        out(f"damaged: {file} cannot be read ({why}); it will be trained again by the next launch")
    if stale:
        total = sum(stale.values())
        where = ", ".join(f"{t}: {n}" for t, n in stale.items())
        out(
            f"{total} result(s) from an earlier version of this study are not used ({where}); "
            f"python -m pipeline clean --study {layout.study_argument(study)} removes them"
        )
    return result


def _collect_histories(results_dir: Path, table: pd.DataFrame) -> None:
    histories = [
        layout.history_path(results_dir, t, k) for t, k in zip(table["task"], table["run_key"], strict=True)
    ]
    frame, _ = layout.read_rows([h for h in histories if h.is_file()])
    if frame.empty:
        return
    task_of = dict(zip(table["run_key"], table["task"], strict=True))
    frame.insert(1, "task", frame["run_key"].map(task_of))
    fsio.write_table(frame, results_dir / "history.parquet")


def kept_keys(study: Study, table: pd.DataFrame) -> set[str]:
    """Run keys whose weights `keep_weights` keeps: none, all, or each task's K lowest errors (ok runs)."""
    policy = study.keep_weights
    if policy == "none" or table.empty:
        return set()
    ok = table[table["status"] == "ok"]
    if policy == "all":
        return set(ok["run_key"])
    k = int(re.fullmatch(r"best-(\d+)", policy).group(1))  # validated by the study loader
    best = ok.sort_values(["error", "run_key"]).groupby("task", sort=False).head(k)
    return set(best["run_key"])


def prune_weights(study: Study, table: pd.DataFrame) -> None:
    """Delete the weight files of the current plan's runs that `keep_weights` does not keep."""
    keep = kept_keys(study, table)
    for task, key in zip(table["task"], table["run_key"], strict=True):
        if key not in keep:
            layout.weights_path(study.results_dir, task, key).unlink(missing_ok=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline collect", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    result = collect(study)
    print(result.summary())
    return 0
