"""Study files: the shipped studies load; every kind of bad input is refused in one StudyError."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from pipeline.errors import DatasetError, StudyError
from pipeline.study import load_study, study_from_dict
from pipeline.taskdata import check_data, require_data
from tests.pipeline.fanout_support import make_tiny_study, study_dict


@pytest.mark.parametrize("name", ["paper", "c17"])
def test_shipped_studies_load(name):
    study = load_study(name)
    assert study.reference in study.tasks
    assert study.tasks[study.reference].role == "reference"
    for task in study.tasks.values():
        assert task.recipe.epochs >= 1 and task.recipe.metric in ("top1", "top5")


def test_paper_study_follows_table_2():
    tasks = load_study("paper").tasks
    expected = {"imagenet": (10, "top5"), "imagenet-100": (10, "top5"), "insects": (20, "top5"),
                "cifar100": (30, "top5"), "concrete": (20, "top1"), "mlc2008": (20, "top1"),
                "powerline": (20, "top1"), "natural": (20, "top1"), "ham10000": (30, "top1"),
                "cifar10": (30, "top1"), "imagenet-10": (40, "top1"), "imagenet-5": (40, "top1"),
                "imagenet-2": (40, "top1")}  # fmt: skip
    assert {t: (tasks[t].recipe.epochs, tasks[t].recipe.metric) for t in expected} == expected
    assert load_study("paper").space.flops_mf == (360, 400)
    assert tasks["concrete"].proxy == "imagenet-2" and tasks["natural"].proxy == "imagenet-10"


def test_demo_study_names_the_synthetic_datasets():
    raw = yaml.safe_load((Path("pipeline/studies/demo.yaml")).read_text())
    assert {t["dataset"] for t in raw["tasks"].values()} <= {
        "synth-shapes",
        "synth-textures",
        "synth-counting",
    }
    assert raw["executor"]["kind"] == "local"


def test_recipe_resolution_order(tmp_path):
    raw = study_dict(tmp_path)
    raw["recipe"]["epochs"] = 7  # study default, overridden by the catalogue (cifar10: 30), then the task
    del raw["tasks"]["power"]["recipe"]["epochs"]
    raw["tasks"]["cifar"]["recipe"]["lr"] = 0.2
    study = study_from_dict(raw)
    assert study.tasks["power"].recipe.epochs == 20  # catalogue default of powerline
    assert study.tasks["cifar"].recipe.epochs == 1 and study.tasks["cifar"].recipe.lr == 0.2
    assert study.tasks["power"].recipe.lr == 0.05 and study.tasks["power"].recipe.batch_size == 16


def _problems(raw) -> str:
    with pytest.raises(StudyError) as info:
        study_from_dict(raw)
    return str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    raw = copy.deepcopy(study_dict(tmp_path))
    raw["tasks"]["cifar"]["recipe"]["epochs"] = "ten"
    raw["tasks"]["power"]["datset"] = "x"
    raw["tasks"]["extra"] = {"dataset": "imagenett"}
    raw["reference"] = "imagenet"
    del raw["space"]
    raw["executor"]["kind"] = "cloud"
    text = _problems(raw)
    assert "tasks.cifar.recipe.epochs: must be an integer, got 'ten'" in text
    assert "unknown key 'datset' (allowed: dataset, variant, role, proxy, recipe, rung)" in text
    assert "unknown dataset 'imagenett'" in text and "cifar10" in text
    assert "reference: 'imagenet' is not among the tasks" in text
    assert "missing key 'space'" in text
    assert "executor.kind: 'cloud' is not one of slurm, local, debug" in text


def test_missing_keys_are_named(tmp_path, monkeypatch):
    raw = study_dict(tmp_path)
    del raw["name"]
    raw["tasks"]["cifar"] = {"recipe": {"epochs": 1}}
    del raw["tasks"]["power"]["recipe"]["metric"]
    monkeypatch.setattr("pipeline.study._catalogue_recipe", lambda dataset: {})  # no defaults
    text = _problems(raw)
    assert "study: missing key 'name'" in text
    assert "tasks.cifar: missing key 'dataset'" in text
    assert "tasks.power.recipe: missing key(s) 'metric'" in text


def test_unknown_study_name_lists_the_shipped_ones():
    with pytest.raises(StudyError, match="paper"):
        load_study("no-such-study")


def test_check_data_gives_the_prepare_command(tmp_path):
    study = load_study(make_tiny_study(tmp_path, data=False))
    lines = check_data(study)
    assert len(lines) == 2
    assert "python -m pipeline prepare cifar10 --source DIR" in lines[0]
    with pytest.raises(DatasetError, match="powerline"):
        require_data(study)


def test_resolved_copy_round_trips(tmp_path):
    study = load_study(make_tiny_study(tmp_path))
    copy_path = tmp_path / "copy.yaml"
    copy_path.write_text(yaml.safe_dump(study.to_dict()))
    again = load_study(copy_path)
    assert again.tasks == study.tasks and again.space == study.space and again.executor == study.executor


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: raw["recipe"].update(lr=-0.1), "recipe.lr: must be > 0, got -0.1"),
        (lambda raw: raw["recipe"].update(label_smoothing=5), "recipe.label_smoothing: must be < 1, got 5"),
        (
            lambda raw: raw["tasks"]["cifar"]["recipe"].update(resolution=-5),
            "recipe.resolution: must be >= 8",
        ),
        (lambda raw: raw["recipe"].update(momentum=1.5), "recipe.momentum: must be < 1"),
        (lambda raw: raw["executor"].update(runs_per_job=0), "executor.runs_per_job: must be >= 1, got 0"),
        (lambda raw: raw["executor"].update(threads_per_job=0), "executor.threads_per_job: must be >= 1"),
        (lambda raw: raw["space"].update(flops_mf=[20, float("inf")]), "flops band [20, inf] must be finite"),
        (lambda raw: raw["space"].update(flops_mf=[40, 20]), "flops band [40, 20] must be finite"),
        (lambda raw: raw.update(seeds=[0, 0]), "seed(s) [0] listed twice"),
        (
            lambda raw: raw["tasks"]["cifar"].update(variant={"balanced": "maybe"}),
            "balanced 'maybe' must be true or false",
        ),
        (
            lambda raw: raw["tasks"].update({"../../escaped": {"dataset": "cifar10"}}),
            "'../../escaped' is not a usable name",
        ),
        (lambda raw: raw["tasks"].update({".": {"dataset": "cifar10"}}), "'.' is not a usable name"),
        (lambda raw: raw.update(name="a/b"), "'a/b' is not a usable name"),
        (lambda raw: raw.update(keep_weights="best-0"), "keep_weights: 'best-0' is not one of"),
        (
            lambda raw: raw.update(replicates={"archs": 2, "seeds": [0]}),
            "replicates.seeds: [0] are already study seeds",
        ),
        (
            lambda raw: raw.update(replicates={"archs": 2, "seeds": [1], "tasks": ["nope"]}),
            "['nope'] are not tasks",
        ),
    ],
)
def test_values_out_of_range_and_bad_names_are_refused(tmp_path, edit, message):
    raw = copy.deepcopy(study_dict(tmp_path))
    edit(raw)
    assert message in _problems(raw)


def test_yaml_is_read_strictly(tmp_path):
    """Duplicate keys and non-UTF-8 text are refused; 5e-5 is a number, as people write it."""
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(study_dict(tmp_path))
    path.write_text(text.replace("lr: 0.05", "lr: 5e-2\n  weight_decay: 5e-5"))
    study = load_study(path)
    assert study.tasks["cifar"].recipe.lr == 0.05 and study.tasks["cifar"].recipe.weight_decay == 5e-5
    path.write_text(text + "name: other\n")
    with pytest.raises(StudyError, match="duplicate key 'name'"):
        load_study(path)
    path.write_bytes(text.encode() + "# caf\xe9".encode("latin-1"))
    with pytest.raises(StudyError, match="not UTF-8"):
        load_study(path)


def test_equal_variants_in_different_spellings_give_one_identity(tmp_path):
    a, b = (copy.deepcopy(study_dict(tmp_path)) for _ in range(2))
    a["tasks"]["cifar"]["variant"] = {"max_per_class": 2, "seed": 1}
    b["tasks"]["cifar"]["variant"] = {"seed": 1, "max_per_class": 2}
    assert study_from_dict(a).tasks["cifar"].variant_json == study_from_dict(b).tasks["cifar"].variant_json
