"""The per-chunk worker: train one chunk's runs of one task, skipping finished run keys.

`python -m pipeline.worker --study PATH --task T --chunk I` is what a plain sbatch array runs (with
`--chunk $SLURM_ARRAY_TASK_ID`); `Worker(study_path, task, chunk)` is the same job as a submitit callable.
It is a `submitit.helpers.Checkpointable`: on timeout or preemption submitit calls `checkpoint()`, which
resubmits the same Worker; the requeued job skips the keys finished meanwhile and the run that was in
progress resumes from its last epoch checkpoint. The dataset is opened once per worker and its
device-resident loader is reused by the chunk's runs.

A run that raises leaves `runs/<task>/<key>.failed.json` (its last error line and traceback) and the worker
goes on with the next run; the job fails at the end, naming how many runs failed.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import submitit

from pipeline import runs
from pipeline.errors import RunError, StudyError
from pipeline.study import load_study


def job_id() -> str | None:
    """The SLURM job id of this process (array form `<job>_<task>` for array tasks), else None."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def chunk_runs(study: Any, task_name: str, chunk: int) -> tuple[Any, Any, list[dict[str, Any]]]:
    """(task, store, [{run_key, arch_id, seed, arch}]) of one chunk, computed from the data on disk."""
    if task_name not in study.tasks:
        raise StudyError(f"study {study.name!r} has no task {task_name!r} (tasks: {', '.join(study.tasks)})")
    task = study.tasks[task_name]
    archs = runs.read_architectures(study)
    store = runs.open_task_store(study, task)
    plan = runs.plan_task(study, task, archs, runs.task_identity(study, task))
    mine = plan[plan["chunk"] == chunk]
    if mine.empty:
        raise RunError(f"task {task_name!r} has chunks 0..{int(plan['chunk'].max())}, not {chunk}")
    by_id = {int(r["arch_id"]): runs.arch_dict(r, study) for r in archs.to_dict("records")}
    items = [
        {"run_key": r.run_key, "arch_id": int(r.arch_id), "seed": int(r.seed), "arch": by_id[int(r.arch_id)]}
        for r in mine.itertuples()
    ]
    return task, store, items


class Worker(submitit.helpers.Checkpointable):
    """Train chunk `chunk` of task `task` of the study at `study_path` (a resolved study.yaml)."""

    def __init__(
        self,
        study_path: str | Path,
        task: str,
        chunk: int,
        *,
        threads: int | None = None,
        device: str | None = None,
    ) -> None:
        self.study_path = str(study_path)
        self.task = task
        self.chunk = int(chunk)
        self.threads = threads
        self.device = device

    def __call__(self) -> dict[str, Any]:
        import torch

        from pipeline.train import train_run

        if self.threads:
            torch.set_num_threads(int(self.threads))
        study = load_study(self.study_path)
        task, store, items = chunk_runs(study, self.task, self.chunk)
        done = runs.finished_keys(study.results_dir, task.name)
        trained, skipped, failed = [], [], []
        loader_cache: dict = {}
        for item in items:
            key = item["run_key"]
            if key in done:
                skipped.append(key)
                continue
            runs.write_json(
                {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "job_id": job_id(),
                    "chunk": self.chunk,
                    "started_at": _now(),
                },
                runs.started_path(study.results_dir, task.name, key),
            )
            try:
                train_run(
                    item["arch"],
                    task,
                    store,
                    run_key=key,
                    arch_id=item["arch_id"],
                    seed=item["seed"],
                    results_dir=study.results_dir,
                    study_name=study.name,
                    device=self.device,
                    loader_cache=loader_cache,
                )
            except Exception as error:  # one bad run must not stop the chunk; it is recorded and reported
                text = traceback.format_exc()
                runs.write_json(
                    {
                        "run_key": key,
                        "task": task.name,
                        "arch_id": item["arch_id"],
                        "error": last_line(text) or repr(error),
                        "traceback": text,
                        "job_id": job_id(),
                        "host": socket.gethostname(),
                        "failed_at": _now(),
                    },
                    runs.failure_path(study.results_dir, task.name, key),
                )
                runs.started_path(study.results_dir, task.name, key).unlink(missing_ok=True)
                failed.append((key, last_line(text)))
                continue
            trained.append(key)
        if failed:
            raise RunError(
                f"{len(failed)} of {len(items)} runs of task {task.name!r} chunk {self.chunk} failed; "
                f"first: {failed[0][0]}: {failed[0][1]}"
            )
        return {"task": task.name, "chunk": self.chunk, "trained": trained, "skipped": skipped}

    def __repr__(self) -> str:
        return f"Worker({self.study_path!r}, task={self.task!r}, chunk={self.chunk})"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.worker", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--study", required=True, help="study name or path (launch writes results_dir/study.yaml)"
    )
    parser.add_argument("--task", required=True)
    parser.add_argument("--chunk", required=True, type=int, help="chunk index (SLURM_ARRAY_TASK_ID)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    args = parser.parse_args(argv)
    summary = Worker(args.study, args.task, args.chunk, threads=args.threads, device=args.device)()
    print(
        f"task {summary['task']} chunk {summary['chunk']}: trained {len(summary['trained'])}, "
        f"already done {len(summary['skipped'])}"
    )
    return 0


if __name__ == "__main__":
    from pipeline.cli import run_cli

    sys.exit(run_cli(main))
