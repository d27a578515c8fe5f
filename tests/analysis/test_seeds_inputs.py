"""Base seeds (which runs form the error matrix) and the checks of the report's optional inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.inputs import check_costs, check_zero_cost, ladder_rungs
from analysis.seeds import base_runs, base_seed_sets, common_base_seeds


def _runs(rows: list[tuple[int, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["arch_id", "task", "seed", "status"]).assign(error=10.0)


def test_study_seeds_are_the_base_seeds_of_every_task():
    runs = _runs([(0, "a", 0, "ok"), (0, "a", 5, "ok"), (1, "b", 5, "ok"), (1, "b", 7, "ok")])
    sets, notes = base_seed_sets(runs, {"seeds": [5]})
    assert sets == {"a": (5,), "b": (5,)} and notes == []
    assert base_runs(runs, sets)["seed"].tolist() == [5, 5]


def test_without_a_study_the_base_seeds_are_those_every_architecture_has():
    runs = _runs(
        [(0, "a", 0, "ok"), (0, "a", 1, "ok"), (0, "a", 2, "ok"), (1, "a", 0, "ok"), (2, "a", 0, "failed"),
         (2, "a", 1, "ok"), (0, "b", 3, "ok"), (1, "b", 3, "ok")]
    )  # fmt: skip
    sets, notes = base_seed_sets(runs, None)
    # arch 2's seed-0 run failed: seed 0 is still a base seed (any status counts), seed 1 is a replicate
    assert sets == {"a": (0,), "b": (3,)} and notes == []
    kept = base_runs(runs[runs["status"] == "ok"], sets)
    assert sorted(map(tuple, kept[["arch_id", "task", "seed"]].values.tolist())) == [
        (0, "a", 0), (0, "b", 3), (1, "a", 0), (1, "b", 3),
    ]  # fmt: skip


def test_no_shared_seed_averages_everything_with_a_note():
    runs = _runs([(0, "a", 0, "ok"), (1, "a", 1, "ok")])
    sets, notes = base_seed_sets(runs, None)
    assert sets == {"a": (0, 1)} and "no seed is shared by all its architectures" in notes[0]


def test_runs_without_seeds_keep_every_run():
    runs = _runs([(0, "a", 0, "ok")]).drop(columns="seed")
    assert base_seed_sets(runs, None) == (None, [])
    assert base_runs(runs, None) is runs


def test_common_base_seeds_notes_tasks_that_differ():
    assert common_base_seeds({"a": (0, 1), "b": (0, 1)}, ["a", "b"]) == ((0, 1), [])
    seeds, notes = common_base_seeds({"a": (0,), "b": (0,), "c": (0, 1)}, ["a", "b", "c"])
    assert seeds == (0,) and "c: 2" in notes[0]
    assert common_base_seeds(None, ["a"]) == ((0,), [])


def test_costs_are_checked_and_renamed():
    costs = pd.DataFrame({"task": ["a", "b"], "total_macs": [1e15, 2e15], "gpu_hours": [1.0, np.nan]})
    checked = check_costs(costs)
    assert checked.columns.tolist() == ["task", "macs", "gpu_hours"] and checked["macs"].tolist() == [
        1e15,
        2e15,
    ]
    with pytest.raises(AnalysisError, match=r"costs.parquet: task\(s\) listed more than once: a"):
        check_costs(pd.concat([costs, costs.iloc[:1]]))
    with pytest.raises(AnalysisError, match="gpu_hours negative or infinite for task"):
        check_costs(costs.assign(gpu_hours=[-1.0, 1.0]))
    with pytest.raises(AnalysisError, match=r"lacks column\(s\) total_macs"):
        check_costs(costs.drop(columns="total_macs"))


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {"arch_id": [1, 0, 0], "task": ["t", "t", "t"], "predictor": ["snip", "snip", "params"],
         "score": [-np.inf, 2.0, np.nan], "seconds": [0.1, 0.2, 0.0]}
    )  # fmt: skip


def test_zero_cost_scores_are_typed_sorted_and_keep_inf_and_nan():
    checked = check_zero_cost(_scores(), pd.Index([0, 1]))
    assert checked[["arch_id", "predictor"]].values.tolist() == [[0, "params"], [0, "snip"], [1, "snip"]]
    assert checked["arch_id"].dtype == np.int64 and np.isneginf(checked["score"]).sum() == 1
    assert checked["score"].isna().sum() == 1


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda s: s.assign(seconds=[0.1, -1.0, 0.0]), "seconds must be finite and ≥ 0"),
        (lambda s: s.assign(arch_id=[1.5, 0, 0]), "arch_id must be integers"),
        (lambda s: s.assign(predictor=["snip", "snip", "snip"]), r"1 repeated \(arch_id, task, predictor\)"),
        (
            lambda s: s.assign(arch_id=[1, 0, 9]),
            r"1 arch_id\(s\) absent from architectures.parquet \(first: 9\)",
        ),
    ],
)
def test_zero_cost_problems_are_named_with_the_fix(change, said):
    with pytest.raises(AnalysisError, match=said) as caught:
        check_zero_cost(change(_scores()), pd.Index([0, 1]))
    assert "run: python -m pipeline zero-cost --study X" in str(caught.value)


def test_ladder_rungs_from_the_study_as_study_to_dict_writes_them():
    study = {
        "tasks": {
            "imagenet": {"role": "reference"},
            "imagenet@r32": {"role": "proxy", "rung": {"of": "imagenet", "factor": "resolution",
                                                       "value": 32}},
            "imagenet@r32+e3": {"role": "proxy", "rung": {"of": "imagenet", "factor": "combined",
                                                          "value": {"resolution": 32, "epochs": 3}}},
        }
    }  # fmt: skip
    rungs = ladder_rungs(study)
    assert rungs["task"].tolist() == ["imagenet@r32", "imagenet@r32+e3"]
    assert rungs.iloc[1]["value"] == {"resolution": 32, "epochs": 3}
    assert ladder_rungs(None).empty and list(ladder_rungs({}).columns) == ["task", "of", "factor", "value"]
    with pytest.raises(AnalysisError, match="malformed rung"):
        ladder_rungs({"tasks": {"x": {"rung": {"factor": "epochs"}}}})
