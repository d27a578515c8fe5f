"""Executors: how a list of (task, chunk) workers is run — SLURM job arrays, local processes, in-process.

- `slurm`: submitit's `SlurmExecutor`; each job array is one `executor.batch()` of Workers, cut under the
  cluster's MaxArraySize, with `array_parallelism` as the array throttle (`%N`). Parameters: the cluster
  profile, overridden by every executor key the study sets itself. Returns after submission; timeouts and
  preemptions requeue through `Worker.checkpoint` (submitit.helpers.Checkpointable).
- `local`: submitit's `LocalExecutor` (one subprocess per chunk). Each job uses `threads_per_job` torch
  threads (default 1: results depend on the thread count, and one thread a job is also the fastest use of
  the cores for these small networks); `local_jobs` run at once (default: cores // threads_per_job, at most
  `array_parallelism`; one per GPU when there are GPUs). Blocks until every job has ended.
- `debug`: the Workers called one after another in this process (no pickling, a debugger works).

Every function returns one record per submitted chunk: task, chunk, job_id, and for jobs that ended here,
`state` ("done" | "failed") and `error` (the last line of the failure).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import submitit

from pipeline import fsio, jobs
from pipeline.errors import LaunchError
from pipeline.study import ExecutorSpec
from pipeline.worker import Worker

Work = Sequence[tuple[str, int]]  # (task, chunk)


def _record(task: str, chunk: int, job: Any | None = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "task": task,
        "chunk": int(chunk),
        "job_id": None if job is None else str(job.job_id),
    }
    if job is not None:
        record["stderr"] = str(job.paths.stderr)
        record["result_pickle"] = str(job.paths.result_pickle)
    record.update(extra)
    return record


def _error_line(error: BaseException) -> str:
    """The last line of a job's failure; a job killed by a signal says so."""
    text = str(error)
    return jobs.killed_reason(text) or fsio.last_line(text) or repr(error)


# ---------------------------------------------------------------------------------------------- debug
def run_debug(study_path: Path, work: Work, *, device: str | None = None) -> list[dict[str, Any]]:
    """Run every chunk in this process, in order; a failing chunk is recorded and the next one runs."""
    records = []
    for task, chunk in work:
        try:
            Worker(study_path, task, chunk, device=device)()
        except Exception as error:  # recorded like a failed job; the runs carry their own failure files
            records.append(_record(task, chunk, state="failed", error=_error_line(error)))
        else:
            records.append(_record(task, chunk, state="done"))
    return records


# ---------------------------------------------------------------------------------------------- local
def local_concurrency(spec: ExecutorSpec, jobs_count: int, cores: int | None = None, gpus: int = 0) -> int:
    """Jobs running at once: `local_jobs`, else cores // threads_per_job (one per GPU when there are
    GPUs), never more than `array_parallelism` or the number of jobs."""
    cores = cores or os.cpu_count() or 1
    wanted = spec.local_jobs or (gpus or max(1, cores // spec.threads_per_job))
    return max(1, min(wanted, spec.array_parallelism, jobs_count))


def _cuda_devices(device: str | None) -> int:
    if device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count()


def run_local(
    study_path: Path,
    work: Work,
    folder: Path,
    spec: ExecutorSpec,
    *,
    device: str | None = None,
    poll_s: float = 0.5,
) -> list[dict[str, Any]]:
    """Run chunks as local subprocesses, at most `local_concurrency` at a time; wait for all of them.

    With CUDA devices each job gets one of them (CUDA_VISIBLE_DEVICES), one job per device at a time.
    """
    executor = submitit.LocalExecutor(folder=folder, max_num_timeout=spec.max_num_timeout)
    executor.update_parameters(timeout_min=spec.timeout_min)
    gpus = _cuda_devices(device)
    concurrent = local_concurrency(spec, len(work), gpus=gpus)
    free_gpus = list(range(gpus))
    pending = list(work)
    running: list[tuple[str, int, Any, int | None]] = []
    records = []
    while pending or running:
        while pending and len(running) < concurrent:
            task, chunk = pending.pop(0)
            gpu = free_gpus.pop(0) if gpus else None
            if gpu is not None:
                executor.update_parameters(gpus_per_node=1, visible_gpus=(gpu,))
            worker = Worker(
                study_path,
                task,
                chunk,
                threads=spec.threads_per_job,
                device=device or ("cuda" if gpus else "cpu"),
            )
            running.append((task, chunk, executor.submit(worker), gpu))
        still = []
        for task, chunk, job, gpu in running:
            if not job.done():
                still.append((task, chunk, job, gpu))
                continue
            if gpu is not None:
                free_gpus.append(gpu)
            error = job.exception()
            if error is None:
                records.append(_record(task, chunk, job, state="done"))
            else:
                records.append(_record(task, chunk, job, state="failed", error=_error_line(error)))
        running = still
        if running:
            time.sleep(poll_s)
    return records


# ---------------------------------------------------------------------------------------------- slurm
def read_profile(path: str | Path | None) -> dict[str, Any]:
    """A cluster profile: a YAML mapping of submitit SlurmExecutor parameters (partition, account, ...)."""
    if not path:
        return {}
    path = Path(path)
    if not path.is_file():
        raise LaunchError(f"executor.profile: no file {str(path)!r}; see slurm/profiles/example.yaml")
    try:
        data = fsio.read_yaml(path) or {}
    except fsio.UnreadableFileError as error:
        raise LaunchError(f"executor.profile: {error}") from None
    if not isinstance(data, Mapping):
        raise LaunchError(f"executor.profile {path}: must be a mapping of sbatch parameters")
    return dict(data)


# study executor key -> submitit SlurmExecutor parameter
_SLURM_NAMES = {
    "timeout_min": "time",
    "array_parallelism": "array_parallelism",
    "partition": "partition",
    "cpus_per_task": "cpus_per_task",
    "gpus_per_node": "gpus_per_node",
}


def slurm_parameters(spec: ExecutorSpec, profile: Mapping[str, Any], *, job_name: str) -> dict[str, Any]:
    """submitit SlurmExecutor parameters: the study's defaults, then the cluster profile, then every
    executor key the study sets itself (the study file is the most specific statement of what it needs)."""
    params: dict[str, Any] = {
        "time": spec.timeout_min,
        "array_parallelism": spec.array_parallelism,
        "job_name": job_name,
    }
    params.update(profile)
    for key, name in _SLURM_NAMES.items():
        value = getattr(spec, key)
        if (key in spec.given and value is not None) or (name not in params and value is not None):
            params[name] = value
    if spec.mem_gb is not None and ("mem_gb" in spec.given or "mem" not in params):
        params["mem"] = f"{int(spec.mem_gb * 1024)}M"
    params.update(spec.slurm)
    return params


def make_slurm_executor(
    folder: Path, spec: ExecutorSpec, params: Mapping[str, Any]
) -> submitit.SlurmExecutor:
    """A configured SlurmExecutor; a bad parameter is a LaunchError (before anything is submitted)."""
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=spec.max_num_timeout)
    try:
        executor.update_parameters(**params)
    except (ValueError, TypeError) as error:
        lines = str(error).splitlines()
        valid = [line.strip()[2:].split(" (")[0] for line in lines if line.strip().startswith("- ")]
        known = f"; valid parameters: {', '.join(valid)}" if valid else ""
        where = "the executor settings or profile"
        raise LaunchError(f"bad SLURM parameter in {where}: {lines[0]}{known}") from None
    return executor


def submit_slurm(
    study_path: Path,
    arrays: Sequence[tuple[str, Sequence[int]]],
    executor: submitit.SlurmExecutor,
    *,
    threads: int | None = None,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Submit each (task, chunks) as one job array; returns a record per chunk with its `<job>_<index>` id."""
    records = []
    prefix = executor.parameters.get("job_name", "archcorr")
    for task, chunks in arrays:
        executor.update_parameters(job_name=f"{prefix}-{task}")
        with executor.batch():
            batch = [
                executor.submit(Worker(study_path, task, c, threads=threads, device=device)) for c in chunks
            ]
        records += [_record(task, c, job) for c, job in zip(chunks, batch, strict=True)]
    return records
