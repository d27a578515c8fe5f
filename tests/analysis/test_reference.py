"""The published T22 table and `analysis compare`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.__main__ import main
from analysis.reference import REFERENCE_COLUMNS, compare

REFERENCE = Path(__file__).resolve().parents[2] / "results" / "reference" / "t22.csv"


def test_reference_table_holds_study_md_section_9():
    ref = pd.read_csv(REFERENCE)
    assert list(ref.columns) == list(REFERENCE_COLUMNS)
    assert ref.groupby("source").size().to_dict() == {
        "Fig. 12": 7,
        "Fig. 14": 28,
        "Table 3": 16,
        "Table 4": 20,
    }
    pairs = ref[ref["kind"] == "pair"].set_index(["source", "task_a", "task_b"])["spearman"]
    assert pairs["Table 3", "imagenet-10", "mlc2008"] == 0.811
    assert pairs["Fig. 14", "powerline", "natural"] == 0.793
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
    assert len(table) == 64  # pretrained rows left out
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
    assert "published correlations have a counterpart in the study" in printed
    table = pd.read_csv(out)
    assert {"published", "study", "study_ci_low", "study_ci_high", "difference"} <= set(table.columns)
    assert (table["study_n"] > 0).any()


def test_compare_missing_reference_exits_2(small_report, capsys):
    assert main(["compare", str(small_report), "--reference", "nope.csv"]) == 2
    assert capsys.readouterr().err.startswith("error: nope.csv does not exist")
