"""Run keys, the plan (seeds, replicates), chunks and arrays."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

from anynet import Arch
from pipeline import layout
from pipeline.plan import (
    KEY_LENGTH,
    TaskIdentity,
    parse_max_array_size,
    plan_task,
    replicated_archs,
    run_key,
    split_arrays,
)
from pipeline.study import Replicates, load_study
from tests.pipeline.fanout_support import TINY_ARCHS, make_tiny_study

IDENTITY = TaskIdentity("cifar10", "null", "abcd", 10)
ARCH = Arch.from_dict({**TINY_ARCHS[0], "strides": [1, 2, 2, 2], "stem_width": 8})


def _task(tmp_path):
    return load_study(make_tiny_study(tmp_path, data=False, archs=False)).tasks["cifar"]


def test_key_is_stable_across_processes(tmp_path):
    task = _task(tmp_path)
    key = run_key(ARCH, task, IDENTITY, 0)
    code = (
        "from anynet import Arch; from pipeline.plan import run_key, TaskIdentity;"
        "from pipeline.study import load_study;"
        f"t = load_study({str(tmp_path / 'tiny.yaml')!r}).tasks['cifar'];"
        f"print(run_key(Arch.from_dict({ARCH.to_dict()!r}), t, {IDENTITY!r}, 0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == key and len(key) == KEY_LENGTH


def test_key_is_unchanged_by_this_version(tmp_path):
    """The key of a fixed run, computed by the previous version of the code (keys must not drift, or every
    finished result would silently become 'from an earlier version')."""
    task = _task(tmp_path)
    assert run_key(ARCH, task, IDENTITY, 0) == "45dc1ded9f27"  # pipeline.runs.run_key at b2dc979


def test_key_changes_with_what_defines_a_run(tmp_path):
    task = _task(tmp_path)
    key = run_key(ARCH, task, IDENTITY, 0)
    other_recipe = dataclasses.replace(task, recipe=dataclasses.replace(task.recipe, lr=0.1))
    precise = dataclasses.replace(task, recipe=dataclasses.replace(task.recipe, precise_bn_batches=4))
    variants = [
        run_key(ARCH, task, IDENTITY, 1),
        run_key(dataclasses.replace(ARCH, widths=(8, 8, 16, 24)), task, IDENTITY, 0),
        run_key(ARCH, task, dataclasses.replace(IDENTITY, fingerprint="ef01"), 0),
        run_key(ARCH, task, dataclasses.replace(IDENTITY, variant_json='{"max_per_class": 10}'), 0),
        run_key(ARCH, other_recipe, IDENTITY, 0),
        run_key(ARCH, precise, IDENTITY, 0),
    ]
    assert key not in variants and len(set(variants)) == len(variants)
    # execution details do not change what is computed
    faster = dataclasses.replace(
        task, recipe=dataclasses.replace(task.recipe, compile=True, eval_batch_size=7)
    )
    assert run_key(ARCH, faster, IDENTITY, 0) == key


def test_plan_orders_by_arch_and_cuts_chunks(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=2))
    study = dataclasses.replace(study, seeds=(0, 1))
    archs = layout.read_architectures(study).sample(frac=1.0, random_state=1)  # any row order
    plan = plan_task(study, study.tasks["cifar"], archs, IDENTITY)
    assert plan["arch_id"].tolist() == [0, 0, 1, 1, 2, 2]
    assert plan["seed"].tolist() == [0, 1, 0, 1, 0, 1]
    assert plan["chunk"].tolist() == [0, 0, 1, 1, 2, 2]
    assert plan["run_key"].is_unique


def test_replicates_add_seeds_for_a_seeded_draw_of_architectures(tmp_path):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    archs = layout.read_architectures(study)
    rep = dataclasses.replace(study, replicates=Replicates(archs=2, seeds=(5, 6), tasks=("cifar",), seed=3))
    drawn = replicated_archs(rep, archs["arch_id"].tolist())
    assert len(drawn) == 2 and drawn == replicated_archs(rep, archs["arch_id"].tolist()[::-1])  # seeded
    others = {
        tuple(
            replicated_archs(
                dataclasses.replace(rep, replicates=dataclasses.replace(rep.replicates, seed=s)), [0, 1, 2]
            )
        )
        for s in range(20)
    }
    assert len(others) > 1  # the draw follows its seed: not always the first ids
    plan = plan_task(rep, rep.tasks["cifar"], archs, IDENTITY)
    seeds = plan.groupby("arch_id")["seed"].apply(list).to_dict()
    assert all(seeds[a] == [0, 5, 6] for a in drawn)
    assert all(seeds[a] == [0] for a in set(seeds) - set(drawn))
    assert plan["run_key"].is_unique and len(plan) == 3 + 2 * 2
    untouched = plan_task(rep, rep.tasks["power"], archs, IDENTITY)  # not a replicate task
    assert untouched["seed"].tolist() == [0, 0, 0]


def test_split_arrays_and_max_array_size():
    assert split_arrays(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert split_arrays([], 10) == []
    text = "Configuration data as of ...\nMaxArraySize            = 1001\nMaxJobCount             = 10000\n"
    assert parse_max_array_size(text) == 1001
    assert parse_max_array_size("nothing here") is None
