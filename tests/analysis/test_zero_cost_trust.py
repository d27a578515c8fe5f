"""Zero-cost agreement (the sign, ±inf and NaN scores, the CI) and the trust columns' words, on small
constructed tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.trust import difference_sentence, distinction, noise_sentence, planned_rho, zero_cost_sentence
from analysis.zero_cost import agreement_table, rankable, versus_trained


def test_rankable_moves_infinities_past_the_finite_scores_and_keeps_nan():
    out = rankable(np.array([2.0, -np.inf, np.nan, 5.0, np.inf, -np.inf]))
    assert out[0] == 2.0 and out[3] == 5.0 and out[1] == out[5] < 2.0 and out[4] > 5.0 and np.isnan(out[2])
    assert np.isnan(rankable(np.array([np.nan]))).all()


def _matrix(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"t": 30 + 5 * rng.standard_normal(n)}, index=pd.Index(np.arange(n), name="arch_id")
    ), rng


def _long(task: str, scores: dict[str, np.ndarray], seconds: float = 0.5) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {"arch_id": np.arange(len(s)), "task": task, "predictor": p, "score": s, "seconds": seconds}
        )
        for p, s in scores.items()
    ]
    return pd.concat(frames, ignore_index=True)


def test_agreement_is_positive_for_a_predictor_that_ranks_like_training():
    matrix, rng = _matrix()
    error = matrix["t"].to_numpy()
    scores = _long("t", {"better_is_higher": -error, "backwards": error, "random": rng.standard_normal(80)})
    table = agreement_table(scores, matrix, n_boot=200).set_index("predictor")
    assert table.at["better_is_higher", "spearman"] == pytest.approx(1.0)
    assert table.at["backwards", "spearman"] == pytest.approx(-1.0)
    assert (
        table.at["better_is_higher", "verdict"] == "very_strong"
        and table.at["backwards", "verdict"] == "inverse"
    )
    random = table.loc["random"]
    assert random["spearman"] == pytest.approx(stats.spearmanr(scores["score"][160:], -error)[0])
    assert random["spearman_ci_low"] < random["spearman"] < random["spearman_ci_high"]
    assert (table["n"] == 80).all() and table.at["random", "seconds"] == pytest.approx(40.0)
    assert table["cost_fraction"].isna().all()  # no costs given


def test_agreement_ranks_minus_inf_worst_and_leaves_nan_out():
    matrix, _ = _matrix(12)
    error = matrix["t"].to_numpy()
    score = -error.copy()
    worst, other = int(np.argmax(error)), int(np.argmin(error))
    score[worst] = -np.inf  # the worst architecture's degenerate batch: still ranked worst, ρ stays 1
    score[other] = np.nan
    row = agreement_table(_long("t", {"p": score}), matrix, n_boot=0).iloc[0]
    assert row["spearman"] == pytest.approx(1.0) and row["n"] == 11
    assert math.isnan(row["spearman_ci_low"]) and row["verdict"] == "no_ci"


def test_agreement_skips_tasks_without_errors_and_uses_costs():
    matrix, rng = _matrix()
    scores = pd.concat(
        [_long("t", {"p": rng.standard_normal(80)}), _long("u", {"p": rng.standard_normal(80)})]
    )
    costs = pd.DataFrame({"task": ["t"], "macs": [1e15], "gpu_hours": [2.0]})
    table = agreement_table(scores, matrix, costs, n_boot=10)
    assert table["task"].tolist() == ["t"]
    assert table.at[0, "hours"] == pytest.approx(40 / 3600)
    assert table.at[0, "cost_fraction"] == pytest.approx(40 / 3600 / 2.0)


def test_versus_trained_compares_with_the_predictor_scored_on_the_target():
    matrix, rng = _matrix(200)
    error = matrix["t"].to_numpy()
    matrix["proxy"] = error + 2 * rng.standard_normal(200)  # a trained source that ranks t well
    scores = _long("t", {"weak": -error + 8 * rng.standard_normal(200)})
    out = versus_trained(matrix, scores, {"t": ("proxy", "weak")}, n_boot=200).iloc[0]
    assert (out["target"], out["trained"], out["predictor"]) == ("t", "proxy", "weak")
    assert out["rho_trained"] == pytest.approx(stats.spearmanr(matrix["proxy"], error)[0])
    assert out["rho_zero_cost"] == pytest.approx(stats.spearmanr(scores["score"], -error)[0])  # the sign
    assert out["delta"] > 0 and out["p_value"] < 0.05 and out["ci_low"] > 0


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        ((0.2, 0.1, 0.3, 0.01), "better"),
        ((-0.2, -0.3, -0.1, 0.01), "worse"),
        ((0.2, -0.01, 0.3, 0.01), "none"),  # p small, but the bootstrap CI includes 0
        ((0.2, 0.1, 0.3, 0.2), "none"),  # CI excludes 0, but p ≥ 0.05
        ((math.nan, math.nan, math.nan, math.nan), None),
    ],
)
def test_distinguishable_needs_the_test_and_the_bootstrap_to_agree(args, kind):
    assert distinction(*args) == kind


def test_planned_rho_stays_inside_the_planners_range():
    assert planned_rho(-0.314) == 0.31 and planned_rho(1.0) == 0.99 and planned_rho(math.nan) is None


def test_a_corrected_rho_above_1_is_kept_and_flagged():
    row = {
        "target": "b", "reference": "a", "reference_spearman": 0.7, "reference_reliability": 0.6,
        "target_reliability": 0.7, "noise_ceiling": math.sqrt(0.42), "noise_share": 1.0,
        "reference_spearman_corrected": 1.08, "reference_spearman_corrected_ci_low": 0.9,
        "reference_spearman_corrected_ci_high": 1.2, "reference_corrected_above_1": True,
    }  # fmt: skip
    text = noise_sentence(row)
    assert "so all (100%) of the disagreement is seed noise; corrected for it, ρ = 1.08 [0.90, 1.20]" in text
    assert "(above 1: within sampling error, the noise-free rankings could agree fully)" in text
    assert noise_sentence({**row, "reference_reliability": math.nan, "target_reliability": math.nan}) is None
    negative = noise_sentence({**row, "target_reliability": -0.4})
    assert negative.startswith("No seed-noise correction of ρ: the reliability of b is -0.40 ≤ 0")


def test_zero_cost_sentence_without_a_test_states_the_predictor_only():
    row = {"target": "t", "zero_cost_best": "synflow", "zero_cost_spearman": 0.4,
           "zero_cost_spearman_ci_low": 0.32, "zero_cost_spearman_ci_high": 0.55, "zero_cost_n": 100,
           "trained_best": None}  # fmt: skip
    assert zero_cost_sentence(row) == (
        "Among the zero-cost predictors (scored on the images of t), synflow has the highest ρ and ranks "
        "architectures at least moderately well (ρ = 0.40 [0.32, 0.55])."
    )
    assert zero_cost_sentence({"target": "t", "zero_cost_best": None}) is None


def test_the_targets_schema_holds_every_trust_column_in_order():
    from analysis.tables import SCHEMAS
    from analysis.trust import TRUST_COLUMNS

    names = SCHEMAS["targets"].names
    assert [c for c in names if c in TRUST_COLUMNS] == list(TRUST_COLUMNS)


def test_a_difference_is_not_read_from_fewer_than_ten_architectures():
    row = {"target": "t", "reference": "r", "best_proxy": "p", "reference_n": 8, "best_proxy_n": 8,
           "best_minus_reference": 0.5, "best_minus_reference_ci_low": 0.2,
           "best_minus_reference_ci_high": 0.8, "best_minus_reference_p": 0.01}  # fmt: skip
    assert difference_sentence(row).startswith("Whether p ranks t better than r cannot be told from n = 8")
    wide = {**row, "reference_n": 50, "best_proxy_n": 50}
    assert difference_sentence(wide).startswith("p ranks t distinguishably better than r (Δρ = +0.50, paired")
