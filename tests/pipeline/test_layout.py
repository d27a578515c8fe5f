"""Result files: what counts as finished (complete files only), damaged files, the recorded space."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from pipeline import fsio, layout
from pipeline.errors import StudyError
from pipeline.sample import sample_study
from pipeline.study import Space, load_study
from tests.pipeline.fanout_support import make_tiny_study


def test_finished_keys_ignore_temp_history_and_incomplete_files(tmp_path):
    folder = layout.runs_dir(tmp_path, "t")
    folder.mkdir(parents=True)
    fsio.write_table(pd.DataFrame({"a": [1]}), folder / "aaa.parquet")
    good = (folder / "aaa.parquet").read_bytes()
    (folder / ".bbb.parquet.tmp-123").write_bytes(b"PAR1 half written")
    (folder / "aaa.history.parquet").write_bytes(b"x")
    (folder / "ccc.failed.json").write_text("{}")
    (folder / "ddd.parquet").write_bytes(b"")  # zero bytes
    (folder / "eee.parquet").write_bytes(good[: len(good) // 2])  # truncated
    assert layout.finished_keys(tmp_path, "t") == {"aaa"}
    assert [p.name for p in layout.damaged_results(tmp_path, "t")] == ["ddd.parquet", "eee.parquet"]
    assert layout.scan_results(tmp_path, "t") == (
        {"aaa"},
        sorted(folder / n for n in ("ddd.parquet", "eee.parquet")),
    )
    assert layout.is_finished(tmp_path, "t", "aaa") and not layout.is_finished(tmp_path, "t", "eee")
    assert not layout.is_finished(tmp_path, "t", "zzz")
    assert layout.finished_keys(tmp_path, "absent") == set()


def test_read_rows_reports_a_damaged_file_instead_of_dropping_it(tmp_path):
    fsio.write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"PAR1" + b"\0" * 20 + b"PAR1")  # passes the cheap check
    table, damaged = layout.read_rows([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert table["a"].tolist() == [1]
    assert [p.name for p, _ in damaged] == ["b.parquet"]


def test_architectures_from_another_space_are_refused_with_the_fix(tmp_path):
    study = load_study(make_tiny_study(tmp_path))
    assert len(layout.read_architectures(study)) == 3
    edited = dataclasses.replace(study, space=dataclasses.replace(study.space, seed=1))
    with pytest.raises(StudyError) as info:
        layout.read_architectures(edited)
    text = str(info.value)
    assert "seed 0 -> 1" in text and "sample --study" in text and "--force" in text


def test_sample_keeps_a_matching_sample_and_refuses_another_space(tmp_path):
    study = load_study(make_tiny_study(tmp_path, archs=False))
    study = dataclasses.replace(study, space=Space(n=4, flops_mf=(20.0, 40.0), seed=0))
    path, written = sample_study(study)
    assert written and layout.read_space(path)["n"] == 4
    assert sample_study(study) == (path, False)  # same space: kept as is
    bigger = dataclasses.replace(study, space=dataclasses.replace(study.space, n=5))
    with pytest.raises(StudyError, match="n 4 -> 5"):
        sample_study(bigger)
    _, written = sample_study(bigger, force=True)
    assert written and len(layout.read_architectures(bigger)) == 5


def test_a_file_without_a_recorded_space_is_refused(tmp_path):
    study = load_study(make_tiny_study(tmp_path, archs=False))
    path = tmp_path / "results" / "tiny" / "architectures.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"arch_id": [0]}).to_parquet(path)
    with pytest.raises(StudyError, match="does not record the space"):
        layout.read_architectures(study)
