"""`status` and `collect` over 8,000 finished runs (one result file each), in seconds.

The study of bench_plan.py (1,000 architectures x 8 tasks), with a result row written for every run (the
columns of `pipeline.train.RESULT_COLUMNS`, through `write_result`, as a worker does) and plan.parquet as
launch writes it.

- status (ours): `load_study` + `study_status` (plan.parquet, launch records, a listing of each task's
  folder, squeue once). Baseline: `os.scandir` of the 8 task folders, counting `*.parquet` names.
- collect (ours): `collect` (reads every result and history file, writes runs.parquet and history.parquet).
  Baseline: `pd.read_parquet` of the 8,000 result files and one `concat`.

Wall clock (`time.perf_counter`), best of 3, after one untimed warm-up of each (page cache warm).

    python tests/benchmarks/bench_status.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_plan import DATASETS, build

from pipeline import runs


def best_of(fn, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"load average {os.getloadavg()}, cores {os.cpu_count()}")
    from pipeline.collect import collect
    from pipeline.launch import plan_launch
    from pipeline.status import study_status
    from pipeline.study import load_study
    from pipeline.train import write_result

    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(build(Path(tmp), 1000))
        plan = plan_launch(study).plan
        runs.write_table(plan, study.results_dir / "plan.parquet")
        start = time.perf_counter()
        history = [{"epoch": 0, "train_loss": 2.3, "lr": 0.0, "seconds": 1.0, "images": 10}]
        for r in plan.itertuples():
            row = {"run_key": r.run_key, "arch_id": r.arch_id, "task": r.task, "status": "ok", "error": 50.0}
            write_result(study.results_dir, r.task, row, history)
        print(f"wrote {len(plan)} results in {time.perf_counter() - start:.1f} s")

        def ours_status():
            table, _ = study_status(load_study(study.source))
            assert table["done"].sum() == len(plan)

        def bare_listing():
            count = 0
            for task in DATASETS:
                with os.scandir(runs.runs_dir(study.results_dir, task)) as entries:
                    count += sum(e.name.endswith(".parquet") and ".history" not in e.name for e in entries)
            assert count == len(plan)

        def ours_collect():
            assert len(collect(study)[1]) == len(plan)

        def bare_read():
            files = runs.result_files(study.results_dir)
            assert len(pd.concat([pd.read_parquet(f) for f in files])) == len(plan)

        status_s, listing_s = best_of(ours_status), best_of(bare_listing)
        print(f"status over {len(plan)} runs: {status_s:.3f} s; bare scandir: {listing_s:.3f} s")
        collect_s, read_s = best_of(ours_collect), best_of(bare_read)
        print(f"collect over {len(plan)} runs: {collect_s:.2f} s; bare read+concat: {read_s:.2f} s")


if __name__ == "__main__":
    main()
