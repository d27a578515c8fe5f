"""launch: validation before submission, dry run, idempotent re-launch, debug and local executors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest
import yaml

from pipeline import jobs, layout
from pipeline.__main__ import main as pipeline_main
from pipeline.executors import local_concurrency
from pipeline.launch import launch, plan_launch
from pipeline.study import ExecutorSpec, load_study
from tests.pipeline.fanout_support import make_tiny_study


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny study (3 archs x 2 tasks, 1 epoch) trained once on the debug executor."""
    root = tmp_path_factory.mktemp("trained")
    study = load_study(make_tiny_study(root))
    record = launch(study, out=lambda line: None, progress=lambda p: None)
    return study, record


def test_debug_launch_trains_every_run(trained):
    study, record = trained
    assert [j["state"] for j in record["jobs"]] == ["done"] * 4  # 2 tasks x 2 chunks of <= 2 runs
    assert sum(len(layout.finished_keys(study.results_dir, t)) for t in study.tasks) == 6
    copy = yaml.safe_load((study.results_dir / "study.yaml").read_text())
    assert copy["tasks"]["cifar"]["recipe"]["epochs"] == 1 and copy["results_dir"].startswith("/")
    assert len(jobs.launch_records(study.results_dir)) == 1


def test_relaunching_a_finished_study_submits_nothing(trained, capsys):
    study, _ = trained
    record = launch(study)
    assert record["jobs"] == [] and record["chunks"] == 0
    assert "nothing to submit" in capsys.readouterr().out
    assert len(jobs.launch_records(study.results_dir)) == 1  # no new launch record
    assert pipeline_main(["launch", "--study", str(study.source)]) == 0


def test_only_missing_runs_are_resubmitted(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=1))
    launch(study, out=lambda line: None, progress=lambda p: None)
    key = sorted(layout.finished_keys(study.results_dir, "power"))[0]
    layout.result_path(study.results_dir, "power", key).unlink()
    lp = plan_launch(study)
    assert lp.chunks == {"power": lp.missing["chunk"].tolist()} and len(lp.missing) == 1
    record = launch(study, out=lambda line: None, progress=lambda p: None)
    assert [(j["task"], j["state"]) for j in record["jobs"]] == [("power", "done")]
    assert key in layout.finished_keys(study.results_dir, "power")


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    assert pipeline_main(["launch", "--study", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "6 runs in 4 chunks" in out and "cifar" in out and "power" in out
    results = tmp_path / "results" / "tiny"
    assert sorted(p.name for p in results.iterdir()) == ["architectures.parquet"]


def test_slurm_dry_run_cuts_arrays_under_max_array_size(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=1))
    study = dataclasses.replace(study, executor=ExecutorSpec(kind="slurm", runs_per_job=1, max_array_size=2))
    lp = plan_launch(study)
    assert lp.arrays() == [("cifar", [0, 1]), ("cifar", [2]), ("power", [0, 1]), ("power", [2])]


def _break(path, edit):
    raw = yaml.safe_load(path.read_text())
    edit(raw)
    path.write_text(yaml.safe_dump(raw))


BAD_INPUTS = {
    "unknown dataset": (lambda raw: raw["tasks"]["power"].update(dataset="powerlines"), "powerlines"),
    "missing study key": (lambda raw: raw.pop("reference"), "missing key 'reference'"),
    "recipe of the wrong type": (
        lambda raw: raw["tasks"]["cifar"]["recipe"].update(epochs="ten"),
        "tasks.cifar.recipe.epochs: must be an integer, got 'ten'",
    ),
    "recipe value out of range": (
        lambda raw: raw["recipe"].update(batch_size=0),
        "recipe.batch_size: must be >= 1, got 0",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_refused_before_any_submission(tmp_path, capsys, case):
    edit, message = BAD_INPUTS[case]
    path = make_tiny_study(tmp_path)
    _break(path, edit)
    assert pipeline_main(["launch", "--study", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert sorted(p.name for p in (tmp_path / "results" / "tiny").iterdir()) == ["architectures.parquet"]


def test_unprepared_dataset_is_refused_with_its_prepare_command(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    for item in (tmp_path / "data" / "powerline").iterdir():
        item.unlink()
    assert pipeline_main(["launch", "--study", str(path), "--executor", "local"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'powerline' (task power) is not prepared" in err
    assert "python -m pipeline prepare powerline --source DIR" in err
    assert sorted(p.name for p in (tmp_path / "results" / "tiny").iterdir()) == ["architectures.parquet"]


def test_missing_architectures_name_the_sample_command(tmp_path, capsys):
    path = make_tiny_study(tmp_path, archs=False)
    assert pipeline_main(["launch", "--study", str(path)]) == 2
    assert f"python -m pipeline sample --study {path}" in capsys.readouterr().err  # works as printed


def test_local_concurrency_follows_threads_per_job_and_cores():
    spec = ExecutorSpec(array_parallelism=64)
    assert local_concurrency(spec, 10, cores=2) == 2  # one thread a job: one job per core
    assert local_concurrency(spec, 10, cores=16) == 10  # never more than the jobs
    assert local_concurrency(dataclasses.replace(spec, threads_per_job=4), 10, cores=16) == 4
    assert local_concurrency(dataclasses.replace(spec, array_parallelism=3), 10, cores=16) == 3
    assert local_concurrency(dataclasses.replace(spec, local_jobs=5), 10, cores=2) == 5
    assert local_concurrency(spec, 10, cores=16, gpus=2) == 2  # one job per GPU


def test_local_executor_runs_chunks_in_subprocesses(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    seen = []
    record = launch(study, kind="local", out=lambda line: None, progress=seen.append)
    assert sorted((j["task"], j["state"]) for j in record["jobs"]) == [("cifar", "done"), ("power", "done")]
    assert seen[-1].done == seen[-1].total == 6  # the runs/ETA progress of a local launch
    assert all(j["job_id"] for j in record["jobs"])
    assert sum(len(layout.finished_keys(study.results_dir, t)) for t in study.tasks) == 6
    saved = json.loads(sorted((study.results_dir / "launches").glob("*.json"))[0].read_text())
    assert saved["executor"] == "local" and len(saved["jobs"]) == 2


def test_a_damaged_result_is_trained_again(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    launch(study, out=lambda line: None, progress=lambda p: None)
    key = sorted(layout.finished_keys(study.results_dir, "power"))[0]
    layout.result_path(study.results_dir, "power", key).write_bytes(b"")  # zero bytes: not finished
    lp = plan_launch(study)
    assert len(lp.missing) == 1 and lp.damaged == [layout.result_path(study.results_dir, "power", key)]
    lines = []
    launch(study, out=lines.append, progress=lambda p: None)
    assert any("damaged:" in line and "trained again" in line for line in lines)
    assert key in layout.finished_keys(study.results_dir, "power")


def test_a_second_local_launch_of_a_running_study_is_refused(tmp_path, capsys):
    import os
    import socket

    path = make_tiny_study(tmp_path)
    lock = tmp_path / "results" / "tiny" / ".lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(
            json.dumps(
                {
                    "host": socket.gethostname(),
                    "pid": holder.pid,
                    "job_id": None,
                    "since": "2026-01-01T00:00:00+00:00",
                }
            )
        )
        assert pipeline_main(["launch", "--study", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"already being run by pid {holder.pid}" in err and err.count("\n") == 1
        assert not any((tmp_path / "results" / "tiny" / "runs").glob("*/*.parquet"))
    finally:
        holder.kill()
        holder.wait()
    assert pipeline_main(["launch", "--study", str(path)]) == 0  # a dead holder's lock is taken over
    assert not lock.exists() and os.path.exists(tmp_path / "results" / "tiny" / "runs")


def _kill_myself() -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def test_a_job_killed_by_a_signal_is_reported_as_killed(tmp_path):
    """A real local job killed by SIGKILL (what the OOM killer sends) is reported as killed, not as the
    last line of submitit's log."""
    import submitit

    from pipeline.executors import _error_line

    executor = submitit.LocalExecutor(folder=tmp_path / "logs")
    executor.update_parameters(timeout_min=1)
    job = executor.submit(_kill_myself)
    job.wait()
    line = _error_line(job.exception())
    assert line.startswith("killed:") and "out-of-memory" in line
