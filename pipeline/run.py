"""`python -m pipeline run --study NAME`: a whole study end to end, safe to re-run.

data (generated datasets are made here; others must be prepared) → sample → launch → collect → report.
Each step is the same function the single verbs call, and each is idempotent, so a second run of a
finished study trains nothing and finishes at once. While training, one progress line shows runs
done/total and an ETA, counted from the result files the workers write.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from pipeline import runs
from pipeline.study import EXECUTOR_KINDS, Study, load_study

Out = Callable[[str], None]


def prepare_generated_data(study: Study, out: Out = print) -> list[str]:
    """Generate every synthetic dataset the study uses that is not prepared yet; returns their names."""
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
    return made


class Progress:
    """A background thread that prints `runs done/total` with an ETA whenever the count changes."""

    def __init__(self, study: Study, plan: pd.DataFrame, out: Out, *, every_s: float = 1.0) -> None:
        self.study, self.out, self.every_s = study, out, every_s
        self.keys = {task: set(group["run_key"]) for task, group in plan.groupby("task")}
        self.total = len(plan)
        self.start_done = self.count()
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._last = -1

    def count(self) -> int:
        return sum(len(runs.finished_keys(self.study.results_dir, t) & k) for t, k in self.keys.items())

    def line(self, done: int) -> str:
        trained = done - self.start_done
        elapsed = time.monotonic() - self.started
        eta = "?"
        if trained > 0:
            eta = f"{(self.total - done) * elapsed / trained:.0f}s"
        return f"runs {done}/{self.total} done, {elapsed:.0f}s elapsed, ETA {eta}"

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.report()

    def report(self) -> None:
        done = self.count()
        if done != self._last:
            self._last = done
            self.out(self.line(done))

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.report()


def _table_digest(table: pd.DataFrame) -> str:
    return hashlib.sha256(pd.util.hash_pandas_object(table, index=False).values.tobytes()).hexdigest()


def write_report(study: Study, table: pd.DataFrame, out: Out = print) -> Path:
    """analysis report over the results folder, skipped when runs.parquet has not changed since the last."""
    results_dir = Path(study.results_dir)
    html, stamp = results_dir / "report.html", results_dir / ".report-input"
    digest = _table_digest(table)
    if html.is_file() and stamp.is_file() and stamp.read_text() == digest:
        out("report is up to date")
        return html
    from analysis.report import build_report

    start = time.perf_counter()
    report = build_report(results_dir, None, command=f"python -m pipeline run --study {study.name}")
    for note in report.analysis.notes:
        out(f"note: {note}")
    stamp.write_text(digest)
    out(
        f"report: {len(report.tables)} tables, {len(report.figures)} figure files in "
        f"{time.perf_counter() - start:.1f}s"
    )
    return Path(report.html)


def run_study(
    study: Study,
    *,
    kind: str | None = None,
    device: str | None = None,
    report: bool = True,
    out: Out = print,
) -> Path:
    """Data, sample, launch (waiting for local/debug executors), collect and report; returns report.html."""
    from pipeline.collect import collect
    from pipeline.launch import launch, plan_launch
    from pipeline.sample import sample_study

    started = time.perf_counter()
    prepare_generated_data(study, out)
    sample_study(study)
    kind = kind or study.executor.kind
    lp = plan_launch(study, kind=kind)
    if kind == "slurm":
        launch(study, kind=kind, device=device, out=out, planned=lp)
        out(f"submitted; follow with: python -m pipeline status --study {study.name}, then run this again")
        return Path(study.results_dir) / "report.html"
    quiet = (lambda line: None) if lp.missing.empty else _drop_chunk_lines(out)
    with Progress(study, lp.plan, out):
        launch(study, kind=kind, device=device, out=quiet, planned=lp)
    path, table = collect(study)
    counts = table["status"].value_counts().to_dict() if not table.empty else {}
    out(f"collected {len(table)} runs ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}) -> {path}")
    html = write_report(study, table, out) if report else Path(study.results_dir) / "report.html"
    out(f"done in {time.perf_counter() - started:.0f}s")
    return html


def _drop_chunk_lines(out: Out) -> Out:
    """Launch's per-chunk counter is replaced by the per-run progress line."""
    return lambda line: None if line.endswith("chunks ended") else out(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline run", description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="demo", help="study name (pipeline/studies/<name>.yaml) or path")
    parser.add_argument("--executor", choices=EXECUTOR_KINDS, help="override the study's executor.kind")
    parser.add_argument("--data-root", help="where prepared datasets live (overrides the study)")
    parser.add_argument("--results-dir", help="study output folder (overrides the study)")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--no-report", action="store_true", help="stop after collect")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    html = run_study(study, kind=args.executor, device=args.device, report=not args.no_report)
    print(f"report: {html.resolve()}", flush=True)
    return 0


if __name__ == "__main__":
    from pipeline.cli import run_cli

    sys.exit(run_cli(main))
