"""`python -m pipeline clean --study X [--dry-run]`: remove files that no longer belong to the study.

What goes: every run file (result, history, failure record, checkpoint, weights, dead claim) whose run key
is not in the study's current plan, computed fresh — runs of an earlier version of the study (edited
recipe, another space or store) and of tasks the study no longer has —, the zero-cost scores of tasks the
study no longer has, and temporary files left by killed processes. What stays: everything the current
plan uses, claims of live workers, the architectures, the collected tables and the report. `--dry-run`
lists what would go and removes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline import jobs
from pipeline.cli import ArgumentParser, add_study_arguments
from pipeline.launch import current_plan
from pipeline.study import Study, load_study

_TEMP = re.compile(r"^\..+\.tmp-(\d+)$")
_KEY = re.compile(r"^([0-9a-f]{12})\.")


def stale_files(study: Study) -> list[Path]:
    """Files under results_dir that the current plan does not use (see the module docstring)."""
    results_dir = Path(study.results_dir)
    plan = current_plan(study)
    wanted = {(t, k) for t, k in zip(plan["task"], plan["run_key"], strict=True)}
    found: list[Path] = []
    for folder_name in ("runs", "checkpoints", "weights"):
        root = results_dir / folder_name
        if not root.is_dir():
            continue
        for task_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(task_dir.iterdir()):
                match = _KEY.match(path.name)
                if match and (task_dir.name, match.group(1)) not in wanted and _not_live_claim(path):
                    found.append(path)
    zero_cost = results_dir / "zero_cost"  # per-task scores of tasks the study no longer has
    found += (
        sorted(p for p in zero_cost.glob("*.parquet") if p.stem not in study.tasks)
        if zero_cost.is_dir()
        else []
    )
    for path in results_dir.rglob(".*.tmp-*"):
        match = _TEMP.match(path.name)
        if match and not jobs.pid_alive(int(match.group(1))):
            found.append(path)
    return found


def _not_live_claim(path: Path) -> bool:
    return not (path.suffix == ".claim" and jobs.is_live(path, jobs.read_owner(path)))


def clean(study: Study, *, dry_run: bool = False, out: Callable[[str], None] = print) -> list[Path]:
    """Remove (or with dry_run only list) `stale_files`; returns them."""
    files = stale_files(study)
    for path in files:
        out(("would remove " if dry_run else "removed ") + str(path))
        if not dry_run:
            path.unlink(missing_ok=True)
    if not dry_run:
        for folder_name in ("runs", "checkpoints", "weights"):
            root = Path(study.results_dir) / folder_name
            for task_dir in root.iterdir() if root.is_dir() else ():
                if task_dir.is_dir() and not any(task_dir.iterdir()):
                    os.rmdir(task_dir)
    verb = "would remove" if dry_run else "removed"
    out(f"{verb} {len(files)} file(s) not used by the current plan of study {study.name!r}")
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m pipeline clean", description=__doc__.splitlines()[0])
    add_study_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    args = parser.parse_args(argv)
    study = load_study(args.study, data_root=args.data_root, results_dir=args.results_dir)
    clean(study, dry_run=args.dry_run)
    return 0
