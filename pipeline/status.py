"""`python -m pipeline status --study X`: done / running / pending / failed runs per task, with an ETA.

The plan is computed fresh from the study, its data and architectures (never read from an old file), so
status, launch and collect always agree on which runs there are. The truth about each run is its files
and `squeue`, never sacct (absent on small clusters):
- done: a complete `runs/<task>/<key>.parquet` (a damaged one is listed and counted as pending: the next
  launch trains it again);
- running: a live claim (`<key>.claim`) whose job is running (in squeue as RUNNING, or a live local pid);
- pending: queued or never launched; "requeued" counts pending runs whose job is back in the queue after
  a timeout or preemption (it started before: a claim or a checkpoint exists);
- failed: the worker left `<key>.failed.json`, or the run's chunk job ended with an error (the error is the
  last line of submitit's pickled outcome, else of the job's log; a job killed by a signal says so);
- relaunch: the run's chunk job is gone from the queue without finishing it or reporting an error (e.g.
  cancelled before it started); `launch` submits it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import fsio, jobs, layout
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.launch import current_plan
from pipeline.study import Study, load_study

STATES = ("done", "running", "pending", "failed", "relaunch")
RUNNING = frozenset({"RUNNING", "COMPLETING"})


def study_status(
    study: Study, *, queue: dict[str, str] | None = None, plan: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]], list[Path]]:
    """(one row per task: STATES, requeued, total, eta_s; failures: task, run_key, chunk, error; damaged
    result files). `queue` is {job id: state} (None: ask squeue; squeue unreachable: jobs are unknown)."""
    plan = current_plan(study) if plan is None else plan
    queue = jobs.squeue_states() if queue is None else queue
    latest = jobs.latest_jobs(study.results_dir)
    rows, failures, damaged = [], [], []
    for task in study.tasks:
        mine = plan[plan["task"] == task]
        done, task_damaged = layout.scan_results(study.results_dir, task)
        damaged += task_damaged
        folder = layout.runs_dir(study.results_dir, task)
        names = set(p.name for p in folder.iterdir()) if folder.is_dir() else set()
        counts = dict.fromkeys((*STATES, "requeued"), 0)
        chunk_errors: dict[int, str | None] = {}
        for key, chunk, arch_id in zip(mine["run_key"], mine["chunk"], mine["arch_id"], strict=True):
            state, error = _run_state(study, task, key, int(chunk), done, names, latest, queue, chunk_errors)
            counts[state] += 1
            if state == "pending" and _started_before(study, task, key, names):
                job = latest.get((task, int(chunk)))
                if job and queue and queue.get(job.get("job_id")) in jobs.PENDING_STATES:
                    counts["requeued"] += 1
            if state == "failed":
                failures.append(
                    {
                        "task": task,
                        "run_key": key,
                        "arch_id": int(arch_id),
                        "chunk": int(chunk),
                        "error": error,
                    }
                )
        rows.append(
            {"task": task, **counts, "total": len(mine), "eta_s": task_eta(study, task, done, counts)}
        )
    columns = ["task", *STATES, "requeued", "total", "eta_s"]
    return pd.DataFrame(rows, columns=columns), failures, damaged


def _run_state(
    study: Study,
    task: str,
    key: str,
    chunk: int,
    done: set[str],
    names: set[str],
    latest: dict,
    queue: dict[str, str] | None,
    chunk_errors: dict[int, str | None],
) -> tuple[str, Any]:
    """One run's state and, when failed, its error line (see the module docstring)."""
    if key in done:
        return "done", None
    if f"{key}.claim" in names:
        path = layout.claim_path(study.results_dir, task, key)
        owner = jobs.read_owner(path)
        if jobs.is_live(path, owner, queue) and (
            not (owner and owner.job_id) or queue is None or queue.get(owner.job_id) in RUNNING
        ):
            return "running", None
    job = latest.get((task, chunk))
    job_id = job.get("job_id") if job else None
    # local/debug jobs carry the state they ended in; a SLURM job has ended when squeue no longer lists it
    ended = job is not None and (
        "state" in job or (job_id is not None and queue is not None and job_id not in queue)
    )
    if f"{key}.failed.json" in names and (job is None or ended):
        info = fsio.read_json_or(layout.failure_path(study.results_dir, task, key), {})
        return "failed", info.get("error", "unknown error") if isinstance(info, dict) else "unknown error"
    if not ended:
        return "pending", None  # never launched, still queued, or the queue cannot be asked
    if chunk not in chunk_errors:
        chunk_errors[chunk] = job.get("error") or jobs.job_error(job.get("result_pickle"), job.get("stderr"))
    if chunk_errors[chunk]:
        return "failed", chunk_errors[chunk]
    return "relaunch", None  # its job ended without finishing it or saying why (e.g. cancelled unstarted)


def _started_before(study: Study, task: str, key: str, names: set[str]) -> bool:
    return f"{key}.claim" in names or layout.checkpoint_path(study.results_dir, task, key).is_file()


def task_eta(
    study: Study, task: str, done: set[str], counts: dict[str, int], sample: int = 50
) -> float | None:
    """Seconds until a task's remaining runs are done: the median training time of (up to `sample`) of
    its finished runs x runs left / runs running now (at least 1). None before any run finished."""
    left = counts["pending"] + counts["running"] + counts["relaunch"] + counts["failed"]
    if not done or left == 0:
        return None if left else 0.0
    files = [layout.result_path(study.results_dir, task, k) for k in sorted(done)[:sample]]
    rows, _ = layout.read_rows(files)
    if rows.empty or "train_seconds" not in rows:
        return None
    per_run = float(pd.to_numeric(rows["train_seconds"], errors="coerce").median())
    return None if math.isnan(per_run) else per_run * left / max(1, counts["running"])


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 5400 else f"{seconds / 3600:.1f}h"


def format_status(
    table: pd.DataFrame,
    failures: list[dict[str, Any]],
    damaged: Sequence[Path] = (),
    *,
    max_failures: int = 20,
) -> str:
    lines = [
        f"{'task':<16} {'done':>7} {'running':>8} {'pending':>8} {'failed':>7} {'relaunch':>9} "
        f"{'total':>7}  ETA"
    ]
    for r in table.itertuples():
        requeued = f" ({r.requeued} requeued)" if r.requeued else ""
        lines.append(
            f"{r.task:<16} {r.done:>7} {r.running:>8} {r.pending:>8} {r.failed:>7} {r.relaunch:>9} "
            f"{r.total:>7}  {_eta(r.eta_s)}{requeued}"
        )
    sums = table[[*STATES, "total"]].sum()
    lines.append(
        f"{'all':<16} {sums['done']:>7} {sums['running']:>8} {sums['pending']:>8} {sums['failed']:>7} "
        f"{sums['relaunch']:>9} {sums['total']:>7}"
    )
    for path in damaged:
        lines.append(f"damaged: {path}; it will be trained again")
    for f in failures[:max_failures]:
        lines.append(
            f"failed: {f['task']} arch {f['arch_id']} ({f['run_key']}, chunk {f['chunk']}): {f['error']}"
        )
    if len(failures) > max_failures:
        lines.append(f"... and {len(failures) - max_failures} more failures")
    if sums["relaunch"] or sums["failed"]:
        lines.append(
            "runs to relaunch or failed are submitted again by: python -m pipeline launch --study ..."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline status", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    table, failures, damaged = study_status(study)
    print(
        format_status(table, failures, damaged).replace(
            "--study ...", f"--study {layout.study_argument(study)}"
        )
    )
    return 1 if failures else 0
