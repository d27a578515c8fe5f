"""`python -m pipeline status --study X`: done / running / pending / failed runs per task.

The truth is the result files and `squeue`, never sacct (absent on small clusters):
- done: `runs/<task>/<key>.parquet` exists (status ok or diverged; only names are listed, nothing is read);
- failed: the worker left `<key>.failed.json`, or the run's chunk job ended without finishing it (the error
  is the last line of submitit's pickled exception, else of the job's stderr);
- running: `<key>.started.json` exists and its job is still alive (in squeue, or a live local pid);
- pending: everything else in the plan.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import pickle
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import runs
from pipeline.study import Study, load_study

STATES = ("done", "running", "pending", "failed")


def squeue_states(user: str | None = None) -> dict[str, str]:
    """{job id (array tasks as `<job>_<index>`): state} of the user's jobs; empty without SLURM."""
    if shutil.which("squeue") is None:
        return {}
    cmd = ["squeue", "-h", "-r", "-o", "%i|%T", "-u", user or getpass.getuser()]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if out.returncode != 0:
        return {}
    states = {}
    for line in out.stdout.splitlines():
        if "|" in line:
            job, state = line.strip().split("|", 1)
            states[job] = state
    return states


class _PlainUnpickler(pickle.Unpickler):
    """Reads submitit's ("error", traceback) outcome tuples; refuses every class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def job_error(result_pickle: str | None, stderr: str | None) -> str | None:
    """Last line of a finished job's error (pickled exception, else stderr); None if it succeeded."""
    if result_pickle and Path(result_pickle).is_file():
        try:
            with open(result_pickle, "rb") as handle:
                outcome = _PlainUnpickler(handle).load()
        except Exception:  # a success outcome holding objects, or a truncated file
            outcome = None
        if isinstance(outcome, tuple) and len(outcome) == 2 and outcome[0] == "error":
            return _last_line(str(outcome[1]))
        if outcome is not None:
            return None
    if stderr and Path(stderr).is_file():
        return _last_line(Path(stderr).read_text(errors="replace")[-20000:]) or "job ended without a result"
    return None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _pid_alive(info: dict[str, Any]) -> bool:
    if info.get("host") != socket.gethostname():
        return True  # another machine's local run: trust the marker
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return False
    return True


def load_plan(study: Study) -> pd.DataFrame:
    """The plan launch wrote (no data needed), else computed from the data and architectures."""
    path = Path(study.results_dir) / "plan.parquet"
    if path.is_file():
        plan = pd.read_parquet(path)
        return plan[plan["task"].isin(list(study.tasks))]
    from pipeline.launch import plan_launch

    return plan_launch(study, kind="debug").plan


def study_status(
    study: Study, *, queue: dict[str, str] | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(one row per task: done, running, pending, failed, total; failures: task, run_key, chunk, error)."""
    from pipeline.launch import launch_records

    plan = load_plan(study)
    queue = squeue_states() if queue is None else queue
    # the latest job of each (task, chunk) from the launch records
    jobs: dict[tuple[str, int], dict[str, Any]] = {}
    for record in launch_records(study.results_dir):
        for job in record.get("jobs", []):
            jobs[(job["task"], int(job["chunk"]))] = job
    rows, failures = [], []
    for task in study.tasks:
        mine = plan[plan["task"] == task]
        done = runs.finished_keys(study.results_dir, task)
        folder = runs.runs_dir(study.results_dir, task)
        names = set(os.listdir(folder)) if folder.is_dir() else set()
        counts = dict.fromkeys(STATES, 0)
        chunk_errors: dict[int, str | None] = {}
        for key, chunk, arch_id in zip(mine["run_key"], mine["chunk"], mine["arch_id"], strict=True):
            if key in done:
                counts["done"] += 1
                continue
            job = jobs.get((task, int(chunk)))
            alive = bool(job and job.get("job_id") and job["job_id"] in queue)
            if f"{key}.started.json" in names:
                info = _read_json(folder / f"{key}.started.json")
                if (info.get("job_id") and info["job_id"] in queue) or (
                    not info.get("job_id") and _pid_alive(info)
                ):
                    counts["running"] += 1
                    continue
            if f"{key}.failed.json" in names and not alive:
                info = _read_json(folder / f"{key}.failed.json")
                counts["failed"] += 1
                failures.append(_failure(task, key, arch_id, chunk, info.get("error", "unknown error")))
                continue
            if job and (job.get("job_id") or job.get("state") == "failed") and not alive:
                if int(chunk) not in chunk_errors:
                    chunk_errors[int(chunk)] = job.get("error") or job_error(
                        job.get("result_pickle"), job.get("stderr")
                    )
                if chunk_errors[int(chunk)]:
                    counts["failed"] += 1
                    failures.append(_failure(task, key, arch_id, chunk, chunk_errors[int(chunk)]))
                    continue
            counts["pending"] += 1
        rows.append({"task": task, **counts, "total": len(mine)})
    return pd.DataFrame(rows, columns=["task", *STATES, "total"]), failures


def _failure(task: str, key: str, arch_id: Any, chunk: Any, error: str) -> dict[str, Any]:
    return {"task": task, "run_key": key, "arch_id": int(arch_id), "chunk": int(chunk), "error": error}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def format_status(table: pd.DataFrame, failures: list[dict[str, Any]], *, max_failures: int = 20) -> str:
    lines = [f"{'task':<16} {'done':>7} {'running':>8} {'pending':>8} {'failed':>7} {'total':>7}"]
    for r in table.itertuples():
        lines.append(f"{r.task:<16} {r.done:>7} {r.running:>8} {r.pending:>8} {r.failed:>7} {r.total:>7}")
    sums = table[[*list(STATES), "total"]].sum()
    lines.append(
        f"{'all':<16} {sums['done']:>7} {sums['running']:>8} {sums['pending']:>8} {sums['failed']:>7} "
        f"{sums['total']:>7}"
    )
    for f in failures[:max_failures]:
        lines.append(
            f"failed: {f['task']} arch {f['arch_id']} ({f['run_key']}, chunk {f['chunk']}): {f['error']}"
        )
    if len(failures) > max_failures:
        lines.append(f"... and {len(failures) - max_failures} more failures")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline status", description=__doc__.splitlines()[0])
    parser.add_argument("--study", required=True, help="study name or path (e.g. results/<study>/study.yaml)")
    parser.add_argument("--data-root", help="where prepared datasets live (overrides the study)")
    parser.add_argument("--results-dir", help="study output folder (overrides the study)")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    table, failures = study_status(study)
    print(format_status(table, failures))
    return 1 if failures else 0
