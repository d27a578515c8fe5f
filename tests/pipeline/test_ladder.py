"""The proxy ladder: rungs as ordinary raw tasks, named from the spec alone, every problem in one error."""

from __future__ import annotations

import copy

import pytest

from pipeline.errors import StudyError
from pipeline.ladder import expand_ladder, rung_name
from pipeline.study import study_from_dict

TASKS = {
    "imagenet": {"dataset": "imagenet", "role": "reference",
                 "recipe": {"epochs": 10, "metric": "top5", "resolution": 224}},
    "imagenet-10": {"dataset": "imagenet", "variant": {"classes": "imagenet_x/imagenet-10.txt"},
                    "role": "proxy", "recipe": {"epochs": 40, "metric": "top1", "resolution": 224}},
    "cifar10": {"dataset": "cifar10", "proxy": "imagenet-10",
                "recipe": {"epochs": 30, "metric": "top1", "resolution": None}},
}  # fmt: skip
LADDER = {
    "of": "imagenet",
    "resolution": [16, 32, 64],
    "epochs": [1, 3],
    "fraction": [0.1, 0.25],
    "classes": ["imagenet_x/imagenet-10.txt", "imagenet_x/imagenet-100.txt"],
    "combine": [{"resolution": 32, "epochs": 3}, {"fraction": 0.1, "resolution": 16, "epochs": 1}],
}


def test_every_factor_makes_one_task_per_value():
    rungs = expand_ladder(LADDER, TASKS)
    assert list(rungs) == [
        "imagenet@r16", "imagenet@r32", "imagenet@r64", "imagenet@e1", "imagenet@e3", "imagenet@f0.1",
        "imagenet@f0.25", "imagenet@imagenet-10", "imagenet@imagenet-100", "imagenet@r32+e3",
        "imagenet@r16+e1+f0.1",
    ]  # fmt: skip
    r32 = rungs["imagenet@r32"]
    assert r32["dataset"] == "imagenet" and r32["role"] == "proxy"
    assert r32["variant"] == {"resolution": 32}
    assert r32["recipe"] == {"epochs": 10, "metric": "top5", "resolution": 32}  # crop at the new size
    assert r32["rung"] == {"of": "imagenet", "factor": "resolution", "value": 32}
    assert rungs["imagenet@e3"]["recipe"] == {"epochs": 3, "metric": "top5", "resolution": 224}
    assert rungs["imagenet@e3"]["variant"] == {}
    assert rungs["imagenet@f0.1"]["variant"] == {"fraction": 0.1}
    assert rungs["imagenet@f0.1"]["rung"] == {"of": "imagenet", "factor": "fraction", "value": 0.1}
    assert rungs["imagenet@imagenet-10"]["variant"] == {"classes": "imagenet_x/imagenet-10.txt"}
    assert rungs["imagenet@imagenet-10"]["rung"]["factor"] == "classes"
    combo = rungs["imagenet@r16+e1+f0.1"]
    assert combo["variant"] == {"resolution": 16, "fraction": 0.1}
    assert combo["recipe"] == {"epochs": 1, "metric": "top5", "resolution": 16}
    assert combo["rung"] == {"of": "imagenet", "factor": "combined",
                             "value": {"resolution": 16, "epochs": 1, "fraction": 0.1}}  # fmt: skip


def test_rungs_keep_the_parents_variant_and_leave_the_input_alone():
    before = copy.deepcopy(TASKS)
    rungs = expand_ladder({"of": "cifar10", "fraction": 0.5, "resolution": 16}, TASKS)
    assert rungs["cifar10@f0.5"]["variant"] == {"fraction": 0.5}
    assert "proxy" not in rungs["cifar10@f0.5"]  # the target's pairing is not a rung's
    assert rungs["cifar10@r16"]["recipe"]["resolution"] == 16  # parent crop unknown (null): no bound here
    sub = expand_ladder({"of": "imagenet-10", "fraction": [0.5], "epochs": 5}, TASKS)
    assert sub["imagenet-10@f0.5"]["variant"] == {"classes": "imagenet_x/imagenet-10.txt", "fraction": 0.5}
    sub["imagenet-10@e5"]["variant"]["classes"] = "changed"
    sub["imagenet-10@e5"]["recipe"]["lr"] = 1.0
    assert before == TASKS


def test_names_come_from_the_spec_in_a_fixed_order():
    assert rung_name("imagenet", {"epochs": 3, "resolution": 32}) == "imagenet@r32+e3"
    assert rung_name("imagenet", {"fraction": 1}) == "imagenet@f1"
    assert rung_name("imagenet", {"fraction": 0.125}) == "imagenet@f0.125"
    assert rung_name("x", {"classes": "/abs/lists/birds-5.txt"}) == "x@birds-5"
    several = expand_ladder(
        [{"of": "imagenet", "epochs": 2}, {"of": "cifar10", "combine": [{"epochs": 2, "fraction": 1.0}]}],
        TASKS,
    )
    assert list(several) == ["imagenet@e2", "cifar10@e2+f1"]
    assert several["cifar10@e2+f1"]["rung"]["value"] == {"epochs": 2, "fraction": 1.0}


def test_every_problem_is_listed_in_one_error():
    tasks = {**TASKS, "imagenet@e1": {"dataset": "imagenet"}}
    ladder = {
        "of": "imagenet",
        "epoch": [2],
        "resolution": [4, 224, 32.0, True, 64, 64],
        "epochs": [0, 1],
        "fraction": [0, 1.5, "0.1"],
        "classes": ["my list.txt"],
        "combine": [{"epochs": 3}, {"resolution": 32, "crop": 3}, {"resolution": 300, "epochs": -1}],
    }
    with pytest.raises(StudyError) as error:
        expand_ladder(ladder, tasks)
    message = str(error.value)
    expected = [
        "unknown factor(s) ['epoch']",
        "ladder.resolution: 4 must be an integer ≥ 8",
        "ladder.resolution: 224 must be below the parent's 224 px",
        "ladder.resolution: 32.0 must be an integer",
        "ladder.resolution: True must be an integer",
        "'imagenet@r64' is generated twice",
        "ladder.epochs: 0 must be a positive integer",
        "'imagenet@e1' clashes with the task of that name",
        "ladder.fraction: 0 must be a number in (0, 1]",
        "ladder.fraction: 1.5 must be",
        "ladder.fraction: '0.1' must be",
        "'imagenet@my list' may use only letters, digits",
        "ladder.combine[0]: must map two or more factors",
        "ladder.combine[1]: unknown factor(s) ['crop']",
        "ladder.combine[2].resolution: 300 must be below the parent's 224 px",
        "ladder.combine[2].epochs: -1 must be a positive integer",
    ]
    for part in expected:
        assert part in message, part
    assert message.startswith(f"ladder: {len(expected)} problem(s):")


def test_a_bad_parent_or_section_is_named():
    with pytest.raises(StudyError, match=r"ladder.of: 'imagenet-1k' is not a task \(tasks: imagenet, "):
        expand_ladder({"of": "imagenet-1k", "epochs": [1]}, TASKS)
    with pytest.raises(StudyError, match="missing `of:`"):
        expand_ladder({"epochs": [1]}, TASKS)
    with pytest.raises(StudyError, match="names no factor to vary"):
        expand_ladder({"of": "imagenet"}, TASKS)
    with pytest.raises(StudyError, match=r"ladder\.epochs: lists no values"):
        expand_ladder({"of": "imagenet", "epochs": []}, TASKS)
    with pytest.raises(StudyError, match="parent already has a fraction variant"):
        expand_ladder(
            {"of": "x", "fraction": 0.5}, {"x": {"dataset": "imagenet", "variant": {"fraction": 0.5}}}
        )
    with pytest.raises(StudyError, match=r"ladder\[1\]: must be a mapping"):
        expand_ladder([{"of": "imagenet", "epochs": 1}, "imagenet"], TASKS)


def test_generated_tasks_are_valid_study_tasks():
    rungs = expand_ladder(LADDER, TASKS)
    tasks = {**TASKS, **{name: {k: v for k, v in t.items() if k != "rung"} for name, t in rungs.items()}}
    study = study_from_dict({"name": "ladder", "space": {"n": 4, "flops_mf": [20, 40]},
                             "reference": "imagenet", "tasks": tasks})  # fmt: skip
    r32e3 = study.tasks["imagenet@r32+e3"]
    assert r32e3.role == "proxy" and r32e3.recipe.epochs == 3 and r32e3.recipe.resolution == 32
    assert dict(r32e3.variant) == {"resolution": 32} and r32e3.recipe.metric == "top5"
