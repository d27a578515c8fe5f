"""The report's seed-noise, proxy-difference and planner parts (issue 13), end to end on constructed studies.

`seed_noise_study` (tests/analysis/synthetic.py) knows its truth: noise-free Spearman ρ between the tasks
(NOISE_LATENT) and each task's single-run reliability (NOISE_TASKS); the population values of what the
report estimates follow from normal theory (Pearson 1907), as in tests/analysis/test_reliability.py.
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from analysis import planner
from analysis.__main__ import main
from analysis.compute import analyse
from analysis.reliability import noise_ceiling, noise_share
from analysis.trust import plan_command, planned_rho, share_words
from analysis.wording import planner_command
from tests.analysis.synthetic import (
    NOISE_LATENT,
    NOISE_TASKS,
    pearson_of,
    report_without_figures,
    seed_noise_study,
)

TASKS = list(NOISE_TASKS)


def spearman_of(pearson: float) -> float:
    return 6 / math.pi * math.asin(pearson / 2)


def population_corrected(a: str, b: str) -> float:
    """The population value of ρ_observed / sqrt(rel_a·rel_b) for one seed per task (normal theory)."""
    i, j = TASKS.index(a), TASKS.index(b)
    rel_a, rel_b = NOISE_TASKS[a][1], NOISE_TASKS[b][1]
    p = pearson_of(rel_a) * pearson_of(rel_b)
    return spearman_of(pearson_of(NOISE_LATENT[i, j]) * math.sqrt(p)) / math.sqrt(rel_a * rel_b)


def table(folder, name: str) -> pd.DataFrame:
    return pd.read_parquet(folder / "tables" / f"{name}.parquet")


def html_of(folder) -> str:
    """report.html with entities decoded (the report escapes ' as &#x27;)."""
    return html.unescape((folder / "report.html").read_text())


def reading(folder, target: str = "cifar10") -> str:
    return table(folder, "targets").set_index("target").at[target, "reading"]


def test_the_error_matrix_uses_the_base_seeds_only(noise_report):
    runs = pd.read_parquet(noise_report / "runs.parquet")
    base = runs[runs["seed"] == 0].pivot(index="arch_id", columns="task", values="error")
    every = runs.groupby(["arch_id", "task"])["error"].mean().unstack("task")
    row = table(noise_report, "correlations").set_index(["task_a", "task_b"]).loc[("imagenet", "cifar10")]
    assert row["spearman"] == pytest.approx(stats.spearmanr(base["imagenet"], base["cifar10"])[0], abs=1e-12)
    averaged = stats.spearmanr(every["imagenet"], every["cifar10"])[0]
    assert abs(row["spearman"] - averaged) > 1e-3  # averaging the replicates in would have changed ρ
    tasks = table(noise_report, "tasks").set_index("task")
    assert (tasks["seeds_max"] == 1).all() and (tasks["architectures"] == 300).all()


def test_without_study_yaml_the_base_seeds_are_those_every_architecture_has(tmp_path):
    seed_noise_study(tmp_path, n_archs=60, replicated=20, study=False)
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    archs = pd.read_parquet(tmp_path / "architectures.parquet")
    result = analyse(runs, archs, None, n_boot=20, good_range_resamples=10)
    base = runs[runs["seed"] == 0].pivot(index="arch_id", columns="task", values="error")
    pd.testing.assert_frame_equal(result.matrix[TASKS], base[TASKS], check_names=False)
    assert result.base_seeds == (0,)
    assert set(result.tables["reliability"]["task"]) == set(TASKS)  # the replicates still measure the noise


def test_reliability_recovers_the_constructed_reliabilities(noise_report):
    rel = table(noise_report, "reliability").set_index("task")
    assert set(rel.index) == set(TASKS)
    for task, (_, truth, *_) in NOISE_TASKS.items():
        row = rel.loc[task]
        assert (row["n_archs"], row["n_seeds"], row["base_seeds"]) == (150, 3, 1)
        assert row["seed_spearman_ci_low"] <= truth <= row["seed_spearman_ci_high"], task
        assert row["matrix_reliability"] == pytest.approx(row["seed_spearman"])  # k = 1: Spearman–Brown is 1
        assert row["spread_pp"] > 0
    schema = pq.read_schema(noise_report / "tables" / "reliability.parquet")
    assert str(schema.field("n_archs").type) == "int64" and str(schema.field("task").type) == "string"


def test_corrected_correlations_recover_the_noise_free_agreement(noise_report):
    pairs = table(noise_report, "correlations")
    rel = table(noise_report, "reliability").set_index("task")["matrix_reliability"]
    for row in pairs.itertuples(index=False):
        truth = population_corrected(row.task_a, row.task_b)
        assert row.spearman_corrected_ci_low <= truth <= row.spearman_corrected_ci_high, (
            row.task_a,
            row.task_b,
        )
        assert row.spearman < row.spearman_corrected  # the observed ρ is attenuated
        assert row.spearman_corrected == pytest.approx(row.spearman / math.sqrt(row.rel_a * row.rel_b))
        assert (row.rel_a, row.rel_b) == (rel[row.task_a], rel[row.task_b])
        assert row.corrected_above_1 == (row.spearman_corrected > 1)


def test_the_reading_words_the_noise_from_the_module_definitions(noise_report):
    pair = table(noise_report, "correlations").set_index(["task_a", "task_b"]).loc[("imagenet", "cifar10")]
    ceiling = noise_ceiling(pair["rel_a"], pair["rel_b"])
    share = noise_share(pair["spearman"], pair["rel_a"], pair["rel_b"])
    text = reading(noise_report)
    assert (
        f"Seed noise: ρ = {pair['spearman']:.2f}; the seed-noise ceiling of imagenet and cifar10 is "
        f"{ceiling:.2f} (√ of their reliabilities {pair['rel_a']:.2f} × {pair['rel_b']:.2f}), so "
        f"{share_words(share)} ({share:.0%}) of the disagreement is seed noise; corrected for it, "
        f"ρ = {pair['spearman_corrected']:.2f} [{pair['spearman_corrected_ci_low']:.2f}, "
        f"{pair['spearman_corrected_ci_high']:.2f}]." in text
    )
    row = table(noise_report, "targets").set_index("target").loc["cifar10"]
    assert row["noise_share"] == pytest.approx(share) and row["noise_ceiling"] == pytest.approx(ceiling)
    page = html_of(noise_report)
    assert '<h2 id="noise">Seed noise</h2>' in page
    assert "cifar10: 150 architectures × 3 seeds; seed-to-seed ρ = " in page


@pytest.mark.parametrize(
    ("share", "words"),
    [(0.0, "almost none"), (0.37, "about a third"), (0.5, "about half"), (0.25, "about a quarter"),
     (0.95, "nearly all"), (1.0, "all")],
)  # fmt: skip
def test_share_words(share, words):
    assert share_words(share) == words


def test_the_best_proxy_is_distinguishably_better_than_the_reference(noise_report):
    diff = table(noise_report, "proxy_differences")
    assert diff[["target", "proxy_a", "proxy_b"]].values.tolist() == [["cifar10", "imagenet", "imagenet-10"]]
    rho = table(noise_report, "correlations").set_index(["task_a", "task_b"])["spearman"]
    assert diff.at[0, "delta"] == pytest.approx(
        rho[("imagenet", "cifar10")] - rho[("imagenet-10", "cifar10")]
    )
    row = table(noise_report, "targets").set_index("target").loc["cifar10"]
    assert row["best_minus_reference"] == pytest.approx(-diff.at[0, "delta"])  # best − reference
    assert (row["best_minus_reference_ci_low"], row["best_minus_reference_ci_high"]) == pytest.approx(
        (-diff.at[0, "ci_high"], -diff.at[0, "ci_low"])
    )
    assert row["best_minus_reference_p"] == diff.at[0, "p_value"] < 0.05
    assert "imagenet-10 ranks cifar10 distinguishably better than imagenet (Δρ = +" in row["reading"]
    assert "Williams' t p = " in row["reading"]
    page = html_of(noise_report)
    assert "Williams' t (Williams 1959; Steiger 1980, eq. 7)" in page  # the test is named in the Method
    assert "<td>yes: better</td>" in page


def test_no_difference_is_read_as_none(tmp_path):
    """Two proxies that rank the target alike: the reading says 'not distinguishably better'."""
    from tests.analysis.synthetic import ladder_study

    ladder_study(tmp_path, n_archs=120, costs=False, zero_cost=False)
    result, _ = report_without_figures(tmp_path, n_boot=100)
    row = result.tables["targets"].set_index("target").loc["cifar10"]
    assert row["best_proxy"] in {"imagenet@r16", "imagenet@e1"}
    assert (
        f"The best proxy, {row['best_proxy']}, is not distinguishably better than imagenet" in row["reading"]
    )


def test_the_planner_numbers_are_the_plan_size_verbs(noise_report, capsys):
    from pipeline.plan_size import main as plan_size

    row = table(noise_report, "targets").set_index("target").loc["cifar10"]
    rho = planned_rho(row["reference_spearman"])
    assert row["planned_rho"] == rho and row["n_for_halfwidth_05"] == planner.required_n(rho, 0.1)
    assert row["plan_size_command"] == f"python -m pipeline plan-size --rho {rho:.2f} --ci-width 0.1"
    assert plan_size([*row["plan_size_command"].split()[4:], "--draws", "2"]) == 0
    said = re.search(r"n = ([\d,]+) architectures", capsys.readouterr().out)
    assert int(said.group(1).replace(",", "")) == row["n_for_halfwidth_05"]
    n = int(row["n_for_halfwidth_05"])
    assert f"would have needed about {n:,} architectures (this study has 300)" in row["reading"]


@pytest.mark.parametrize("rho", [-1.0, -0.999, -0.5, 0.0, 0.004, 0.5, 0.996, 1.0, math.nan])
def test_every_suggested_planner_command_is_accepted_by_the_verb(rho):
    """Both commands the report prints (the 'too few' pointer and the ±0.05 planner) parse and run."""
    from pipeline.plan_size import main as plan_size

    commands = [planner_command(rho)]
    if planned_rho(rho) is not None:
        commands.append(plan_command(planned_rho(rho), 0.1))
    for command in commands:
        args = command.split()[4:]
        value, width = float(args[args.index("--rho") + 1]), float(args[args.index("--ci-width") + 1])
        assert -1 < value < 1 and 0 < width < 2, command
        assert plan_size([*args, "--draws", "2"]) == 0, command


def test_without_replicates_the_section_says_so_in_one_line(tmp_path):
    seed_noise_study(tmp_path, n_archs=30, replicated=0, extra_seeds=())
    assert main(["report", str(tmp_path), "--bootstrap", "50"]) == 0  # written: the file types are checked
    page = html_of(tmp_path)
    assert (
        "No seed-noise estimate: no task has 3 or more architectures trained with two or more seeds" in page
    )
    pairs = pq.read_table(tmp_path / "tables" / "correlations.parquet")
    assert (
        pairs.column("spearman_corrected").null_count
        + np.isnan(pairs.column("spearman_corrected").to_numpy(zero_copy_only=False)).sum()
        >= pairs.num_rows
    )
    assert pairs.column("corrected_above_1").null_count == pairs.num_rows  # not computed: null, not False
    assert "Seed noise: ρ =" not in page and "seed-noise correction" not in page  # nothing in the readings


def test_runs_without_a_seed_column_say_so(tmp_path):
    seed_noise_study(tmp_path, n_archs=40, replicated=0, extra_seeds=())
    runs = pd.read_parquet(tmp_path / "runs.parquet").drop(columns="seed")
    runs.to_parquet(tmp_path / "runs.parquet")
    result, page = report_without_figures(tmp_path)
    assert "No seed-noise estimate: runs.parquet has no `seed` column" in page
    assert result.tables["reliability"].empty


def test_a_task_without_replicates_is_named_in_the_reading(tmp_path):
    """Replicates of the reference only (as the demo study has): no correction, and the reading says why."""
    seed_noise_study(tmp_path, n_archs=80, replicated=30)
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    runs[(runs["seed"] == 0) | (runs["task"] == "imagenet")].to_parquet(tmp_path / "runs.parquet")
    result, page = report_without_figures(tmp_path)
    text = result.tables["targets"].set_index("target").at["cifar10", "reading"]
    assert "No seed-noise correction of ρ: cifar10 has no replicated architectures (see Seed noise)." in text
    assert list(result.tables["reliability"]["task"]) == ["imagenet"]
    assert "Without replicated architectures (their pairs are not corrected): imagenet-10, cifar10." in page


def test_few_replicated_architectures_are_not_read(tmp_path):
    seed_noise_study(tmp_path, n_archs=40, replicated=5, extra_seeds=(1,))
    result, page = report_without_figures(tmp_path)
    assert (result.tables["reliability"]["n_archs"] == 5).all()
    assert "imagenet: 5 architectures × 2 seeds; seed-to-seed ρ = " in page
    assert "; too few replicated architectures to read (at least 10 are needed)." in page
