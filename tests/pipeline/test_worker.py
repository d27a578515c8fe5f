"""The chunk worker: skips finished keys, records failed runs, resubmits itself on checkpoint, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import submitit

from pipeline import jobs, layout
from pipeline.errors import RunError
from pipeline.study import load_study
from pipeline.worker import Worker, chunk_runs
from tests.pipeline.fanout_support import make_tiny_study


@pytest.fixture
def study_path(tmp_path):
    return make_tiny_study(tmp_path, runs_per_job=2)


def test_worker_trains_its_chunk_and_skips_finished_keys(study_path):
    first = Worker(study_path, "cifar", 0)()
    assert len(first["trained"]) == 2 and first["skipped"] == []
    again = Worker(study_path, "cifar", 0)()
    assert again["trained"] == [] and sorted(again["skipped"]) == sorted(first["trained"])
    study = load_study(study_path)
    assert layout.finished_keys(study.results_dir, "cifar") == set(first["trained"])


def test_checkpoint_resubmits_the_same_worker(study_path):
    worker = Worker(study_path, "power", 1, threads=1)
    assert isinstance(worker, submitit.helpers.Checkpointable)
    delayed = worker.checkpoint()
    assert isinstance(delayed, submitit.helpers.DelayedSubmission)
    again = delayed.function
    assert (again.study_path, again.task, again.chunk, again.threads) == (str(study_path), "power", 1, 1)


def test_a_failing_run_is_recorded_and_the_chunk_goes_on(study_path, monkeypatch):
    import pipeline.train

    study = load_study(study_path)
    items = chunk_runs(study, "cifar", 0)
    bad = items[0]["run_key"]
    real = pipeline.train.train_run

    def flaky(arch, task, store, *, run_key, **kwargs):
        if run_key == bad:
            raise ValueError("boom: out of memory")
        return real(arch, task, store, run_key=run_key, **kwargs)

    monkeypatch.setattr(pipeline.train, "train_run", flaky)
    with pytest.raises(RunError, match="1 of 2 runs of task 'cifar' chunk 0 failed"):
        Worker(study_path, "cifar", 0)()
    record = json.loads(layout.failure_path(study.results_dir, "cifar", bad).read_text())
    assert record["error"] == "ValueError: boom: out of memory" and "Traceback" in record["traceback"]
    assert layout.finished_keys(study.results_dir, "cifar") == {items[1]["run_key"]}
    assert not layout.claim_path(study.results_dir, "cifar", bad).exists()  # released


def test_cli_trains_a_chunk_and_refuses_a_bad_one(study_path):
    cmd = [sys.executable, "-m", "pipeline.worker", "--study", str(study_path), "--task", "power"]
    out = subprocess.run([*cmd, "--chunk", "1", "--threads", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "task power chunk 1: trained 1, already done 0, held by another worker 0" in out.stdout
    bad = subprocess.run([*cmd, "--chunk", "7"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: task 'power' has chunks 0..1, not 7"


def test_a_run_claimed_by_a_live_worker_is_skipped_and_a_dead_claim_is_taken_over(study_path):
    study = load_study(study_path)
    first, second = (item["run_key"] for item in chunk_runs(study, "cifar", 0))
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    try:
        for key, pid in ((first, live.pid), (second, int(dead.stdout))):
            path = layout.claim_path(study.results_dir, "cifar", key)
            path.parent.mkdir(parents=True, exist_ok=True)
            owner = {"host": jobs.socket.gethostname(), "pid": pid, "job_id": None, "since": "2026-01-01"}
            path.write_text(json.dumps(owner))
        summary = Worker(study_path, "cifar", 0)()
        assert summary["busy"] == [first] and summary["trained"] == [second]
        assert layout.claim_path(study.results_dir, "cifar", first).exists()  # the live one is untouched
        assert not layout.claim_path(study.results_dir, "cifar", second).exists()  # taken over, released
    finally:
        live.kill()
        live.wait()


def test_submitit_giving_up_stops_the_chunk_at_once(study_path, monkeypatch):
    """When submitit will not requeue, its UncompletedJobError must end the job, not count as a run failure
    after which the next run of the chunk starts."""
    from submitit.core.utils import UncompletedJobError

    import pipeline.train

    calls = []

    def timed_out(arch, task, data, *, run_key, **kwargs):
        calls.append(run_key)
        raise UncompletedJobError("Job not requeued because: timed-out too many times.")

    monkeypatch.setattr(pipeline.train, "train_run", timed_out)
    with pytest.raises(UncompletedJobError):
        Worker(study_path, "cifar", 0)()
    study = load_study(study_path)
    assert len(calls) == 1
    assert not layout.failure_path(study.results_dir, "cifar", calls[0]).exists()
    assert not layout.claim_path(study.results_dir, "cifar", calls[0]).exists()
