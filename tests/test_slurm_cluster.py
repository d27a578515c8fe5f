"""The one-node SLURM cluster of slurm/start-cluster.sh, exercised for real: sbatch job arrays, the
plain-sbatch template, submitit's SlurmExecutor/AutoExecutor `map_array` with the test profile, and the
requeue paths (`scontrol requeue`; USR2 → submitit Checkpointable → `scontrol requeue` → the same job id
runs again).

Skipped without a cluster (see the `slurm_cluster` fixture). Each test takes seconds to ~25 s; a requeued job
waits the cluster's `AuthInfo=cred_expire` (10 s) before it may start again.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import submitit
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "slurm" / "array.sbatch"
PROFILES = sorted((REPO / "slurm" / "profiles").glob("*.yaml"))


def run(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), capture_output=True, text=True, timeout=60, cwd=cwd)
    if check and done.returncode:
        raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            queue = run("squeue", check=False).stdout
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}; squeue:\n{queue}")
        time.sleep(0.2)


def gone_from_queue(job_id: str) -> Callable[[], bool]:
    """True once squeue no longer lists the job (or any task of the array)."""
    return lambda: not run("squeue", "-h", "-j", job_id, "-o", "%i", check=False).stdout.strip()


def job_fields(job_id: str) -> dict[str, str]:
    """`scontrol show job -o` of one job (or array task) as a dict (kept for MinJobAge after the end)."""
    text = run("scontrol", "show", "job", "-o", job_id).stdout.splitlines()[0]
    return dict(item.split("=", 1) for item in text.split() if "=" in item)


def line_count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def cancel_at_end():
    """Register job ids to `scancel` when the test ends, so that a failed test leaves no job behind."""
    job_ids: list[str] = []
    yield job_ids.append
    if job_ids:
        run("scancel", *job_ids, check=False)


class Counter(submitit.helpers.Checkpointable):
    """Counts to `steps`, one line per step in `log`; requeued with its count by submitit's checkpoint."""

    def __init__(self, log: str, steps: int, step_s: float = 0.25) -> None:
        self.log, self.steps, self.step_s, self.done = log, steps, step_s, 0

    def _write(self, text: str) -> None:
        with open(self.log, "a") as out:
            out.write(text + "\n")

    def __call__(self) -> int:
        job, restart = submitit.JobEnvironment().job_id, os.environ.get("SLURM_RESTART_COUNT", "0")
        while self.done < self.steps:
            time.sleep(self.step_s)
            self.done += 1
            self._write(f"step {job} {restart} {self.done}")
        return self.done

    def checkpoint(self, *args, **kwargs) -> submitit.helpers.DelayedSubmission:
        self._write(f"checkpoint {self.done}")
        return super().checkpoint(*args, **kwargs)


# ---------------------------------------------------------------------------------------------- sbatch
def test_max_array_size_is_the_array_index_limit(slurm_cluster):
    limit = slurm_cluster.max_array_size
    assert isinstance(limit, int) and limit > 1
    # --test-only asks the controller without submitting: indices 0..limit-1 fit, index `limit` does not.
    fits = run("sbatch", "--test-only", f"--array=0-{limit - 1}", "--wrap", "true", check=False)
    assert fits.returncode == 0, fits.stderr
    too_big = run("sbatch", "--test-only", f"--array=0-{limit}", "--wrap", "true", check=False)
    assert too_big.returncode != 0
    assert "array" in too_big.stderr.lower()


def test_sbatch_array_runs_every_task(slurm_cluster, tmp_path, cancel_at_end):
    job = run(
        "sbatch", "--parsable", "--array=0-9", f"--partition={slurm_cluster.partition}", "--time=2",
        f"--output={tmp_path}/%A_%a.out", "--wrap", 'echo "task $SLURM_ARRAY_TASK_ID on $(hostname)"',
    ).stdout.strip()  # fmt: skip
    cancel_at_end(job)
    wait_for(gone_from_queue(job), 90, f"array job {job}")
    for index in range(10):
        assert (tmp_path / f"{job}_{index}.out").read_text().startswith(f"task {index} on ")
        assert job_fields(f"{job}_{index}")["JobState"] == "COMPLETED"


def test_scontrol_requeue_runs_the_job_again(slurm_cluster, tmp_path, cancel_at_end):
    log = tmp_path / "restarts.txt"
    restarts = "${SLURM_RESTART_COUNT:-0}"
    script = f'echo "{restarts}" >> {log}; if [ "{restarts}" = 0 ]; then sleep 60; fi'
    job = run("sbatch", "--parsable", "--requeue", "--time=2", "--wrap", script).stdout.strip()
    cancel_at_end(job)
    wait_for(lambda: line_count(log) == 1, 30, "the first run")
    run("scontrol", "requeue", job)
    wait_for(gone_from_queue(job), 90, f"requeued job {job}")
    assert log.read_text().split() == ["0", "1"]
    fields = job_fields(job)
    assert (fields["JobState"], fields["Restarts"]) == ("COMPLETED", "1")


def test_array_template_runs_chunks_and_requeues_on_usr2(slurm_cluster, tmp_path, cancel_at_end):
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "python"  # stands in for the interpreter: records its arguments
    stub.write_text(
        "#!/bin/bash\n"
        f'echo "$SLURM_ARRAY_TASK_ID ${{SLURM_RESTART_COUNT:-0}} $*" >> {calls}\n'
        'if [ "$SLURM_ARRAY_TASK_ID" = 1 ] && [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 60; fi\n'
    )
    stub.chmod(0o755)
    env = f"ALL,STUDY=results/demo/study.yaml,TASK=shapes,CHUNK_OFFSET=10,PYTHON={stub}"
    job = run(
        "sbatch", "--parsable", "--array=0-1", f"--export={env}", "--gres=none", "--cpus-per-task=1",
        "--mem=200M", "--time=5", str(TEMPLATE), cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    cancel_at_end(job)
    wait_for(lambda: line_count(calls) == 2, 60, "both array tasks to start")
    # What SLURM does 120 s before the time limit (--signal=B:USR2@120), by hand, to array task 1 only.
    run("scancel", "--batch", "--signal=USR2", f"{job}_1")
    wait_for(gone_from_queue(job), 90, f"array job {job}")
    worker = "-m pipeline.worker --study results/demo/study.yaml --task shapes --chunk"
    expected = [f"0 0 {worker} 10", f"1 0 {worker} 11", f"1 1 {worker} 11"]
    assert sorted(calls.read_text().splitlines()) == expected
    assert "requeuing" in (tmp_path / f"slurm-archcorr-{job}_1.err").read_text()
    assert "restart=1" in (tmp_path / f"slurm-archcorr-{job}_1.out").read_text()
    assert (tmp_path / f"slurm-archcorr-{job}_0.out").is_file()
    assert [job_fields(f"{job}_{i}")["Restarts"] for i in (0, 1)] == ["0", "1"]


# ---------------------------------------------------------------------------------------------- submitit
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_profiles_are_slurm_executor_parameters(slurm_cluster, profile, tmp_path):
    params = yaml.safe_load(profile.read_text())
    executor = submitit.SlurmExecutor(folder=tmp_path)
    executor.update_parameters(**params)  # raises, listing the valid names, on an unknown key


def test_map_array_with_the_local_profile_returns_results(slurm_cluster, tmp_path, cancel_at_end):
    params = yaml.safe_load((REPO / "slurm" / "profiles" / "local-test.yaml").read_text())
    assert params["partition"] == slurm_cluster.partition
    executor = submitit.SlurmExecutor(folder=tmp_path / "%j")
    executor.update_parameters(**params, time=2)
    jobs = executor.map_array(abs, range(-3, 3))
    cancel_at_end(jobs[0].job_id.split("_")[0])
    # Without an accounting daemon sacct fails: submitit logs "Bypassing sacct error" and the result
    # files alone say when a job is done.
    wait_for(lambda: all(job.done() for job in jobs), 90, "the map_array jobs")
    assert [job.result() for job in jobs] == [3, 2, 1, 0, 1, 2]
    assert len({job.job_id.split("_")[0] for job in jobs}) == 1  # one array


def test_usr2_requeues_a_checkpointable_array_task(slurm_cluster, tmp_path, cancel_at_end):
    executor = submitit.AutoExecutor(folder=tmp_path / "jobs", cluster="slurm")
    executor.update_parameters(
        timeout_min=5,
        slurm_partition=slurm_cluster.partition,
        slurm_additional_parameters={"chdir": str(REPO)},  # the job unpickles Counter from tests/
    )
    logs = [tmp_path / f"counter{i}.txt" for i in range(2)]
    with executor.batch():  # one job array of two Counter instances
        jobs = [executor.submit(Counter(str(log), 16)) for log in logs]
    cancel_at_end(jobs[0].job_id.split("_")[0])
    wait_for(lambda: line_count(logs[1]) >= 3, 60, "array task 1 to count")
    # What SLURM sends before the time limit; submitit checkpoints and requeues this task only.
    run("scancel", "--signal=USR2", jobs[1].job_id)
    wait_for(lambda: all(job.done() for job in jobs), 90, "both array tasks")
    assert [job.result() for job in jobs] == [16, 16]

    assert "checkpoint" not in logs[0].read_text()
    lines = logs[1].read_text().splitlines()
    checkpoints = [int(line.split()[1]) for line in lines if line.startswith("checkpoint")]
    assert len(checkpoints) == 1
    steps = [line.split()[1:] for line in lines if line.startswith("step")]
    assert {job_id for job_id, _, _ in steps} == {jobs[1].job_id}  # the same job id ran both times
    again = [int(done) for _, restart, done in steps if restart == "1"]
    assert again == list(range(checkpoints[0] + 1, 17))  # resumed from the checkpointed count
    assert job_fields(jobs[1].job_id)["Restarts"] == "1"
