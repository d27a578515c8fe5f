"""The report's proxy ladder and zero-cost parts (issue 14), end to end on a constructed study.

`ladder_study` (tests/analysis/synthetic.py): imagenet@r16 ranks like imagenet (noise-free ρ 0.98) at 5% of
its GPU-hours, imagenet@e1 does not (0.5) at 20%; no rung reaches ρ 0.9 against cifar10. Zero-cost `good`
agrees with −error by construction (0.97 on imagenet, 0.3 on cifar10), `noise` not at all.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from analysis.__main__ import main
from analysis.ladder import trustworthy_sentence
from analysis.report import ladder_caption
from tests.analysis.synthetic import LADDER_TASKS, ZERO_COST_SIGNAL, ladder_study, report_without_figures


def table(folder, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / "tables" / f"{name}.parquet")


def html_of(folder) -> str:
    """report.html with entities decoded (the report escapes quotes as entities)."""
    return html.unescape((folder / "report.html").read_text())


def test_ladder_rows_carry_costs_from_costs_parquet(ladder_report):
    ladder = table(ladder_report, "ladder")
    costs = pd.read_parquet(ladder_report / "costs.parquet").set_index("task")
    parent = ladder[ladder["versus"] == "imagenet"].set_index("task")
    assert list(parent.index) == ["imagenet@r16", "imagenet@e1"]
    assert (parent["factor"].tolist(), parent["value"].tolist()) == (["resolution", "epochs"], ["16", "1"])
    for task, row in parent.iterrows():
        assert row["macs"] == costs.at[task, "total_macs"] and row["gpu_hours"] == costs.at[task, "gpu_hours"]
        assert row["cost_fraction"] == pytest.approx(LADDER_TASKS[task][1] / LADDER_TASKS["imagenet"][1])
    target = ladder[ladder["versus"] == "cifar10"]
    assert target["task"].tolist() == ["imagenet", "imagenet@r16", "imagenet@e1"]  # the full task first
    assert pq.read_schema(ladder_report / "tables" / "ladder.parquet").field("pareto").type == "bool"


def test_each_target_and_the_parent_get_the_cheapest_trustworthy_sentence(ladder_report):
    ladder, page = table(ladder_report, "ladder"), html_of(ladder_report)
    parent = trustworthy_sentence(ladder, "imagenet")
    assert "the cheapest proxy with ρ ≥ 0.90 (CI low ≥ 0.80) is imagenet@r16" in parent
    assert "costs 5.0% of the full task's GPU-hours" in page
    assert "Against cifar10, no rung reaches ρ ≥ 0.90 (CI low ≥ 0.80)" in page
    assert "The zero-cost predictor good reaches it too" in page  # on imagenet: ρ ≈ 0.97 by construction
    assert "No zero-cost predictor reaches it; the best is good" in page  # on cifar10: ≈ 0.3


def test_ladder_figure_shows_zero_cost_at_a_stated_fixed_position(ladder_report):
    assert (ladder_report / "figures" / "ladder.png").is_file()
    assert (ladder_report / "figures" / "ladder.svg").is_file()
    assert "Grey diamonds: zero-cost predictors scored on the panel's task, drawn at a fixed x" in html_of(
        ladder_report
    )


def test_zero_cost_agreement_is_rho_of_score_with_minus_error(ladder_report):
    agreement = table(ladder_report, "zero_cost_agreement").set_index(["task", "predictor"])
    scores = pd.read_parquet(ladder_report / "zero_cost.parquet")
    runs = pd.read_parquet(ladder_report / "runs.parquet")
    errors = runs.pivot(index="arch_id", columns="task", values="error")
    for task in ZERO_COST_SIGNAL:
        for predictor in ("good", "noise", "params", "flops"):
            mine = scores[(scores["task"] == task) & (scores["predictor"] == predictor)].set_index("arch_id")
            score = mine["score"].replace(-np.inf, mine["score"][np.isfinite(mine["score"])].min() - 1)
            both = score.notna()
            expected = stats.spearmanr(score[both], -errors.loc[score.index[both], task])[0]
            row = agreement.loc[(task, predictor)]
            assert row["spearman"] == pytest.approx(expected, abs=1e-12), (task, predictor)
            assert row["n"] == int(both.sum())
            assert row["seconds"] == pytest.approx(mine["seconds"].sum())
    good = agreement.loc[("imagenet", "good")]
    assert good["spearman_ci_low"] <= ZERO_COST_SIGNAL["imagenet"] <= good["spearman_ci_high"]
    assert good["spearman"] > 0.9  # a good predictor has ρ > 0: the sign convention is applied
    assert agreement.at[("cifar10", "good"), "n"] == 299  # the NaN score is left out, the -inf one ranked
    noise = agreement.loc[("cifar10", "noise")]
    assert noise["spearman_ci_low"] < 0 < noise["spearman_ci_high"]
    costs = pd.read_parquet(ladder_report / "costs.parquet").set_index("task")["gpu_hours"]
    assert good["cost_fraction"] == pytest.approx(good["seconds"] / 3600 / costs["imagenet"])


def test_zero_cost_table_is_the_validated_raw_scores(ladder_report):
    written = pq.read_table(ladder_report / "tables" / "zero_cost.parquet")
    assert [str(f.type) for f in written.schema] == ["int64", "string", "string", "double", "double"]
    given = pd.read_parquet(ladder_report / "zero_cost.parquet")
    got = written.to_pandas()
    assert len(got) == len(given) and np.isneginf(got["score"]).sum() == 1 and got["score"].isna().sum() == 1
    assert got[["task", "arch_id", "predictor"]].equals(
        got[["task", "arch_id", "predictor"]].sort_values(["task", "arch_id", "predictor"])
    )


def test_training_against_the_best_free_predictor_is_tested_per_target(ladder_report):
    row = table(ladder_report, "targets").set_index("target").loc["cifar10"]
    assert row["zero_cost_best"] == "good" and row["trained_best"] in {"imagenet", "imagenet@r16"}
    assert row["trained_minus_zero_cost"] > 0 and row["trained_minus_zero_cost_p"] < 0.05
    assert (
        "Among the zero-cost predictors (scored on the images of cifar10), good has the highest ρ and agrees "
        "better than chance" in row["reading"]
    )
    assert f"training pays off: {row['trained_best']} ranks cifar10 distinguishably better" in row["reading"]
    page = html_of(ladder_report)
    assert '<h2 id="zero_cost">Zero-cost predictors</h2>' in page
    assert (
        "higher = predicted better (lower error); for params and flops that is the stored convention" in page
    )


def test_without_costs_the_ladder_says_so_and_has_no_cost_axis(tmp_path):
    ladder_study(tmp_path, n_archs=60, costs=False)
    assert main(["report", str(tmp_path), "--bootstrap", "50"]) == 0
    page = html_of(tmp_path)
    assert "No costs.parquet in the results folder: the rungs' costs are unknown" in page
    assert "Against imagenet, the cheapest proxy with ρ ≥ 0.90 (CI low ≥ 0.80) is imagenet@r16" in page
    assert "it has no cost estimate" in page
    ladder = table(tmp_path, "ladder")
    assert len(ladder) and ladder["cost_fraction"].isna().all() and ladder["gpu_hours"].isna().all()
    assert not (tmp_path / "figures" / "ladder.png").exists()
    assert table(tmp_path, "zero_cost_agreement")["cost_fraction"].isna().all()


def test_without_zero_cost_scores_the_section_says_so(tmp_path):
    ladder_study(tmp_path, n_archs=60, zero_cost=False)
    result, page = report_without_figures(tmp_path)
    assert "No zero_cost.parquet in the results folder: python -m pipeline zero-cost --study X" in page
    assert "Among the zero-cost predictors" not in page and "zero-cost predictor" not in ladder_caption(False)
    assert result.tables["zero_cost"].empty and result.tables["zero_cost_agreement"].empty
    assert result.tables["targets"]["zero_cost_best"].isna().all()


def test_without_a_ladder_the_section_is_one_line(small_report):
    assert "No proxy ladder: the study has no `ladder:` section" in html_of(small_report)
    assert pq.read_table(small_report / "tables" / "ladder.parquet").num_rows == 0


@pytest.mark.parametrize(
    ("name", "spoil", "said"),
    [
        ("zero_cost.parquet", lambda t: pd.concat([t, t.iloc[:1]]), "zero_cost.parquet: 1 repeated"),
        ("costs.parquet", lambda t: t.assign(gpu_hours=-t["gpu_hours"]), "costs.parquet: gpu_hours negative"),
        (
            "zero_cost.parquet",
            lambda t: t.drop(columns="seconds"),
            "zero_cost.parquet lacks column(s) seconds",
        ),
    ],
)
def test_an_unusable_optional_file_is_a_warning_not_an_error(tmp_path, name, spoil, said):
    ladder_study(tmp_path, n_archs=40)
    spoil(pd.read_parquet(tmp_path / name)).to_parquet(tmp_path / name)
    result, page = report_without_figures(tmp_path)
    warnings = page.split('<ul class="warnings">')[1].split("</ul>")[0]
    assert said in warnings and "its section of the report is left out" in warnings
    if name == "costs.parquet":  # treated as absent: no cost axis
        assert result.tables["ladder"]["cost_fraction"].isna().all() and not result.has_costs
    else:
        assert result.tables["zero_cost"].empty and not result.has_zero_cost


def test_a_damaged_optional_file_is_a_warning(tmp_path):
    ladder_study(tmp_path, n_archs=40)
    (tmp_path / "zero_cost.parquet").write_bytes(b"PAR1 not really")
    assert main(["report", str(tmp_path), "--bootstrap", "20"]) == 0
    assert "zero_cost.parquet is not a readable parquet file" in html_of(tmp_path)
    assert table(tmp_path, "zero_cost").empty
