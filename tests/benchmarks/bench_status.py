"""`status` and `collect` over 8,000 finished runs (one result file each), in seconds.

The study of bench_plan.py (1,000 architectures x 8 tasks), with a result row and a history written for
every run (the typed row of `pipeline.layout.RESULT_TYPES`, through `layout.write_result`, as a worker
does).

- status (ours): `load_study` + `study_status` as `python -m pipeline status` calls it: the plan computed
  fresh (data check, architectures.parquet, task identities, 8,000 run keys), launch records, squeue once,
  and per task one listing plus the finished-key check (each result file's parquet magic bytes at both
  ends: two small reads per file); every run is done, so no ETA is read. Baseline: `os.scandir` of the 8
  task folders, counting result file names.
- collect (ours): `collect` (plans fresh as above, reads every result and history file, writes
  runs.parquet, history.parquet and costs.parquet, prunes weights). Baseline: `pd.read_parquet` of the
  8,000 result files and one `concat`.

Wall clock (`time.perf_counter`), best of 3, after one untimed warm-up of each (page cache warm).

    python tests/benchmarks/bench_status.py [--archs 1000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from bench_plan import DATASETS, build

from pipeline import layout


def best_of(fn, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=1000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}, cores {os.cpu_count()}")
    from pipeline.collect import collect
    from pipeline.launch import current_plan
    from pipeline.status import study_status
    from pipeline.study import load_study

    with tempfile.TemporaryDirectory() as tmp:
        study = load_study(build(Path(tmp), args.archs))
        plan = current_plan(study)
        start = time.perf_counter()
        history = [{"epoch": 0, "train_loss": 2.3, "lr": 0.0, "seconds": 1.0, "images": 10}]
        for r in plan.itertuples():
            row = {"run_key": r.run_key, "arch_id": r.arch_id, "task": r.task, "seed": r.seed}
            row |= {"status": "ok", "error": 50.0}
            layout.write_result(study.results_dir, r.task, row, history)
        print(f"wrote {len(plan)} results in {time.perf_counter() - start:.1f} s")

        def ours_status():
            table, _, _ = study_status(load_study(study.source))
            assert table["done"].sum() == len(plan)

        def bare_listing():
            count = 0
            for task in DATASETS:
                with os.scandir(layout.runs_dir(study.results_dir, task)) as entries:
                    count += sum(e.name.endswith(".parquet") and ".history" not in e.name for e in entries)
            assert count == len(plan)

        def ours_collect():
            assert len(collect(study, out=lambda line: None).table) == len(plan)

        def bare_read():
            files = [p for task in DATASETS for p in layout.listed_results(study.results_dir, task).values()]
            assert len(pd.concat([pd.read_parquet(f) for f in files])) == len(plan)

        status_s, listing_s = best_of(ours_status), best_of(bare_listing)
        print(f"status over {len(plan)} runs: {status_s:.3f} s; bare scandir: {listing_s:.3f} s")
        collect_s, read_s = best_of(ours_collect), best_of(bare_read)
        print(f"collect over {len(plan)} runs: {collect_s:.2f} s; bare read+concat: {read_s:.2f} s")


if __name__ == "__main__":
    main()
