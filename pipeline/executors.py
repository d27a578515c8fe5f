"""Executors: how a list of (task, chunk) workers is run — SLURM job arrays, local processes, in-process.

- `slurm`: submitit's `SlurmExecutor`; each job array is one `executor.batch()` of Workers, cut under the
  cluster's MaxArraySize, with `array_parallelism` as the array throttle (`%N`). Returns after submission;
  timeouts and preemptions requeue through `Worker.checkpoint` (submitit.helpers.Checkpointable).
- `local`: submitit's `LocalExecutor` (one subprocess per chunk). submitit has no concurrency cap of its
  own, so at most `min(cores, array_parallelism)` jobs run at once (a new one starts when one ends) and
  each sets torch to `cores // concurrent` threads. Blocks until every job has ended.
- `debug`: the Workers called one after another in this process (no pickling, a debugger works).

Every function returns one record per submitted chunk: task, chunk, job_id, and for jobs that ended here,
`state` ("done" | "failed") and `error` (the last line of the failure).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import submitit
import yaml

from pipeline.errors import LaunchError
from pipeline.study import ExecutorSpec
from pipeline.worker import Worker, last_line

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


# ---------------------------------------------------------------------------------------------- debug
def run_debug(
    study_path: Path, work: Work, *, device: str | None = None, progress: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Run every chunk in this process, in order; a failing chunk is recorded and the next one runs."""
    records = []
    for task, chunk in work:
        try:
            Worker(study_path, task, chunk, device=device)()
        except Exception as error:  # recorded like a failed job; the runs carry their own failure files
            records.append(_record(task, chunk, state="failed", error=last_line(str(error)) or repr(error)))
        else:
            records.append(_record(task, chunk, state="done"))
        if progress:
            progress(f"{len(records)}/{len(work)} chunks ended")
    return records


# ---------------------------------------------------------------------------------------------- local
def local_concurrency(
    spec: ExecutorSpec, jobs: int, cores: int | None = None, gpus: int = 0
) -> tuple[int, int]:
    """(jobs running at once, torch threads per job): one job per core, or per GPU when there are GPUs."""
    cores = cores or os.cpu_count() or 1
    concurrent = max(1, min(gpus or cores, spec.array_parallelism, jobs))
    return concurrent, max(1, cores // concurrent)


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
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run chunks as local subprocesses, at most `local_concurrency` at a time; wait for all of them.

    With CUDA devices each job gets one of them (CUDA_VISIBLE_DEVICES), one job per device at a time.
    """
    executor = submitit.LocalExecutor(folder=folder, max_num_timeout=spec.max_num_timeout)
    executor.update_parameters(timeout_min=spec.timeout_min)
    gpus = _cuda_devices(device)
    concurrent, threads = local_concurrency(spec, len(work), gpus=gpus)
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
                study_path, task, chunk, threads=threads, device=device or ("cuda" if gpus else "cpu")
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
                records.append(_record(task, chunk, job, state="failed", error=last_line(str(error))))
            if progress:
                progress(f"{len(records)}/{len(work)} chunks ended")
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
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, Mapping):
        raise LaunchError(f"executor.profile {path}: must be a mapping of sbatch parameters")
    return dict(data)


def slurm_parameters(spec: ExecutorSpec, profile: Mapping[str, Any], *, job_name: str) -> dict[str, Any]:
    """submitit SlurmExecutor parameters: profile, overridden by the study's executor settings."""
    params: dict[str, Any] = {
        "time": spec.timeout_min,
        "array_parallelism": spec.array_parallelism,
        "job_name": job_name,
        **profile,
    }
    for name in ("partition", "cpus_per_task", "gpus_per_node"):
        value = getattr(spec, name)
        if value is not None:
            params[name] = value
    if spec.mem_gb is not None:
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
        raise LaunchError(f"bad SLURM parameter in the executor settings or profile: {error}") from error
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
            jobs = [
                executor.submit(Worker(study_path, task, c, threads=threads, device=device)) for c in chunks
            ]
        records += [_record(task, c, job) for c, job in zip(chunks, jobs, strict=True)]
    return records
