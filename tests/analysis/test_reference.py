"""The published T22 table and `analysis compare`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.reference import REFERENCE_COLUMNS, compare

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference" / "t22.csv"


def test_reference_table_holds_study_md_section_9_and_issue_10():
    ref = pd.read_csv(REFERENCE)
    assert list(ref.columns) == list(REFERENCE_COLUMNS)
    assert ref.groupby("source").size().to_dict() == {
        "Fig. 6": 4,
        "Fig. 7": 20,
        "Fig. 12": 7,
        "Fig. 14": 28,
        "Table 3": 16,
    }
    pairs = ref[ref["kind"] == "pair"].set_index(["source", "task_a", "task_b"])["spearman"]
    assert pairs["Table 3", "imagenet-10", "mlc2008"] == 0.811
    assert pairs["Fig. 14", "powerline", "natural"] == 0.793
    assert pairs["Fig. 6"].to_dict() == {
        ("imagenet-1000-10", "cifar10"): 0.171,
        ("imagenet-1000-10", "natural"): -0.215,
        ("imagenet-1000-10", "powerline"): -0.184,
        ("imagenet-10", "powerline"): 0.103,
    }
    assert set(ref.loc[ref["kind"] == "driver", "source"]) == {"Fig. 7"}
    assert ref[["source", "setting", "kind", "task_a", "task_b", "driver"]].fillna("").duplicated().sum() == 0
    drivers = ref[ref["kind"] == "driver"].set_index(["task_a", "driver"])["spearman"]
    assert drivers["powerline", "cum_depth"] == 0.742 and drivers["imagenet", "cum_width"] == -0.511
    # ImageNet vs each target is printed in Table 3 and in Fig. 14: the two must agree
    t3 = ref[(ref["source"] == "Table 3") & (ref["task_a"] == "imagenet")].set_index("task_b")["spearman"]
    f14 = ref[(ref["source"] == "Fig. 14") & (ref["task_a"] == "imagenet")].set_index("task_b")["spearman"]
    assert (t3.reindex(f14.index) == f14).all()


def test_compare_matches_names_and_pair_order():
    ref = pd.read_csv(REFERENCE)
    correlations = pd.DataFrame(
        {
            "task_a": ["CIFAR10", "ImageNet-10"],
            "task_b": ["ImageNet", "MLC2008"],
            "spearman": [-0.1, 0.7],
            "spearman_ci_low": [-0.2, 0.6],
            "spearman_ci_high": [0.0, 0.9],
            "n": [400, 400],
        }
    )
    drivers = pd.DataFrame({"task": ["imagenet"], "driver": ["cum_depth"], "spearman": [-0.3], "n": [400]})
    table = compare(ref, correlations, drivers)
    assert len(table) == len(ref) and table["setting"].tolist() == ref["setting"].tolist()
    assert (table.loc[table["setting"] == "pretrained", "study_n"] == 0).all()  # no from-scratch counterpart
    hit = table[
        (table["source"] == "Table 3") & (table["task_b"] == "cifar10") & (table["task_a"] == "imagenet")
    ]
    assert hit[["study", "study_n"]].values.tolist() == [[-0.1, 400]] and bool(hit["published_in_ci"].item())
    mlc = table[(table["task_a"] == "imagenet-10") & (table["task_b"] == "mlc2008")].iloc[0]
    assert mlc["published_in_ci"] and mlc["difference"] == pytest.approx(0.7 - 0.811)
    depth = table[
        (table["kind"] == "driver") & (table["task_a"] == "imagenet") & (table["task_b"] == "cum_depth")
    ]
    assert depth["study"].item() == -0.3 and pd.isna(depth["published_in_ci"].item())
    assert (table["study_n"] > 0).sum() == 4


def test_compare_cli_on_a_report(small_report, capsys, tmp_path):
    out = tmp_path / "comparison.csv"
    assert main(["compare", str(small_report), "--reference", str(REFERENCE), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "published from-scratch correlations have a counterpart in the study" in printed
    table = pd.read_csv(out)
    assert {"published", "study", "study_ci_low", "study_ci_high", "difference"} <= set(table.columns)
    assert (table["study_n"] > 0).any()


def test_compare_missing_reference_exits_2(small_report, capsys):
    assert main(["compare", str(small_report), "--reference", "nope.csv"]) == 2
    assert capsys.readouterr().err.startswith("error: nope.csv does not exist")


PAPER = Path(__file__).resolve().parents[2] / "pipeline" / "studies" / "paper.yaml"


def test_compare_on_a_complete_paper_study_lists_every_published_row(tmp_path, capsys):
    """A results folder with every task of paper.yaml: each reference row is listed once, in order, and
    every from-scratch row finds its pair or driver in the study."""
    import yaml

    from tests.analysis.synthetic import T22_TASKS, write_study

    paper = yaml.safe_load(PAPER.read_text())
    tasks = {name: T22_TASKS.get(name, (1000, "top5")) for name in paper["tasks"]}
    assert set(tasks) == set(T22_TASKS) | {"imagenet-1000-10"}
    ref = pd.read_csv(REFERENCE)
    named = set(ref["task_a"]) | set(ref["task_b"].dropna())
    assert named <= set(paper["tasks"]), (
        f"reference names absent from paper.yaml: {named - set(paper['tasks'])}"
    )

    write_study(tmp_path, n_archs=30, tasks=tasks)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(paper))
    out = tmp_path / "comparison.parquet"
    assert (
        main(
            ["compare", str(tmp_path), "--reference", str(REFERENCE), "--out", str(out), "--bootstrap", "20"]
        )
        == 0
    )
    assert "68 of 68 published from-scratch correlations have a counterpart" in capsys.readouterr().out
    table = pd.read_parquet(out)
    keys = ["source", "setting", "kind", "task_a"]
    assert table[keys].values.tolist() == ref[keys].values.tolist()
    assert table["task_b"].tolist() == ref["task_b"].fillna(ref["driver"]).tolist()
    scratch = table[table["setting"] == "scratch"]
    assert len(scratch) == 68 and (scratch["study_n"] == 30).all() and scratch["study"].notna().all()
    assert (table.loc[table["setting"] != "scratch", "study_n"] == 0).all()
