"""`python -m pipeline run --study NAME`: a whole study end to end, safe to re-run.

data (generated datasets and ladder resolution variants are made here; others must be prepared) → sample
→ launch → zero-cost predictors (pipeline.zero_cost; unless the study says `zero_cost: false`) → collect
(runs.parquet, costs.parquet) → report. Each step is the same function the single verbs call, and each is
idempotent, so a second run of a finished study trains nothing and finishes at once. While training, one
progress line shows runs done/total and an ETA, counted from the result files the workers write. A local run
holds the study lock for its whole length: a second `run` of the same study is refused with the pid that
holds it. With the slurm executor `run` submits and returns; run `python -m pipeline zero-cost` (on a GPU
node, or here) yourself.

With failed or unfinished runs, `run` still collects and reports what it has, names what failed, and
exits 1.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline import fsio, jobs, layout
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.study import EXECUTOR_KINDS, Study, load_study

Out = Callable[[str], None]


def prepare_generated_data(study: Study, out: Out = print) -> list[str]:
    """Generate every synthetic dataset the study uses that is not prepared yet, and every resolution
    variant (ladder rung) of a prepared store that is missing; returns what was made."""
    from pipeline.data.catalogue import load_entry
    from pipeline.data.prepare import prepare_dataset
    from pipeline.data.store import is_store

    made = []
    for dataset, name in dict((t.dataset, t.entry) for t in study.tasks.values()).items():
        target = Path(study.data_root) / dataset
        if is_store(target) or load_entry(name).format != "synthetic":
            continue
        start = time.perf_counter()
        result = prepare_dataset(load_entry(name), None, target)
        seconds = time.perf_counter() - start
        out(f"generated {dataset}: {result.store.meta['num_images']} images in {seconds:.1f}s")
        made.append(dataset)
    made += prepare_derived_stores(study, out)
    return made


def prepare_derived_stores(study: Study, out: Out = print) -> list[str]:
    """Make the reduced-resolution stores that the study's `resolution` variants read (idempotent)."""
    from pipeline.data.store import is_store, open_store
    from pipeline.data.variants import derived_store_path, make_resolution_store

    wanted = {
        (t.dataset, int(t.variant["resolution"]))
        for t in study.tasks.values()
        if t.variant and "resolution" in t.variant
    }
    made = []
    for dataset, size in sorted(wanted):
        parent = Path(study.data_root) / dataset
        if not is_store(parent):
            continue  # its parent is not prepared: require_data names it
        if is_store(derived_store_path(study.data_root, dataset, size, open_store(parent).fingerprint)):
            continue
        start = time.perf_counter()
        store = make_resolution_store(study.data_root, dataset, size, log=lambda line: None)
        seconds = time.perf_counter() - start
        out(f"made {dataset} at {size} px ({store.meta['num_images']} images) in {seconds:.1f}s")
        made.append(f"{dataset}@{size}")
    return made


REPORT_INPUTS = ("runs.parquet", "architectures.parquet", "study.yaml", "costs.parquet", "zero_cost.parquet")


def _report_digest(results_dir: Path) -> str:
    """What the report is drawn from: the bytes of every input file it reads, and the code's version."""
    from pipeline.cli import version

    hasher = hashlib.sha256(version().encode())
    for name in REPORT_INPUTS:
        path = results_dir / name
        hasher.update(f"\0{name}\0".encode() + (path.read_bytes() if path.is_file() else b"-"))
    return hasher.hexdigest()


def write_report(study: Study, out: Out = print) -> Path:
    """analysis report over the results folder, skipped when none of its inputs (REPORT_INPUTS) changed
    since the last one."""
    results_dir = Path(study.results_dir)
    html, stamp = results_dir / "report.html", results_dir / ".report-input"
    digest = _report_digest(results_dir)
    if html.is_file() and stamp.is_file() and stamp.read_text() == digest:
        out("report is up to date")
        return html
    from analysis.report import build_report

    start = time.perf_counter()
    report = build_report(
        results_dir, None, command=f"python -m pipeline run --study {layout.study_argument(study)}"
    )
    for warning in report.analysis.warnings:
        out(f"warning: {warning}")
    for note in report.analysis.notes:
        out(f"note: {note}")
    fsio.write_text(digest, stamp)
    out(
        f"report: {len(report.tables)} tables, {len(report.figures)} figure files in "
        f"{time.perf_counter() - start:.1f}s"
    )
    return Path(report.html)


def run_study(
    study: Study, *, kind: str | None = None, device: str | None = None, report: bool = True, out: Out = print
) -> tuple[Path, bool]:
    """Data, sample, launch (waiting for local/debug executors), collect and report.

    Returns (report.html, complete): complete is False when a run failed or is not finished.
    """
    from pipeline.collect import collect
    from pipeline.launch import launch, plan_launch
    from pipeline.progress import Printer
    from pipeline.sample import sample_study

    started = time.perf_counter()
    kind = kind or study.executor.kind
    html = Path(study.results_dir) / "report.html"
    if kind == "slurm":
        prepare_generated_data(study, out)
        sample_study(study)
        launch(study, kind=kind, device=device, out=out, planned=plan_launch(study, kind=kind))
        out(
            f"submitted; follow with: python -m pipeline status --study {layout.study_argument(study)}, "
            "then run this again"
        )
        return html, False
    with jobs.study_lock(study.results_dir, what=f"run of study {study.name!r}"):
        prepare_generated_data(study, out)
        sample_study(study)
        lp = plan_launch(study, kind=kind)
        record = launch(study, kind=kind, device=device, out=out, planned=lp, progress=Printer())
        if study.zero_cost:
            _zero_cost_step(study, device, out)
        result = collect(study, lp.plan, out=out)
    out(f"collected {result.summary()}")
    failed = [j for j in record["jobs"] if j.get("state") == "failed"]
    unfinished = {t: n for t, n in result.missing.items() if n}
    if unfinished:
        out(
            "not finished: "
            + ", ".join(f"{t} {n} run(s)" for t, n in unfinished.items())
            + f"; see: python -m pipeline status --study {layout.study_argument(study)}"
        )
    if report and not result.table.empty:
        html = _report_or_say_why(study, out)
    out(f"done in {time.perf_counter() - started:.0f}s")
    return html, not failed and not unfinished


def _zero_cost_step(study: Study, device: str | None, out: Out) -> None:
    """Zero-cost scores of every architecture on every task (only what is missing is computed)."""
    from pipeline.progress import Printer
    from pipeline.zero_cost import zero_cost

    start = time.perf_counter()
    result = zero_cost(study, device=device, out=out, progress=Printer())
    out(f"{result.summary()} in {time.perf_counter() - start:.0f}s")


def _report_or_say_why(study: Study, out: Out) -> Path:
    """The report, or (when the finished runs are too few to analyse) one line saying why."""
    from analysis.errors import AnalysisError

    try:
        return write_report(study, out)
    except AnalysisError as error:
        out(f"no report yet: {error}")
        return Path(study.results_dir) / "report.html"


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline run", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.set_defaults(study="demo")
    for action in parser._actions:
        if action.dest == "study":
            action.required, action.help = (
                False,
                "study name (pipeline/studies/<name>.yaml) or path; default demo",
            )
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, help="override the study's executor.kind")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--no-report", action="store_true", help="stop after collect")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    html, complete = run_study(study, kind=args.executor, device=args.device, report=not args.no_report)
    if html.is_file():
        print(f"report: {html.resolve()}", flush=True)
    return 0 if complete else 1


if __name__ == "__main__":
    from pipeline.cli import run_cli

    sys.exit(run_cli(main))
