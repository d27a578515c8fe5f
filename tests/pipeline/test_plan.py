"""Run keys, the plan, chunks and arrays, result-file listing."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pandas as pd

from pipeline import runs
from pipeline.study import load_study
from tests.pipeline.fanout_support import TINY_ARCHS, make_tiny_study

IDENTITY = runs.TaskIdentity("cifar10", "null", "abcd", 10)
ARCH = {**TINY_ARCHS[0], "strides": [1, 2, 2, 2], "se_ratio": 0.0, "stem_width": 8}


def _task(tmp_path):
    return load_study(make_tiny_study(tmp_path, data=False, archs=False)).tasks["cifar"]


def test_key_is_stable_across_processes(tmp_path):
    task = _task(tmp_path)
    key = runs.run_key(ARCH, task, IDENTITY, 0)
    code = (
        "from pipeline import runs; from pipeline.study import load_study;"
        f"t = load_study({str(tmp_path / 'tiny.yaml')!r}).tasks['cifar'];"
        f"print(runs.run_key({ARCH!r}, t, runs.{IDENTITY!r}, 0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == key and len(key) == runs.KEY_LENGTH


def test_key_changes_with_what_defines_a_run(tmp_path):
    task = _task(tmp_path)
    key = runs.run_key(ARCH, task, IDENTITY, 0)
    other_recipe = dataclasses.replace(task, recipe=dataclasses.replace(task.recipe, lr=0.1))
    variants = [
        runs.run_key(ARCH, task, IDENTITY, 1),
        runs.run_key({**ARCH, "widths": [8, 8, 16, 24]}, task, IDENTITY, 0),
        runs.run_key(ARCH, task, dataclasses.replace(IDENTITY, fingerprint="ef01"), 0),
        runs.run_key(ARCH, task, dataclasses.replace(IDENTITY, variant_json='{"max_per_class": 10}'), 0),
        runs.run_key(ARCH, other_recipe, IDENTITY, 0),
    ]
    assert key not in variants and len(set(variants)) == len(variants)
    # execution details do not change what is computed
    faster = dataclasses.replace(
        task, recipe=dataclasses.replace(task.recipe, compile=True, eval_batch_size=7)
    )
    assert runs.run_key(ARCH, faster, IDENTITY, 0) == key


def test_plan_orders_by_arch_and_cuts_chunks(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=2))
    study = dataclasses.replace(study, seeds=(0, 1))
    archs = runs.read_architectures(study).sample(frac=1.0, random_state=1)  # any row order
    archs = archs.sort_values("arch_id").reset_index(drop=True)
    plan = runs.plan_task(study, study.tasks["cifar"], archs, IDENTITY)
    assert plan["arch_id"].tolist() == [0, 0, 1, 1, 2, 2]
    assert plan["seed"].tolist() == [0, 1, 0, 1, 0, 1]
    assert plan["chunk"].tolist() == [0, 0, 1, 1, 2, 2]
    assert plan["run_key"].is_unique


def test_split_arrays_and_max_array_size():
    assert runs.split_arrays(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert runs.split_arrays([], 10) == []
    text = "Configuration data as of ...\nMaxArraySize            = 1001\nMaxJobCount             = 10000\n"
    assert runs.parse_max_array_size(text) == 1001
    assert runs.parse_max_array_size("nothing here") is None


def test_finished_keys_ignore_temp_and_history_files(tmp_path):
    folder = runs.runs_dir(tmp_path, "t")
    folder.mkdir(parents=True)
    runs.write_table(pd.DataFrame({"a": [1]}), folder / "aaa.parquet")
    (folder / ".bbb.parquet.tmp-123").write_bytes(b"PAR1 half written")
    (folder / "aaa.history.parquet").write_bytes(b"x")
    (folder / "ccc.failed.json").write_text("{}")
    assert runs.finished_keys(tmp_path, "t") == {"aaa"}
    assert runs.finished_keys(tmp_path, "absent") == set()
    assert [p.name for p in runs.result_files(tmp_path)] == ["aaa.parquet"]
