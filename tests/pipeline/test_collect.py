"""collect: runs.parquet from complete result files only; a half-written file is never read."""

from __future__ import annotations

import pandas as pd

from pipeline.collect import collect, main
from pipeline.launch import launch
from pipeline.study import load_study
from pipeline.train import RESULT_COLUMNS
from tests.pipeline.fanout_support import make_tiny_study


def test_collect_gathers_finished_runs_and_ignores_half_written_files(tmp_path, capsys):
    study = load_study(make_tiny_study(tmp_path, runs_per_job=3))
    launch(study, out=lambda line: None)
    folder = study.results_dir / "runs" / "cifar"
    (folder / ".deadbeef0000.parquet.tmp-4242").write_bytes(b"PAR1\x00\x00 killed mid-write")
    (folder / "deadbeef0000.history.parquet").write_bytes(b"not parquet either")
    path, _ = collect(study)
    assert path == study.results_dir / "runs.parquet"
    on_disk = pd.read_parquet(path)
    assert len(on_disk) == 6 and tuple(on_disk.columns) == RESULT_COLUMNS
    assert on_disk["task"].tolist() == ["cifar"] * 3 + ["power"] * 3
    assert on_disk["arch_id"].tolist() == [0, 1, 2, 0, 1, 2]
    assert set(on_disk["status"]) == {"ok"}
    history = pd.read_parquet(study.results_dir / "history.parquet")
    assert len(history) == 6 and set(history["task"]) == {"cifar", "power"}
    assert not [p for p in study.results_dir.iterdir() if p.name.startswith(".")]  # no temp left
    assert main(["--study", str(study.source)]) == 0
    assert "6 runs (6 ok)" in capsys.readouterr().out


def test_collect_of_an_empty_study_writes_an_empty_table(tmp_path):
    study = load_study(make_tiny_study(tmp_path))
    path, table = collect(study)
    assert table.empty and path.is_file()
