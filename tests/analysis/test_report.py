"""`analysis report` end to end on a small synthetic study: files, tables, errors, partial results."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.compute import analyse
from tests.analysis.synthetic import synthetic_architectures, synthetic_runs

TABLE_COLUMNS = {
    "correlations": [
        "task_a",
        "task_b",
        "spearman",
        "spearman_ci_low",
        "spearman_ci_high",
        "pearson",
        "kendall",
        "n",
    ],
    "drivers": ["task", "driver", "spearman", "n"],
    "edf": ["task", "error", "edf", "n"],
    "structure": ["task", "stage", "param", "best", "mean", "sd"],
    "topk": ["task_a", "task_b", "k", "overlap", "fraction", "n"],
    "regret": ["source", "target", "regret", "n"],
    "targets": ["target", "reference_spearman", "matched_proxy", "matched_spearman", "best_proxy", "reading"],
    "target_proxies": ["target", "source", "role", "spearman", "spearman_ci_low", "spearman_ci_high", "n"],
}


@pytest.mark.parametrize("name", sorted(TABLE_COLUMNS))
def test_tables_are_written_in_long_format(small_report, name):
    table = pd.read_parquet(small_report / "tables" / f"{name}.parquet")
    assert set(TABLE_COLUMNS[name]) <= set(table.columns)
    assert len(table) > 0


def test_correlations_cover_every_pair_with_n(small_report):
    table = pd.read_parquet(small_report / "tables" / "correlations.parquet")
    assert len(table) == 15 and (table["n"] == 40).all()
    assert (table["spearman_ci_low"] <= table["spearman"]).all() and (
        table["spearman"] <= table["spearman_ci_high"]
    ).all()


def test_figures_exist_as_png_and_svg(small_report):
    stems = {p.stem for p in (small_report / "figures").glob("*.png")}
    assert stems == {p.stem for p in (small_report / "figures").glob("*.svg")}
    assert {
        "correlation_clustermap",
        "edf_overlay",
        "edf_per_task",
        "drivers_heatmap",
        "drivers_cum_depth",
        "drivers_cum_width",
        "apr_concrete",
        "apr_mlc2008",
        "apr_cifar10",
    } <= stems


def test_report_html_is_self_contained_and_reads_each_target(small_report):
    html = (small_report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(list((small_report / "figures").glob("*.png")))
    assert not re.search(r'<img[^>]+src="(?!data:)', html)  # every image is embedded
    for target, classes in (("concrete", 2), ("mlc2008", 9), ("cifar10", 10)):
        assert f"On {target} ({classes} classes, n = 40), imagenet " in html
        assert f"To pick for {target}: its best architecture is arch " in html
    assert "errors averaged over the ok seeds" in html


def test_targets_use_t22_pairing(small_report):
    targets = pd.read_parquet(small_report / "tables" / "targets.parquet").set_index("target")
    assert targets["matched_proxy"].to_dict() == {
        "concrete": "imagenet-2",
        "mlc2008": "imagenet-10",
        "cifar10": "imagenet-10",
    }


def test_missing_folder_and_file_exit_2_with_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "does not exist" in err
    (tmp_path / "runs.parquet").write_bytes(b"not parquet")
    assert main(["report", str(tmp_path)]) == 2
    assert "not a readable parquet file" in capsys.readouterr().err


def test_partial_results_skip_a_task_with_one_architecture(tmp_path, capsys):
    archs = synthetic_architectures(20)
    runs = synthetic_runs(
        archs, {"imagenet": (1000, "top5"), "cifar10": (10, "top1"), "concrete": (2, "top1")}
    )
    runs = runs[(runs["task"] != "concrete") | (runs["arch_id"] == 0)]
    runs.loc[runs.index[:3], "status"] = "failed"
    archs.to_parquet(tmp_path / "architectures.parquet")
    runs.to_parquet(tmp_path / "runs.parquet")
    assert main(["report", str(tmp_path), "--bootstrap", "50"]) == 0
    assert "task 'concrete' skipped: 1 architecture(s)" in capsys.readouterr().err
    table = pd.read_parquet(tmp_path / "tables" / "correlations.parquet")
    assert table[["task_a", "task_b", "n"]].values.tolist() == [["imagenet", "cifar10", 17]]
    assert "task &#x27;concrete&#x27; skipped" in (tmp_path / "report.html").read_text()


def test_a_study_with_too_few_architectures_is_an_error_not_nan(tmp_path, capsys):
    archs = synthetic_architectures(2)
    synthetic_runs(archs, {"imagenet": (1000, "top5"), "cifar10": (10, "top1")}).to_parquet(
        tmp_path / "runs.parquet"
    )
    archs.to_parquet(tmp_path / "architectures.parquet")
    assert main(["report", str(tmp_path)]) == 2
    assert (
        "no task has 3 or more architectures with ok runs (imagenet: 2, cifar10: 2)"
        in capsys.readouterr().err
    )


def test_study_yaml_sets_roles(tmp_path):
    archs = synthetic_architectures(12)
    runs = synthetic_runs(archs, {"big": (1000, "top5"), "small": (10, "top1"), "mine": (4, "top1")})
    study = {"reference": "big", "tasks": {"big": {}, "small": {"role": "proxy"}, "mine": {"proxy": "small"}}}
    result = analyse(runs, archs, study, n_boot=20)
    row = result.tables["targets"].iloc[0]
    assert (row["target"], row["reference"], row["matched_proxy"], row["reference_n"]) == (
        "mine",
        "big",
        "small",
        12,
    )
    assert not np.isnan(row["matched_spearman"])


def test_bad_arguments_return_2_and_help_0(capsys):
    assert main(["report"]) == 2
    assert "required: results_dir" in capsys.readouterr().err
    assert main(["--help"]) == 0


def test_reading_says_when_the_reference_shares_too_few_architectures():
    archs = synthetic_architectures(12)
    runs = synthetic_runs(archs, {"imagenet": (1000, "top5"), "imagenet-2": (2, "top1"), "mine": (2, "top1")})
    runs = runs[(runs["task"] != "imagenet") | (runs["arch_id"] < 6)]
    runs = runs[(runs["task"] != "mine") | (runs["arch_id"] >= 5)]
    result = analyse(runs, archs, n_boot=10)
    reading = result.tables["targets"].set_index("target").at["mine", "reading"]
    assert reading.startswith("On mine (2 classes, n = 7), there is no ρ with imagenet")
    assert "Among the proxies, the class-count-matched imagenet-2 has the highest ρ" in reading


def test_study_yaml_beside_the_tables_is_read(tmp_path):
    import yaml

    archs = synthetic_architectures(15)
    runs = synthetic_runs(archs, {"base": (1000, "top5"), "px": (10, "top1"), "mine": (3, "top1")})
    archs.to_parquet(tmp_path / "architectures.parquet")
    runs.to_parquet(tmp_path / "runs.parquet")
    study = {
        "name": "tiny",
        "reference": "base",
        "tasks": {"base": {"role": "reference"}, "px": {"role": "proxy"}, "mine": {"proxy": "px"}},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    assert main(["report", str(tmp_path), "--bootstrap", "20"]) == 0
    targets = pd.read_parquet(tmp_path / "tables" / "targets.parquet")
    assert targets[["target", "reference", "matched_proxy"]].values.tolist() == [["mine", "base", "px"]]
    html = (tmp_path / "report.html").read_text()
    assert "Architecture ranking report: tiny" in html and "T22 Table 3, extended" in html
