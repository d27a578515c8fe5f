"""What `analysis report` writes, checked as a reader of the files sees it: every table's arrow types (also
when empty or all-NaN), list columns for architectures, the long target × source table, warnings for small
studies and barely trained tasks, the Method section's rules, and `--version`."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analysis.__main__ import main
from analysis.tables import SCHEMAS, training_health
from tests.analysis.synthetic import synthetic_architectures, synthetic_runs

TASKS = {
    "imagenet": (1000, "top5"),
    "imagenet-2": (2, "top1"),
    "concrete": (2, "top1"),
    "cifar10": (10, "top1"),
}


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """A study of 6 architectures: top-k is empty (k = 10 > n), every reading is about too few."""
    folder = tmp_path_factory.mktemp("tiny")
    archs = synthetic_architectures(6)
    archs.to_parquet(folder / "architectures.parquet")
    synthetic_runs(archs, TASKS).to_parquet(folder / "runs.parquet")
    assert main(["report", str(folder), "--bootstrap", "50"]) == 0
    return folder


@pytest.mark.parametrize("which", ["small_report", "tiny_report", "noise_report", "ladder_report"])
def test_every_table_reads_back_with_its_declared_arrow_types(which, request):
    folder = request.getfixturevalue(which)
    written = {p.stem for p in (folder / "tables").glob("*.parquet")}
    assert written == set(SCHEMAS) - {"comparison"}
    for name in written:
        path = folder / "tables" / f"{name}.parquet"
        schema = pq.read_schema(path)
        assert schema.names == SCHEMAS[name].names, name
        for field in SCHEMAS[name]:
            assert schema.field(field.name).type == field.type, (
                name,
                field.name,
                schema.field(field.name).type,
            )
        assert list(pd.read_parquet(path).columns) == SCHEMAS[name].names


def test_empty_topk_of_a_tiny_study_is_typed_not_null(tiny_report):
    topk = pq.read_table(tiny_report / "tables" / "topk.parquet")
    assert topk.num_rows == 0 and str(topk.schema.field("overlap").type) == "int64"
    assert str(topk.schema.field("task_a").type) == "string"


def test_best_architectures_are_list_columns_with_both_sizes(small_report):
    best = pd.read_parquet(small_report / "tables" / "best.parquet").set_index("task")
    row = best.loc["cifar10"]
    assert [len(row[c]) for c in ("depths", "widths", "bottleneck_ratios", "group_widths")] == [4, 4, 4, 4]
    assert (row["space_resolution"], row["space_classes"]) == (224, 1000)
    assert (row["trained_resolution"], row["trained_classes"]) == (32, 10)  # CIFAR: trained at 32 px
    assert row["trained_flops"] < row["flops"]  # fewer pixels than where the space counts them


def test_target_proxies_is_the_long_table_of_every_target_and_source(small_report):
    pairs = pd.read_parquet(small_report / "tables" / "target_proxies.parquet")
    targets = pd.read_parquet(small_report / "tables" / "targets.parquet")
    correlations = pd.read_parquet(small_report / "tables" / "correlations.parquet")
    assert "proxies_spearman" not in targets.columns
    assert len(pairs) == 3 * 3  # targets × (imagenet, imagenet-10, imagenet-2)
    assert pairs.groupby("target")["role"].apply(list).to_dict()["mlc2008"] == ["reference", "proxy", "proxy"]
    for row in pairs.itertuples(index=False):
        hit = correlations[
            ((correlations["task_a"] == row.source) & (correlations["task_b"] == row.target))
            | ((correlations["task_a"] == row.target) & (correlations["task_b"] == row.source))
        ].iloc[0]
        assert (row.spearman, row.spearman_ci_low, row.n) == (
            hit["spearman"],
            hit["spearman_ci_low"],
            hit["n"],
        )
    matched = pairs[pairs["matched"]].set_index("target")["source"].to_dict()
    assert matched == targets.set_index("target")["matched_proxy"].to_dict()


def test_targets_answer_which_architecture_to_pick(small_report):
    targets = pd.read_parquet(small_report / "tables" / "targets.parquet").set_index("target")
    regret = pd.read_parquet(small_report / "tables" / "regret.parquet").set_index(["source", "target"])
    best = pd.read_parquet(small_report / "tables" / "best.parquet").set_index("task")
    row = targets.loc["mlc2008"]
    assert row["best_arch_id"] == best.loc["mlc2008", "arch_id"]
    assert list(row["best_depths"]) == list(best.loc["mlc2008", "depths"])
    chosen = regret.loc[("imagenet", "mlc2008")]
    assert (row["reference_choice_arch_id"], row["reference_choice_error"]) == (
        chosen["chosen_arch_id"],
        chosen["chosen_error"],
    )
    assert row["matched_choice_arch_id"] == regret.loc[("imagenet-10", "mlc2008"), "chosen_arch_id"]


def test_a_tiny_study_warns_and_claims_no_agreement(tiny_report):
    html = (tiny_report / "report.html").read_text()
    assert '<h3 id="warnings">Warnings</h3>' in html and "At most 6 architectures per task" in html
    targets = pd.read_parquet(tiny_report / "tables" / "targets.parquet")
    assert set(targets["reference_verdict"]) <= {"too_few", "no_evidence"}
    for text in targets["reading"]:
        assert "ranks architectures" not in text and "agrees better than chance" not in text
        assert "python -m pipeline plan-size --rho" in text


def test_method_section_states_the_wording_and_training_thresholds(small_report):
    html = (small_report / "report.html").read_text()
    for phrase in ("L ≥ 0.85", "L ≥ 0.3", "at least 10 architectures", "0.9 × ln k", "10000 times", "1/b"):
        assert phrase in html, phrase


def _near_chance(runs: pd.DataFrame, task: str, classes: int) -> pd.DataFrame:
    """`task`'s runs made barely trained: loss just under ln k, error just under chance."""
    runs = runs.copy()
    on = runs["task"] == task
    rng = np.random.default_rng(0)
    runs.loc[on, "final_loss"] = math.log(classes) * rng.uniform(0.93, 0.99, on.sum())
    runs.loc[on, "error"] = 100 * (1 - 1 / classes) * rng.uniform(0.93, 0.99, on.sum())
    return runs


def test_barely_trained_tasks_are_flagged_in_tables_reading_and_warnings(tmp_path):
    archs = synthetic_architectures(30)
    archs.to_parquet(tmp_path / "architectures.parquet")
    _near_chance(synthetic_runs(archs, TASKS), "concrete", 2).to_parquet(tmp_path / "runs.parquet")
    assert main(["report", str(tmp_path), "--bootstrap", "50"]) == 0
    tasks = pd.read_parquet(tmp_path / "tables" / "tasks.parquet").set_index("task")
    flags = ["undertrained_by_loss", "undertrained_by_error", "undertrained"]
    assert tasks.loc["concrete", flags].tolist() == [True, True, True]
    assert not tasks.loc[["imagenet", "imagenet-2", "cifar10"], "undertrained"].any()
    targets = pd.read_parquet(tmp_path / "tables" / "targets.parquet").set_index("target")
    assert targets.at["concrete", "target_undertrained"] and not targets.at["cifar10", "target_undertrained"]
    assert not targets["reference_undertrained"].any()
    said = "Architectures barely trained on concrete; its ranking mostly reflects convergence speed."
    assert said in targets.at["concrete", "reading"] and said not in targets.at["cifar10", "reading"]
    html = (tmp_path / "report.html").read_text()
    assert "Architectures barely trained on concrete (median final training loss" in html  # the warning
    summary = html.split("barely trained</th>")[1].split("</table>")[0]  # the targets table: last column
    assert re.search(r"<tr>\s*<td>concrete</td>(\s*<td>[^<]*</td>)*\s*<td>concrete</td>\s*</tr>", summary)
    assert re.search(r"<tr>\s*<td>cifar10</td>(\s*<td>[^<]*</td>)*\s*<td>–</td>\s*</tr>", summary)


def test_runs_without_final_loss_are_judged_by_error_alone():
    archs = synthetic_architectures(12)
    runs = _near_chance(synthetic_runs(archs, TASKS), "concrete", 2).drop(columns=["final_loss"])
    health = training_health(runs)
    assert health["undertrained_by_loss"].isna().all()
    assert bool(health.at["concrete", "undertrained"]) and not health.at["cifar10", "undertrained"]
    unknown = runs.drop(columns=["num_classes"])  # nothing to compare with: not judged, not guessed
    assert training_health(unknown)["undertrained"].isna().all()


def test_version_is_printed_by_the_command_and_its_verbs(capsys):
    from importlib.metadata import version

    for argv in (["--version"], ["report", "--version"]):
        assert main(argv) == 0
        assert capsys.readouterr().out.strip() == f"archcorr {version('archcorr')}"


def test_version_falls_back_when_the_package_is_not_installed(monkeypatch):
    import importlib.metadata

    from pipeline.cli import version

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert version().startswith("archcorr (not installed")
