"""bank export/import: runs count in another study exactly when their keys are in its plan; reasons for the
rest; never overwriting; a damaged or foreign file is one error.

Most tests write result rows instead of training (`_fake_all`); one trains for real on the debug executor.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import tarfile

import pandas as pd
import pytest
import yaml

from pipeline import layout
from pipeline.__main__ import main as pipeline_main
from pipeline.bank import BankError, export_bank, import_bank, read_bank
from pipeline.collect import collect
from pipeline.launch import current_plan, launch, plan_launch
from pipeline.plan import KEY_VERSION
from pipeline.study import load_study
from pipeline.taskdata import task_identity
from tests.pipeline.fanout_support import (
    TINY_ARCHS,
    make_tiny_study,
    tiny_space,
    write_architectures,
    write_random_store,
)

QUIET = {"out": lambda line: None}


def _fake_all(study, *, error=lambda i: 10.0 + i):
    """A result row and a two-epoch history for every run of the plan, as a worker would write them."""
    plan = current_plan(study)
    for i, r in enumerate(plan.itertuples()):
        row = dict.fromkeys(layout.RESULT_COLUMNS)
        row.update(
            run_key=r.run_key, task=r.task, arch_id=r.arch_id, seed=r.seed, error=error(i), top1_err=error(i),
            status="ok", epochs=1, study=study.name, num_classes=10, flops=1000 + i, final_loss=2.0,
        )  # fmt: skip
        history = [
            {"epoch": e, "train_loss": 2.0 - e, "lr": 0.1, "seconds": 0.5, "images": 48} for e in (0, 1)
        ]
        layout.write_result(study.results_dir, r.task, row, history)
    return plan


def _other_study(source, root, *, name="other", archs=None, edit=None):
    """A second study on the same stores and space as `source` (its own results folder and name)."""
    raw = yaml.safe_load(source.read_text())
    raw.update(name=name, results_dir=str(root / "results" / name))
    if edit is not None:
        edit(raw)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    write_architectures(root / "results" / name, archs, space=tiny_space(source.parent))
    return load_study(path)


def _collected(study):
    return collect(study, **QUIET).table


@pytest.fixture
def exported(tmp_path):
    """Study `tiny` with a (fake) result for every run, exported to tiny.bank.tar."""
    source = make_tiny_study(tmp_path)
    study = load_study(source)
    _fake_all(study)
    bank = export_bank(study, tmp_path / "tiny.bank.tar", say=lambda line: None)
    return source, study, bank


def test_the_bank_records_what_defines_its_runs(exported):
    _, study, result = exported
    bank = read_bank(result.path)
    manifest = bank.manifest
    assert manifest["format"] == "archcorr-result-bank" and manifest["version"] == 1
    assert manifest["key_version"] == KEY_VERSION and manifest["study"] == "tiny"
    assert manifest["space"] == layout.space_record(study)
    assert set(manifest["tasks"]) == {"cifar", "power"}
    cifar = manifest["tasks"]["cifar"]
    assert cifar["recipe"]["epochs"] == 1 and cifar["recipe"]["metric"] == "top1"
    assert cifar["identity"]["dataset"] == "cifar10" and cifar["identity"]["num_classes"] == 10
    assert cifar["identity"] == dataclasses.asdict(task_identity(study, study.tasks["cifar"]))
    assert [a["arch_id"] for a in manifest["architectures"]] == [0, 1, 2]
    assert manifest["architectures"][1]["widths"] == TINY_ARCHS[1]["widths"]
    assert bank.runs.num_rows == 6 and bank.runs.schema.equals(layout.result_schema())
    assert sorted(bank.runs.column("run_key").to_pylist()) == sorted(current_plan(study)["run_key"])
    assert bank.history.num_rows == 12  # two epochs per run
    assert result.runs == {"cifar": 3, "power": 3} and result.architectures == 3


def test_imported_runs_count_as_done_and_collect_identically(exported, tmp_path):
    source, study, bank = exported
    other = _other_study(source, tmp_path)
    assert len(plan_launch(other).missing) == 6
    report = import_bank(bank.path, other)
    assert report.used == 6 and all(o.had == 0 and not o.unused for o in report.outcomes.values())
    lines = []
    launch(other, dry_run=True, out=lines.append)
    assert "6 runs not finished" not in lines[0] and "0 runs not finished" in lines[0]
    assert len(plan_launch(other).missing) == 0
    mine, theirs = _collected(study), _collected(other)
    pd.testing.assert_frame_equal(theirs, mine)
    assert set(theirs["study"]) == {"tiny"}  # the row still names the study that trained it
    pd.testing.assert_frame_equal(
        pd.read_parquet(other.results_dir / "history.parquet"),
        pd.read_parquet(study.results_dir / "history.parquet"),
    )


def test_trained_runs_travel_exactly(tmp_path):
    """Really trained runs: the receiving study's runs.parquet and history.parquet equal the exporter's."""
    source = make_tiny_study(tmp_path)
    study = load_study(source)
    launch(study, out=lambda line: None, progress=lambda p: None)
    bank = export_bank(study, tmp_path / "trained.tar", tasks=["cifar", "power"])
    other = _other_study(source, tmp_path)
    assert import_bank(bank.path, other).used == 6
    assert plan_launch(other).chunks == {}  # nothing to train
    pd.testing.assert_frame_equal(_collected(other), _collected(study))
    pd.testing.assert_frame_equal(
        pd.read_parquet(other.results_dir / "history.parquet"),
        pd.read_parquet(study.results_dir / "history.parquet"),
    )


def test_another_recipe_uses_none_of_its_runs_and_says_why(exported, tmp_path):
    source, _, bank = exported

    def more_epochs(raw):
        raw["tasks"]["cifar"]["recipe"]["epochs"] = 2

    other = _other_study(source, tmp_path, edit=more_epochs)
    report = import_bank(bank.path, other)
    assert report.outcomes["cifar"].used == 0
    assert dict(report.outcomes["cifar"].unused) == {"recipe differs: epochs 1 vs 2": 3}
    assert report.outcomes["power"].used == 3
    assert "  cifar  0 imported; 3 not used: recipe differs: epochs 1 vs 2" in report.lines()
    assert not layout.listed_results(other.results_dir, "cifar")

    def every_task(raw):
        for task in raw["tasks"].values():
            task["recipe"].update(epochs=2, lr=0.1)

    report = import_bank(bank.path, _other_study(source, tmp_path, name="longer", edit=every_task))
    assert report.used == 0 and report.lines()[-1] == "nothing imported into study 'longer'"
    for outcome in report.outcomes.values():
        assert dict(outcome.unused) == {"recipe differs: epochs 1 vs 2, lr 0.05 vs 0.1": 3}


def test_a_speed_only_recipe_field_does_not_matter(exported, tmp_path):
    """eval_batch_size changes how fast a run goes, not its result: it is not in the key, so runs count."""
    source, _, bank = exported

    def faster(raw):
        raw["recipe"]["eval_batch_size"] = 8

    assert import_bank(bank.path, _other_study(source, tmp_path, edit=faster)).used == 6


def test_reasons_name_the_task_the_data_the_architecture_and_the_seed(exported, tmp_path):
    source, _, bank = exported
    new_arch = {**TINY_ARCHS[0], "widths": [8, 8, 16, 24]}

    def edit(raw):
        del raw["tasks"]["power"]

    other = _other_study(source, tmp_path, archs=[TINY_ARCHS[0], new_arch, TINY_ARCHS[2]], edit=edit)
    report = import_bank(bank.path, other, dry_run=True)
    assert report.outcomes["cifar"].used == 2
    assert dict(report.outcomes["cifar"].unused) == {"architecture not in the sample of study 'other'": 1}
    assert list(report.outcomes["power"].unused) == [
        "task 'power' is not in study 'other' (its tasks: cifar)"
    ]
    assert not layout.listed_results(other.results_dir, "cifar")  # a dry run writes nothing

    def one_seed(raw):
        raw["seeds"] = [5]

    seeded = _other_study(source, tmp_path, name="seeded", edit=one_seed)
    assert dict(import_bank(bank.path, seeded, dry_run=True).outcomes["cifar"].unused) == {
        "seed 0 not in the plan of study 'seeded'": 3
    }


def test_another_copy_of_the_data_is_named(exported, tmp_path):
    source, _, bank = exported
    write_random_store(tmp_path / "data2" / "cifar10", "cifar10", 10, seed=7)
    shutil.copytree(tmp_path / "data" / "powerline", tmp_path / "data2" / "powerline")

    def other_data(raw):
        raw["data_root"] = str(tmp_path / "data2")

    report = import_bank(bank.path, _other_study(source, tmp_path, edit=other_data), dry_run=True)
    (why,) = report.outcomes["cifar"].unused
    assert why.startswith("dataset fingerprint differs: ") and report.outcomes["power"].used == 3


def test_importing_twice_changes_nothing(exported, tmp_path):
    source, _, bank = exported
    other = _other_study(source, tmp_path)
    import_bank(bank.path, other)
    files = sorted((other.results_dir / "runs").rglob("*"))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files if p.is_file()}
    again = import_bank(bank.path, other)
    assert again.used == 0 and {t: o.had for t, o in again.outcomes.items()} == {"cifar": 3, "power": 3}
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files if p.is_file()}
    assert after == before and sorted((other.results_dir / "runs").rglob("*")) == files


def test_the_studys_own_results_are_never_overwritten(exported, tmp_path):
    source, _, bank = exported
    other = _other_study(source, tmp_path)
    plan = current_plan(other)
    key = plan.loc[plan["task"] == "power", "run_key"].iloc[0]
    row = dict.fromkeys(layout.RESULT_COLUMNS)
    row.update(run_key=key, task="power", arch_id=0, seed=0, error=55.0, status="ok", study="other")
    layout.write_result(other.results_dir, "power", row, [])
    own = layout.result_path(other.results_dir, "power", key).read_bytes()
    report = import_bank(bank.path, other)
    assert report.outcomes["power"].had == 1 and report.outcomes["power"].used == 2
    assert layout.result_path(other.results_dir, "power", key).read_bytes() == own
    table = _collected(other)
    assert table.set_index("run_key").loc[key, "error"] == 55.0 and len(table) == 6


def test_arch_ids_follow_the_receiving_sample(exported, tmp_path):
    source, study, bank = exported
    other = _other_study(source, tmp_path, archs=[TINY_ARCHS[2], TINY_ARCHS[0], TINY_ARCHS[1]])
    assert import_bank(bank.path, other).used == 6
    mine, theirs = _collected(study).set_index("run_key"), _collected(other).set_index("run_key")
    assert sorted(mine.index) == sorted(theirs.index)
    moved = {0: 1, 1: 2, 2: 0}  # exporter's arch_id -> the receiver's id of the same architecture
    assert (theirs.loc[mine.index, "arch_id"] == mine["arch_id"].map(moved)).all()
    assert (theirs.loc[mine.index, "error"] == mine["error"]).all()


def test_export_holds_only_the_current_plan_and_the_named_tasks(exported, tmp_path):
    _, study, _ = exported
    stale = dict.fromkeys(layout.RESULT_COLUMNS)
    stale.update(run_key="0123456789ab", task="cifar", arch_id=0, seed=0, error=1.0, status="ok")
    layout.write_result(study.results_dir, "cifar", stale, [])  # a run of an earlier version of the study
    victim = sorted(layout.listed_results(study.results_dir, "power").values())[0]
    victim.write_bytes(b"PAR1" + b"\0" * 40 + b"PAR1")  # passes the cheap check, fails to parse
    said = []
    bank = read_bank(export_bank(study, tmp_path / "cifar.tar", tasks=["cifar"], say=said.append).path)
    assert list(bank.tasks) == ["cifar"] and bank.runs.num_rows == 3 and said == []
    assert "0123456789ab" not in bank.runs.column("run_key").to_pylist()
    bank = read_bank(export_bank(study, tmp_path / "all.tar", say=said.append).path)
    assert bank.runs.num_rows == 5 and victim.stem not in bank.runs.column("run_key").to_pylist()
    assert len(said) == 1 and said[0].startswith(f"damaged: {victim} cannot be read")
    with pytest.raises(BankError, match=r"no task 'flowers' in study 'tiny'; its tasks: cifar, power"):
        export_bank(study, tmp_path / "x.tar", tasks=["flowers"])
    empty = load_study(make_tiny_study(tmp_path / "empty"))
    with pytest.raises(BankError, match=r"no finished runs .* python -m pipeline launch --study"):
        export_bank(empty, tmp_path / "y.tar")
    assert not (tmp_path / "y.tar").exists()


def _tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _rewrite(bank_path, out, change):
    """A copy of a bank with its manifest changed by `change(manifest)`."""
    with tarfile.open(bank_path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    return _tar(out, members)


def test_a_damaged_or_foreign_file_is_one_clear_error(exported, tmp_path, capsys):
    source, _, bank = exported
    other = _other_study(source, tmp_path)
    (tmp_path / "noise.tar").write_bytes(b"\x00not a tar at all" * 50)
    cases = {
        "noise.tar": "is not a result bank",
        "missing.tar": "no bank file",
        "other.tar": r"is not a result bank \(it lacks manifest.json, runs.parquet, history.parquet\)",
    }
    _tar(tmp_path / "other.tar", {"notes.txt": b"hello"})
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(bank.path.read_bytes()[:1500])
    cases["truncated.tar"] = "is not a result bank|is damaged"

    def swap_archs(manifest):  # the rows now claim other architectures than the ones they were trained on
        manifest["architectures"][0], manifest["architectures"][1] = (
            {**manifest["architectures"][1], "arch_id": 0},
            {**manifest["architectures"][0], "arch_id": 1},
        )

    _rewrite(bank.path, tmp_path / "edited.tar", swap_archs)
    cases["edited.tar"] = "is damaged .*key does not match"
    _rewrite(bank.path, tmp_path / "foreign.tar", lambda m: m.update(format="something-else"))
    cases["foreign.tar"] = "does not say format 'archcorr-result-bank'"
    _rewrite(bank.path, tmp_path / "newer.tar", lambda m: m.update(version=99))
    cases["newer.tar"] = r"is a version-99 bank; this archcorr reads version 1"
    for name, message in cases.items():
        with pytest.raises(BankError, match=message):
            import_bank(tmp_path / name, other)
        code = pipeline_main(["bank", "import", str(tmp_path / name), "--study", str(other.source)])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert not layout.listed_results(other.results_dir, "cifar")


def test_command_line_export_import_and_dry_run(exported, tmp_path, capsys):
    source, _, _ = exported
    other = _other_study(source, tmp_path)
    out = tmp_path / "cli.tar"
    assert (
        pipeline_main(["bank", "export", "--study", str(source), "--tasks", "power", "--out", str(out)]) == 0
    )
    assert f"exported 3 finished runs (power 3) of 3 architectures -> {out}" in capsys.readouterr().out
    assert pipeline_main(["bank", "import", str(out), "--study", str(other.source), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "power  3 to import" in text and "dry run: 3 runs would be imported" in text
    assert "not in the bank: cifar" in text
    assert not layout.listed_results(other.results_dir, "power")
    assert pipeline_main(["bank", "import", str(out), "--study", str(other.source)]) == 0
    assert "3 runs imported into study 'other'" in capsys.readouterr().out
    assert len(layout.finished_keys(other.results_dir, "power")) == 3
    assert pipeline_main(["bank", "export", "--study", str(source)]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        pipeline_main(["bank", "--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("archcorr")


def test_a_bank_stands_in_for_data_that_is_not_here(exported, tmp_path):
    """The point of a bank: a lab without the reference's data uses its runs. The other study has only its
    own task's store; the bank's identity is recorded for the other task, whose runs then count as done;
    a run of that task that the bank lacks cannot be trained here and launch says so before submitting."""
    source, study, bank = exported
    own = tmp_path / "elsewhere"
    raw = yaml.safe_load(source.read_text())
    raw.update(name="mine", results_dir=str(own / "results" / "mine"), data_root=str(own / "data"))
    path = own / "mine.yaml"
    own.mkdir()
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    write_random_store(own / "data" / "powerline", "powerline", 2, seed=1)  # only `power`'s data is here
    write_architectures(own / "results" / "mine", space=tiny_space(source.parent))
    mine = load_study(path)
    with pytest.raises(Exception, match="cifar10"):
        current_plan(mine)  # without the bank, cifar's data is missing
    result = import_bank(bank.path, mine)
    assert result.outcomes["cifar"].used == 3
    assert task_identity(mine, mine.tasks["cifar"]) == task_identity(study, study.tasks["cifar"])
    lp = plan_launch(mine)
    assert int((lp.missing["task"] == "cifar").sum()) == 0  # the bank's runs count as done
    table = _collected(mine)
    assert sorted(table[table["task"] == "cifar"]["run_key"]) == sorted(
        current_plan(study).query("task == 'cifar'")["run_key"]
    )
    edited = dataclasses.replace(mine, seeds=(0, 1))  # a seed the bank has not trained
    with pytest.raises(Exception, match="3 run\\(s\\) to train; run: python -m pipeline prepare cifar10"):
        plan_launch(edited)


def test_a_damaged_identities_file_is_one_error_naming_it(exported, tmp_path):
    from pipeline.fsio import UnreadableFileError

    _, study, _ = exported
    (study.results_dir / "identities.json").write_text("{half")
    with pytest.raises(
        UnreadableFileError, match=r"identities\.json is not valid JSON.*import the bank again"
    ):
        current_plan(dataclasses.replace(study, data_root=tmp_path / "no-data"))
