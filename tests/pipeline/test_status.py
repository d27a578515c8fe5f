"""status: done / running / pending / failed per task, with the last error line of each failure."""

from __future__ import annotations

import os
import pickle
import socket

from pipeline import runs
from pipeline.status import job_error, main, study_status
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study


def _study(tmp_path):
    return load_study(make_tiny_study(tmp_path, runs_per_job=1))


def _keys(study, task):
    from pipeline.status import load_plan

    plan = load_plan(study)
    return plan[plan["task"] == task]["run_key"].tolist()


def test_each_state_is_read_from_the_files(tmp_path):
    study = _study(tmp_path)
    done, failed, running = _keys(study, "cifar")
    runs.write_table(
        __import__("pandas").DataFrame({"run_key": [done]}),
        runs.result_path(study.results_dir, "cifar", done),
    )
    runs.write_json(
        {"error": "RuntimeError: CUDA out of memory"}, runs.failure_path(study.results_dir, "cifar", failed)
    )
    runs.write_json(
        {"host": socket.gethostname(), "pid": os.getpid(), "job_id": None},
        runs.started_path(study.results_dir, "cifar", running),
    )
    table, failures = study_status(study, queue={})
    cifar = table.set_index("task").loc["cifar"]
    assert (cifar["done"], cifar["running"], cifar["pending"], cifar["failed"]) == (1, 1, 0, 1)
    power = table.set_index("task").loc["power"]
    assert (power["pending"], power["total"]) == (3, 3)
    assert failures == [
        {
            "task": "cifar",
            "run_key": failed,
            "arch_id": 1,
            "chunk": 1,
            "error": "RuntimeError: CUDA out of memory",
        }
    ]


def test_a_dead_started_marker_is_not_running(tmp_path):
    study = _study(tmp_path)
    key = _keys(study, "power")[0]
    runs.write_json(
        {"host": socket.gethostname(), "pid": 2**22 + 12345, "job_id": None},
        runs.started_path(study.results_dir, "power", key),
    )
    table, _ = study_status(study, queue={})
    assert table.set_index("task").loc["power", "running"] == 0
    runs.write_json(
        {"host": "n1", "pid": 1, "job_id": "77_0"}, runs.started_path(study.results_dir, "power", key)
    )
    table, _ = study_status(study, queue={"77_0": "RUNNING"})
    assert table.set_index("task").loc["power", "running"] == 1


def test_a_job_that_died_fails_its_chunk_with_its_last_error_line(tmp_path):
    study = _study(tmp_path)
    pkl = tmp_path / "77_1_result.pkl"
    with open(pkl, "wb") as handle:
        pickle.dump(("error", "Traceback (most recent call last):\n  ...\nMemoryError: killed\n"), handle)
    record = {
        "jobs": [{"task": "power", "chunk": 1, "job_id": "77_1", "result_pickle": str(pkl), "stderr": None}]
    }
    runs.write_json(record, study.results_dir / "launches" / "20260101T000000.json")
    _, failures = study_status(study, queue={})
    assert [(f["task"], f["chunk"], f["error"]) for f in failures] == [("power", 1, "MemoryError: killed")]
    _, failures = study_status(study, queue={"77_1": "PENDING"})  # still queued: not failed
    assert failures == []


def test_job_error_reads_pickles_safely_and_falls_back_to_stderr(tmp_path):
    ok = tmp_path / "ok.pkl"
    with open(ok, "wb") as handle:
        pickle.dump(("success", {"trained": ["a"]}), handle)
    assert job_error(str(ok), None) is None
    evil = tmp_path / "evil.pkl"
    with open(evil, "wb") as handle:
        pickle.dump(("error", os.getcwd), handle)  # holds a function: refused, not called
    err = tmp_path / "job.err"
    err.write_text("srun: error: node1: task 0: Killed\n\n")
    assert job_error(str(evil), str(err)) == "srun: error: node1: task 0: Killed"
    assert job_error(None, str(tmp_path / "absent.err")) is None


def test_cli_prints_a_table_and_fails_on_failures(tmp_path, capsys):
    study = _study(tmp_path)
    assert main(["--study", str(study.source)]) == 0
    out = capsys.readouterr().out
    assert "cifar" in out and out.splitlines()[-1].split() == ["all", "0", "0", "6", "0", "6"]
    key = _keys(study, "power")[2]
    runs.write_json({"error": "ValueError: bad"}, runs.failure_path(study.results_dir, "power", key))
    assert main(["--study", str(study.source)]) == 1
    assert "ValueError: bad" in capsys.readouterr().out
