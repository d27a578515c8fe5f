"""collect: exactly the current plan's complete result files; an edited study, a damaged file, kept weights.

Most tests write result rows instead of training (`_fake_result`); one trains for real on the debug executor.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline import layout
from pipeline.__main__ import main as pipeline_main
from pipeline.clean import clean
from pipeline.collect import collect, main
from pipeline.launch import current_plan, launch
from pipeline.layout import RESULT_COLUMNS, result_schema
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study, write_random_store


def _fake_result(study, task, key, arch_id, error=10.0):
    row = dict.fromkeys(RESULT_COLUMNS)
    row.update(run_key=key, task=task, arch_id=arch_id, seed=0, error=error, status="ok", epochs=1)
    layout.write_result(study.results_dir, task, row, [])


def _fake_all(study, errors=None):
    plan = current_plan(study)
    for i, r in enumerate(plan.itertuples()):
        _fake_result(study, r.task, r.run_key, r.arch_id, error=10.0 if errors is None else errors(i))
    return plan


def test_collect_gathers_trained_runs_and_ignores_half_written_files(tmp_path, capsys):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    launch(study, out=lambda line: None, progress=lambda p: None)
    folder = study.results_dir / "runs" / "cifar"
    (folder / ".deadbeef0000.parquet.tmp-4242").write_bytes(b"PAR1\x00\x00 killed mid-write")
    (folder / "deadbeef0000.history.parquet").write_bytes(b"not parquet either")
    path = collect(study).path
    assert path == study.results_dir / "runs.parquet"
    on_disk = pd.read_parquet(path)
    assert len(on_disk) == 6 and tuple(on_disk.columns) == RESULT_COLUMNS
    assert on_disk["task"].tolist() == ["cifar"] * 3 + ["power"] * 3
    assert on_disk["arch_id"].tolist() == [0, 1, 2, 0, 1, 2]
    assert set(on_disk["status"]) == {"ok"}
    history = pd.read_parquet(study.results_dir / "history.parquet")
    assert len(history) == 6 and set(history["task"]) == {"cifar", "power"}
    assert not [p for p in study.results_dir.iterdir() if p.name.startswith(".tmp")]  # no temp left
    assert main(["--study", str(study.source)]) == 0
    assert "6 runs (6 ok)" in capsys.readouterr().out


def test_collect_of_an_empty_study_writes_a_typed_empty_table(tmp_path):
    study = load_study(make_tiny_study(tmp_path))
    result = collect(study)
    assert result.table.empty and pq.read_schema(result.path) == result_schema()
    assert result.missing == {"cifar": 3, "power": 3}


def test_collect_holds_exactly_the_current_plan_after_the_study_is_edited(tmp_path):
    """Results of an earlier version of the study (here: other epochs) stay on disk, are named once,
    and are never mixed in; `clean` removes them."""
    path = make_tiny_study(tmp_path)
    _fake_all(load_study(path))
    edited = yaml.safe_load(path.read_text())
    edited["tasks"]["cifar"]["recipe"]["epochs"] = 2
    path.write_text(yaml.safe_dump(edited))
    study = load_study(path)
    plan = current_plan(study)
    lines = []
    result = collect(study, out=lines.append)
    assert len(result.table) == 3 and set(result.table["task"]) == {"power"}  # cifar's keys all changed
    assert set(result.table["run_key"]) == set(plan[plan["task"] == "power"]["run_key"])
    assert result.stale == {"cifar": 3} and result.missing["cifar"] == 3
    assert any(
        "3 result(s) from an earlier version of this study are not used" in line and "clean" in line
        for line in lines
    )
    removed = clean(study, out=lambda line: None)
    assert len(removed) == 6  # 3 results + 3 histories of the old cifar keys
    assert collect(study, out=lambda line: None).stale == {}
    assert len(layout.finished_keys(study.results_dir, "power")) == 3  # the current plan's are kept


def test_a_damaged_result_is_reported_and_left_out(tmp_path):
    study = load_study(make_tiny_study(tmp_path))
    plan = _fake_all(study)
    victim = layout.result_path(study.results_dir, "cifar", plan["run_key"].iloc[0])
    victim.write_bytes(b"PAR1" + b"\0" * 40 + b"PAR1")  # passes the cheap check, fails to parse
    lines = []
    result = collect(study, out=lines.append)
    assert len(result.table) == 5 and [p for p, _ in result.damaged] == [victim]
    assert any(line.startswith(f"damaged: {victim}") for line in lines)


def test_keep_weights_best_k_keeps_each_tasks_best(tmp_path):
    study = dataclasses.replace(load_study(make_tiny_study(tmp_path)), keep_weights="best-1")
    plan = _fake_all(study, errors=lambda i: 50.0 - i)
    for r in plan.itertuples():
        weights = layout.weights_path(study.results_dir, r.task, r.run_key)
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.write_bytes(b"w")
    table = collect(study, out=lambda line: None).table
    kept = sorted(p.parent.name for p in (study.results_dir / "weights").rglob("*.safetensors"))
    assert kept == ["cifar", "power"]
    for task, group in table.groupby("task"):
        best = group.sort_values("error")["run_key"].iloc[0]
        assert layout.weights_path(study.results_dir, task, best).exists()


def test_collect_on_a_full_disk_is_one_error_and_keeps_what_was_there(tmp_path, capsys):
    """On a real, full tmpfs (root only; skipped otherwise): collect exits 1 with one line, leaves no
    temporary file, and the results it read are untouched."""
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if ok.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {ok.stderr.decode().strip()}")
    try:
        path = make_tiny_study(mount, data=False)
        for i, (_, dataset, classes) in enumerate([("cifar", "cifar10", 10), ("power", "powerline", 2)]):
            write_random_store(tmp_path / "data" / dataset, dataset, classes, seed=i)
        raw = yaml.safe_load(path.read_text())
        raw["data_root"] = str(tmp_path / "data")
        path.write_text(yaml.safe_dump(raw))
        study = load_study(path)
        _fake_all(study)
        before = {p: p.read_bytes() for p in (mount / "results").rglob("*") if p.is_file()}
        filler = mount / "filler"
        with open(filler, "wb") as handle:  # fill the disk to the last byte
            try:
                while True:
                    handle.write(b"\0" * 65536)
                    handle.flush()
            except OSError:
                pass
        assert pipeline_main(["collect", "--study", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: No space left on device") and err.count("\n") == 1, err
        after = {p: p.read_bytes() for p in (mount / "results").rglob("*") if p.is_file()}
        assert after == before  # nothing half-written, no temp file left, nothing lost
    finally:
        subprocess.run(["umount", str(mount)], check=False)
