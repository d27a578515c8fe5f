"""status: done / running / pending (requeued) / failed / relaunch per task, read from files and an injected
queue; the plan is always the current one (an edited study is never judged by an old plan file)."""

from __future__ import annotations

import os
import pickle
import socket

import pandas as pd
import yaml

from pipeline import fsio, jobs, layout
from pipeline.launch import current_plan
from pipeline.status import format_status, main, study_status
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study


def _study(tmp_path):
    return load_study(make_tiny_study(tmp_path, runs_per_job=1))


def _keys(study, task):
    plan = current_plan(study)
    return plan[plan["task"] == task]["run_key"].tolist()


def _claim(study, task, key, *, pid=None, job_id=None, host=None):
    owner = {
        "host": host or socket.gethostname(),
        "pid": pid or os.getpid(),
        "job_id": job_id,
        "since": jobs.now(),
    }
    fsio.write_json(owner, layout.claim_path(study.results_dir, task, key))


def _result(study, task, key):
    fsio.write_table(pd.DataFrame({"run_key": [key]}), layout.result_path(study.results_dir, task, key))


def _record(study, jobs_):
    from datetime import datetime, timezone

    jobs.write_launch_record(study.results_dir, {"jobs": jobs_}, datetime.now(timezone.utc))


def test_each_state_is_read_from_the_files(tmp_path):
    study = _study(tmp_path)
    done, failed, running = _keys(study, "cifar")
    _result(study, "cifar", done)
    fsio.write_json(
        {"error": "RuntimeError: CUDA out of memory"}, layout.failure_path(study.results_dir, "cifar", failed)
    )
    _claim(study, "cifar", running)
    table, failures, damaged = study_status(study, queue={})
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
    assert damaged == []


def test_a_dead_claim_is_not_running(tmp_path):
    study = _study(tmp_path)
    key = _keys(study, "power")[0]
    _claim(study, "power", key, pid=2**22 + 12345)
    table, _, _ = study_status(study, queue={})
    assert table.set_index("task").loc["power", "running"] == 0


def test_status_uses_the_current_plan_not_an_old_file(tmp_path):
    path = make_tiny_study(tmp_path, runs_per_job=1)
    study = load_study(path)
    for task in study.tasks:
        for key in _keys(study, task):
            _result(study, task, key)
    pd.DataFrame({"run_key": ["x"], "task": ["cifar"]}).to_parquet(study.results_dir / "plan.parquet")
    raw = yaml.safe_load(path.read_text())
    raw["tasks"]["cifar"]["recipe"]["epochs"] = 3  # new keys for cifar
    path.write_text(yaml.safe_dump(raw))
    table, _, _ = study_status(load_study(path), queue={})
    assert table.set_index("task")["done"].to_dict() == {"cifar": 0, "power": 3}


def test_a_damaged_result_is_named_and_counted_pending(tmp_path):
    study = _study(tmp_path)
    key = _keys(study, "cifar")[0]
    layout.result_path(study.results_dir, "cifar", key).parent.mkdir(parents=True, exist_ok=True)
    layout.result_path(study.results_dir, "cifar", key).write_bytes(b"")
    table, _, damaged = study_status(study, queue={})
    assert table.set_index("task").loc["cifar", "done"] == 0
    assert damaged == [layout.result_path(study.results_dir, "cifar", key)]
    assert "it will be trained again" in format_status(table, [], damaged)


def test_queue_states_running_requeued_and_relaunch(tmp_path):
    """A claim whose job is RUNNING is running; a started run whose job is back to PENDING is pending
    (requeued); a job gone from the queue that never ran the chunk is a relaunch, not pending forever."""
    study = _study(tmp_path)
    first, second, _ = _keys(study, "cifar")
    _claim(study, "cifar", first, pid=11, job_id="7_0", host="node-a")  # another node's: judged by the queue
    _claim(study, "cifar", second, pid=12, job_id="7_1", host="node-a")
    _record(study, [{"task": "cifar", "chunk": i, "job_id": f"7_{i}"} for i in range(3)])
    queue = {"7_0": "RUNNING", "7_1": "PENDING"}  # 7_2 was cancelled before it started
    cifar = study_status(study, queue=queue)[0].set_index("task").loc["cifar"]
    assert (
        cifar["running"] == 1 and cifar["pending"] == 1 and cifar["requeued"] == 1 and cifar["relaunch"] == 1
    )


def test_a_job_error_is_the_failure_and_a_killed_job_says_so(tmp_path):
    study = _study(tmp_path)
    outcome = tmp_path / "0_result.pkl"
    outcome.write_bytes(pickle.dumps(("error", "Traceback ...\nValueError: bad shape")))
    killed = tmp_path / "1.err"
    killed.write_text("epoch 1\nslurmstepd: error: Detected 1 oom-kill event(s) in StepId=7.batch.\n")
    _record(study, [
        {"task": "power", "chunk": 0, "job_id": "9_0", "result_pickle": str(outcome)},
        {"task": "power", "chunk": 1, "job_id": "9_1", "stderr": str(killed)},
    ])  # fmt: skip
    _, failures, _ = study_status(study, queue={})
    errors = {f["chunk"]: f["error"] for f in failures}
    assert errors[0] == "ValueError: bad shape"
    assert errors[1].startswith("killed (out of memory (OOM killer))")


def test_job_error_refuses_objects_in_an_outcome_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "r.pkl"
    path.write_bytes(pickle.dumps(("error", Evil())))
    assert jobs.job_error(str(path), None) is None  # refused, never run


def test_cli_prints_the_table_and_exits_1_on_failures(tmp_path, capsys):
    study = _study(tmp_path)
    key = _keys(study, "cifar")[0]
    fsio.write_json({"error": "ValueError: x"}, layout.failure_path(study.results_dir, "cifar", key))
    assert main(["--study", str(study.source)]) == 1
    out = capsys.readouterr().out
    assert "failed: cifar arch 0" in out and "relaunch" in out and f"--study {study.source}" in out
