"""Top-k overlap and regret on constructed errors with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import regret, regret_table, topk_table


def _matrix() -> pd.DataFrame:
    ids = pd.Index(range(100), name="arch_id")
    ref = np.arange(100, dtype=float)  # arch 0 best on the reference
    target = np.arange(100, dtype=float)[::-1].copy()  # reversed: arch 99 best on the target
    target[[0, 1, 2]] = [50.5, 0.5, 60.5]  # the reference's best is mediocre on the target, its 2nd is good
    same = ref + 1000
    return pd.DataFrame({"ref": ref, "target": target, "same": same}, index=ids)


def test_regret_is_the_target_error_lost_by_taking_the_source_best():
    got = regret(_matrix(), "ref", "target")
    assert got["chosen_arch_id"] == 0 and got["chosen_error"] == 50.5
    assert got["best_arch_id"] == 99 and got["best_error"] == 0.0
    assert got["regret"] == pytest.approx(50.5)
    assert got["regret_top10"] == pytest.approx(0.5)  # arch 1 is among the reference's 10 best
    assert got["chosen_rank"] == 53  # below 50.5: 0.5 and 0, 1, …, 50
    assert regret(_matrix(), "same", "ref")["regret"] == 0


def test_regret_table_has_every_ordered_pair():
    table = regret_table(_matrix())
    assert len(table) == 6 and set(zip(table["source"], table["target"], strict=True)) >= {("ref", "target")}


def test_topk_overlap():
    table = topk_table(_matrix())
    row = table[(table["task_a"] == "ref") & (table["task_b"] == "same") & (table["k"] == 10)].iloc[0]
    assert row["overlap"] == 10 and row["fraction"] == 1 and row["chance"] == pytest.approx(0.1)
    row = table[(table["task_a"] == "ref") & (table["task_b"] == "target") & (table["k"] == 10)].iloc[0]
    assert row["overlap"] == 1  # arch 1 only
    row = table[(table["task_a"] == "ref") & (table["task_b"] == "target") & (table["k"] == 50)].iloc[0]
    assert row["overlap"] == 1  # target's 50 best: arch 1 and archs 51..99; the reference's: 0..49


def test_topk_skips_k_above_n_and_uses_common_architectures():
    m = _matrix().iloc[:20].copy()
    m.loc[:4, "target"] = np.nan
    table = topk_table(m)
    assert set(table["k"]) == {10}
    assert table[(table["task_a"] == "ref") & (table["task_b"] == "target")]["n"].item() == 15
