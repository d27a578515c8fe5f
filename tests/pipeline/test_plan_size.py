"""`pipeline plan-size`: the planner's n checked against an independent simulation, the GPU-hours it implies
for a task, and every flag validated as one error line."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from pipeline.__main__ import main as pipeline_main
from pipeline.cost import estimate
from pipeline.layout import read_architectures
from pipeline.plan_size import plan_size, task_hours
from pipeline.study import load_study
from tests.pipeline.fanout_support import make_tiny_study


def _run(capsys, *flags: str) -> tuple[int, str, str]:
    code = pipeline_main(["plan-size", *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _simulated_width(rho: float, n: int, draws: int, seed: int) -> float:
    """Width of the central 95% of sample Spearman ρ over `draws` samples of n bivariate-normal pairs whose
    population Spearman ρ is `rho` (Pearson r = 2 sin(πρ/6)); ranks by scipy, not by the planner's code."""
    r = 2 * math.sin(math.pi * rho / 6)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((draws, n))
    y = r * x + math.sqrt(1 - r * r) * rng.standard_normal((draws, n))
    rx, ry = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    rhos = (rx * ry).sum(axis=1) / np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    low, high = np.quantile(rhos, [0.025, 0.975])
    return float(high - low)


def test_rho_half_width_tenth_agrees_with_a_2000_draw_simulation(capsys):
    code, out, _ = _run(capsys, "--rho", "0.5", "--ci-width", "0.1")
    assert code == 0
    n = int(re.search(r"n = ([\d,]+) architectures", out).group(1).replace(",", ""))
    assert 500 < n < 2000
    width = _simulated_width(0.5, n, draws=2000, seed=12345)
    assert width == pytest.approx(0.1, rel=0.10)  # the acceptance of issue 13
    formula, simulated = (
        float(w) for w in re.search(r": ([\d.]+) by the formula.*; ([\d.]+) in a", out).groups()
    )
    assert formula <= 0.1 and simulated == pytest.approx(width, rel=0.10)
    # n is the smallest that reaches the width by Bonett–Wright's Fisher-z interval, computed here by hand
    assert _bonett_wright_width(0.5, n) <= 0.1 < _bonett_wright_width(0.5, n - 1)
    assert formula == pytest.approx(_bonett_wright_width(0.5, n), abs=1e-4)


def _bonett_wright_width(rho: float, n: int, confidence: float = 0.95) -> float:
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    c = stats.norm.ppf(0.5 + confidence / 2)
    return math.tanh(math.atanh(rho) + c * se) - math.tanh(math.atanh(rho) - c * se)


def test_more_precision_or_more_seed_noise_needs_more_architectures():
    base = plan_size(0.5, 0.1, draws=2).n
    assert plan_size(0.5, 0.05, draws=2).n > 3 * base  # width ~ 1/sqrt(n)
    assert plan_size(0.5, 0.1, confidence=0.99, draws=2).n > base
    assert plan_size(0.5, 0.1, reliability=1.0, draws=2).n == base
    noisy = plan_size(0.5, 0.1, reliability=0.7, draws=2000)
    assert noisy.n > base and noisy.simulated_width == pytest.approx(0.1, rel=0.10)
    assert plan_size(0.9, 0.1, draws=2).n < base  # a strong ρ is pinned down sooner


def test_gpu_hours_for_a_task_scale_the_studys_cost_per_run(tmp_path, capsys):
    path = make_tiny_study(tmp_path)
    study = load_study(path)
    row = estimate(study, read_architectures(study)).set_index("task").loc["cifar"]
    per_run = row["gpu_hours"] / row["runs"]
    hours, got_per_run, seeds = task_hours(study, "cifar", 975, macs_per_second=1.4e12)
    assert seeds == 1 and got_per_run == pytest.approx(per_run, rel=1e-12)
    assert hours == pytest.approx(975 * per_run, rel=1e-12)
    slower, _, _ = task_hours(study, "cifar", 975, macs_per_second=0.7e12)
    assert slower == pytest.approx(2 * hours, rel=1e-12)
    code, out, _ = _run(capsys, "--rho", "0.5", "--ci-width", "0.1", "--study", str(path), "--task", "cifar")
    assert code == 0 and f"task cifar of study {path}: 975 architectures × 1 seed(s) ≈ " in out


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--rho", "1", "--ci-width", "0.1"], "--rho: '1' must lie in (-1, 1)"),
        (["--rho", "-1", "--ci-width", "0.1"], "--rho: '-1' must lie in (-1, 1)"),
        (["--rho", "nan", "--ci-width", "0.1"], "--rho"),
        (["--rho", "half", "--ci-width", "0.1"], "'half' is not a number"),
        (["--rho", "0.5", "--ci-width", "0"], "--ci-width: '0' must lie in (0, 2)"),
        (["--rho", "0.5", "--ci-width", "2"], "--ci-width: '2' must lie in (0, 2)"),
        (["--rho", "0.5", "--ci-width", "0.1", "--confidence", "1"], "--confidence: '1' must lie in (0, 1)"),
        (["--rho", "0.5", "--ci-width", "0.1", "--confidence", "0"], "--confidence"),
        (
            ["--rho", "0.5", "--ci-width", "0.1", "--reliability", "0"],
            "--reliability: '0' must lie in (0, 1]",
        ),
        (["--rho", "0.5", "--ci-width", "0.1", "--reliability", "1.2"], "--reliability"),
        (["--rho", "0.5", "--ci-width", "0.1", "--draws", "1"], "at least 2 draws"),
        (["--rho", "0.5", "--ci-width", "0.1", "--study", "demo"], "--study and --task go together"),
        (["--rho", "0.5", "--ci-width", "0.1", "--study", "demo", "--task", "nope"], "'nope' is not a task"),
        (["--ci-width", "0.1"], "--rho"),
    ],
)
def test_bad_flags_are_one_error_line(capsys, flags, words):
    code, out, err = _run(capsys, *flags)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1
    assert lines[0].startswith("error:") and words in lines[0]


def test_reliability_one_is_accepted(capsys):
    code, out, _ = _run(capsys, "--rho", "0.3", "--ci-width", "0.2", "--reliability", "1")
    assert code == 0 and "noise-corrected" in out and "single-run reliability 1" in out
