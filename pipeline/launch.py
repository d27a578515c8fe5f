"""`python -m pipeline launch --study X`: validate a study, plan its runs and submit the missing ones.

Order of work (nothing is written or submitted until every check has passed):
1. load and validate the study (`pipeline.study.load_study`), then the data (`require_data`: every
   dataset/variant prepared, or one error listing each prepare command) and architectures.parquet (it
   must have been sampled from the study's space);
2. plan: architectures x tasks x seeds, chunks of `runs_per_job` per task, arrays cut under MaxArraySize;
3. keep only chunks with a run that has no complete result file (finished and diverged runs are never
   redone; a damaged result is trained again) and, on SLURM, no job of an earlier launch still queued or
   running;
4. `--dry-run` prints this and stops; otherwise write `results_dir/study.yaml` (the resolved study that
   the workers read), submit, and write `results_dir/launches/<time>.json`. Local and debug launches hold
   the study lock while they run, so a second one is refused instead of training everything twice.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline import executors, fsio, jobs, layout
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.errors import DatasetError, LaunchError
from pipeline.plan import DEFAULT_MAX_ARRAY_SIZE, TaskIdentity, plan_study, split_arrays
from pipeline.progress import Printer, Progress, eta
from pipeline.study import EXECUTOR_KINDS, Study, load_study
from pipeline.taskdata import check_data, has_store, prepare_command, require_data, task_identity
from pipeline.validate import positive_int


@dataclass(frozen=True)
class LaunchPlan:
    study: Study
    kind: str
    plan: pd.DataFrame  # every run: run_key, task, arch_id, seed, chunk
    missing: pd.DataFrame  # runs without a complete result file
    chunks: dict[str, list[int]]  # per task: chunks to submit
    active: dict[str, list[int]]  # per task: chunks skipped because an earlier job is still queued/running
    damaged: list[Path]  # result files that exist but cannot be read (trained again)
    max_array_size: int

    def arrays(self) -> list[tuple[str, list[int]]]:
        """(task, chunks) per job array, each at most `max_array_size` long."""
        return [
            (task, a)
            for task, chunks in self.chunks.items()
            for a in split_arrays(chunks, self.max_array_size)
        ]

    @property
    def num_chunks(self) -> int:
        return sum(len(c) for c in self.chunks.values())


def current_plan(study: Study, identities: dict[str, TaskIdentity] | None = None) -> pd.DataFrame:
    """The study's plan, computed fresh from its data and architectures (never read from an old file).

    `identities`: task identities to use instead of the data (a bank being imported, before they are
    recorded)."""
    given = dict(identities or {})
    require_data(study, frozenset(given))
    archs = layout.read_architectures(study)
    for name, task in study.tasks.items():
        if name not in given:
            given[name] = task_identity(study, task)
    return plan_study(study, archs, given)


def plan_launch(study: Study, *, kind: str | None = None) -> LaunchPlan:
    """Validate data and architectures, build the plan and find what to submit; writes nothing."""
    kind = kind or study.executor.kind
    if kind not in EXECUTOR_KINDS:
        raise LaunchError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTOR_KINDS)}")
    plan = current_plan(study)
    scans = {name: layout.scan_results(study.results_dir, name) for name in study.tasks}
    done = {name: scan[0] for name, scan in scans.items()}
    damaged = [p for scan in scans.values() for p in scan[1]]
    is_missing = [key not in done[task] for key, task in zip(plan["run_key"], plan["task"], strict=True)]
    missing = plan[is_missing]
    _require_data_to_train(study, missing)
    active_ids = active_chunks(study) if kind == "slurm" else {}
    chunks: dict[str, list[int]] = {}
    active: dict[str, list[int]] = {}
    for task, group in missing.groupby("task", sort=False):
        wanted = sorted(set(group["chunk"].tolist()))
        busy = active_ids.get(str(task), set())
        chunks[str(task)] = [c for c in wanted if c not in busy]
        active[str(task)] = [c for c in wanted if c in busy]
    chunks = {t: c for t, c in chunks.items() if c}
    max_size = study.executor.max_array_size or (
        jobs.cluster_max_array_size() if kind == "slurm" else DEFAULT_MAX_ARRAY_SIZE
    )
    return LaunchPlan(
        study, kind, plan, missing, chunks, {t: c for t, c in active.items() if c}, damaged, max_size
    )


class RunProgress:
    """A background thread that counts the plan's finished runs (their result files) and reports a
    `Progress` on each change: the runs/ETA line of a local launch and of `pipeline run`."""

    def __init__(
        self,
        results_dir: str,
        plan: pd.DataFrame,
        report: Callable[[Progress], None],
        *,
        every_s: float = 1.0,
    ) -> None:
        self.results_dir, self.report, self.every_s = results_dir, report, every_s
        self.keys = {task: set(group["run_key"]) for task, group in plan.groupby("task")}
        self._confirmed: dict[str, set[str]] = {}  # per task: keys seen with a complete result file
        self.total = len(plan)
        self.start_done = self.count()
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._last = -1

    def count(self) -> int:
        # A complete file stays complete: only names not yet confirmed are read (this runs every second).
        for task, keys in self.keys.items():
            confirmed = self._confirmed.setdefault(task, set())
            for key in set(layout.listed_results(self.results_dir, task)) & keys - confirmed:
                if layout.is_finished(self.results_dir, task, key):
                    confirmed.add(key)
        return sum(len(c) for c in self._confirmed.values())

    def snapshot(self) -> Progress:
        done = self.count()
        elapsed = time.monotonic() - self.started
        return Progress(done, self.total, elapsed, eta(done, self.start_done, self.total, elapsed))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._tick()

    def _tick(self) -> None:
        p = self.snapshot()
        if p.done != self._last:
            self._last = p.done
            self.report(p)

    def __enter__(self) -> RunProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._tick()


def _require_data_to_train(study: Study, missing: pd.DataFrame) -> None:
    """Refuse, before anything is submitted, runs to train of tasks whose data is not here (their other
    runs came from a result bank)."""
    lacking = {
        t: int(n) for t, n in missing.groupby("task").size().items() if not has_store(study, study.tasks[t])
    }
    if lacking:
        lines = [
            f"task {t!r}: {n} run(s) to train; run: {prepare_command(study.tasks[t].entry, study.data_root)}"
            for t, n in lacking.items()
        ]
        raise DatasetError(
            f"{len(lacking)} task(s) have runs no result bank provided, and their data is not here to train "
            "them:\n  " + "\n  ".join(lines)
        )


def describe(lp: LaunchPlan) -> str:
    """What a launch would submit: runs per task, chunks and arrays."""
    spec = lp.study.executor
    lines = [
        f"study {lp.study.name}: {len(lp.plan)} runs in {lp.plan.groupby('task')['chunk'].nunique().sum()} "
        f"chunks of up to {spec.runs_per_job}; {len(lp.missing)} runs not finished; executor {lp.kind}"
    ]
    for task in lp.study.tasks:
        total = int((lp.plan["task"] == task).sum())
        todo = int((lp.missing["task"] == task).sum())
        chunks = lp.chunks.get(task, [])
        arrays = split_arrays(chunks, lp.max_array_size) if chunks else []
        busy = f", {len(lp.active[task])} chunks still queued/running" if task in lp.active else ""
        lines.append(
            f"  {task:<16} runs {total:>6}  to train {todo:>6}  chunks to submit {len(chunks):>5}  "
            f"arrays {len(arrays)}{busy}"
        )
    for path in lp.damaged:
        lines.append(f"  damaged: {path}; it will be trained again")
    if lp.kind == "slurm":
        lines.append(
            f"  {len(lp.arrays())} job arrays (MaxArraySize {lp.max_array_size}), at most "
            f"{spec.array_parallelism} tasks of each running at once, {spec.timeout_min} min each"
        )
    if not lp.chunks:
        lines.append("nothing to submit: every run is finished or already queued")
    return "\n".join(lines)


def describe_without_data(study: Study, kind: str | None = None) -> str:
    """The plan's shape from the study file alone (a dry run before the datasets are prepared): runs per
    task, chunks and arrays; run keys need the prepared stores, so none are listed."""
    spec, kind = study.executor, kind or study.executor.kind
    max_size = spec.max_array_size or (
        jobs.cluster_max_array_size() if kind == "slurm" else DEFAULT_MAX_ARRAY_SIZE
    )
    rep = study.replicates
    extra = 0 if rep is None else rep.archs * len(rep.seeds)
    per_task = {
        name: study.space.n * len(study.seeds)
        + (extra if rep and (rep.tasks is None or name in rep.tasks) else 0)
        for name in study.tasks
    }
    replicates = f" + {extra} replicate runs per replicated task" if extra else ""
    lines = [
        f"study {study.name}: {sum(per_task.values())} runs ({study.space.n} architectures x "
        f"{len(study.seeds)} seed(s) x {len(study.tasks)} tasks{replicates}) in chunks of up to "
        f"{spec.runs_per_job}; executor {kind}"
    ]
    total_arrays = 0
    for name, task in study.tasks.items():
        chunks = math.ceil(per_task[name] / spec.runs_per_job)
        arrays = math.ceil(chunks / max_size)
        total_arrays += arrays
        lines.append(
            f"  {name:<16} runs {per_task[name]:>6}  epochs {task.recipe.epochs:>3}  {task.recipe.metric}  "
            f"chunks {chunks:>5}  arrays {arrays}"
        )
    lines.append(f"  {total_arrays} job arrays (MaxArraySize {max_size})")
    return "\n".join(lines)


def write_study_copy(study: Study) -> Path:
    """results_dir/study.yaml: the resolved study (absolute paths, full recipes) the workers load."""
    return fsio.write_text(
        yaml.safe_dump(study.to_dict(), sort_keys=False), Path(study.results_dir) / "study.yaml"
    )


def launch(
    study: Study,
    *,
    kind: str | None = None,
    dry_run: bool = False,
    device: str | None = None,
    out: Callable[[str], None] = print,
    planned: LaunchPlan | None = None,
    progress: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Validate, plan and submit a study's missing runs; returns the launch record (also written to disk).

    `planned`: a `plan_launch` result the caller already holds (checked data, finished keys), reused as is.
    `progress`: receives `pipeline.progress.Progress` while a local or debug launch trains.
    """
    lp = planned if planned is not None else plan_launch(study, kind=kind)
    out(describe(lp))
    record: dict[str, Any] = {
        "study": study.name,
        "executor": lp.kind,
        "dry_run": dry_run,
        "runs_to_train": len(lp.missing),
        "chunks": lp.num_chunks,
        "jobs": [],
    }
    if dry_run or not lp.chunks:
        return record
    results_dir = Path(study.results_dir)
    work = [(task, c) for task, chunks in lp.chunks.items() for c in chunks]
    started = datetime.now(timezone.utc)
    record["launched_at"] = started.isoformat(timespec="seconds")
    folder = results_dir / "submitit"
    if lp.kind == "slurm":
        spec = study.executor  # the profile and parameters are checked before anything is written
        params = executors.slurm_parameters(spec, executors.read_profile(spec.profile), job_name=study.name)
        executor = executors.make_slurm_executor(folder / "%j", spec, params)
        study_path = write_study_copy(study)
        threads = spec.threads_per_job if "threads_per_job" in spec.given else params.get("cpus_per_task")
        record["jobs"] = executors.submit_slurm(
            study_path, lp.arrays(), executor, threads=threads, device=device
        )
        out(
            f"submitted {len(lp.arrays())} job arrays ({len(work)} chunks); follow with: "
            f"python -m pipeline status --study {layout.study_argument(study)}"
        )
        jobs.write_launch_record(results_dir, record, started)
        return record
    with jobs.study_lock(results_dir, what=f"launch of study {study.name!r}"):
        study_path = write_study_copy(study)
        report = progress or Printer()
        with RunProgress(str(results_dir), lp.plan, report):
            if lp.kind == "local":
                record["jobs"] = executors.run_local(
                    study_path, work, folder / "local", study.executor, device=device
                )
            else:
                record["jobs"] = executors.run_debug(study_path, work, device=device)
        jobs.write_launch_record(results_dir, record, started)
    failed = [j for j in record["jobs"] if j.get("state") == "failed"]
    if failed:
        out(
            f"{len(failed)} chunk(s) failed; first: {failed[0]['task']} chunk {failed[0]['chunk']}: "
            f"{failed[0].get('error', '')}"
        )
    return record


def active_chunks(study: Study) -> dict[str, set[int]]:
    """Per task, chunks whose SLURM job from an earlier launch is still queued or running (per squeue)."""
    states = jobs.squeue_states()
    if not states:
        return {}
    active: dict[str, set[int]] = {}
    for (task, chunk), job in jobs.latest_jobs(study.results_dir).items():
        if job.get("job_id") and job["job_id"] in states:
            active.setdefault(task, set()).add(chunk)
    return active


def with_overrides(study: Study, **overrides: int | None) -> Study:
    """The study with command-line executor overrides applied (and counted as set by the study)."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return study
    spec = dataclasses.replace(study.executor, **changes, given=tuple({*study.executor.given, *changes}))
    return dataclasses.replace(study, executor=spec)


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline launch", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, help="override the study's executor.kind")
    parser.add_argument("--dry-run", action="store_true", help="validate and print what would be submitted")
    parser.add_argument("--runs-per-job", type=positive_int, help="runs per array task (overrides the study)")
    parser.add_argument(
        "--array-parallelism", type=positive_int, help="array tasks running at once (overrides)"
    )
    parser.add_argument("--max-array-size", type=positive_int, help="override the cluster's MaxArraySize")
    parser.add_argument("--device", help="cuda or cpu for the workers (default: cuda when available)")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    study = with_overrides(
        study,
        runs_per_job=args.runs_per_job,
        array_parallelism=args.array_parallelism,
        max_array_size=args.max_array_size,
    )
    if args.dry_run and check_data(study):
        print(describe_without_data(study, args.executor))  # then require_data names what is missing
        require_data(study)
    record = launch(study, kind=args.executor, dry_run=args.dry_run, device=args.device)
    return 1 if any(j.get("state") == "failed" for j in record["jobs"]) else 0
