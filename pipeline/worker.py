"""The per-chunk worker: train one chunk's runs of one task, each claimed first, finished keys skipped.

`python -m pipeline.worker --study PATH --task T --chunk I` is what a plain sbatch array runs (with
`--chunk $SLURM_ARRAY_TASK_ID`); `Worker(study_path, task, chunk)` is the same job as a submitit callable.
It is a `submitit.helpers.Checkpointable`: on timeout or preemption submitit calls `checkpoint()`, which
resubmits the same Worker; the requeued job skips the keys finished meanwhile and the run that was in
progress resumes from its last epoch checkpoint. When submitit will not requeue any more (the job timed
out `max_num_timeout` times), its `UncompletedJobError` propagates at once: no further run starts.

Before training a run the worker claims it (`pipeline.jobs.try_claim`): a run another live worker holds is
skipped, so two launches of one study never train a run twice or resume from each other's checkpoints.
The task's data (`TaskData`: store and both device loaders) is built once and serves every run.

A run that raises leaves `runs/<task>/<key>.failed.json` (its last error line and traceback) and the worker
goes on with the next run; the job fails at the end, naming how many runs failed.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import submitit
from submitit.core.utils import UncompletedJobError

from pipeline import fsio, jobs, layout
from pipeline.cli import ArgumentParser
from pipeline.errors import RunError, StudyError
from pipeline.plan import plan_task
from pipeline.study import Study, load_study
from pipeline.taskdata import TaskData, task_identity
from pipeline.validate import non_negative_int, positive_int


def chunk_runs(study: Study, task_name: str, chunk: int) -> list[dict[str, Any]]:
    """[{run_key, arch_id, seed, arch}] of one chunk, planned from the data on disk."""
    from anynet import Arch

    if task_name not in study.tasks:
        raise StudyError(f"study {study.name!r} has no task {task_name!r} (tasks: {', '.join(study.tasks)})")
    task = study.tasks[task_name]
    archs = layout.read_architectures(study)
    plan = plan_task(study, task, archs, task_identity(study, task))
    mine = plan[plan["chunk"] == chunk]
    if mine.empty:
        raise RunError(f"task {task_name!r} has chunks 0..{int(plan['chunk'].max())}, not {chunk}")
    by_id = {int(r["arch_id"]): r for r in archs.to_dict("records")}
    return [
        {"run_key": r.run_key, "arch_id": int(r.arch_id), "seed": int(r.seed),
         "arch": Arch.from_row(by_id[int(r.arch_id)])}
        for r in mine.itertuples()
    ]  # fmt: skip


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

        from pipeline.train import default_device, train_run

        study = load_study(self.study_path)
        torch.set_num_threads(int(self.threads or study.executor.threads_per_job))
        task = study.tasks.get(self.task)
        items = chunk_runs(study, self.task, self.chunk)
        device = self.device or default_device()
        data = TaskData(study, task, device)
        queue = jobs.squeue_states() if jobs.job_id() else None
        keep = study.keep_weights != "none"
        trained, skipped, busy, failed = [], [], [], []
        for item in items:
            key = item["run_key"]
            if layout.is_finished(study.results_dir, task.name, key):  # also if another worker finished it
                skipped.append(key)
                continue
            claim = layout.claim_path(study.results_dir, task.name, key)
            holder = jobs.try_claim(claim, queue=queue)
            if holder is not None:
                print(f"run {key}: claimed by {holder.describe()}; skipped", flush=True)
                busy.append(key)
                continue
            try:
                with jobs.Heartbeat(claim):
                    train_run(
                        item["arch"],
                        task,
                        data,
                        run_key=key,
                        arch_id=item["arch_id"],
                        seed=item["seed"],
                        results_dir=study.results_dir,
                        study_name=study.name,
                        device=device,
                        keep_weights=keep,
                    )
            except UncompletedJobError:
                raise  # submitit will not requeue: stop now, start nothing else
            except Exception as error:  # one bad run must not stop the chunk; it is recorded and reported
                text = traceback.format_exc()
                message = fsio.last_line(text) or repr(error)
                record_failure(study, task.name, key, item["arch_id"], message, text)
                failed.append((key, message))
            else:
                trained.append(key)
            finally:
                jobs.release(claim)
        if failed:
            raise RunError(
                f"{len(failed)} of {len(items)} runs of task {task.name!r} chunk {self.chunk} failed; "
                f"first: {failed[0][0]}: {failed[0][1]}"
            )
        return {"task": task.name, "chunk": self.chunk, "trained": trained, "skipped": skipped, "busy": busy}

    def __repr__(self) -> str:
        return f"Worker({self.study_path!r}, task={self.task!r}, chunk={self.chunk})"


def record_failure(study: Study, task: str, key: str, arch_id: int, message: str, text: str) -> None:
    """`<key>.failed.json`: the last error of a run, for status and the next launch."""
    fsio.write_json(
        {"run_key": key, "task": task, "arch_id": arch_id, "error": message, "traceback": text,
         "job_id": jobs.job_id(), "host": socket.gethostname(), "pid": os.getpid(), "failed_at": jobs.now()},
        layout.failure_path(study.results_dir, task, key),
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline.worker", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--study", required=True, help="study name or path (launch writes results_dir/study.yaml)"
    )
    parser.add_argument("--task", required=True)
    parser.add_argument(
        "--chunk", required=True, type=non_negative_int, help="chunk index (SLURM_ARRAY_TASK_ID)"
    )
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: study)"
    )
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    args = parser.parse_args(argv)
    summary = Worker(args.study, args.task, args.chunk, threads=args.threads, device=args.device)()
    print(
        f"task {summary['task']} chunk {summary['chunk']}: trained {len(summary['trained'])}, "
        f"already done {len(summary['skipped'])}, held by another worker {len(summary['busy'])}"
    )
    return 0


if __name__ == "__main__":
    from pipeline.cli import run_cli

    sys.exit(run_cli(main))
