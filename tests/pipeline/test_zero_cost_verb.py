"""`pipeline zero-cost`: every architecture × task × predictor, deterministic, resumable by score key, and a
step of `pipeline run` (which also leaves costs.parquet)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from anynet import Arch, build_model, complexity
from pipeline import zero_cost as verb
from pipeline.__main__ import main as pipeline_main
from pipeline.data.store import open_store
from pipeline.layout import read_architectures
from pipeline.study import load_study
from pipeline.taskdata import forget_stores, open_task_store
from tests.pipeline.fanout_support import TINY_TASKS, make_tiny_study, write_random_store

PREDICTORS = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot", "params", "flops")


def _study(tmp_path, **extra):
    path = make_tiny_study(tmp_path)
    if extra:
        raw = yaml.safe_load(path.read_text())
        raw.update(extra)
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    forget_stores()  # stores of earlier tests in this process may have had the same paths
    return load_study(path)


def _quiet(line: str) -> None:
    pass


def _count_scored(monkeypatch) -> list[tuple[str, str]]:
    """Record (task, predictors) of every architecture the verb scores."""
    calls: list[tuple[str, str]] = []
    real = verb._score_arch

    def counting(arch, setting, names, *args):
        calls.append((setting.task.name, ",".join(names)))
        return real(arch, setting, names, *args)

    monkeypatch.setattr(verb, "_score_arch", counting)
    return calls


def test_every_architecture_task_and_predictor_is_scored_in_the_contract_types(tmp_path):
    study = _study(tmp_path)
    result = verb.zero_cost(study, device="cpu", out=_quiet)
    table = pd.read_parquet(result.path)
    schema = pq.read_schema(result.path)
    assert [(f.name, str(f.type)) for f in schema] == [
        ("arch_id", "int64"), ("task", "string"), ("predictor", "string"), ("score", "double"),
        ("seconds", "double"),
    ]  # fmt: skip
    archs = read_architectures(study)
    assert len(table) == len(archs) * len(TINY_TASKS) * len(PREDICTORS)
    assert not table.duplicated(["arch_id", "task", "predictor"]).any()
    assert set(table["predictor"]) == set(PREDICTORS) and set(table["task"]) == set(study.tasks)
    assert np.isfinite(table["score"]).all()
    trained = table[~table["predictor"].isin(["params", "flops"])]
    assert (trained["seconds"] > 0).all() and (table.loc[table["predictor"] == "flops", "seconds"] == 0).all()
    # params and flops: counted at the task's crop (16 px) and class count; params = the model's parameters
    for task, _, classes in TINY_TASKS:
        for row in archs.to_dict("records"):
            arch = Arch.from_row(row)
            mine = table[(table["task"] == task) & (table["arch_id"] == row["arch_id"])].set_index(
                "predictor"
            )
            model = build_model(arch, classes)
            assert mine.loc["params", "score"] == sum(p.numel() for p in model.parameters())
            assert mine.loc["flops", "score"] == complexity(arch, im_size=16, num_classes=classes)["flops"]
    assert result.scored == 6 and result.reused == 0


def test_two_calls_give_the_same_scores_and_the_second_scores_nothing(tmp_path, monkeypatch):
    first = verb.zero_cost(_study(tmp_path / "a"), device="cpu", out=_quiet).table
    calls = _count_scored(monkeypatch)
    other = _study(tmp_path / "b")  # same stores (same seeds), same architectures, other folder
    again = verb.zero_cost(other, device="cpu", out=_quiet)
    assert len(calls) == 6
    pd.testing.assert_frame_equal(first.drop(columns="seconds"), again.table.drop(columns="seconds"))
    files = sorted((other.results_dir / "zero_cost").glob("*.parquet"))
    stamps = [f.stat().st_mtime_ns for f in files]
    calls.clear()
    resumed = verb.zero_cost(other, device="cpu", out=_quiet)
    assert calls == [] and resumed.scored == 0 and resumed.reused == 6
    assert [f.stat().st_mtime_ns for f in files] == stamps  # nothing to rewrite
    pd.testing.assert_frame_equal(again.table, resumed.table)


def test_one_batch_per_task_drawn_from_its_training_split(tmp_path, monkeypatch):
    study = _study(tmp_path)
    seen: dict[str, list] = {}
    real = verb._score_arch

    def recording(arch, setting, names, images, labels, device, seed):
        seen.setdefault(setting.task.name, []).append((images.clone(), labels.clone()))
        return real(arch, setting, names, images, labels, device, seed)

    monkeypatch.setattr(verb, "_score_arch", recording)
    verb.zero_cost(study, device="cpu", batch_size=20, out=_quiet)
    for task, dataset, _ in TINY_TASKS:
        batches = seen[task]
        assert len(batches) == 3
        for images, labels in batches[1:]:  # the same batch for every architecture
            assert images.equal(batches[0][0]) and labels.equal(batches[0][1])
        store = open_store(study.data_root / dataset)
        rows = verb.batch_rows(store, 20, 0)
        assert len(set(rows)) == 20 and (store.splits[rows] == "train").all() and (np.diff(rows) > 0).all()
        assert batches[0][1].tolist() == store.labels[rows].tolist()
        assert tuple(batches[0][0].shape) == (20, 3, 16, 16)
        assert not np.array_equal(verb.batch_rows(store, 20, 1), rows)  # the seed draws the batch
    small = verb.batch_rows(open_store(study.data_root / "cifar10"), 1000, 0)
    assert len(small) == 48  # a split smaller than the batch: all of it


def test_resume_scores_only_the_missing_architecture(tmp_path, monkeypatch):
    study = _study(tmp_path)
    verb.zero_cost(study, device="cpu", out=_quiet)
    path = verb.task_file(study.results_dir, "power")
    rows = pd.read_parquet(path)
    pq.write_table(pq.read_table(path).filter(pq.read_table(path)["arch_id"].to_numpy() != 1), path)
    calls = _count_scored(monkeypatch)
    result = verb.zero_cost(study, device="cpu", out=_quiet)
    assert calls == [("power", ",".join(PREDICTORS))] and result.scored == 1
    back = pd.read_parquet(path).sort_values(["arch_id", "predictor"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back.drop(columns="seconds"),
        rows.sort_values(["arch_id", "predictor"]).reset_index(drop=True).drop(columns="seconds"),
    )


def test_a_changed_store_or_batch_size_scores_again(tmp_path, monkeypatch):
    study = _study(tmp_path)
    before = verb.zero_cost(study, device="cpu", out=_quiet).table
    write_random_store(study.data_root / "powerline", "powerline", 2, seed=7)  # new images: new fingerprint
    forget_stores()
    calls = _count_scored(monkeypatch)
    after = verb.zero_cost(study, device="cpu", out=_quiet)
    assert sorted({task for task, _ in calls}) == ["power"] and after.scored == 3 and after.reused == 3
    power = verb.task_file(study.results_dir, "power")
    kept = pd.read_parquet(power)
    assert len(kept) == 3 * len(PREDICTORS)  # the stale rows are gone
    assert kept["fingerprint"].unique().tolist() == [
        str(open_task_store(study, study.tasks["power"]).fingerprint)
    ]
    merged = before.merge(after.table, on=["arch_id", "task", "predictor"], suffixes=("_old", "_new"))
    cifar = merged[merged["task"] == "cifar"]
    assert (cifar["score_old"] == cifar["score_new"]).all()
    calls.clear()
    resized = verb.zero_cost(study, device="cpu", batch_size=16, out=_quiet)
    assert len(calls) == 6 and resized.scored == 6
    assert set(pd.read_parquet(power)["batch_size"]) == {16}
    snip = resized.table[(resized.table["predictor"] == "snip")]["score"].to_numpy()
    assert not np.allclose(snip, after.table[after.table["predictor"] == "snip"]["score"].to_numpy())


def test_an_epochs_rung_reuses_its_parents_scores(tmp_path, monkeypatch):
    study = _study(tmp_path, ladder={"of": "cifar", "epochs": [2]})
    calls = _count_scored(monkeypatch)
    table = verb.zero_cost(study, device="cpu", out=_quiet).table
    assert sorted({task for task, _ in calls}) == ["cifar", "power"]  # cifar@e2 trains on the same data
    parent = table[table["task"] == "cifar"].reset_index(drop=True)
    rung = table[table["task"] == "cifar@e2"].reset_index(drop=True)
    assert rung["score"].equals(parent["score"]) and len(rung) == 3 * len(PREDICTORS)


def test_tasks_selects_and_the_file_still_holds_every_scored_task(tmp_path):
    study = _study(tmp_path)
    only = verb.zero_cost(study, ["power"], device="cpu", out=_quiet).table
    assert set(only["task"]) == {"power"}
    both = verb.zero_cost(study, ["cifar"], device="cpu", out=_quiet).table
    assert set(both["task"]) == {"cifar", "power"}


def test_an_overflowing_predictor_is_recorded_as_nan(tmp_path, monkeypatch):
    from anynet import zero_cost as predictors

    def overflow(model, images, labels):
        raise OverflowError("synflow overflowed")

    monkeypatch.setitem(predictors.PREDICTORS, "synflow", overflow)
    lines: list[str] = []
    result = verb.zero_cost(_study(tmp_path), ["cifar"], device="cpu", out=lines.append)
    synflow = result.table[result.table["predictor"] == "synflow"]["score"]
    assert len(synflow) == 3 and synflow.map(math.isnan).all()
    assert result.failed == {"cifar/synflow": 3} and any("synflow overflowed" in line for line in lines)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--batch-size", "1"], "at least 2"),
        (["--batch-size", "0"], "--batch-size"),
        (["--tasks", "cifar,nope"], "'nope' is not a task"),
        (["--tasks", ","], "names no task"),
        (["--device", "tpu"], "not cpu, cuda or cuda:N"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_flags_are_one_error_line(tmp_path, capsys, flags, words):
    path = make_tiny_study(tmp_path)
    assert pipeline_main(["zero-cost", "--study", str(path), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and words in err[0]
    assert not (tmp_path / "results" / "tiny" / "zero_cost.parquet").exists()


def test_unprepared_data_names_the_prepare_command(tmp_path, capsys):
    path = make_tiny_study(tmp_path, data=False)
    assert pipeline_main(["zero-cost", "--study", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "python -m pipeline prepare cifar10" in err and err.startswith("error:")


def test_the_command_prints_a_summary(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    forget_stores()
    assert pipeline_main(["zero-cost", "--study", str(path), "--device", "cpu", "--tasks", "power"]) == 0
    out = capsys.readouterr()
    assert "21 zero-cost scores (3 architecture×task pairs scored" in out.out
    assert "zero-cost 3/3 done" in out.err  # the progress line


# ---------------------------------------------------------------------------------------------- run
def test_run_writes_costs_and_zero_cost_and_the_study_key_turns_zero_cost_off(tmp_path):
    from pipeline.run import run_study

    study = _study(tmp_path, zero_cost=False)
    lines: list[str] = []
    _, complete = run_study(study, kind="debug", device="cpu", report=False, out=lines.append)
    assert complete
    costs = pd.read_parquet(study.results_dir / "costs.parquet")
    assert costs["task"].tolist() == ["cifar", "power"] and (costs["runs"] == 3).all()
    assert (costs["total_macs"] > 0).all() and (costs["crop"] == 16).all()
    assert not (study.results_dir / "zero_cost.parquet").exists()

    study = _study(tmp_path, zero_cost=True)  # same folders: nothing is trained again
    lines.clear()
    _, complete = run_study(study, kind="debug", device="cpu", report=False, out=lines.append)
    assert complete and any(line.startswith("42 zero-cost scores") for line in lines)
    scores = pd.read_parquet(study.results_dir / "zero_cost.parquet")
    assert len(scores) == 3 * 2 * len(PREDICTORS)
    runs = pd.read_parquet(study.results_dir / "runs.parquet")
    assert len(runs) == 6 and set(scores["arch_id"]) == set(runs["arch_id"])


def test_a_damaged_task_file_is_named_and_scored_again(tmp_path, monkeypatch):
    study = _study(tmp_path)
    first = verb.zero_cost(study, device="cpu", out=_quiet)
    before = pd.read_parquet(first.path)
    damaged = verb.task_file(study.results_dir, "cifar")
    damaged.write_bytes(b"PAR1 not a parquet file PAR1")
    calls = _count_scored(monkeypatch)
    lines = []
    again = verb.zero_cost(study, device="cpu", out=lines.append)
    assert any(str(damaged) in line and "computed again" in line for line in lines)
    assert {task for task, _ in calls} == {"cifar"} and len(calls) == 3  # only the damaged task's archs
    after = pd.read_parquet(again.path)
    pd.testing.assert_series_equal(after["score"], before["score"], rtol=1e-6)  # seconds differ, scores not
    assert pq.read_table(damaged).num_rows == 3 * len(PREDICTORS)  # rewritten whole
