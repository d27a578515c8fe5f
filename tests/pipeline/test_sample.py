"""`python -m pipeline sample`: the table, the parquet file, the study entry point and bad arguments."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from anynet import Arch, complexity
from pipeline import sample
from pipeline.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
STAGE_COLUMNS = {"depths": "d", "widths": "w", "bottleneck_ratios": "b", "group_widths": "g"}


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with list columns as Python lists (parquet reads them back as numpy arrays)."""
    return frame.assign(**{c: frame[c].map(lambda v: [int(x) for x in v]) for c in sample.LIST_COLUMNS})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return sample.sample_table(40, seed=0)


def test_table_columns_and_values(table):
    assert list(table.columns) == list(sample.COLUMNS)
    assert table["arch_id"].tolist() == list(range(40))
    assert table["flops"].between(360_000_000, 400_000_000).all()
    for name, letter in STAGE_COLUMNS.items():
        stacked = np.array(table[name].tolist())
        assert stacked.shape == (40, 4)
        flat = table[[f"{letter}{i}" for i in range(1, 5)]].to_numpy()
        assert np.array_equal(stacked, flat), name
    assert (table["cum_depth"] == table[["d1", "d2", "d3", "d4"]].sum(axis=1)).all()
    assert (table["cum_width"] == table[["w1", "w2", "w3", "w4"]].sum(axis=1)).all()
    row = table.iloc[7]
    arch = Arch(
        row["depths"], row["widths"], row["bottleneck_ratios"], row["group_widths"], strides=row["strides"]
    )
    assert complexity(arch) == {"flops": row["flops"], "params": row["params"], "acts": row["acts"]}
    assert sample.sample_table(40, seed=0).equals(table)
    assert not sample.sample_table(40, seed=1).equals(table)


def test_cli_writes_parquet_atomically_with_list_columns(tmp_path, capsys):
    out = tmp_path / "nested" / "archs.parquet"
    assert sample.main(["--n", "25", "--seed", "3", "--out", str(out)]) == 0
    schema = pq.read_schema(out)
    assert schema.field("depths").type == pa.list_(pa.int64()) and schema.field("flops").type == pa.int64()
    assert schema.field("strides").type == pa.list_(pa.int64())
    frame = pd.read_parquet(out)
    assert len(frame) == 25 and frame["strides"].map(list).tolist() == [[1, 2, 2, 2]] * 25
    assert plain(frame).equals(plain(sample.sample_table(25, seed=3))) and sorted(
        p.name for p in out.parent.iterdir()
    ) == ["archs.parquet"]
    printed = capsys.readouterr().out
    assert "25 architectures, flops 3" in printed and "cum_depth quartiles" in printed
    assert "draws" in printed and "acceptance" in printed
    # the same arguments give the same file contents
    again = tmp_path / "again.parquet"
    sample.main(["--n", "25", "--seed", "3", "--out", str(again)])
    assert pd.read_parquet(again).equals(frame)


def test_cli_options_flops_strides_and_folder_out(tmp_path):
    args = ["--n", "10", "--seed", "1", "--flops", "700", "800", "--strides", "2", "2", "2", "2"]
    assert sample.main([*args, "--out", str(tmp_path)]) == 0
    frame = pd.read_parquet(tmp_path / "architectures.parquet")
    assert frame["flops"].between(700e6, 800e6).all()
    assert frame["strides"].map(list).tolist() == [[2, 2, 2, 2]] * 10


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--n", "0"], "argument --n: '0': must be >= 1"),
        (["--flops", "400", "360"], "--flops 400 360 (MF)"),
        (["--flops", "20", "inf"], "argument --flops: 'inf': must be a finite number"),
        (["--flops", "1", "2"], "no architecture has flops in [1, 2] MF"),
        (["--strides", "1", "3", "2", "2"], "argument --strides: invalid choice: 3"),
        (["--seed", "-2"], "argument --seed: '-2': must be >= 0"),
        (["--n", "many"], "argument --n: 'many' is not a positive integer"),
        (["--study", "demo", "--n", "4"], "--study takes n, seed, flops, strides and the output folder"),
    ],
)
def test_bad_arguments_print_one_line_and_exit_2(argv, needle, tmp_path, capsys):
    assert (
        run_cli(sample.main, [*argv, "--out", str(tmp_path / "a.parquet")] if "--study" not in argv else argv)
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "a.parquet").exists()


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert run_cli(sample.main, ["--n", "3", "--out", str(blocker / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"error: cannot create the folder of {blocker / 'x.parquet'}") and err.count("\n") == 1
    )


def _study(tmp_path: Path, **space):
    from pipeline.study import Space, study_from_dict
    from tests.pipeline.fanout_support import study_dict

    study = study_from_dict(study_dict(tmp_path))
    defaults = {"n": 12, "seed": 4, "flops_mf": (360.0, 400.0), "strides": (1, 2, 2, 2)}
    return dataclasses.replace(study, results_dir=tmp_path / "res", space=Space(**{**defaults, **space}))


def test_sample_study_writes_once(tmp_path):
    study = _study(tmp_path)
    path, written = sample.sample_study(study)
    assert written and path == tmp_path / "res" / "architectures.parquet"
    first = pd.read_parquet(path)
    assert len(first) == 12 and plain(first).equals(plain(sample.sample_table(12, 4)))
    stamp = path.stat().st_mtime_ns
    assert sample.sample_study(study) == (path, False)  # present and from this space: left as is
    assert path.stat().st_mtime_ns == stamp and len(pd.read_parquet(path)) == 12


def test_cli_study_goes_through_load_study(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sample, "load_study", lambda name: _study(tmp_path))
    assert sample.main(["--study", "whatever"]) == 0
    assert "written" in capsys.readouterr().out
    assert sample.main(["--study", "whatever"]) == 0
    assert "already there (sampled from this space), left as is" in capsys.readouterr().out


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_module_entry_points(tmp_path):
    out = tmp_path / "a.parquet"
    done = _run("-m", "pipeline.sample", "--n", "5", "--seed", "0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert len(pd.read_parquet(out)) == 5 and "5 architectures" in done.stdout
    bad = _run("-m", "pipeline", "sample", "--n", "5", "--flops", "400", "360")
    assert bad.returncode == 2 and "--flops 400 360 (MF)" in bad.stderr and bad.stderr.count("\n") == 1
