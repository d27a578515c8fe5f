"""`python -m pipeline collect --study X`: gather finished runs into `results_dir/runs.parquet` (atomically).

Only complete result files are read: a result is written to a dot-prefixed temp name and renamed, and the
listing takes `<key>.parquet` names only, so a run killed while writing is never half-read. The per-epoch
histories go to `results_dir/history.parquet` beside it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pipeline import runs
from pipeline.study import Study, load_study


def collect(study: Study) -> tuple[Path, pd.DataFrame]:
    """Write runs.parquet (and history.parquet) from the result files of the study's tasks."""
    results_dir = Path(study.results_dir)
    tasks = list(study.tasks)
    table = runs.read_results(results_dir, tasks)
    if not table.empty:
        table = table.sort_values(["task", "arch_id", "seed"], kind="stable").reset_index(drop=True)
    out = runs.write_table(table, results_dir / "runs.parquet")
    histories = []
    for path in runs.result_files(results_dir, tasks):
        hist = path.with_name(path.name[: -len(".parquet")] + ".history.parquet")
        if hist.is_file():
            histories.append(hist)
    if histories:
        frame = runs.read_tables(histories)
        task_of = dict(zip(table["run_key"], table["task"], strict=True))
        frame.insert(1, "task", frame["run_key"].map(task_of))
        runs.write_table(frame, results_dir / "history.parquet")
    return out, table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline collect", description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="study name or path")
    parser.add_argument("--results-dir", help="study output folder (overrides the study)")
    args = parser.parse_args(argv)
    study = load_study(args.study, results_dir=args.results_dir)
    path, table = collect(study)
    counts = table["status"].value_counts().to_dict() if not table.empty else {}
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no finished runs"
    print(f"{len(table)} runs ({summary}) -> {path}")
    return 0
