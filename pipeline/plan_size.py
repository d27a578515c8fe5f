"""`python -m pipeline plan-size --rho R --ci-width W`: architectures a Spearman CI of that width needs.

n is `analysis.planner.required_n`: the smallest n whose Fisher-z interval with the Bonett–Wright variance
(1 + ρ²/2)/(n − 3) has total width ≤ W at the given confidence. The formula is an approximation, so the verb
checks it: `analysis.planner.simulate_ci_width` draws `--draws` samples of n pairs with population Spearman
ρ and prints the width of the central interval of their sample ρ beside the formula's (skipped above
MAX_SIMULATED_N architectures, where the formula is accurate and the simulation slow).

With `--reliability r` (a task's single-run seed-to-seed ρ, tables/reliability.parquet) the width is that of
the noise-corrected ρ: the observed ρ·r needs a CI of width W·r (a lower bound: r is treated as known).

With `--study X --task T`, the GPU-hours this n implies for task T: `pipeline.cost.estimate`'s mean cost per
run of T (over the study's architectures: architectures.parquet when sampled, else the space's sample) ×
n architectures × the study's seeds (replicate seeds not counted).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline import layout, validate
from pipeline.cli import ArgumentParser
from pipeline.errors import PipelineError, StudyError
from pipeline.study import Study, load_study
from pipeline.validate import positive_int

MAX_SIMULATED_N = 20_000  # draws × n ranks: 2,000 × 20,000 takes seconds; the formula is exact enough beyond
DEFAULT_DRAWS = 2000


@dataclasses.dataclass(frozen=True)
class SizePlan:
    n: int
    formula_width: float  # CI width at n by the formula (of the corrected ρ when a reliability is given)
    simulated_width: float | None  # the same from the simulation (None: skipped)


def plan_size(
    rho: float,
    ci_width: float,
    *,
    confidence: float = 0.95,
    reliability: float | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> SizePlan:
    """n for a CI of `ci_width`, the formula's width at n, and the simulated width (module docstring)."""
    from analysis import planner
    from analysis.errors import AnalysisError

    try:
        n = planner.required_n(rho, ci_width, confidence=confidence, reliability=reliability)
        width = planner.ci_width(rho, n, confidence, reliability=reliability)
        simulated = None
        if n <= MAX_SIMULATED_N:
            r = 1.0 if reliability is None else reliability
            simulated = planner.simulate_ci_width(rho * r, n, draws, seed, confidence=confidence) / r
    except AnalysisError as error:  # the flags are checked first; this is a safety net with the same words
        raise PipelineError(str(error)) from None
    return SizePlan(n, width, simulated)


def load_task(study_name: str, task: str, *, data_root: str | None, results_dir: str | None) -> Study:
    """The study, checked to have `task`."""
    study = load_study(study_name, data_root=data_root, results_dir=results_dir)
    if task not in study.tasks:
        raise StudyError(
            f"--task {task!r} is not a task of study {study.name!r} (tasks: {', '.join(study.tasks)})"
        )
    return study


def task_hours(study: Study, task: str, n: int, *, macs_per_second: float) -> tuple[float, float, int]:
    """(GPU-hours of n architectures on `task`, GPU-hours per run, seeds per architecture): the mean cost
    per run over the study's architectures (architectures.parquet when sampled, else the space's sample)."""
    from pipeline.cost import estimate

    archs = None
    if (Path(study.results_dir) / layout.ARCH_FILE).is_file():
        archs = layout.read_architectures(study)
    one = dataclasses.replace(study, tasks={task: study.tasks[task]})
    row = estimate(one, archs, macs_per_second=macs_per_second).iloc[0]
    per_run = float(row["gpu_hours"]) / int(row["runs"])
    return per_run * n * len(study.seeds), per_run, len(study.seeds)


def describe(plan: SizePlan, args: Any) -> list[str]:
    """The lines the verb prints."""
    corrected = "" if args.reliability is None else " noise-corrected"
    lines = [
        f"n = {plan.n:,} architectures give a {args.confidence * 100:g}% CI of{corrected} Spearman "
        f"ρ = {args.rho:g} of total width ≤ {args.ci_width:g}"
    ]
    if args.reliability is not None:
        r = args.reliability
        lines.append(
            f"  single-run reliability {r:g}: the observed ρ ≈ {args.rho * r:.3g} needs a CI of width "
            f"{args.ci_width * r:.3g} (a lower bound: r treated as known)"
        )
    simulated = (
        f"{plan.simulated_width:.4f} in a {args.draws:,}-draw simulation (seed {args.seed}, "
        f"{abs(plan.simulated_width / plan.formula_width - 1):.1%} apart)"
        if plan.simulated_width is not None
        else f"simulation skipped above {MAX_SIMULATED_N:,} architectures"
    )
    lines.append(
        f"  width at n = {plan.n:,}: {plan.formula_width:.4f} by the formula (Fisher z, Bonett–Wright "
        f"variance); {simulated}"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.cost import V100_MACS_PER_SECOND

    parser = ArgumentParser(prog="python -m pipeline plan-size", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rho", type=validate.bounded_float(-1, 1, what="a Spearman ρ"), required=True, help="expected ρ"
    )
    parser.add_argument(
        "--ci-width",
        type=validate.bounded_float(0, 2, what="a total CI width in ρ"),
        required=True,
        help="wanted total width of the CI (high − low), e.g. 0.1 for about ±0.05",
    )
    parser.add_argument(
        "--confidence",
        type=validate.bounded_float(0, 1, what="a confidence level"),
        default=0.95,
        help="default 0.95",
    )
    parser.add_argument(
        "--reliability",
        type=validate.bounded_float(0, 1, high_closed=True, what="a single-run seed-to-seed ρ"),
        help="single-run reliability of the tasks (geometric mean of the two): plan the corrected ρ",
    )
    parser.add_argument(
        "--draws", type=positive_int, default=DEFAULT_DRAWS, help="simulation draws (default 2000)"
    )
    parser.add_argument(
        "--seed", type=validate.non_negative_int, default=0, help="simulation seed (default 0)"
    )
    parser.add_argument("--study", help="with --task: the GPU-hours n architectures cost on that task")
    parser.add_argument("--task", help="a task of --study")
    parser.add_argument("--data-root", help="where prepared datasets live (overrides the study)")
    parser.add_argument("--results-dir", help="study output folder (overrides the study)")
    parser.add_argument(
        "--macs-per-second",
        type=validate.positive_float,
        default=V100_MACS_PER_SECOND,
        help="sustained MAC/s of one GPU (default: V100, calibrated on T22's total; see pipeline cost)",
    )
    args = parser.parse_args(argv)
    if args.draws < 2:
        parser.error("argument --draws: the simulation needs at least 2 draws")
    if (args.study is None) != (args.task is None):
        parser.error("--study and --task go together (the GPU-hours are those of one task of one study)")
    study = None
    if args.study is not None:  # checked before the (seconds of) simulation
        study = load_task(args.study, args.task, data_root=args.data_root, results_dir=args.results_dir)
    plan = plan_size(
        args.rho,
        args.ci_width,
        confidence=args.confidence,
        reliability=args.reliability,
        draws=args.draws,
        seed=args.seed,
    )
    for line in describe(plan, args):
        print(line)
    if study is not None:
        hours, per_run, seeds = task_hours(study, args.task, plan.n, macs_per_second=args.macs_per_second)
        print(
            f"  task {args.task} of study {args.study}: {plan.n:,} architectures × {seeds} seed(s) ≈ "
            f"{_hours(hours)} GPU-hours ({_hours(per_run)} per run at {args.macs_per_second:.2g} MAC/s "
            "per GPU)"
        )
    return 0


def _hours(value: float) -> str:
    """GPU-hours with sensible precision: 2,834 / 12.3 / 0.0042."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value > 0 and math.isfinite(value) else f"{value:g}"
